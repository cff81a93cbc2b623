//go:build windows

package input

import (
	"image"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/porthole-dev/porthole/customer/internal/capture"
)

// These tests inject into a real window of their own, on the desktop they
// run on: Windows, or Wine under Xvfb (make test-windows).

var (
	procRegisterClass    = user32.NewProc("RegisterClassExW")
	procCreateWindow     = user32.NewProc("CreateWindowExW")
	procDefWindowProc    = user32.NewProc("DefWindowProcW")
	procPostMessage      = user32.NewProc("PostMessageW")
	procSetForeground    = user32.NewProc("SetForegroundWindow")
	procSetFocus         = user32.NewProc("SetFocus")
	procTranslateMessage = user32.NewProc("TranslateMessage")
	procDispatchMessage  = user32.NewProc("DispatchMessageW")
	procClientToScreen   = user32.NewProc("ClientToScreen")
	procGetCursorPos     = user32.NewProc("GetCursorPos")
	procGetForeground    = user32.NewProc("GetForegroundWindow")
)

const (
	wmKeyDown     = 0x0100
	wmKeyUp       = 0x0101
	wmChar        = 0x0102
	wmSysKeyDown  = 0x0104
	wmSysKeyUp    = 0x0105
	wmMouseMove   = 0x0200
	wmLButtonDown = 0x0201
	wmLButtonUp   = 0x0202
	wmRButtonDown = 0x0204
	wmRButtonUp   = 0x0205
	wmMouseWheel  = 0x020a
	wmMouseHWheel = 0x020e
)

// winMsg is a message the test window received.
type winMsg struct {
	msg            uint32
	wParam, lParam uintptr
}

func (m winMsg) point() image.Point {
	return image.Pt(int(int16(m.lParam&0xffff)), int(int16(m.lParam>>16&0xffff)))
}

type testWindow struct {
	hwnd   uintptr
	thread uintptr     // the thread that owns it
	origin image.Point // the client area's top left on the screen
	msgs   chan winMsg
}

// testColour is the test windows' background, a COLORREF (0x00bbggrr):
// red 0x12, green 0x34, blue 0x56.
const testColour = 0x00563412

// current is the test window that gets the messages of the class.
var current atomic.Pointer[testWindow]

var classOnce sync.Once
var className *uint16

// registerTestClass registers the test windows' class once: its window
// procedure hands the messages to the current test window.
func registerTestClass() *uint16 {
	classOnce.Do(func() {
		className, _ = syscall.UTF16PtrFromString("PortholeInputTest")
		brush, _, _ := syscall.NewLazyDLL("gdi32.dll").NewProc("CreateSolidBrush").Call(testColour)
		proc := syscall.NewCallback(func(hwnd, msg, wParam, lParam uintptr) uintptr {
			switch uint32(msg) {
			case wmKeyDown, wmKeyUp, wmChar, wmSysKeyDown, wmSysKeyUp, wmMouseMove, wmLButtonDown, wmLButtonUp,
				wmRButtonDown, wmRButtonUp, wmMouseWheel, wmMouseHWheel:
				if w := current.Load(); w != nil && w.hwnd == hwnd {
					select {
					case w.msgs <- winMsg{uint32(msg), wParam, lParam}:
					default:
					}
				}
				if uint32(msg) == wmSysKeyDown || uint32(msg) == wmSysKeyUp {
					return 0 // no menu mode for Alt
				}
			}
			r, _, _ := procDefWindowProc.Call(hwnd, msg, wParam, lParam)
			return r
		})
		class := struct {
			size, style                   uint32
			proc                          uintptr
			clsExtra, wndExtra            int32
			instance, icon, cursor, brush uintptr
			menu, name                    *uint16
			iconSm                        uintptr
		}{proc: proc, name: className, brush: brush}
		class.size = uint32(unsafe.Sizeof(class))
		procRegisterClass.Call(uintptr(unsafe.Pointer(&class)))
	})
	return className
}

// newTestWindow opens a window of 400 × 300 at (100, 100) with the focus,
// its messages pumped on a thread of its own.
func newTestWindow(t *testing.T) *testWindow {
	t.Helper()
	w := &testWindow{msgs: make(chan winMsg, 256)}
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		name := registerTestClass()
		current.Store(w)
		const wsOverlappedVisible = 0x00CF0000 | 0x10000000
		hwnd, _, err := procCreateWindow.Call(0, uintptr(unsafe.Pointer(name)), uintptr(unsafe.Pointer(name)),
			wsOverlappedVisible, 100, 100, 400, 300, 0, 0, 0, 0)
		if hwnd == 0 {
			ready <- err
			return
		}
		w.hwnd = hwnd
		w.thread, _, _ = procGetThreadID.Call()
		procSetForeground.Call(hwnd)
		procSetFocus.Call(hwnd)
		var pt [2]int32
		procClientToScreen.Call(hwnd, uintptr(unsafe.Pointer(&pt)))
		w.origin = image.Pt(int(pt[0]), int(pt[1]))
		ready <- nil
		var msg [48]byte
		for {
			r, _, _ := procGetMessage.Call(uintptr(unsafe.Pointer(&msg)), 0, 0, 0)
			if int32(r) <= 0 {
				return
			}
			procTranslateMessage.Call(uintptr(unsafe.Pointer(&msg)))
			procDispatchMessage.Call(uintptr(unsafe.Pointer(&msg)))
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("CreateWindowEx: %v", err)
	}
	t.Cleanup(func() {
		// A window is destroyed by its own thread: WM_CLOSE does it there,
		// and WM_QUIT then ends that thread's loop.
		procPostMessage.Call(w.hwnd, 0x0010, 0, 0)
		procPostThreadMessage.Call(w.thread, wmQuit, 0, 0)
	})
	// Input goes to the foreground window: wait until it is this one.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if fg, _, _ := procGetForeground.Call(); fg == w.hwnd {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the test window did not come to the foreground")
		}
	}
	for len(w.msgs) > 0 {
		<-w.msgs
	}
	return w
}

// next waits for the first message match takes, skipping others.
func (w *testWindow) next(t *testing.T, what string, match func(winMsg) bool) winMsg {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-w.msgs:
			if match(m) {
				return m
			}
		case <-deadline:
			t.Fatalf("the window did not get %s", what)
		}
	}
}

func is(msg uint32) func(winMsg) bool { return func(m winMsg) bool { return m.msg == msg } }

func char(r rune) func(winMsg) bool {
	return func(m winMsg) bool { return m.msg == wmChar && rune(m.wParam) == r }
}

func TestWindowsInputReachesAWindow(t *testing.T) {
	w := newTestWindow(t)
	in, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()

	// The pointer, exactly where asked (from elsewhere: a move to where it
	// is already is no move).
	if err := in.Move(w.origin.Add(image.Pt(5, 5))); err != nil {
		t.Fatal(err)
	}
	at := w.origin.Add(image.Pt(123, 45))
	if err := in.Move(at); err != nil {
		t.Fatal(err)
	}
	var pt [2]int32
	procGetCursorPos.Call(uintptr(unsafe.Pointer(&pt)))
	if got := image.Pt(int(pt[0]), int(pt[1])); got != at {
		t.Fatalf("the pointer is at %v, want %v", got, at)
	}
	w.next(t, "the pointer at (123, 45)", func(m winMsg) bool { return m.msg == wmMouseMove && m.point() == image.Pt(123, 45) })
	// Buttons, where the pointer is.
	for _, b := range []struct {
		button   int
		down, up uint32
	}{{Left, wmLButtonDown, wmLButtonUp}, {Right, wmRButtonDown, wmRButtonUp}} {
		if err := in.Button(b.button, true); err != nil {
			t.Fatal(err)
		}
		if m := w.next(t, "a button down", is(b.down)); m.point() != image.Pt(123, 45) {
			t.Fatalf("button %d down at %v", b.button, m.point())
		}
		if err := in.Button(b.button, false); err != nil {
			t.Fatal(err)
		}
		w.next(t, "a button up", is(b.up))
	}
	// The wheel: one click down is a turn towards the user.
	if err := in.Scroll(0, 1); err != nil {
		t.Fatal(err)
	}
	if m := w.next(t, "a wheel turn", is(wmMouseWheel)); int16(m.wParam>>16) != -120 {
		t.Fatalf("wheel delta %d, want -120", int16(m.wParam>>16))
	}

	// A key by its position: X keycode 38 is evdev 30, the A key.
	if err := in.Key(38, true); err != nil {
		t.Fatal(err)
	}
	if m := w.next(t, "the A key down", is(wmKeyDown)); m.wParam != 'A' {
		t.Fatalf("key down %#x, want the A key", m.wParam)
	}
	w.next(t, "the character a", char('a'))
	if err := in.Key(38, false); err != nil {
		t.Fatal(err)
	}
	w.next(t, "the A key up", is(wmKeyUp))
	// An arrow, which needs its extended bit not to be the keypad's.
	if err := in.Key(105+8, true); err != nil {
		t.Fatal(err)
	}
	if m := w.next(t, "Left down", is(wmKeyDown)); m.wParam != 0x25 || m.lParam>>24&1 != 1 {
		t.Fatalf("Left: key %#x, lParam %#x; want VK_LEFT, extended", m.wParam, m.lParam)
	}
	in.Key(105+8, false)
	// Named keysyms, a capital letter, and a character no key has.
	if err := in.KeySym(0xff0d, true); err != nil {
		t.Fatal(err)
	}
	if m := w.next(t, "Return down", is(wmKeyDown)); m.wParam != 0x0d {
		t.Fatalf("Return: key %#x", m.wParam)
	}
	in.KeySym(0xff0d, false)
	for _, sym := range []uint32{'Q', 0xe9, 0x10020ac} { // Q, é, €
		if err := in.KeySym(sym, true); err != nil {
			t.Fatal(err)
		}
		if err := in.KeySym(sym, false); err != nil {
			t.Fatal(err)
		}
	}
	w.next(t, "the character Q", char('Q'))
	w.next(t, "the character é", char('é'))
	w.next(t, "the character €", char('€'))
	// A digit by keysym is its key in the layout (US under Wine), and
	// with Ctrl held a letter is the key, as a shortcut needs.
	in.KeySym('7', true)
	if m := w.next(t, "the 7 key", is(wmKeyDown)); m.wParam != '7' {
		t.Fatalf("keysym 7: key %#x", m.wParam)
	}
	in.KeySym('7', false)
	in.KeySym(0xffe3, true) // Control_L
	in.KeySym('c', true)
	if m := w.next(t, "the C key under Ctrl", func(m winMsg) bool { return m.msg == wmKeyDown && m.wParam != 0x11 }); m.wParam != 'C' {
		t.Fatalf("Ctrl+c: key %#x, want the C key", m.wParam)
	}
	in.KeySym('c', false)
	in.KeySym(0xffe3, false)
	// Num Lock and Pause by position: the same scan code, told apart by
	// the extended bit.
	for _, k := range []struct {
		code int
		vk   uintptr
	}{{69 + 8, 0x90}, {119 + 8, 0x13}} {
		if err := in.Key(k.code, true); err != nil {
			t.Fatal(err)
		}
		if m := w.next(t, "a key down", is(wmKeyDown)); m.wParam != k.vk {
			t.Fatalf("X keycode %d: key %#x, want %#x", k.code, m.wParam, k.vk)
		}
		in.Key(k.code, false)
	}
	// Text, whatever the layout.
	if err := in.Type("Hé ✓"); err != nil {
		t.Fatal(err)
	}
	for _, r := range "Hé ✓" {
		w.next(t, "the character "+string(r), char(r))
	}

	// What is held down at Close is let go.
	if err := in.Key(42+8, true); err != nil { // left Shift
		t.Fatal(err)
	}
	w.next(t, "Shift down", is(wmKeyDown))
	if err := in.Button(Left, true); err != nil {
		t.Fatal(err)
	}
	w.next(t, "a button down", is(wmLButtonDown))
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	w.next(t, "the button let go", is(wmLButtonUp))
	if m := w.next(t, "Shift let go", is(wmKeyUp)); m.wParam != 0x10 {
		t.Fatalf("key up %#x at Close, want Shift", m.wParam)
	}
	if err := in.Move(at); err != ErrClosed {
		t.Fatalf("Move after Close: %v", err)
	}
}

func TestWindowsBadInputIsRefused(t *testing.T) {
	in, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for name, err := range map[string]error{
		"button 9":            in.Button(9, true),
		"a huge scroll":       in.Scroll(0, MaxScroll+1),
		"keycode 7":           in.Key(7, true),
		"keycode 250":         in.Key(250, true),
		"too much text":       in.Type(string(make([]byte, MaxText+1))),
		"text not UTF-8":      in.Type("\xff"),
		"a keysym of nothing": in.KeySym(0xfe50, true), // dead_grave: no key, no character
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A key the agent never pressed is not released.
	if err := in.Key(38, false); err != nil {
		t.Errorf("releasing a key not held: %v", err)
	}
}

func TestWindowsShortcut(t *testing.T) {
	pressed := make(chan struct{}, 4)
	sc, err := GrabShortcut(func() { pressed <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	// Taken: nobody else gets it while it is held.
	if other, err := GrabShortcut(func() {}); err == nil {
		other.Close()
		t.Fatal("the shortcut was registered twice")
	}
	in, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	press := func() {
		for _, code := range []int{29 + 8, 56 + 8, 42 + 8, 31 + 8} { // Ctrl, Alt, Shift, S
			if err := in.Key(code, true); err != nil {
				t.Fatal(err)
			}
		}
		for _, code := range []int{31 + 8, 42 + 8, 56 + 8, 29 + 8} {
			in.Key(code, false)
		}
	}
	press()
	select {
	case <-pressed:
	case <-time.After(10 * time.Second):
		t.Fatal("the shortcut was not heard")
	}
	sc.Close()
	// Given back: it can be registered again. And f may close it, as
	// ending control does (the sharing service lets it go then).
	var again *Shortcut
	closed := make(chan struct{})
	again, err = GrabShortcut(func() { again.Close(); close(closed) })
	if err != nil {
		t.Fatalf("registering the shortcut after Close: %v", err)
	}
	press()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("a shortcut closed from its own call did not close")
	}
	last, err := GrabShortcut(func() {})
	if err != nil {
		t.Fatalf("registering the shortcut after it closed itself: %v", err)
	}
	last.Close()
}

// TestWindowsCaptureSeesWhereInputGoes: the screen capture of a Windows
// customer (capture.OpenScreenshot) and its input number the screen alike:
// where the pointer goes, the capture shows the window that gets it.
func TestWindowsCaptureSeesWhereInputGoes(t *testing.T) {
	w := newTestWindow(t)
	in, err := Open() // DPI aware from here on, as the sharing service makes it
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	src, err := capture.OpenScreenshot()
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	mons, err := src.Monitors()
	if err != nil || len(mons) == 0 {
		t.Fatalf("monitors %v, %v", mons, err)
	}
	if _, err := src.Changed(); err != nil {
		t.Fatal(err)
	}
	at := w.origin.Add(image.Pt(200, 150))
	f := capture.NewFrame(image.Rectangle{Min: at, Max: at.Add(image.Pt(1, 1))})
	if err := src.Grab(f, f.Rect); err != nil {
		t.Fatal(err)
	}
	if b, g, r := f.Pix[0], f.Pix[1], f.Pix[2]; r != 0x12 || g != 0x34 || b != 0x56 {
		t.Fatalf("the capture shows #%02x%02x%02x at %v, want the window's #123456", r, g, b, at)
	}
	if err := in.Move(at); err != nil {
		t.Fatal(err)
	}
	w.next(t, "the pointer in the window at (200, 150)", func(m winMsg) bool { return m.msg == wmMouseMove && m.point() == image.Pt(200, 150) })
}
