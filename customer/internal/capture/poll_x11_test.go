//go:build linux

package capture

import (
	"image"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/randr"
	"github.com/jezek/xgb/xproto"
	"github.com/kbinani/screenshot"

	"github.com/porthole-dev/porthole/customer/internal/xconn"
	"github.com/porthole-dev/porthole/customer/internal/xconn/xvfb"
)

// The portable path for real: kbinani/screenshot (as OpenScreenshot reads
// it on Windows and macOS) on an
// Xvfb of the test's own, which another program draws on: the blocks it
// drew on are reported, and read back exactly.
func TestScreenshotPoll(t *testing.T) {
	d := xvfb.Start(t, "-screen", "0", "1024x768x24")
	p, mons := openScreenshotPoll(t, d)
	if len(mons) != 1 || mons[0] != (Monitor{Bounds: image.Rect(0, 0, 1024, 768), Primary: true}) {
		t.Fatalf("monitors %v", mons)
	}
	if ch, err := p.Changed(); err != nil || len(ch) == 0 {
		t.Fatalf("the first Changed: %v, %v", ch, err)
	}

	// The blocks the area touches.
	paintAndRead(t, p, d, image.Rect(100, 50, 420, 290), image.Rect(64, 0, 448, 320), image.Point{}, mons[0].Bounds)
}

// Two monitors, the primary on the right: kbinani puts the primary's top
// left at the origin, so the left one has negative coordinates; a picture
// drawn on it is told and read there.
func TestScreenshotPollMonitors(t *testing.T) {
	d := xvfb.Start(t, "-screen", "0", "1824x768x24")
	setMonitors(t, d, []randrMonitor{{"LEFT", image.Rect(0, 0, 800, 600), false}, {"RIGHT", image.Rect(800, 0, 1824, 768), true}})
	p, mons := openScreenshotPoll(t, d)
	want := []Monitor{{Index: 0, Bounds: image.Rect(0, 0, 1024, 768), Primary: true}, {Index: 1, Bounds: image.Rect(-800, 0, 0, 600)}}
	if len(mons) != 2 || mons[0] != want[0] || mons[1] != want[1] {
		t.Fatalf("monitors %v, want %v (kbinani's displays, the screen around them left out)", mons, want)
	}
	p.Changed()

	// On LEFT, in X's coordinates: 800 further left in the Poll's.
	paintAndRead(t, p, d, image.Rect(100, 100, 300, 200), image.Rect(-736, 64, -480, 256), image.Pt(-800, 0), mons[1].Bounds)
}

// openScreenshotPoll reads display d through kbinani, as OpenScreenshot
// does elsewhere, and gives its monitors; the test closes it.
func openScreenshotPoll(t *testing.T, d string) (*Poll, []Monitor) {
	t.Helper()
	t.Setenv("DISPLAY", d) // kbinani reads $DISPLAY
	t.Setenv("XDG_SESSION_TYPE", "x11")
	t.Setenv("WAYLAND_DISPLAY", "")
	p, err := OpenDisplays(screenshot.NumActiveDisplays(), screenshot.GetDisplayBounds, screenshot.CaptureRect)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	mons, err := p.Monitors()
	if err != nil {
		t.Fatal(err)
	}
	return p, mons
}

// paintAndRead paints area (in X's coordinates) on display d, waits until
// p has told exactly the blocks (in its own coordinates, shift from X's),
// and reads the area back exactly, in a frame of frame's bounds.
func paintAndRead(t *testing.T, p *Poll, d string, area, blocks image.Rectangle, shift image.Point, frame image.Rectangle) {
	t.Helper()
	paint(t, d, area, pattern)
	var changed image.Rectangle
	for deadline := time.After(10 * time.Second); changed != blocks; {
		select {
		case <-p.Drawn():
		case <-deadline:
			t.Fatalf("changed %v, painted %v (blocks %v)", changed, area, blocks)
		}
		ch, err := p.Changed()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ch {
			if !r.In(blocks) {
				t.Fatalf("%v changed, painted %v (blocks %v)", r, area, blocks)
			}
			changed = changed.Union(r)
		}
	}
	// A look begun after the painting has it all (the looks that told it
	// may have seen it half done).
	if err := p.read(0); err != nil {
		t.Fatal(err)
	}
	f := NewFrame(frame)
	at := area.Add(shift)
	if err := p.Grab(f, at); err != nil {
		t.Fatal(err)
	}
	img := f.RGBA(at)
	for y := area.Min.Y; y < area.Max.Y; y++ {
		for x := area.Min.X; x < area.Max.X; x++ {
			want, c := pattern(x, y), img.RGBAAt(x+shift.X, y+shift.Y)
			if c.R != want[0] || c.G != want[1] || c.B != want[2] {
				t.Fatalf("pixel %d,%d is %v, want %v", x, y, c, want)
			}
		}
	}
}

type randrMonitor struct {
	name    string
	r       image.Rectangle
	primary bool
}

// setMonitors sets up RandR monitors on one screen, as a desktop does.
func setMonitors(t *testing.T, d string, ms []randrMonitor) {
	t.Helper()
	c, err := xgb.NewConnDisplay(d)
	if err != nil {
		t.Fatal(err)
	}
	defer xvfb.CloseConn(c)
	unlock := xconn.Lock()
	err = randr.Init(c)
	unlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := randr.QueryVersion(c, 1, 5).Reply(); err != nil {
		t.Fatal(err)
	}
	root := xproto.Setup(c).DefaultScreen(c).Root
	for _, m := range ms {
		atom, err := xproto.InternAtom(c, false, uint16(len(m.name)), m.name).Reply()
		if err != nil {
			t.Fatal(err)
		}
		err = randr.SetMonitorChecked(c, root, randr.MonitorInfo{Name: atom.Atom, Primary: m.primary,
			X: int16(m.r.Min.X), Y: int16(m.r.Min.Y), Width: uint16(m.r.Dx()), Height: uint16(m.r.Dy()),
			WidthInMillimeters: 300, HeightInMillimeters: 200}).Check()
		if err != nil {
			t.Fatal(err)
		}
	}
}
