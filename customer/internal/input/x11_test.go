//go:build linux

package input

import (
	"image"
	"strings"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/porthole-dev/porthole/customer/internal/capture"
	"github.com/porthole-dev/porthole/customer/internal/xconn/xvfb"
)

// watcher is a window of the test's own over the whole screen that
// reports the pointer and keys it gets, as an application would.
type watcher struct {
	c      *xgb.Conn
	root   xproto.Window
	events chan xgb.Event
}

func watch(t *testing.T, display string) *watcher {
	t.Helper()
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	scr := xproto.Setup(c).DefaultScreen(c)
	w := &watcher{c: c, root: scr.Root, events: make(chan xgb.Event, 256)}
	win, _ := xproto.NewWindowId(c)
	mask := uint32(xproto.EventMaskButtonPress | xproto.EventMaskButtonRelease | xproto.EventMaskKeyPress |
		xproto.EventMaskKeyRelease | xproto.EventMaskStructureNotify)
	err = xproto.CreateWindowChecked(c, scr.RootDepth, win, scr.Root, 0, 0, scr.WidthInPixels, scr.HeightInPixels, 0,
		xproto.WindowClassInputOutput, scr.RootVisual, xproto.CwEventMask, []uint32{mask}).Check()
	if err != nil {
		t.Fatal(err)
	}
	xproto.MapWindow(c, win)
	go func() {
		for {
			ev, err := c.WaitForEvent()
			if ev == nil && err == nil {
				close(w.events)
				return
			}
			if ev != nil {
				w.events <- ev
			}
		}
	}()
	w.next(t, func(ev xgb.Event) bool { _, ok := ev.(xproto.MapNotifyEvent); return ok })
	if err := xproto.SetInputFocusChecked(c, xproto.InputFocusParent, win, xproto.TimeCurrentTime).Check(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		for range w.events {
		}
	})
	return w
}

// next returns the next event that match accepts.
func (w *watcher) next(t *testing.T, match func(xgb.Event) bool) xgb.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-w.events:
			if match(ev) {
				return ev
			}
		case <-deadline:
			t.Fatal("the window got no such event within 5 s")
		}
	}
}

// key returns the next key press (or release), with the keysym it types:
// the key's as the mapping has it now, at the level its modifiers pick.
func (w *watcher) key(t *testing.T, press bool) (xproto.Keycode, uint32) {
	t.Helper()
	ev := w.next(t, func(ev xgb.Event) bool {
		switch ev.(type) {
		case xproto.KeyPressEvent:
			return press
		case xproto.KeyReleaseEvent:
			return !press
		}
		return false
	})
	var code xproto.Keycode
	var state uint16
	if e, ok := ev.(xproto.KeyPressEvent); ok {
		code, state = e.Detail, e.State
	} else {
		e := ev.(xproto.KeyReleaseEvent)
		code, state = e.Detail, e.State
	}
	r, err := xproto.GetKeyboardMapping(w.c, code, 1).Reply()
	if err != nil || len(r.Keysyms) < 2 {
		t.Fatalf("the mapping of key %d: %v", code, err)
	}
	sym := r.Keysyms[0]
	if state&xproto.ModMaskShift != 0 && r.Keysyms[1] != 0 {
		sym = r.Keysyms[1]
	}
	return code, uint32(sym)
}

// typed returns the keysyms of the next n key presses that are not of a
// modifier.
func (w *watcher) typed(t *testing.T, n int) []uint32 {
	t.Helper()
	var syms []uint32
	for len(syms) < n {
		if _, sym := w.key(t, true); sym < 0xffe1 || sym > 0xffee { // Shift_L … Hyper_R
			syms = append(syms, sym)
		}
	}
	return syms
}

func (w *watcher) button(t *testing.T, press bool) (byte, image.Point) {
	t.Helper()
	ev := w.next(t, func(ev xgb.Event) bool {
		switch ev.(type) {
		case xproto.ButtonPressEvent:
			return press
		case xproto.ButtonReleaseEvent:
			return !press
		}
		return false
	})
	if e, ok := ev.(xproto.ButtonPressEvent); ok {
		return byte(e.Detail), image.Pt(int(e.RootX), int(e.RootY))
	}
	e := ev.(xproto.ButtonReleaseEvent)
	return byte(e.Detail), image.Pt(int(e.RootX), int(e.RootY))
}

// The agent's pointer lands where it pointed on the monitor it named, its
// buttons and scrolls reach the window under it, and its keys reach the
// focused window by keycode.
func TestInjectedInputReachesAWindow(t *testing.T) {
	d := xvfb.Start(t, "-screen", "0", "1600x900x24")
	x, err := Open(d) // before the watcher: its reader must not run beside a set-up (package xconn)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	w := watch(t, d)
	mons := []capture.Monitor{{Index: 0, Bounds: image.Rect(0, 0, 800, 900)}, {Index: 1, Bounds: image.Rect(800, 0, 1600, 900)}}
	p, err := OnMonitor(mons, 1, image.Pt(100, 50))
	if err != nil || p != image.Pt(900, 50) {
		t.Fatalf("monitor 1, 100,50 is %v, %v", p, err)
	}
	if err := x.Move(p); err != nil {
		t.Fatal(err)
	}
	ptr, err := xproto.QueryPointer(w.c, w.root).Reply()
	if err != nil || ptr.RootX != 900 || ptr.RootY != 50 {
		t.Fatalf("the pointer is at %v,%v (%v)", ptr.RootX, ptr.RootY, err)
	}
	if err := x.Button(Left, true); err != nil {
		t.Fatal(err)
	}
	if b, at := w.button(t, true); b != Left || at != p {
		t.Fatalf("press %d at %v", b, at)
	}
	x.Button(Left, false)
	if b, _ := w.button(t, false); b != Left {
		t.Fatalf("release %d", b)
	}
	if err := x.Scroll(-1, 2); err != nil { // two down, one left
		t.Fatal(err)
	}
	var got []byte
	for range 3 {
		b, _ := w.button(t, true)
		got = append(got, b)
	}
	if string(got) != string([]byte{5, 5, 6}) {
		t.Fatalf("scroll buttons %v", got)
	}
	if err := x.Key(38, true); err != nil { // "a" on a PC keyboard
		t.Fatal(err)
	}
	ev := w.next(t, func(ev xgb.Event) bool { _, ok := ev.(xproto.KeyPressEvent); return ok }).(xproto.KeyPressEvent)
	if ev.Detail != 38 {
		t.Fatalf("key %d", ev.Detail)
	}
	if err := x.Button(Right, true); err != nil { // a drag under way
		t.Fatal(err)
	}
	if b, _ := w.button(t, true); b != Right {
		t.Fatalf("press %d", b)
	}
	// Control ends with the key and the button still down: Close lets
	// both go.
	x.Close()
	rel := w.next(t, func(ev xgb.Event) bool { _, ok := ev.(xproto.KeyReleaseEvent); return ok }).(xproto.KeyReleaseEvent)
	if rel.Detail != 38 {
		t.Fatalf("released %d", rel.Detail)
	}
	if b, _ := w.button(t, false); b != Right {
		t.Fatalf("released button %d, want the right one", b)
	}
	if ptr, err := xproto.QueryPointer(w.c, w.root).Reply(); err != nil || ptr.Mask&xproto.KeyButMaskButton3 != 0 {
		t.Fatalf("after Close the pointer's buttons are %#x (%v)", ptr.Mask, err)
	}
	if err := x.Move(p); err != ErrClosed {
		t.Fatalf("after Close: %v", err)
	}
}

// What makes no sense is refused, and nothing is injected.
func TestBadInputIsRefused(t *testing.T) {
	mons := []capture.Monitor{{Index: 0, Bounds: image.Rect(0, 0, 800, 600)}}
	for _, tt := range []struct {
		index int
		p     image.Point
	}{{1, image.Pt(0, 0)}, {-1, image.Pt(0, 0)}, {0, image.Pt(800, 10)}, {0, image.Pt(-1, 10)}} {
		if _, err := OnMonitor(mons, tt.index, tt.p); err == nil {
			t.Errorf("monitor %d, %v: no error", tt.index, tt.p)
		}
	}
	x := &X11{closed: true, down: map[byte]bool{}}
	for _, err := range []error{x.Button(9, true), x.Scroll(0, MaxScroll+1), x.Key(3, true), x.Key(256, true),
		x.KeySym(0, true), x.KeySym(0x20000000, true), x.KeySym(0xffffff, true),
		x.Type(strings.Repeat("a", MaxText+1)), x.Type("ok\x01"), x.Type("ok\r\n"), x.Type("\xff"), x.Type("\u0085")} {
		if err == nil || err == ErrClosed {
			t.Errorf("a bad event: %v", err)
		}
	}
}
