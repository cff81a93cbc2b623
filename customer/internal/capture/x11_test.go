//go:build linux

package capture

import (
	"image"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/porthole-dev/porthole/customer/internal/xconn/xvfb"
)

// paint draws a known picture at r on the display's root window, as
// another program would, and waits until the server has done it.
func paint(t *testing.T, display string, r image.Rectangle, px func(x, y int) [3]byte) {
	t.Helper()
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	defer xvfb.CloseConn(c)
	scr := xproto.Setup(c).DefaultScreen(c)
	gc, _ := xproto.NewGcontextId(c)
	if err := xproto.CreateGCChecked(c, gc, xproto.Drawable(scr.Root), 0, nil).Check(); err != nil {
		t.Fatal(err)
	}
	const strip = 32 // rows a request: one request may not carry the whole picture
	for y0 := r.Min.Y; y0 < r.Max.Y; y0 += strip {
		y1 := min(y0+strip, r.Max.Y)
		data := make([]byte, 0, r.Dx()*(y1-y0)*4)
		for y := y0; y < y1; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				p := px(x, y)
				data = append(data, p[2], p[1], p[0], 0) // blue, green, red
			}
		}
		err = xproto.PutImageChecked(c, xproto.ImageFormatZPixmap, xproto.Drawable(scr.Root), gc,
			uint16(r.Dx()), uint16(y1-y0), int16(r.Min.X), int16(y0), 0, scr.RootDepth, data).Check()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func pattern(x, y int) [3]byte { return [3]byte{byte(x * 7), byte(y * 13), byte(x ^ y)} }

// What another program draws is reported as changed and read back exactly;
// a screen nobody draws on reports nothing.
func TestX11ChangedAndGrab(t *testing.T) {
	d := xvfb.Start(t, "-screen", "0", "1280x800x24")
	x, err := OpenX11(d)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if b := x.Bounds(); b != image.Rect(0, 0, 1280, 800) {
		t.Fatalf("bounds %v", b)
	}
	x.Changed() // whatever the server did at start
	if ch, err := x.Changed(); err != nil || len(ch) != 0 {
		t.Fatalf("an idle screen changed: %v, %v", ch, err)
	}
	select { // a token left from the start
	case <-x.Drawn():
	default:
	}
	area := image.Rect(100, 50, 420, 290)
	paint(t, d, area, pattern)
	select { // drawing is told: a sender need not look at an idle screen
	case <-x.Drawn():
	case <-time.After(5 * time.Second):
		t.Fatal("drawing on the screen was not told on Drawn")
	}
	var changed image.Rectangle
	for deadline := time.Now().Add(5 * time.Second); changed != area && time.Now().Before(deadline); {
		ch, err := x.Changed()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ch {
			changed = changed.Union(r)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if changed != area {
		t.Fatalf("changed %v, painted %v", changed, area)
	}
	f := NewFrame(x.Bounds())
	if err := x.Grab(f, area); err != nil {
		t.Fatal(err)
	}
	img := f.RGBA(area)
	for y := area.Min.Y; y < area.Max.Y; y++ {
		for xx := area.Min.X; xx < area.Max.X; xx++ {
			want, c := pattern(xx, y), img.RGBAAt(xx, y)
			if c.R != want[0] || c.G != want[1] || c.B != want[2] {
				t.Fatalf("pixel %d,%d is %v, want %v", xx, y, c, want)
			}
		}
	}
	// A part outside the frame is refused, and nothing is read after Close.
	if err := x.Grab(NewFrame(image.Rect(0, 0, 10, 10)), area); err == nil {
		t.Fatal("grabbed outside the frame")
	}
	x.Close()
	if err := x.Grab(f, area); err != ErrClosed {
		t.Fatalf("after Close: %v", err)
	}
}

// Two monitors side by side, as a desktop sets them up (RandR monitors on
// one screen), come with their real geometry, the primary first.
func TestX11Monitors(t *testing.T) {
	d := xvfb.Start(t, "-screen", "0", "1824x768x24")
	setMonitors(t, d, []randrMonitor{{"LEFT", image.Rect(0, 0, 800, 600), false}, {"RIGHT", image.Rect(800, 0, 1824, 768), true}})
	x, err := OpenX11(d)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	ms, err := x.Monitors()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Bounds != image.Rect(800, 0, 1824, 768) || !ms[0].Primary || ms[0].Index != 0 ||
		ms[1].Bounds != image.Rect(0, 0, 800, 600) || ms[1].Primary || ms[1].Index != 1 {
		t.Fatalf("monitors %+v", ms)
	}
}

// A Wayland session is told plainly, not captured through XWayland.
func TestWaylandIsSaid(t *testing.T) {
	t.Setenv("WAYLAND_DISPLAY", "wayland-0")
	if _, err := OpenX11(""); err != ErrWayland {
		t.Fatalf("OpenX11 in a Wayland session: %v", err)
	}
}

// The pointer travels apart: its position and shape come from Cursor, and
// a grab where it stands holds only what is drawn there.
func TestX11CursorApart(t *testing.T) {
	d := xvfb.Start(t, "-screen", "0", "800x600x24")
	area := image.Rect(200, 100, 400, 300)
	paint(t, d, area, pattern)
	c, err := xgb.NewConnDisplay(d)
	if err != nil {
		t.Fatal(err)
	}
	root := xproto.Setup(c).DefaultScreen(c).Root
	if err := xproto.WarpPointerChecked(c, 0, root, 0, 0, 0, 0, 300, 200).Check(); err != nil {
		t.Fatal(err)
	}
	xvfb.CloseConn(c)
	x, err := OpenX11(d)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	cur, err := x.Cursor()
	if err != nil {
		t.Fatal(err)
	}
	if cur.Pos != image.Pt(300, 200) || cur.Shape.Bounds().Empty() || !cur.Hot.In(cur.Shape.Bounds().Inset(-1)) {
		t.Fatalf("cursor at %v, hot %v, shape %v", cur.Pos, cur.Hot, cur.Shape.Bounds())
	}
	f := NewFrame(x.Bounds())
	if err := x.Grab(f, area); err != nil {
		t.Fatal(err)
	}
	img := f.RGBA(area)
	for y := 190; y < 230; y++ {
		for xx := 290; xx < 330; xx++ {
			want, got := pattern(xx, y), img.RGBAAt(xx, y)
			if got.R != want[0] || got.G != want[1] || got.B != want[2] {
				t.Fatalf("the grab holds the cursor at %d,%d: %v, want %v", xx, y, got, want)
			}
		}
	}
}
