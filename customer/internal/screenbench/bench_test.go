//go:build linux

package screenbench

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/porthole-dev/porthole/customer/internal/capture"
	"github.com/porthole-dev/porthole/customer/internal/xconn/xvfb"
	"github.com/porthole-dev/porthole/shared/screen"
)

// config is what one run of the bench measures and with what.
type config struct {
	duration time.Duration // each measurement: ours, then VNC's
	warmup   time.Duration // VNC: from the viewer's start to the first count, at least
	fps      int           // ours: frames a second at most
	dir      string        // the workload program, the VNC programs' HOME
	logs     string        // the programs' output
	workload string        // the workload program
	viewer   string        // TigerVNC's viewer
	shared   string        // the display shared (the customer's)
	viewers  string        // the display TigerVNC's viewer shows it on
}

// The workloads, in the order they run.
var workloads = []string{"typing", "scrolling", "moving", "noise", "idle"}

// BenchmarkScreen1080p runs each workload on a 1920 × 1080 Xvfb and
// measures, one after the other on the same running workload, Porthole's
// capture and codec (ours) and x11vnc serving the display to TigerVNC's
// viewer with Tight (VNC), and prints a table. make bench runs it;
// SCREENBENCH_DURATION (10s) sets each measurement's length,
// SCREENBENCH_WARMUP (2s) VNC's warm-up, SCREENBENCH_LOGS a folder to
// keep the programs' output in. See docs/screen-bench.md.
func BenchmarkScreen1080p(b *testing.B) {
	cfg := newConfig(b)
	cfg.shared = xvfb.Start(b, "-screen", "0", "1920x1080x24")
	// Larger than the shared screen, so the viewer's window shows it whole.
	cfg.viewers = xvfb.Start(b, "-screen", "0", "2048x1280x24")
	var rows []result
	load := loadAvg()
	for _, w := range workloads {
		b.Run(w, func(b *testing.B) {
			var r result
			for range b.N {
				r = measure(b, cfg, w)
			}
			r.report(b)
			rows = slices.DeleteFunc(rows, func(o result) bool { return o.name == r.name })
			rows = append(rows, r)
		})
	}
	if len(rows) > 0 {
		printTable(os.Stdout, cfg, rows)
		fmt.Printf("load average (1 min) at the start %s, at the end %s, on %d cores\n", load, loadAvg(), runtime.NumCPU())
	}
}

func newConfig(b *testing.B) config {
	cfg := config{duration: 10 * time.Second, warmup: 2 * time.Second, fps: 30, dir: b.TempDir()}
	cfg.logs = cfg.dir
	if d := os.Getenv("SCREENBENCH_LOGS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		cfg.logs = d
	}
	for _, e := range []struct {
		name string
		d    *time.Duration
	}{{"SCREENBENCH_DURATION", &cfg.duration}, {"SCREENBENCH_WARMUP", &cfg.warmup}} {
		if v := os.Getenv(e.name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				b.Fatalf("%s=%q: want a duration such as 3s", e.name, v)
			}
			*e.d = d
		}
	}
	var missing []string
	for _, t := range []string{"Xvfb", "x11vnc", "go"} {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if p, err := exec.LookPath("xtigervncviewer"); err == nil {
		cfg.viewer = p
	} else if p, err := exec.LookPath("vncviewer"); err == nil {
		out, _ := exec.Command(p, "-h").CombinedOutput()
		if strings.Contains(string(out), "TigerVNC") {
			cfg.viewer = p
		}
	}
	if cfg.viewer == "" {
		missing = append(missing, "TigerVNC's viewer (xtigervncviewer, or vncviewer)")
	}
	if len(missing) > 0 {
		b.Skipf("the screen bench needs %s: make bench installs them (BENCH_APT_PACKAGES: x11vnc, tigervnc-viewer; Xvfb comes with make deps)",
			strings.Join(missing, ", "))
	}
	cfg.workload = filepath.Join(cfg.dir, "workload")
	if out, err := exec.Command("go", "build", "-o", cfg.workload, "./workload").CombinedOutput(); err != nil {
		b.Fatalf("building the workload program: %v\n%s", err, out)
	}
	return cfg
}

// result is one workload's measurements.
type result struct {
	name  string
	drawn float64 // the workload's changes a second, while ours measured
	ours  ours
	vnc   vnc
}

type ours struct {
	secs     float64
	bytes    int64 // the updates after the keyframe
	keyBytes int   // the keyframe
	frames   int   // updates with a change
	drawn    int64 // the workload's changes meanwhile
	enc, dec []time.Duration
	cpu      float64 // the bench process, % of one core
	diff     int     // pixels the decoded picture has unlike the captured one at the end
	psnr     float64 // of the decoded picture against the captured one, in the tiles that differ
}

type vnc struct {
	secs       float64
	bytes      int64 // server → viewer
	updates    int64 // the viewer's incremental requests: the updates it had
	full       int64 // full requests while counting (the whole picture again)
	cpu, vcpu  float64
	lost       bool // the viewer's messages could not be followed: no update count
	serverLog  string
	viewersLog string
}

func measure(b *testing.B, cfg config, name string) result {
	r := result{name: name}
	wl := startWorkload(b, cfg, name)
	defer wl.stop()
	r.ours = measureOurs(b, cfg, &wl.out.drawn)
	r.drawn = float64(r.ours.drawn) / r.ours.secs
	r.vnc = measureVNC(b, cfg, name)
	if err := wl.exited(); err != nil {
		b.Fatalf("the workload %s stopped during the run: %v\n%s", name, err, tail(wl.log))
	}
	return r
}

// measureOurs reads the shared display as the customer's app does (poll
// what changed at up to cfg.fps, grab it, encode it) and decodes each
// update as the agent's app would; drawn counts the workload's changes.
func measureOurs(b *testing.B, cfg config, drawn *atomic.Int64) ours {
	x, err := capture.OpenX11(cfg.shared)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	whole := x.Bounds()
	frame := capture.NewFrame(whole)
	img := &screen.Image{W: whole.Dx(), H: whole.Dy(), Stride: frame.Stride, Pix: frame.Pix}
	enc, dec := screen.NewEncoder(), screen.NewDecoder()
	if _, err := x.Changed(); err != nil { // what was drawn before: the keyframe has it
		b.Fatal(err)
	}
	if err := x.Grab(frame, whole); err != nil {
		b.Fatal(err)
	}
	key := enc.Encode(img, nil)
	if _, err := dec.Decode(key); err != nil {
		b.Fatalf("decoding the keyframe: %v", err)
	}
	r := ours{keyBytes: len(key)}
	tick := time.NewTicker(time.Second / time.Duration(cfg.fps))
	defer tick.Stop()
	cpu0, d0, t0 := selfCPU(), drawn.Load(), time.Now()
	for time.Since(t0) < cfg.duration {
		<-tick.C
		s := time.Now()
		ch, err := x.Changed()
		if err != nil {
			b.Fatal(err)
		}
		if len(ch) == 0 {
			continue
		}
		if len(ch) > 16 { // as the sharing service does: a read is a round trip
			u := ch[0]
			for _, c := range ch[1:] {
				u = u.Union(c)
			}
			ch = []image.Rectangle{u}
		}
		for _, c := range ch {
			if err := x.Grab(frame, c); err != nil {
				b.Fatal(err)
			}
		}
		u := enc.Encode(img, ch)
		r.enc = append(r.enc, time.Since(s))
		if u == nil {
			continue
		}
		r.frames++
		r.bytes += int64(len(u))
		s = time.Now()
		if _, err := dec.Decode(u); err != nil {
			b.Fatalf("decoding update %d: %v", r.frames, err)
		}
		r.dec = append(r.dec, time.Since(s))
	}
	r.secs, r.drawn = time.Since(t0).Seconds(), drawn.Load()-d0
	r.cpu = (selfCPU() - cpu0).Seconds() / r.secs * 100
	r.diff, r.psnr = compare(dec.Image(), img)
	return r
}

// measureVNC serves the shared display with x11vnc and shows it with
// TigerVNC's viewer on the viewers' display, through a Proxy, and counts
// cfg.duration's bytes once the viewer has its first whole picture.
func measureVNC(b *testing.B, cfg config, name string) vnc {
	port := freePort(b)
	srv := exec.Command("x11vnc", "-display", cfg.shared, "-localhost", "-shared", "-forever", "-nopw", "-norc",
		"-rfbport", strconv.Itoa(port))
	srv.Env = append(os.Environ(), "HOME="+cfg.dir)
	r := vnc{serverLog: filepath.Join(cfg.logs, "x11vnc-"+name+".log"), viewersLog: filepath.Join(cfg.logs, "vncviewer-"+name+".log")}
	// x11vnc says PORT= once it listens, and "created   xdamage object"
	// once it has set up the polling of a viewer's first session (which
	// may take seconds on a busy machine, updates held back meanwhile).
	server := startProc(b, srv, r.serverLog, "PORT=", "xdamage object")
	defer server.stop()
	p, err := NewProxy(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	// Tight, as asked for; the quality settings are the viewer's own
	// (AutoSelect: on a fast link, full colour and JPEG quality 8 for
	// what Tight finds photo-like). RemoteResize off: the viewer's window
	// must not ask the server to change the screen's size.
	view := exec.Command(cfg.viewer, "-PreferredEncoding=Tight", "-RemoteResize=0", fmt.Sprintf("127.0.0.1::%d", p.Addr().Port))
	view.Env = append(os.Environ(), "DISPLAY="+cfg.viewers, "HOME="+cfg.dir)
	viewer := startProc(b, view, r.viewersLog)
	defer viewer.stop()

	warm := time.NewTimer(cfg.warmup)
	defer warm.Stop()
	select {
	case <-warm.C:
	case <-server.done:
	case <-viewer.done:
	}
	// Settled: the viewer has its first whole picture and x11vnc polls.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		select {
		case <-server.done:
		case <-viewer.done:
		case <-ctx.Done():
		}
		cancel()
	}()
	if err := p.WaitSettled(ctx); err != nil {
		b.Fatalf("VNC: the viewer did not get a whole picture: %v\nx11vnc:\n%s\nviewer:\n%s", err, tail(r.serverLog), tail(r.viewersLog))
	}
	select {
	case <-server.seen("xdamage object"):
	case <-ctx.Done():
		b.Fatalf("VNC: x11vnc did not say it set up its polling (\"created xdamage object\")\nx11vnc:\n%s\nviewer:\n%s", tail(r.serverLog), tail(r.viewersLog))
	}
	s0, c0, v0, t0 := p.Stats(), procCPU(server.cmd), procCPU(viewer.cmd), time.Now()
	count := time.NewTimer(cfg.duration)
	defer count.Stop()
	select {
	case <-count.C:
	case <-server.done:
		b.Fatalf("VNC: x11vnc stopped while counting: %v\n%s", server.err, tail(r.serverLog))
	case <-viewer.done:
		b.Fatalf("VNC: the viewer stopped while counting: %v\n%s", viewer.err, tail(r.viewersLog))
	}
	s1, c1, v1 := p.Stats(), procCPU(server.cmd), procCPU(viewer.cmd)
	r.secs = time.Since(t0).Seconds()
	r.bytes = s1.Down - s0.Down
	r.updates, r.full, r.lost = s1.Requests-s0.Requests, s1.Full-s0.Full, s1.Lost
	r.cpu, r.vcpu = (c1-c0).Seconds()/r.secs*100, (v1-v0).Seconds()/r.secs*100
	return r
}

func (r result) report(b *testing.B) {
	o, v := r.ours, r.vnc
	b.ReportMetric(float64(o.bytes)/o.secs, "ours-B/s")
	b.ReportMetric(float64(v.bytes)/v.secs, "vnc-B/s")
	if v.bytes > 0 {
		b.ReportMetric(r.ratio(), "ours/vnc")
	}
	b.ReportMetric(float64(o.frames)/o.secs, "fps")
	b.ReportMetric(r.drawn, "drawn/s")
	b.ReportMetric(ms(quantile(o.enc, 0.5)), "enc-p50-ms")
	b.ReportMetric(ms(quantile(o.enc, 0.95)), "enc-p95-ms")
	b.ReportMetric(ms(quantile(o.dec, 0.5)), "dec-p50-ms")
	b.ReportMetric(ms(quantile(o.dec, 0.95)), "dec-p95-ms")
	b.ReportMetric(o.cpu, "cpu-%")
	b.ReportMetric(float64(o.diff), "pixels-off")
	b.ReportMetric(float64(o.keyBytes), "key-B")
	if !v.lost {
		b.ReportMetric(float64(v.updates)/v.secs, "vnc-upd/s")
	}
	b.ReportMetric(v.cpu, "x11vnc-cpu-%")
	b.ReportMetric(v.vcpu, "viewer-cpu-%")
	if v.full > 0 {
		b.Logf("VNC: the viewer asked for the whole picture %d times while counting", v.full)
	}
}

func (r result) ratio() float64 {
	return (float64(r.ours.bytes) / r.ours.secs) / (float64(r.vnc.bytes) / r.vnc.secs)
}

func printTable(w io.Writer, cfg config, rows []result) {
	fmt.Fprintf(w, "\n== screen sharing, 1920x1080: ours (capture.X11 + shared/screen, up to %d fps) against x11vnc -> TigerVNC viewer (Tight), %s each, same run\n",
		cfg.fps, cfg.duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tours B/s\tVNC B/s\tours/VNC\tencode p50/p95 ms\tdecode p50/p95 ms\tfps (drawn/s)\tVNC upd/s\tB/frame ours / VNC\tCPU % ours / x11vnc\tdecoded\t")
	for _, r := range rows {
		o, v := r.ours, r.vnc
		ratio := "-"
		if v.bytes > 0 {
			ratio = fmt.Sprintf("%.3f", r.ratio())
		}
		upd, per := "?", fmt.Sprintf("%.0f / ?", perFrame(o.bytes, int64(o.frames)))
		if !v.lost {
			upd = fmt.Sprintf("%.1f", float64(v.updates)/v.secs)
			per = fmt.Sprintf("%.0f / %.0f", perFrame(o.bytes, int64(o.frames)), perFrame(v.bytes, v.updates))
		}
		same := "lossless"
		if o.diff > 0 {
			same = fmt.Sprintf("lossy: %d px off, PSNR %.1f dB", o.diff, o.psnr)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%s\t%.2f / %.2f\t%.2f / %.2f\t%.1f (%.0f)\t%s\t%s\t%.1f / %.1f\t%s\t\n", r.name,
			float64(o.bytes)/o.secs, float64(v.bytes)/v.secs, ratio,
			ms(quantile(o.enc, 0.5)), ms(quantile(o.enc, 0.95)), ms(quantile(o.dec, 0.5)), ms(quantile(o.dec, 0.95)),
			float64(o.frames)/o.secs, r.drawn, upd, per, o.cpu, v.cpu, same)
	}
	tw.Flush()
	fmt.Fprintln(w, "encode = Changed + Grab + Encode of a frame with a change; VNC upd/s = the viewer's update requests (one per update it got);")
	fmt.Fprintln(w, "CPU = the bench process (capture, encode and decode) and x11vnc, % of one core; decoded = the agent's picture against the last capture")
	fmt.Fprintln(w, "targets (issue 13):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	get := func(name string) (result, bool) {
		i := slices.IndexFunc(rows, func(r result) bool { return r.name == name })
		if i < 0 {
			return result{}, false
		}
		return rows[i], true
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	for _, n := range []string{"typing", "scrolling", "moving"} {
		if r, ok := get(n); ok {
			fps := float64(r.ours.frames) / r.ours.secs
			p95 := ms(quantile(r.ours.enc, 0.95))
			ok := p95 <= 1000/30.0 && fps >= 0.9*min(r.drawn, float64(cfg.fps)) && r.ours.diff == 0
			fmt.Fprintf(tw, "  %s: 30 fps lossless (encode p95 within 33 ms, frames keep up with what is drawn)\t%.1f fps for %.0f drawn, p95 %.2f ms, %d px off\t%s\t\n",
				n, fps, r.drawn, p95, r.ours.diff, verdict(ok))
		}
	}
	if r, ok := get("typing"); ok {
		fmt.Fprintf(tw, "  typing: bytes/s no more than VNC's\tours/VNC %.3f\t%s\t\n", r.ratio(), verdict(r.ratio() <= 1))
	}
	if r, ok := get("scrolling"); ok {
		fmt.Fprintf(tw, "  scrolling: bytes/s at most a quarter of VNC's\tours/VNC %.3f\t%s\t\n", r.ratio(), verdict(r.ratio() <= 0.25))
	}
	for _, n := range []string{"typing", "scrolling", "moving", "noise"} {
		if r, ok := get(n); ok {
			p50, p95 := ms(quantile(r.ours.enc, 0.5)), ms(quantile(r.ours.enc, 0.95))
			fmt.Fprintf(tw, "  %s: encode at most 15 ms a frame\tp50 %.2f ms, p95 %.2f ms\t%s\t\n", n, p50, p95, verdict(p95 <= 15))
		}
	}
	if r, ok := get("idle"); ok {
		fmt.Fprintf(tw, "  idle: about 0 bytes, under 2 %% of a core\t%d bytes in %.0f s, %.2f %%\t%s\t\n",
			r.ours.bytes, r.ours.secs, r.ours.cpu, verdict(r.ours.bytes == 0 && r.ours.cpu < 2))
	}
	tw.Flush()
}

// workloadProc is the workload program on the shared display.
type workloadProc struct {
	*proc
	stdin io.WriteCloser
}

func startWorkload(b *testing.B, cfg config, name string) *workloadProc {
	cmd := exec.Command(cfg.workload, "-display", cfg.shared, "-workload", name)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	p := startProc(b, cmd, filepath.Join(cfg.logs, "workload-"+name+".log"), "ready ")
	return &workloadProc{proc: p, stdin: stdin}
}

// stop closes the program's input, which ends it.
func (w *workloadProc) stop() {
	w.stdin.Close()
	w.proc.stop()
}

// proc is a program the bench started, its output in a log file.
type proc struct {
	cmd  *exec.Cmd
	log  string
	out  *watch
	done chan struct{} // closed when it has exited
	err  error         // how it exited, once done
	once sync.Once
}

// startProc starts cmd with its output in log. It watches the output for
// lines holding wants (see seen) and waits (30 s at most) for the first.
func startProc(b *testing.B, cmd *exec.Cmd, log string, wants ...string) *proc {
	f, err := os.Create(log)
	if err != nil {
		b.Fatal(err)
	}
	w := &watch{w: f, wants: map[string]chan struct{}{}}
	for _, s := range wants {
		w.wants[s] = make(chan struct{})
	}
	p := &proc{cmd: cmd, log: log, out: w, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &lines{watch: w}, &lines{watch: w}
	if err := cmd.Start(); err != nil {
		f.Close()
		b.Fatalf("%s: %v", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	if len(wants) > 0 {
		if err := p.wait(wants[0], 30*time.Second); err != nil {
			p.stop()
			b.Fatalf("%v\n%s", err, tail(log))
		}
	}
	return p
}

// seen is closed once the program has printed a line holding want.
func (p *proc) seen(want string) <-chan struct{} { return p.out.wants[want] }

// wait waits for a line holding want.
func (p *proc) wait(want string, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.seen(want):
		return nil
	case <-p.done:
		return fmt.Errorf("%s exited (%v) before it said %q", filepath.Base(p.cmd.Path), p.err, want)
	case <-t.C:
		return fmt.Errorf("%s did not say %q within %s", filepath.Base(p.cmd.Path), want, d)
	}
}

// watch passes a program's output on to w and closes a want's channel at
// the first line holding it.
type watch struct {
	mu    sync.Mutex
	w     io.Writer
	wants map[string]chan struct{} // fixed once the program starts
	// drawn counts the lines that are just "drawn" (the workload's),
	// which are not logged.
	drawn atomic.Int64
}

// lines is one of a program's outputs, cut into lines for its watch.
type lines struct {
	*watch
	part []byte
}

func (l *lines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, b...)
	for {
		i := slices.Index(l.part, '\n')
		if i < 0 {
			break
		}
		line := string(l.part[:i])
		l.part = l.part[i+1:]
		if line == "drawn" {
			l.drawn.Add(1)
			continue
		}
		if _, err := fmt.Fprintln(l.w, line); err != nil {
			return 0, err
		}
		for want, ch := range l.wants {
			if strings.Contains(line, want) {
				select {
				case <-ch:
				default:
					close(ch)
				}
			}
		}
	}
	if len(l.part) > 4096 { // a long line is not one the bench waits for
		if _, err := l.w.Write(l.part); err != nil {
			return 0, err
		}
		l.part = l.part[:0]
	}
	return len(b), nil
}

// exited says how the program ended, or nil while it runs.
func (p *proc) exited() error {
	select {
	case <-p.done:
		if p.err == nil {
			return errors.New("it exited")
		}
		return p.err
	default:
		return nil
	}
}

// stop ends the program: SIGTERM, then after 5 s SIGKILL.
func (p *proc) stop() {
	p.once.Do(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	})
}

// tail is the end of a log file.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// freePort is a loopback port nothing listens on now (x11vnc takes a port
// number; it could be taken in between, which would fail the run loudly).
func freePort(b *testing.B) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// selfCPU is the processor time this process has used, user and system.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the processor time a child has used so far, user and system
// (/proc/PID/stat, in clock ticks of 1/100 s, as on every Linux build of
// today).
func procCPU(cmd *exec.Cmd) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // the name may hold spaces
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64) // utime: field 14 of the whole line
	k, _ := strconv.ParseInt(f[12], 10, 64) // stime: field 15
	return time.Duration(u+k) * 10 * time.Millisecond
}

// compare counts the pixels of got unlike want (their colour: the fourth
// byte is unused) and gives got's PSNR against want over the tiles that
// have such pixels: the lossy parts (+Inf: none).
func compare(got, want *screen.Image) (diff int, psnr float64) {
	if got == nil || got.W != want.W || got.H != want.H {
		return want.W * want.H, 0
	}
	const t = screen.TileSize
	var sq float64
	n := 0 // pixels of the tiles with a difference
	for ty := 0; ty < want.H; ty += t {
		for tx := 0; tx < want.W; tx += t {
			w, h := min(t, want.W-tx), min(t, want.H-ty)
			d, s := 0, 0.0
			for y := ty; y < ty+h; y++ {
				g, m := got.Pix[y*got.Stride+tx*4:][:w*4], want.Pix[y*want.Stride+tx*4:][:w*4]
				for x := 0; x < w*4; x += 4 {
					if g[x] != m[x] || g[x+1] != m[x+1] || g[x+2] != m[x+2] {
						d++
					}
					for k := range 3 {
						e := float64(g[x+k]) - float64(m[x+k])
						s += e * e
					}
				}
			}
			if d > 0 {
				diff, sq, n = diff+d, sq+s, n+w*h
			}
		}
	}
	if diff == 0 {
		return 0, math.Inf(1)
	}
	return diff, 10 * math.Log10(255*255/(sq/float64(3*n)))
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1)+0.5)]
}

// loadAvg is the machine's load average over the last minute (others'
// work beside the bench's shows in it).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

func perFrame(bytes, frames int64) float64 {
	if frames == 0 {
		return 0
	}
	return float64(bytes) / float64(frames)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
