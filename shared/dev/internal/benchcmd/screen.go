package main

// Screen sharing end to end with the real binaries (issue 13,
// "Benchmarks"), the customer's screen a 1920 × 1080 Xvfb of its own (A):
//
//   - input: the headless agent's "input" command (a pointer move) written
//     to its stdin → the MotionNotify read by the test window on A
//     (testwin "motion" prints it with its CLOCK_MONOTONIC time);
//   - customer CPU and bytes/s on an idle screen being viewed;
//   - screen_stats while the test window scrolls 30 lines a second;
//   - glass to glass: a square painted on A → its colour on the agent's
//     real window, run on a second Xvfb (B), seen through DAMAGE on B's
//     root and one pixel read back.
//
// Every time is CLOCK_MONOTONIC, read here and in testwin.

import (
	"bytes"
	"fmt"
	"image"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/damage"
	"github.com/jezek/xgb/xproto"
	"golang.org/x/sys/unix"

	h "github.com/porthole-dev/porthole/shared/dev/internal/harness"
	"github.com/porthole-dev/porthole/shared/internal/benchkit"
)

const (
	screenGeometry = "1920x1080x24"
	inputSamples   = 250
	inputWarmup    = 20
	glassSamples   = 120
	glassWarmup    = 5
	idleFor        = 10 * time.Second
	scrollLines    = 300 // testwin "scroll": 30 lines a second, so 10 s

	inputTarget   = 5 * time.Millisecond
	glassTarget   = 50 * time.Millisecond
	idleCPUTarget = 2.0   // % of one core
	idleRateMax   = 100.0 // bytes a second that still count as "≈ 0"
	encodeTarget  = 15.0  // ms a frame

	clockTicks = 100 // USER_HZ: the unit of utime and stime in /proc/PID/stat
)

// The square painted on A for glass to glass: whole 64 × 64 tiles, clear of
// the test window and of the pointer (in the middle of the screen).
var glassSquare = image.Rect(1472, 640, 1728, 896)

// Where the agent's console window (1280 × 800, its size when it opens) has
// "Ask for access" and, in its menu, "See the screen".
var askForAccess, seeTheScreen = image.Pt(382, 106), image.Pt(368, 143)

// screenSection runs the screen benchmarks, each part with processes of
// its own, all stopped when the part ends.
func screenSection(cfg config, root string, rep *report) error {
	for _, tool := range []string{"Xvfb", "cc", "xdotool"} {
		if _, err := exec.LookPath(tool); err != nil {
			rep.add("screen sharing, real binaries", "skipped: needs "+tool+" (make bench installs it)", "-", "SKIP")
			return nil
		}
	}
	part := func(name string, f func(tb *runTB) error) {
		tb := newScope(name, root)
		defer tb.close()
		var err error
		if ferr := try(func() { err = f(tb) }); ferr != nil {
			err = ferr
		}
		if err != nil {
			rep.fail(name, err)
		}
	}
	part("screen headless", func(tb *runTB) error { return screenHeadless(tb, rep) })
	part("screen window", func(tb *runTB) error { return screenWindow(tb, rep) })
	rep.note("screen: 1920 x 1080 Xvfb displays of the bench's own; customer --accept-screen all --accept-control all, direct loopback path; times are CLOCK_MONOTONIC read by the bench and by testwin")
	return nil
}

// mono is CLOCK_MONOTONIC in nanoseconds, the clock testwin reads too.
func mono() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// onDisplay runs f with $DISPLAY set to display, for the processes it
// starts (the harness passes the environment on).
func onDisplay(display string, f func()) {
	old, had := os.LookupEnv("DISPLAY")
	os.Setenv("DISPLAY", display)
	defer func() {
		if had {
			os.Setenv("DISPLAY", old)
		} else {
			os.Unsetenv("DISPLAY")
		}
	}()
	f()
}

// startScreenCustomer starts a headless customer showing display, allowing
// whatever an agent asks for.
func startScreenCustomer(tb *runTB, r *h.Relay, key, display string) *h.Proc {
	var c *h.Proc
	onDisplay(display, func() {
		c = h.StartCustomer(tb, r, key, filepath.Join(tb.TempDir(), "customer"),
			"--name", customerName, "--log-level", "warn", "--accept-screen", "all", "--accept-control", "all")
	})
	return c
}

// grant asks the customer for kind and waits for the answer.
func grant(tb *runTB, agent *h.Proc, sid, kind string) {
	agent.Send(map[string]any{"cmd": "request_permission", "session": sid, "kind": kind, "reason": "benchmark"})
	e := agent.Expect("permission", func(e h.Event) bool {
		return e.S("session") == sid && e.S("kind") == kind && e.S("state") != "requested"
	})
	if e.S("state") != "allowed" {
		tb.Fatalf("%s: %v", kind, e)
	}
}

func screenHeadless(tb *runTB, rep *report) error {
	dispA := h.StartXvfb(tb, screenGeometry)
	tw := h.StartTestWin(tb, dispA, 200, 150, "motion")
	relayDir := filepath.Join(tb.TempDir(), "relay")
	pw := h.AddAgent(tb, relayDir, agentName, agentPassword)
	r := h.StartRelay(tb, relayDir, "127.0.0.1:0", "--log-level", "warn")
	agent := h.StartAgent(tb, r, agentName, pw, filepath.Join(tb.TempDir(), "agent"), "--log-level", "warn")
	sid, key, _ := h.NewSession(tb, agent)
	cust := startScreenCustomer(tb, r, key, dispA)
	if e := cust.Expect("connected", nil); e.S("path") != "direct" {
		return fmt.Errorf("the customer connected on path %q, want direct", e.S("path"))
	}
	agent.Expect("customer_joined", func(e h.Event) bool { return e.S("session") == sid })
	grant(tb, agent, sid, "screen")
	agent.Send(map[string]any{"cmd": "screen_start", "session": sid})
	st := agent.Expect("screen_started", func(e h.Event) bool { return e.S("session") == sid })
	if mons, _ := st["monitors"].([]any); len(mons) != 1 {
		return fmt.Errorf("screen_started: %v", st)
	} else if m, _ := mons[0].(map[string]any); m["width"] != 1920.0 || m["height"] != 1080.0 {
		return fmt.Errorf("the customer's monitor is %v, want 1920 x 1080", m)
	}
	grant(tb, agent, sid, "control")
	logf("screen: relay %d, agent %d, customer %d on %s; viewing and controlling", r.Pid(), agent.Pid(), cust.Pid(), dispA)

	// Input: moves between two points of the test window's button, a
	// few ms apart at random; each ends at its MotionNotify on A.
	b := tw.Button
	pts := [2]image.Point{b.Min.Add(image.Pt(10, 10)), b.Min.Add(image.Pt(60, 30))}
	var ds []time.Duration
	for i := range inputWarmup + inputSamples {
		p := pts[i%2]
		time.Sleep(time.Duration(5+rand.IntN(10)) * time.Millisecond)
		t0 := mono()
		agent.Send(map[string]any{"cmd": "input", "session": sid, "events": []any{
			map[string]any{"type": "move", "x": p.X, "y": p.Y},
		}})
		prefix := fmt.Sprintf("motion %d %d ", p.X, p.Y)
		for {
			t1, err := strconv.ParseInt(strings.TrimPrefix(tw.Wait(tb, prefix), prefix), 10, 64)
			if err != nil {
				return fmt.Errorf("testwin: %v", err)
			}
			if t1 >= t0 { // else a line from before this move
				if i >= inputWarmup {
					ds = append(ds, time.Duration(t1-t0))
				}
				break
			}
		}
	}
	if err := stopped(agent, sid); err != nil {
		return err
	}
	in := latencies(ds)
	rep.add("screen 1080p: input, agent stdin -> event on A", in.String(), "p95 <= 5 ms", verdict(in.p95 <= inputTarget))

	// Idle: nothing changes on A (the pointer stays where it was left).
	time.Sleep(3 * time.Second) // the last cursor update, and any lossless top-off, have gone
	n0 := len(agent.Events())
	c0, err := cpuTicks(cust.Pid())
	if err != nil {
		return err
	}
	a0, _ := cpuTicks(agent.Pid())
	t0 := time.Now()
	time.Sleep(idleFor)
	c1, err := cpuTicks(cust.Pid())
	if err != nil {
		return err
	}
	a1, _ := cpuTicks(agent.Pid())
	el := time.Since(t0).Seconds()
	idle := screenStats(agent.Events()[n0:], sid)
	if err := stopped(agent, sid); err != nil {
		return err
	}
	if len(idle) == 0 {
		return fmt.Errorf("no screen_stats in %v of idle screen", idleFor)
	}
	cpu := float64(c1-c0) / clockTicks / el * 100
	rep.add("screen 1080p: customer CPU, idle screen viewed", fmt.Sprintf("%.2f %% of a core (%d ticks of 10 ms in %.1f s)", cpu, c1-c0, el),
		"< 2 % of a core", verdict(cpu < idleCPUTarget))
	rates := column(idle, "rate")
	mean := avg(rates)
	rep.add("screen 1080p: bytes/s, idle screen", fmt.Sprintf("mean %.0f B/s, max %.0f B/s (%d screen_stats)", mean, slices.Max(rates), len(rates)),
		"≈ 0 (<= 100 B/s)", verdict(mean <= idleRateMax))
	rep.note("screen idle: the headless agent used %.2f %% of a core meanwhile", float64(a1-a0)/clockTicks/el*100)

	// Busy: a second test window scrolls 30 lines a second.
	sw := h.StartTestWin(tb, dispA, 1100, 500, "scroll", strconv.Itoa(scrollLines))
	ts := time.Now()
	time.Sleep(time.Second) // its first picture, and the backdrop it paints again
	n0 = len(agent.Events())
	c0, _ = cpuTicks(cust.Pid())
	t0 = time.Now()
	sw.Wait(tb, "scrolled")
	linesPerSec := scrollLines / time.Since(ts).Seconds()
	c1, _ = cpuTicks(cust.Pid())
	cpu = float64(c1-c0) / clockTicks / time.Since(t0).Seconds() * 100
	busy := screenStats(agent.Events()[n0:], sid)
	if err := stopped(agent, sid); err != nil {
		return err
	}
	if len(busy) > 1 {
		busy = busy[:len(busy)-1] // its second may have ended after the scrolling
	}
	if len(busy) == 0 {
		return fmt.Errorf("no screen_stats while scrolling")
	}
	fps := column(busy, "fps")
	rate := avg(column(busy, "rate"))
	enc, dec := median(perFrame(busy, "encode_ms")), median(perFrame(busy, "decode_ms"))
	fpsMed := median(fps)
	rep.add("screen 1080p: scrolling, updates a second", fmt.Sprintf("median %.1f fps (min %.0f, max %.0f, %d s); the window scrolled %.1f lines/s",
		fpsMed, slices.Min(fps), slices.Max(fps), len(fps), linesPerSec),
		">= 30 fps: every line (>= 95 %)", verdict(fpsMed >= 0.95*linesPerSec))
	rep.add("screen 1080p: scrolling, bytes/s", fmt.Sprintf("mean %.0f KB/s = %.2f Mbit/s (screen_stats rate)", rate/1e3, rate*8/1e6),
		"<= 1/4 of VNC's (screenbench)", "info")
	rep.add("screen 1080p: scrolling, encode ms/frame (customer)", fmt.Sprintf("median %.2f ms (capture and encode)", enc), "<= 15 ms", verdict(enc <= encodeTarget))
	rep.add("screen 1080p: scrolling, decode ms/frame (agent)", fmt.Sprintf("median %.2f ms", dec), "-", "info")
	rep.note("screen scrolling: the customer used %.1f %% of a core", cpu)
	return nil
}

func screenWindow(tb *runTB, rep *report) error {
	dispA := h.StartXvfb(tb, screenGeometry)
	h.StartTestWin(tb, dispA, 200, 150) // the desktop of many colours, and a window
	dispB := h.StartXvfb(tb, screenGeometry)
	var w *h.Windows
	onDisplay(dispB, func() { w = h.StartConsole(tb, tb.TempDir(), agentName) })
	cust := startScreenCustomer(tb, &h.Relay{Addr: w.Relay, Fingerprint: w.Pin}, w.Key, dispA)
	cust.Expect("connected", nil)
	w.Agent.Expect("customer_joined", func(e h.Event) bool { return e.S("session") == w.Session })
	paint, err := newPainter(tb, dispA, glassSquare)
	if err != nil {
		return err
	}
	if err := paint.fill(0x00ff00); err != nil {
		return err
	}

	// Ask for the screen as an agent does: "Ask for access", "See the
	// screen"; the customer allows it and the window starts the stream.
	time.Sleep(time.Second) // the session's tab, in front since the customer joined, is laid out
	xdo := func(args ...string) string { return string(h.OnDisplay(tb, dispB, "xdotool", args...)) }
	console := strings.Fields(xdo("search", "--sync", "--onlyvisible", "--name", "Porthole Console$"))[0]
	if g := xdo("getwindowgeometry", console); !strings.Contains(g, "1280x800") {
		return fmt.Errorf("the agent's window is not 1280 x 800, where the bench knows its buttons: %s", g)
	}
	click := func(p image.Point) {
		xdo("mousemove", "--window", console, strconv.Itoa(p.X), strconv.Itoa(p.Y), "click", "1")
	}
	click(askForAccess)
	time.Sleep(500 * time.Millisecond)
	click(seeTheScreen)
	if !seen(w.Agent, 5*time.Second, func(e h.Event) bool { return e.Name() == "permission" && e.S("kind") == "screen" }) {
		return fmt.Errorf("clicking %v (Ask for access) and %v (See the screen) in the agent's window asked for nothing: has its layout changed?", askForAccess, seeTheScreen)
	}
	w.Agent.Expect("permission", func(e h.Event) bool { return e.S("kind") == "screen" && e.S("state") == "allowed" })
	w.Agent.Expect("screen_started", nil)
	xdo("mousemove", "1910", "1070") // off the window: no hover effects
	logf("screen: the agent's window (pid %d) on %s shows the customer's (pid %d) %s", w.Agent.Pid(), dispB, cust.Pid(), dispA)

	// Find the square in the window: what turns from green to magenta.
	watch, err := newWatcher(tb, dispB)
	if err != nil {
		return err
	}
	time.Sleep(1500 * time.Millisecond)
	before, err := watch.grab()
	if err != nil {
		return err
	}
	if err := paint.fill(0xff00ff); err != nil {
		return err
	}
	time.Sleep(1500 * time.Millisecond)
	after, err := watch.grab()
	if err != nil {
		return err
	}
	var box image.Rectangle
	n := 0
	for y := range watch.h {
		for x := range watch.w {
			if near(watch.at(after, x, y), 0xff00ff) && near(watch.at(before, x, y), 0x00ff00) {
				box = box.Union(image.Rect(x, y, x+1, y+1))
				n++
			}
		}
	}
	if err := stopped(w.Agent, w.Session); err != nil {
		return err
	}
	if n < 25 {
		return fmt.Errorf("the square painted on A is not in the agent's window on B (%d pixels changed as it did)", n)
	}
	at := image.Pt((box.Min.X+box.Max.X)/2, (box.Min.Y+box.Max.Y)/2)
	logf("screen: the %s square of A is %s at %v in the agent's window; watching %v", dims(glassSquare), dims(box), box.Min, at)
	changes, err := watch.watch(at)
	if err != nil {
		return err
	}

	// The window with nothing changing on A: what it costs, and how often
	// it draws itself anyway (each draw damages B's root).
	time.Sleep(time.Second)
	ag0, _ := cpuTicks(w.Agent.Pid())
	d0, t0 := watch.draws.Load(), time.Now()
	time.Sleep(3 * time.Second)
	ag1, _ := cpuTicks(w.Agent.Pid())
	el := time.Since(t0).Seconds()
	idleCPU, idleDraws := float64(ag1-ag0)/clockTicks/el*100, float64(watch.draws.Load()-d0)/el

	// Glass to glass: paint, wait until the pixel on B has the colour,
	// then a pause of 40 to 140 ms at random (frames come at most 30 a
	// second: the change lands anywhere in their rhythm).
	colours := []uint32{0x00ffff, 0xffff00, 0xff00ff}
	n0 := len(w.Agent.Events())
	ag0, _ = cpuTicks(w.Agent.Pid())
	cu0, _ := cpuTicks(cust.Pid())
	d0, t0 = watch.draws.Load(), time.Now()
	var ds []time.Duration
	lost := 0
	for i := range glassWarmup + glassSamples {
		col := colours[i%len(colours)]
		time.Sleep(time.Duration(40+rand.IntN(100)) * time.Millisecond)
		for len(changes) > 0 {
			<-changes
		}
		start := mono()
		if err := paint.fill(col); err != nil {
			return err
		}
		deadline := time.After(3 * time.Second)
	wait:
		for {
			select {
			case c, ok := <-changes:
				if !ok {
					return fmt.Errorf("the watcher of %s stopped", dispB)
				}
				if near(c.pixel, col) {
					if i >= glassWarmup {
						ds = append(ds, time.Duration(c.at-start))
					}
					break wait
				}
			case <-deadline:
				if err := stopped(w.Agent, w.Session); err != nil {
					return err
				}
				lost++
				if lost > 10 {
					return fmt.Errorf("%d changes painted on A never reached the agent's window", lost)
				}
				break wait
			}
		}
	}
	el = time.Since(t0).Seconds()
	ag1, _ = cpuTicks(w.Agent.Pid())
	cu1, _ := cpuTicks(cust.Pid())
	draws := float64(watch.draws.Load()-d0) / el
	g := latencies(ds)
	val := g.String()
	if lost > 0 {
		val += fmt.Sprintf(", %d not seen within 3 s", lost)
	}
	rep.add("screen 1080p: glass to glass, drawn on A -> agent's window on B", val, "p95 <= 50 ms", verdict(g.p95 <= glassTarget && lost == 0))
	stats := screenStats(w.Agent.Events()[n0:], w.Session)
	rep.note("screen glass to glass: a %s square painted on A (X PolyFillRectangle), seen at one pixel of the agent's window on B (DAMAGE on B's root, then GetImage; the square is %s there); meanwhile the agent's window used %.1f %% of a core and drew itself %.0f times a second, the customer %.1f %%; encode median %.2f ms, decode median %.2f ms",
		dims(glassSquare), dims(box), float64(ag1-ag0)/clockTicks/el*100, draws, float64(cu1-cu0)/clockTicks/el*100,
		median(perFrame(stats, "encode_ms")), median(perFrame(stats, "decode_ms")))
	rep.note("screen agent's window, viewing a still screen: %.1f %% of a core, drawing itself %.0f times a second", idleCPU, idleDraws)
	return nil
}

// stopped is the session's screen stream's end, if the agent has told it.
func stopped(p *h.Proc, sid string) error {
	for _, e := range p.Events() {
		if e.Name() == "screen_stopped" && e.S("session") == sid {
			return fmt.Errorf("the screen stream stopped (by %s: %s)", e.S("by"), e.S("reason"))
		}
	}
	return nil
}

// seen waits up to d for an event of p's, consumed or not, that match
// accepts.
func seen(p *h.Proc, d time.Duration, match func(h.Event) bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if slices.ContainsFunc(p.Events(), match) {
			return true
		}
	}
	return false
}

// xconnect connects to an X display, without xgb's complaint about a
// missing ~/.Xauthority (Xvfb started here needs none).
func xconnect(display string) (*xgb.Conn, error) {
	xgb.Logger = log.New(io.Discard, "", 0)
	return xgb.NewConnDisplay(display)
}

// painter paints a window of its own on an X display.
type painter struct {
	c    *xgb.Conn
	win  xproto.Window
	gc   xproto.Gcontext
	w, h uint16
}

func newPainter(tb *runTB, display string, r image.Rectangle) (*painter, error) {
	c, err := xconnect(display)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", display, err)
	}
	tb.Cleanup(c.Close)
	scr := xproto.Setup(c).DefaultScreen(c)
	p := &painter{c: c, w: uint16(r.Dx()), h: uint16(r.Dy())}
	if p.win, err = xproto.NewWindowId(c); err != nil {
		return nil, err
	}
	err = xproto.CreateWindowChecked(c, scr.RootDepth, p.win, scr.Root, int16(r.Min.X), int16(r.Min.Y), p.w, p.h, 0,
		xproto.WindowClassInputOutput, scr.RootVisual, xproto.CwBackPixel|xproto.CwOverrideRedirect, []uint32{0x808080, 1}).Check()
	if err != nil {
		return nil, err
	}
	if err := xproto.MapWindowChecked(c, p.win).Check(); err != nil {
		return nil, err
	}
	if p.gc, err = xproto.NewGcontextId(c); err != nil {
		return nil, err
	}
	return p, xproto.CreateGCChecked(c, p.gc, xproto.Drawable(p.win), xproto.GcForeground|xproto.GcGraphicsExposures, []uint32{0, 0}).Check()
}

// fill paints the whole window in colour (0xRRGGBB) and returns once the
// X server has done it.
func (p *painter) fill(colour uint32) error {
	xproto.ChangeGC(p.c, p.gc, xproto.GcForeground, []uint32{colour})
	xproto.PolyFillRectangle(p.c, xproto.Drawable(p.win), p.gc, []xproto.Rectangle{{Width: p.w, Height: p.h}})
	_, err := xproto.GetInputFocus(p.c).Reply()
	return err
}

// watcher reads an X display's screen.
type watcher struct {
	c     *xgb.Conn
	root  xproto.Window
	w, h  int
	draws atomic.Int64 // DAMAGE notifications since watch
}

// change is the watched pixel's new colour, and when it was read.
type change struct {
	pixel uint32
	at    int64 // CLOCK_MONOTONIC, ns
}

func newWatcher(tb *runTB, display string) (*watcher, error) {
	c, err := xconnect(display)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", display, err)
	}
	tb.Cleanup(c.Close)
	scr := xproto.Setup(c).DefaultScreen(c)
	return &watcher{c: c, root: scr.Root, w: int(scr.WidthInPixels), h: int(scr.HeightInPixels)}, nil
}

// grab reads the whole screen: 4 bytes a pixel, blue, green, red, unused.
func (w *watcher) grab() ([]byte, error) {
	img, err := xproto.GetImage(w.c, xproto.ImageFormatZPixmap, xproto.Drawable(w.root), 0, 0, uint16(w.w), uint16(w.h), 0xffffffff).Reply()
	if err != nil {
		return nil, err
	}
	if len(img.Data) < w.w*w.h*4 {
		return nil, fmt.Errorf("GetImage: %d bytes for %d x %d", len(img.Data), w.w, w.h)
	}
	return img.Data, nil
}

func (w *watcher) at(data []byte, x, y int) uint32 {
	i := (y*w.w + x) * 4
	return uint32(data[i+2])<<16 | uint32(data[i+1])<<8 | uint32(data[i])
}

// watch reports each new colour of the pixel at pt: whenever anything is
// drawn on the screen (DAMAGE on the root), it reads the pixel again.
func (w *watcher) watch(pt image.Point) (<-chan change, error) {
	if err := damage.Init(w.c); err != nil {
		return nil, err
	}
	if _, err := damage.QueryVersion(w.c, 1, 1).Reply(); err != nil {
		return nil, err
	}
	dmg, err := damage.NewDamageId(w.c)
	if err != nil {
		return nil, err
	}
	if err := damage.CreateChecked(w.c, dmg, xproto.Drawable(w.root), damage.ReportLevelNonEmpty).Check(); err != nil {
		return nil, err
	}
	out := make(chan change, 256)
	go func() {
		defer close(out)
		last := uint32(1 << 31) // no colour
		for {
			ev, xerr := w.c.WaitForEvent()
			if ev == nil && xerr == nil {
				return // the connection is closed
			}
			if _, ok := ev.(damage.NotifyEvent); !ok {
				continue
			}
			w.draws.Add(1)
			damage.Subtract(w.c, dmg, 0, 0) // what is drawn from now on is told again
			img, err := xproto.GetImage(w.c, xproto.ImageFormatZPixmap, xproto.Drawable(w.root), int16(pt.X), int16(pt.Y), 1, 1, 0xffffffff).Reply()
			t := mono()
			if err != nil || len(img.Data) < 4 {
				return
			}
			if px := uint32(img.Data[2])<<16 | uint32(img.Data[1])<<8 | uint32(img.Data[0]); px != last {
				last = px
				select {
				case out <- change{px, t}:
				default:
				}
			}
		}
	}()
	return out, nil
}

func dims(r image.Rectangle) string { return fmt.Sprintf("%d x %d", r.Dx(), r.Dy()) }

// near says whether two 0xRRGGBB colours are within a few steps in each
// channel (the window scales the picture).
func near(a, b uint32) bool {
	for s := 0; s < 24; s += 8 {
		d := int(a>>s&0xff) - int(b>>s&0xff)
		if d < -12 || d > 12 {
			return false
		}
	}
	return true
}

// cpuTicks is a process's user and system time, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')') // the command's name may hold spaces
	if i < 0 || i+2 > len(b) {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	f := strings.Fields(string(b[i+2:])) // from field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64) // field 14, utime
	s, err2 := strconv.ParseInt(f[12], 10, 64) // field 15, stime
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	return u + s, nil
}

// screenStats are the session's screen_stats among evs.
func screenStats(evs []h.Event, sid string) []h.Event {
	var out []h.Event
	for _, e := range evs {
		if e.Name() == "screen_stats" && e.S("session") == sid {
			out = append(out, e)
		}
	}
	return out
}

// column is a number field of each event (absent: 0).
func column(evs []h.Event, key string) []float64 {
	out := make([]float64, 0, len(evs))
	for _, e := range evs {
		v, _ := e[key].(float64)
		out = append(out, v)
	}
	return out
}

// perFrame is a number field of each event of a second with frames in it
// (encode_ms and decode_ms are 0 in the others).
func perFrame(evs []h.Event, key string) []float64 {
	var out []float64
	for _, e := range evs {
		if fps, _ := e["fps"].(float64); fps > 0 {
			v, _ := e[key].(float64)
			out = append(out, v)
		}
	}
	return out
}

func avg(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// latency is a sample's min, p50, p95 and max (nearest rank, as
// benchkit).
type latency struct {
	n                  int
	min, p50, p95, max time.Duration
}

func latencies(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	s := slices.Sorted(slices.Values(ds))
	rank := func(p float64) time.Duration {
		return s[max(0, min(len(s)-1, int(math.Ceil(p/100*float64(len(s))))-1))]
	}
	return latency{n: len(s), min: s[0], p50: rank(50), p95: rank(95), max: s[len(s)-1]}
}

func (l latency) String() string {
	return fmt.Sprintf("p50 %s, p95 %s, min %s, max %s (n=%d)", benchkit.Ms(l.p50), benchkit.Ms(l.p95), benchkit.Ms(l.min), benchkit.Ms(l.max), l.n)
}
