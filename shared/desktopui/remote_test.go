package desktopui

import (
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/screen"
)

// remote is a RemoteScreen in a test window, with what it sends.
type remote struct {
	t   *testing.T
	rs  *RemoteScreen
	win fyne.Window
	evs []string // every event OnInput got, as says
}

// newRemote shows rs in NewRemoteView in an unpadded window of w × h
// units with a picture of pw × ph pixels, control on; scancodes are X
// keycodes as on Linux.
func newRemote(t *testing.T, w, h float32, pw, ph int) *remote {
	t.Helper()
	test.NewTempApp(t)
	r := &remote{t: t, rs: NewRemoteScreen()}
	r.rs.do = func(f func()) { f() }
	r.rs.scancodes = true
	r.rs.OnInput = func(evs []*pb.InputEvent) {
		t.Helper()
		if err := protocol.ValidatePeerMsg(&pb.PeerMsg{Body: &pb.PeerMsg_Input{Input: &pb.Input{Events: evs}}}); err != nil {
			t.Errorf("sent %s: %v", strings.Join(mapEvents(evs), ", "), err)
		}
		r.evs = append(r.evs, mapEvents(evs)...)
	}
	r.win = test.NewTempWindow(t, NewRemoteView(r.rs))
	r.win.SetPadded(false)
	r.win.Resize(fyne.NewSize(w, h))
	if pw > 0 {
		r.rs.Update(screenPic(pw, ph, 0), nil)
	}
	r.rs.SetControl(true)
	return r
}

// sent returns the events sent since the last call, and forgets them.
func (r *remote) sent() []string {
	evs := r.evs
	r.evs = nil
	return evs
}

func (r *remote) expect(what string, want ...string) {
	r.t.Helper()
	if got := r.sent(); !slices.Equal(got, want) {
		r.t.Errorf("%s sent\n\t%s\nwant\n\t%s", what, strings.Join(got, ", "), strings.Join(want, ", "))
	}
}

func (r *remote) setScale(s float32) {
	r.win.Canvas().(interface{ SetScale(float32) }).SetScale(s)
	r.rs.relayout()
}

func mapEvents(evs []*pb.InputEvent) []string {
	var s []string
	for _, e := range evs {
		s = append(s, say(e))
	}
	return s
}

// say is an event in a few words: "move 0 20,20", "button 1 down",
// "scroll 0,1", "key down sc=38 sym=0x61", "text é".
func say(e *pb.InputEvent) string {
	updown := func(down bool) string {
		if down {
			return "down"
		}
		return "up"
	}
	switch e.Kind {
	case pb.InputEvent_KIND_MOVE:
		return fmt.Sprintf("move %d %d,%d", e.Monitor, e.X, e.Y)
	case pb.InputEvent_KIND_BUTTON:
		return fmt.Sprintf("button %d %s", e.Button, updown(e.Down))
	case pb.InputEvent_KIND_SCROLL:
		return fmt.Sprintf("scroll %d,%d", e.Dx, e.Dy)
	case pb.InputEvent_KIND_KEY:
		return fmt.Sprintf("key %s sc=%d sym=%#x", updown(e.Down), e.Scancode, e.Keysym)
	case pb.InputEvent_KIND_TEXT:
		return "text " + e.Text
	}
	return "?" + e.Kind.String()
}

// screenPic is a w × h picture whose pixel x, y is blue x, green y, red
// seed (all modulo 256), and the unused byte 0x55.
func screenPic(w, h int, seed byte) *screen.Image {
	p := screen.NewImage(w, h)
	for y := range h {
		for x := range w {
			o := y*p.Stride + x*4
			p.Pix[o], p.Pix[o+1], p.Pix[o+2], p.Pix[o+3] = byte(x), byte(y), seed, 0x55
		}
	}
	return p
}

func at(x, y float32) desktop.MouseEvent {
	return desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(x, y)}}
}

func (r *remote) hover(x, y float32) {
	ev := at(x, y)
	r.rs.MouseMoved(&ev)
}

func (r *remote) press(b desktop.MouseButton, x, y float32) {
	ev := at(x, y)
	ev.Button = b
	r.rs.MouseDown(&ev)
}

func (r *remote) release(b desktop.MouseButton, x, y float32) {
	ev := at(x, y)
	ev.Button = b
	r.rs.MouseUp(&ev)
}

// In fit mode an 800 × 400 picture in 400 × 300 units shows at half its
// size with bands above and below it that send nothing.
func TestRemoteFitMapping(t *testing.T) {
	r := newRemote(t, 400, 300, 800, 400)
	if got := r.rs.Size(); got != fyne.NewSize(400, 300) {
		t.Fatalf("the view is %v, want the window's 400 × 300", got)
	}
	if p, s := r.rs.img.Position(), r.rs.img.Size(); p != fyne.NewPos(0, 50) || s != fyne.NewSize(400, 200) {
		t.Errorf("the picture is drawn at %v, %v, want (0, 50), 400 × 200", p, s)
	}
	for _, tt := range []struct {
		x, y float32
		want string
	}{
		{10, 40, ""}, // the band above
		{10, 50, "move 0 20,0"},
		{10.2, 60.7, "move 0 20,21"},
		{399.9, 249.9, "move 0 799,399"},
		{200, 250, ""}, // the band below
		{0, 299, ""},
	} {
		r.hover(tt.x, tt.y)
		var want []string
		if tt.want != "" {
			want = []string{tt.want}
		}
		r.expect(fmt.Sprintf("a move to %v, %v", tt.x, tt.y), want...)
	}
	r.hover(399.6, 249.6)
	r.expect("a move to the same pixel again")

	// A tall picture: bands left and right.
	r.rs.Update(screenPic(300, 600, 0), nil)
	if p, s := r.rs.img.Position(), r.rs.img.Size(); p != fyne.NewPos(125, 0) || s != fyne.NewSize(150, 300) {
		t.Errorf("a 300 × 600 picture is drawn at %v, %v, want (125, 0), 150 × 300", p, s)
	}
	r.hover(124, 10)
	r.hover(276, 10)
	r.expect("moves beside the picture")
	r.hover(125, 10)
	r.expect("a move to its left edge", "move 0 0,20")

	// A small picture is never scaled up: it is centred at 100 %.
	r.rs.Update(screenPic(100, 50, 0), nil)
	if p, s := r.rs.img.Position(), r.rs.img.Size(); p != fyne.NewPos(150, 125) || s != fyne.NewSize(100, 50) {
		t.Errorf("a 100 × 50 picture is drawn at %v, %v, want (150, 125), 100 × 50", p, s)
	}
	r.hover(150, 125)
	r.hover(249.5, 174.5)
	r.expect("moves to its corners", "move 0 0,0", "move 0 99,49")

	// On a canvas of 2 device pixels a unit it fits at 1:1 device pixels.
	r.setScale(2)
	if p, s := r.rs.img.Position(), r.rs.img.Size(); p != fyne.NewPos(175, 137.5) || s != fyne.NewSize(50, 25) {
		t.Errorf("at scale 2 a 100 × 50 picture is drawn at %v, %v, want (175, 137.5), 50 × 25", p, s)
	}
	r.hover(175.25, 137.75)
	r.expect("a move at scale 2", "move 0 0,0")
}

// At 100 % a picture pixel is a device pixel, and the view scrolls.
func TestRemoteFullSizeMapping(t *testing.T) {
	r := newRemote(t, 400, 300, 800, 400)
	r.rs.SetFit(false)
	if got := r.rs.Size(); got != fyne.NewSize(800, 400) {
		t.Fatalf("at 100 %% the view is %v, want the picture's 800 × 400", got)
	}
	r.hover(10, 10)
	r.expect("a move at 100 %", "move 0 10,10")

	// Through the scroll container, as the driver delivers the mouse.
	r.rs.scroll.ScrollToOffset(fyne.NewPos(100, 50))
	test.MoveMouse(r.win.Canvas(), fyne.NewPos(10, 10))
	r.expect("a move over the scrolled view", "move 0 110,60")

	// SetMonitor: MOVE names that monitor.
	r.rs.SetMonitor(2)
	r.rs.SetMonitor(-1) // ignored
	r.rs.SetMonitor(protocol.MaxMonitors)
	r.hover(110, 60)
	r.expect("a move at the same place on monitor 2", "move 2 110,60")

	// Scale 2: 800 × 400 picture pixels are 400 × 200 units.
	r.setScale(2)
	if got := r.rs.MinSize(); got != fyne.NewSize(400, 200) {
		t.Errorf("at scale 2 the view's MinSize is %v, want 400 × 200", got)
	}
	r.rs.scroll.Resize(fyne.NewSize(300, 150))
	r.rs.scroll.Refresh()
	if got := r.rs.Size(); got != fyne.NewSize(400, 200) {
		t.Errorf("at scale 2 the view is %v, want 400 × 200", got)
	}
	r.hover(10.25, 10.75)
	r.expect("a move at scale 2", "move 2 20,21")

	// Back to fit: no scroll offset, the window's size.
	r.rs.SetFit(true)
	r.win.Resize(fyne.NewSize(401, 301))
	if got, off := r.rs.Size(), r.rs.scroll.Offset; got != fyne.NewSize(401, 301) || off != (fyne.Position{}) {
		t.Errorf("back in fit mode the view is %v at offset %v, want 401 × 301 at 0, 0", got, off)
	}
}

// The view stays small in fit mode whatever the picture, and at 100 %
// only its scroll container's content is big.
func TestRemoteMinSize(t *testing.T) {
	r := newRemote(t, 400, 300, 0, 0)
	small := fyne.NewSize(remoteMinWidth, remoteMinHeight)
	if got := r.rs.MinSize(); got != small {
		t.Errorf("with no picture MinSize is %v, want %v", got, small)
	}
	r.rs.Update(screenPic(1920, 1080, 0), nil)
	if got := r.rs.MinSize(); got != small {
		t.Errorf("fitting 1920 × 1080 MinSize is %v, want %v", got, small)
	}
	view := r.win.Content()
	for _, fit := range []bool{true, false} {
		r.rs.SetFit(fit)
		if got := view.MinSize(); got.Width > remoteMinWidth || got.Height > remoteMinHeight {
			t.Errorf("fit %v: the view's MinSize is %v, more than %v", fit, got, small)
		}
	}
	if got := r.rs.MinSize(); got != fyne.NewSize(1920, 1080) {
		t.Errorf("at 100 %% the picture's MinSize is %v, want 1920 × 1080", got)
	}
}

func TestRemoteButtons(t *testing.T) {
	r := newRemote(t, 400, 300, 800, 400)
	r.press(desktop.MouseButtonPrimary, 10, 60)
	r.release(desktop.MouseButtonPrimary, 10, 60)
	r.expect("a left click", "move 0 20,20", "button 1 down", "move 0 20,20", "button 1 up")
	if r.win.Canvas().Focused() != r.rs {
		t.Error("a click does not focus the view")
	}

	r.press(desktop.MouseButtonSecondary, 20, 60)
	r.release(desktop.MouseButtonSecondary, 20, 60)
	r.press(desktop.MouseButtonTertiary, 20, 60)
	r.release(desktop.MouseButtonTertiary, 20, 60)
	r.expect("a right and a middle click",
		"move 0 40,20", "button 3 down", "move 0 40,20", "button 3 up",
		"move 0 40,20", "button 2 down", "move 0 40,20", "button 2 up")

	r.press(desktop.MouseButtonPrimary, 10, 10)
	r.release(desktop.MouseButtonPrimary, 10, 10)
	r.expect("a click on the band above the picture")

	// A drag that leaves the picture: the pointer stops at its edge, and
	// the release off it is a release.
	r.press(desktop.MouseButtonPrimary, 390, 240)
	r.rs.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(395, 245)}})
	r.rs.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(450, 280)}})
	r.rs.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(460, 290)}})
	r.release(desktop.MouseButtonPrimary, 460, 290)
	r.rs.DragEnd()
	r.expect("a drag off the picture",
		"move 0 780,380", "button 1 down", "move 0 790,390", "move 0 799,399", "button 1 up")

	// A right button released over another object (which got its
	// MouseUp): the next move over the view releases it first.
	r.press(desktop.MouseButtonSecondary, 100, 100)
	ev := at(101, 100)
	ev.Button = desktop.MouseButtonSecondary
	r.rs.MouseMoved(&ev)
	r.rs.MouseOut()
	ev = at(102, 100)
	r.rs.MouseIn(&ev)
	r.expect("a right button released elsewhere",
		"move 0 200,100", "button 3 down", "move 0 202,100", "button 3 up", "move 0 204,100")
}

func TestRemoteScroll(t *testing.T) {
	r := newRemote(t, 400, 300, 800, 400)
	scroll := func(dx, dy float32) {
		r.rs.Scrolled(&fyne.ScrollEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(100, 100)}, Scrolled: fyne.NewDelta(dx, dy)})
	}
	scroll(0, -wheelClick)
	scroll(0, 2*wheelClick)
	scroll(wheelClick, 0)
	scroll(-3*wheelClick, wheelClick)
	r.expect("wheel clicks", "scroll 0,1", "scroll 0,-2", "scroll 1,0", "scroll -3,-1")

	// A touchpad's small steps add up to clicks.
	for range 3 {
		scroll(0, -wheelClick/4)
	}
	r.expect("3/4 of a click")
	scroll(0, -wheelClick/4)
	scroll(0, -wheelClick/2)
	r.expect("1 1/2 clicks", "scroll 0,1")
	scroll(0, -wheelClick/2)
	r.expect("2 clicks", "scroll 0,1")
	scroll(0, -wheelClick/2)
	scroll(0, wheelClick/2) // the other way starts afresh
	scroll(0, wheelClick/2)
	r.expect("half a click down, then one up", "scroll 0,-1")

	// A fast wheel the driver accelerated: the clicks it was.
	scroll(0, -wheelBoostFrom*wheelClick*wheelBoost)
	r.expect("a fast wheel", fmt.Sprintf("scroll 0,%d", int(wheelBoostFrom)))

	// The band above the picture.
	r.rs.Scrolled(&fyne.ScrollEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(100, 10)}, Scrolled: fyne.NewDelta(0, -wheelClick)})
	r.expect("a scroll off the picture")

	// Fyne gives the wheel to the innermost Scrollable: the view, which
	// sends it while control is on and scrolls its container when it is off.
	r.rs.SetFit(false)
	test.Scroll(r.win.Canvas(), fyne.NewPos(10, 10), 0, -wheelClick)
	r.expect("the wheel through the driver", "scroll 0,1")
	if off := r.rs.scroll.Offset; off != (fyne.Position{}) {
		t.Errorf("with control on the view scrolled to %v", off)
	}
	r.rs.SetControl(false)
	test.Scroll(r.win.Canvas(), fyne.NewPos(10, 10), 0, -wheelClick)
	r.expect("the wheel with control off")
	if off := r.rs.scroll.Offset; off != fyne.NewPos(0, wheelClick) {
		t.Errorf("with control off the view scrolled to %v, want 0, %v", off, wheelClick)
	}
}

func key(name fyne.KeyName, scancode int) *fyne.KeyEvent {
	return &fyne.KeyEvent{Name: name, Physical: fyne.HardwareKey{ScanCode: scancode}}
}

// typeKey delivers a key's press as Fyne's GLFW driver does: KeyDown, then
// TypedKey (or a shortcut), then the character it types.
func (r *remote) typeKey(k *fyne.KeyEvent, char rune) {
	r.rs.KeyDown(k)
	r.rs.TypedKey(k)
	if char != 0 {
		r.rs.TypedRune(char)
	}
}

func TestRemoteKeys(t *testing.T) {
	r := newRemote(t, 400, 300, 800, 400)
	a := key(fyne.KeyA, 38)
	r.typeKey(a, 'a')
	r.rs.KeyUp(a)
	r.expect("a", "key down sc=38 sym=0x61", "key up sc=38 sym=0x61")

	// Held: the driver's repeats come as TypedKey alone.
	r.typeKey(a, 'a')
	r.rs.TypedKey(a)
	r.rs.TypedRune('a')
	r.rs.TypedKey(a)
	r.rs.TypedRune('a')
	r.rs.KeyUp(a)
	r.expect("a held for two repeats", "key down sc=38 sym=0x61", "key down sc=38 sym=0x61",
		"key down sc=38 sym=0x61", "key up sc=38 sym=0x61")

	// Shift+1 on a layout that types ! there: the key, not the text.
	shift, one := key(desktop.KeyShiftLeft, 50), key(fyne.Key1, 10)
	r.typeKey(shift, 0)
	r.typeKey(one, '!')
	r.rs.KeyUp(one)
	r.rs.KeyUp(shift)
	r.expect("shift+1", "key down sc=50 sym=0xffe1", "key down sc=10 sym=0x31", "key up sc=10 sym=0x31", "key up sc=50 sym=0xffe1")

	// Keys Fyne does not name: by keycode.
	ae := key(fyne.KeyUnknown, 48)
	r.typeKey(ae, 'ä')
	r.rs.KeyUp(ae)
	r.expect("ä on a German keyboard", "key down sc=48 sym=0x0", "key up sc=48 sym=0x0")

	// Named keys and their keysyms; a scan code out of 8..255 is not sent.
	for _, tt := range []struct {
		name fyne.KeyName
		sym  uint32
	}{
		{fyne.KeyReturn, 0xff0d}, {fyne.KeyEnter, 0xff8d}, {fyne.KeyTab, 0xff09}, {fyne.KeyEscape, 0xff1b},
		{fyne.KeyBackspace, 0xff08}, {fyne.KeyDelete, 0xffff}, {fyne.KeyInsert, 0xff63},
		{fyne.KeyHome, 0xff50}, {fyne.KeyEnd, 0xff57}, {fyne.KeyPageUp, 0xff55}, {fyne.KeyPageDown, 0xff56},
		{fyne.KeyLeft, 0xff51}, {fyne.KeyUp, 0xff52}, {fyne.KeyRight, 0xff53}, {fyne.KeyDown, 0xff54},
		{fyne.KeySpace, 0x20}, {fyne.KeyF1, 0xffbe}, {fyne.KeyF12, 0xffc9}, {fyne.KeyZ, 'z'}, {fyne.Key0, '0'},
		{desktop.KeyShiftRight, 0xffe2}, {desktop.KeyControlLeft, 0xffe3}, {desktop.KeyControlRight, 0xffe4},
		{desktop.KeyAltLeft, 0xffe9}, {desktop.KeyAltRight, 0xffea},
		{desktop.KeySuperLeft, 0xffeb}, {desktop.KeySuperRight, 0xffec}, {fyne.KeyMinus, '-'},
	} {
		k := key(tt.name, 300)
		r.typeKey(k, 0)
		r.rs.KeyUp(k)
		r.expect(string(tt.name), fmt.Sprintf("key down sc=0 sym=%#x", tt.sym), fmt.Sprintf("key up sc=0 sym=%#x", tt.sym))
	}

	// A key with neither: the character it types, as text, once.
	odd := key(fyne.KeyUnknown, 0)
	r.typeKey(odd, 'é')
	r.rs.TypedKey(odd)
	r.rs.TypedRune('é')
	r.rs.KeyUp(odd)
	r.expect("é with no keycode", "text é", "text é")
	test.Type(r.rs, "hi")
	r.expect("text typed with no key", "text h", "text i")
	r.rs.TypedRune('\b')
	r.expect("a control character")

	// Where Fyne's scan codes are not X keycodes (Windows, macOS): keysyms
	// and text only.
	r.rs.scancodes = false
	r.typeKey(key(fyne.KeyReturn, 28), 0)
	r.rs.KeyUp(key(fyne.KeyReturn, 28))
	r.typeKey(key(fyne.KeyUnknown, 26), 'ü')
	r.rs.KeyUp(key(fyne.KeyUnknown, 26))
	r.expect("Return and ü elsewhere", "key down sc=0 sym=0xff0d", "key up sc=0 sym=0xff0d", "text ü")
	r.rs.scancodes = true

	// Ctrl+C: the driver gives the C as a shortcut, and its repeats too.
	ctrl, c := key(desktop.KeyControlLeft, 37), key(fyne.KeyC, 54)
	r.typeKey(ctrl, 0)
	r.rs.KeyDown(c)
	r.rs.TypedShortcut(&fyne.ShortcutCopy{})
	r.rs.TypedShortcut(&fyne.ShortcutCopy{})
	r.rs.KeyUp(c)
	r.rs.KeyDown(key(fyne.KeyLeft, 113))
	r.rs.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyLeft, Modifier: fyne.KeyModifierControl})
	r.rs.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyLeft, Modifier: fyne.KeyModifierControl})
	r.rs.KeyUp(key(fyne.KeyLeft, 113))
	r.rs.KeyUp(ctrl)
	r.expect("ctrl+c, ctrl+left, each with a repeat",
		"key down sc=37 sym=0xffe3", "key down sc=54 sym=0x63", "key down sc=54 sym=0x63", "key up sc=54 sym=0x63",
		"key down sc=113 sym=0xff51", "key down sc=113 sym=0xff51", "key up sc=113 sym=0xff51", "key up sc=37 sym=0xffe3")

	// A release without its press (pressed before control was on).
	r.rs.KeyUp(key(fyne.KeyB, 56))
	r.expect("a release alone")

	if !r.rs.AcceptsTab() {
		t.Error("with control on Tab moves the focus")
	}
	r.rs.SetControl(false)
	if r.rs.AcceptsTab() {
		t.Error("with control off Tab goes to the customer")
	}
}

// Keys and buttons held go up when the view loses the focus or control
// ends, keys in the reverse order of their presses.
func TestRemoteReleases(t *testing.T) {
	r := newRemote(t, 400, 300, 800, 400)
	ctrl, alt, t1 := key(desktop.KeyControlLeft, 37), key(desktop.KeyAltLeft, 64), key(fyne.KeyT, 28)
	r.press(desktop.MouseButtonPrimary, 10, 60)
	r.typeKey(ctrl, 0)
	r.typeKey(alt, 0)
	r.rs.KeyDown(t1)
	r.typeKey(key(fyne.KeyUnknown, 0), 'é') // not sent as a key: not released
	r.sent()
	r.rs.FocusLost()
	r.expect("the focus lost", "button 1 up", "key up sc=28 sym=0x74", "key up sc=64 sym=0xffe9", "key up sc=37 sym=0xffe3")
	r.rs.KeyUp(t1)
	r.rs.KeyUp(alt)
	r.rs.KeyUp(ctrl)
	r.release(desktop.MouseButtonPrimary, 10, 60)
	r.expect("the releases after")

	r.rs.FocusGained()
	r.typeKey(ctrl, 0)
	r.press(desktop.MouseButtonSecondary, 10, 60)
	r.sent()
	r.rs.SetControl(false)
	r.expect("control turned off", "button 3 up", "key up sc=37 sym=0xffe3")
	r.rs.KeyUp(ctrl)
	r.expect("the release after")
}

// With control off nothing is sent; a click only takes the focus.
func TestRemoteControlOff(t *testing.T) {
	r := newRemote(t, 400, 300, 800, 400)
	r.rs.SetControl(false)
	r.hover(10, 60)
	r.press(desktop.MouseButtonPrimary, 10, 60)
	r.rs.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(20, 60)}})
	r.release(desktop.MouseButtonPrimary, 20, 60)
	r.rs.Scrolled(&fyne.ScrollEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(10, 60)}, Scrolled: fyne.NewDelta(0, -wheelClick)})
	r.typeKey(key(fyne.KeyA, 38), 'a')
	r.rs.KeyUp(key(fyne.KeyA, 38))
	test.Type(r.rs, "x")
	r.rs.TypedShortcut(&fyne.ShortcutCopy{})
	r.expect("everything with control off")
	if r.win.Canvas().Focused() != r.rs {
		t.Error("a click with control off does not focus the view")
	}

	r.rs.SetControl(true)
	r.rs.OnInput = nil
	r.hover(30, 60)
	r.typeKey(key(fyne.KeyA, 38), 'a') // no panic
}

func TestSystemKeys(t *testing.T) {
	want := map[string][]string{
		"Alt+Tab":      {"key down sc=0 sym=0xffe9", "key down sc=0 sym=0xff09", "key up sc=0 sym=0xff09", "key up sc=0 sym=0xffe9"},
		"Super":        {"key down sc=0 sym=0xffeb", "key up sc=0 sym=0xffeb"},
		"Print Screen": {"key down sc=0 sym=0xff61", "key up sc=0 sym=0xff61"},
		"Ctrl+Alt+Del": {"key down sc=0 sym=0xffe3", "key down sc=0 sym=0xffe9", "key down sc=0 sym=0xffff",
			"key up sc=0 sym=0xffff", "key up sc=0 sym=0xffe9", "key up sc=0 sym=0xffe3"},
	}
	keys := SystemKeys()
	var labels []string
	for _, k := range keys {
		labels = append(labels, k.Label)
		if got := mapEvents(k.Events); !slices.Equal(got, want[k.Label]) {
			t.Errorf("%s is %v, want %v", k.Label, got, want[k.Label])
		}
		if err := protocol.ValidatePeerMsg(&pb.PeerMsg{Body: &pb.PeerMsg_Input{Input: &pb.Input{Events: k.Events}}}); err != nil {
			t.Errorf("%s: %v", k.Label, err)
		}
	}
	if want := []string{"Alt+Tab", "Super", "Print Screen", "Ctrl+Alt+Del"}; !slices.Equal(labels, want) {
		t.Errorf("the system keys are %v, want %v", labels, want)
	}
	keys[0].Events[0].Keysym = 0
	if SystemKeys()[0].Events[0].Keysym == 0 {
		t.Error("SystemKeys gives events a caller changed before")
	}
}

// rgbaAt is what pixel x, y of screenPic(…, seed) is in RGBA.
func rgbaAt(x, y int, seed byte) color.RGBA {
	return color.RGBA{R: seed, G: byte(y), B: byte(x), A: 0xff}
}

func TestRemotePixels(t *testing.T) {
	r := newRemote(t, 400, 300, 0, 0)
	if r.rs.Picture() != nil {
		t.Error("a picture before the first Update")
	}
	pic := screenPic(300, 200, 7)
	r.rs.Update(pic, []image.Rectangle{image.Rect(0, 0, 1, 1)}) // a new size: all of it
	check := func(what string, want func(x, y int) color.RGBA) {
		t.Helper()
		for name, img := range map[string]*image.RGBA{"Picture": r.rs.Picture(), "the front": r.rs.front} {
			if img == nil || img.Rect != image.Rect(0, 0, 300, 200) {
				t.Fatalf("%s: %s is %v", what, name, img)
			}
			for y := range 200 {
				for x := range 300 {
					if got := img.RGBAAt(x, y); got != want(x, y) {
						t.Fatalf("%s: %s's pixel %d, %d is %v, want %v", what, name, x, y, got, want(x, y))
					}
				}
			}
		}
	}
	check("the first picture", func(x, y int) color.RGBA { return rgbaAt(x, y, 7) })

	// The whole picture changes, but only two rectangles (one partly off
	// it) are said to: only they are copied.
	fresh := screenPic(300, 200, 9)
	copy(pic.Pix, fresh.Pix)
	rects := []image.Rectangle{image.Rect(10, 20, 74, 84), image.Rect(290, 190, 400, 400)}
	r.rs.Update(pic, rects)
	check("after a partial update", func(x, y int) color.RGBA {
		for _, rr := range rects {
			if image.Pt(x, y).In(rr) {
				return rgbaAt(x, y, 9)
			}
		}
		return rgbaAt(x, y, 7)
	})
	r.rs.Update(pic, nil)
	r.rs.Update(pic, []image.Rectangle{{}, image.Rect(-5, -5, -1, -1)})
	check("after updates of nothing", func(x, y int) color.RGBA {
		for _, rr := range rects {
			if image.Pt(x, y).In(rr) {
				return rgbaAt(x, y, 9)
			}
		}
		return rgbaAt(x, y, 7)
	})
	r.rs.Update(pic, []image.Rectangle{image.Rect(0, 0, 300, 200)})
	check("after an update of everything", func(x, y int) color.RGBA { return rgbaAt(x, y, 9) })

	// A picture the codec never makes is ignored.
	r.rs.Update(&screen.Image{W: 10, H: 10, Stride: 40, Pix: make([]byte, 100)}, nil)
	r.rs.Update(nil, nil)
	check("after bad pictures", func(x, y int) color.RGBA { return rgbaAt(x, y, 9) })

	// Drawn where the mapping says, the bands left empty.
	shot := r.win.Canvas().Capture()
	if got, want := color.RGBAModel.Convert(shot.At(50+150, 50+100)), rgbaAt(150, 100, 9); got != want {
		t.Errorf("the window shows %v at the picture's centre, want %v", got, want)
	}
	if got, want := color.RGBAModel.Convert(shot.At(10, 10)), color.RGBAModel.Convert(shot.At(390, 290)); got != want || got == rgbaAt(0, 0, 9) {
		t.Errorf("the window's corners are %v and %v: not its background", got, want)
	}
}

func TestRemoteCursor(t *testing.T) {
	r := newRemote(t, 400, 300, 800, 400)
	shape := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	shape.Pix[0] = 0xff
	r.rs.SetCursor(true, image.Pt(100, 50), image.Pt(2, 3), shape)
	shape.Pix[0] = 0 // the caller's buffer, reused
	p := r.rs.pointer
	if !p.Visible() || p.Position() != fyne.NewPos(49, 73.5) || p.Size() != fyne.NewSize(8, 8) {
		t.Errorf("the pointer is at %v, %v (shown %v), want (49, 73.5), 8 × 8", p.Position(), p.Size(), p.Visible())
	}
	if img := p.Image.(*image.NRGBA); img.Pix[0] != 0xff {
		t.Error("the pointer's shape is the caller's buffer, not a copy")
	}
	r.rs.SetCursor(true, image.Pt(102, 52), image.Pt(2, 3), nil)
	if !p.Visible() || p.Position() != fyne.NewPos(50, 74.5) || p.Image == nil {
		t.Errorf("moved, the pointer is at %v (shown %v, shape %v), want (50, 74.5)", p.Position(), p.Visible(), p.Image != nil)
	}
	r.rs.SetFit(false)
	if p.Position() != fyne.NewPos(100, 49) || p.Size() != fyne.NewSize(16, 16) {
		t.Errorf("at 100 %% the pointer is at %v, %v, want (100, 49), 16 × 16", p.Position(), p.Size())
	}
	r.rs.SetCursor(false, image.Pt(102, 52), image.Pt(2, 3), nil)
	if p.Visible() {
		t.Error("a hidden pointer is shown")
	}
	if pic := r.rs.Picture(); pic.RGBAAt(100, 49) != rgbaAt(100, 49, 0) {
		t.Error("the pointer is in Picture")
	}
}

// Frames from the decoder's goroutine while the window repaints; at most
// one repaint waits at a time. Run with -race.
func TestRemoteUpdateConcurrent(t *testing.T) {
	r := newRemote(t, 200, 150, 0, 0)
	queue := make(chan func(), 16)
	var waiting, most atomic.Int32
	r.rs.do = func(f func()) {
		n := waiting.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		queue <- f
	}
	pic := screenPic(256, 192, 0)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		rng := rand.New(rand.NewPCG(1, 2))
		shape := image.NewNRGBA(image.Rect(0, 0, 8, 8))
		for i := range 300 {
			x, y := rng.IntN(256), rng.IntN(192)
			rect := image.Rect(x, y, x+64, y+64)
			for yy := y; yy < min(y+64, 192); yy++ {
				for xx := x; xx < min(x+64, 256); xx++ {
					pic.Pix[yy*pic.Stride+xx*4+2] = byte(i)
				}
			}
			r.rs.Update(pic, []image.Rectangle{rect})
			r.rs.SetCursor(i%7 != 0, image.Pt(x, y), image.Pt(1, 1), shape)
			_ = r.rs.Picture()
		}
	}()
	run := func(f func()) {
		waiting.Add(-1)
		f()
		r.win.Canvas().Capture()
		r.hover(float32(len(queue)), 50)
	}
	for loop := true; loop; {
		select {
		case f := <-queue:
			run(f)
		case <-done:
			loop = false
		}
	}
	wg.Wait()
	for len(queue) > 0 {
		run(<-queue)
	}
	if m := most.Load(); m > 1 {
		t.Errorf("%d repaints waited at once", m)
	}
	want := screenPic(256, 192, 0)
	copy(want.Pix, pic.Pix)
	for y := range 192 {
		for x := range 256 {
			o := y*want.Stride + x*4
			w := color.RGBA{R: want.Pix[o+2], G: want.Pix[o+1], B: want.Pix[o], A: 0xff}
			if got := r.rs.front.RGBAAt(x, y); got != w {
				t.Fatalf("after the last frame the front's pixel %d, %d is %v, want %v", x, y, got, w)
			}
		}
	}
}

// BenchmarkRemoteUpdate is a frame of a 1920 × 1080 screen: converted by
// Update on the decoder's goroutine and copied to the front on Fyne's. The
// baseline is copying the whole picture's bytes once, in the same run.
func BenchmarkRemoteUpdate(b *testing.B) {
	b.Run("baseline-copy-full", func(b *testing.B) {
		src, dst := screenPic(1920, 1080, 0), image.NewRGBA(image.Rect(0, 0, 1920, 1080))
		b.SetBytes(int64(len(dst.Pix)))
		for b.Loop() {
			copy(dst.Pix, src.Pix)
		}
	})
	for _, bb := range []struct {
		name string
		rect image.Rectangle
	}{
		{"tile", image.Rect(640, 320, 704, 384)},
		{"full", image.Rect(0, 0, 1920, 1080)},
	} {
		b.Run(bb.name, func(b *testing.B) {
			test.NewTempApp(b)
			rs := NewRemoteScreen()
			rs.do = func(f func()) { f() }
			w := test.NewTempWindow(b, NewRemoteView(rs))
			w.Resize(fyne.NewSize(960, 540))
			pic := screenPic(1920, 1080, 0)
			rs.Update(pic, nil)
			changed := []image.Rectangle{bb.rect}
			b.SetBytes(int64(bb.rect.Dx() * bb.rect.Dy() * 4))
			for b.Loop() {
				rs.Update(pic, changed)
			}
		})
	}
}
