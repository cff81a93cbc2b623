//go:build linux

package input

import (
	"fmt"
	"image"
	"sync"
	"sync/atomic"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"github.com/porthole-dev/porthole/customer/internal/capture"
	"github.com/porthole-dev/porthole/customer/internal/xconn"
)

// X's scroll buttons: up, down, left, right.
const (
	scrollUp    = 4
	scrollDown  = 5
	scrollLeft  = 6
	scrollRight = 7
)

// X11 injects input on an X display.
type X11 struct {
	xc    *xconn.Conn
	root  xproto.Window
	stale atomic.Bool // the server said the keyboard or modifier mapping changed

	mu      sync.Mutex
	closed  bool
	down    map[byte]bool   // keys held down (by Key or KeySym), released at Close
	buttons map[byte]bool   // pointer buttons held down, released at Close
	bySym   map[uint32]byte // keysyms held down through KeySym, and their keycode
	shifted map[byte]bool   // keys held down through KeySym with our Shift around them
	shift   byte            // the Shift key held down for them (0: none)
	km      keymap          // the mapping, as last loaded
	spares  []spare         // keycodes mapped to keysyms no key has, emptied at Close
	tick    uint64          // counts the spares' uses
}

// Open connects to display ("": $DISPLAY) and checks that it has XTest.
func Open(display string) (*X11, error) { return open(display, nil) }

// open is Open with heard (if not nil) called on the connection's reader
// once a mapping change has been heard.
func open(display string, heard func()) (*X11, error) {
	x := &X11{down: map[byte]bool{}, buttons: map[byte]bool{}, bySym: map[uint32]byte{}, shifted: map[byte]bool{}}
	xc, err := xconn.OpenEvents(display, func(c *xgb.Conn) error {
		if err := xtest.Init(c); err != nil {
			return fmt.Errorf("the X server has no XTEST: %w", err)
		}
		if _, err := xtest.GetVersion(c, 2, 2).Reply(); err != nil {
			return fmt.Errorf("XTEST: %w", err)
		}
		x.root = xproto.Setup(c).DefaultScreen(c).Root
		return nil
	}, func(ev xgb.Event) {
		if _, ok := ev.(xproto.MappingNotifyEvent); ok {
			x.stale.Store(true)
			if heard != nil {
				heard()
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	x.xc = xc
	return x, nil
}

// OnMonitor maps a monitor-relative position to the screen: the agent
// names monitor index and a point inside it. A point outside the monitor,
// or a monitor that is not there, is an error and nothing moves.
func OnMonitor(mons []capture.Monitor, index int, p image.Point) (image.Point, error) {
	if index < 0 || index >= len(mons) {
		return image.Point{}, fmt.Errorf("input: no monitor %d (there are %d)", index, len(mons))
	}
	b := mons[index].Bounds
	q := b.Min.Add(p)
	if !q.In(b) {
		return image.Point{}, fmt.Errorf("input: %v is outside monitor %d (%d × %d)", p, index, b.Dx(), b.Dy())
	}
	return q, nil
}

func (x *X11) fake(typ, detail byte, p image.Point) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return ErrClosed
	}
	return x.send(typ, detail, p)
}

// send injects one event; x.mu is held.
func (x *X11) send(typ, detail byte, p image.Point) error {
	return xtest.FakeInputChecked(x.xc.Conn, typ, detail, 0, x.root, int16(p.X), int16(p.Y), 0).Check()
}

// Move puts the pointer at p on the screen.
func (x *X11) Move(p image.Point) error { return x.fake(xproto.MotionNotify, 0, p) }

// Button presses (down) or releases a pointer button: Left, Middle, Right.
func (x *X11) Button(button int, down bool) error {
	if button < Left || button > Right {
		return fmt.Errorf("input: no button %d", button)
	}
	typ := byte(xproto.ButtonRelease)
	if down {
		typ = xproto.ButtonPress
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return ErrClosed
	}
	if err := x.send(typ, byte(button), image.Point{}); err != nil {
		return err
	}
	if down {
		x.buttons[byte(button)] = true
	} else {
		delete(x.buttons, byte(button))
	}
	return nil
}

// Scroll turns the wheel: dy clicks down (negative: up), dx clicks right
// (negative: left), each at most MaxScroll.
func (x *X11) Scroll(dx, dy int) error {
	if abs(dx) > MaxScroll || abs(dy) > MaxScroll {
		return fmt.Errorf("input: a scroll of %d, %d clicks is more than %d", dx, dy, MaxScroll)
	}
	click := func(button byte, n int) error {
		for range n {
			if err := x.fake(xproto.ButtonPress, button, image.Point{}); err != nil {
				return err
			}
			if err := x.fake(xproto.ButtonRelease, button, image.Point{}); err != nil {
				return err
			}
		}
		return nil
	}
	v, h := byte(scrollDown), byte(scrollRight)
	if dy < 0 {
		v = scrollUp
	}
	if dx < 0 {
		h = scrollLeft
	}
	if err := click(v, abs(dy)); err != nil {
		return err
	}
	return click(h, abs(dx))
}

// Key presses (down) or releases the key with X keycode code (8–255).
func (x *X11) Key(code int, down bool) error {
	if code < 8 || code > 255 {
		return fmt.Errorf("input: no key with code %d", code)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return ErrClosed
	}
	if !down {
		return x.release(byte(code))
	}
	if err := x.send(xproto.KeyPress, byte(code), image.Point{}); err != nil {
		return err
	}
	x.down[byte(code)] = true
	return nil
}

// release lets a key go, and the Shift held down for it if no other key
// needs it any more; x.mu is held.
func (x *X11) release(code byte) error {
	err := x.send(xproto.KeyRelease, code, image.Point{})
	delete(x.down, code)
	for sym, c := range x.bySym {
		if c == code {
			delete(x.bySym, sym)
		}
	}
	if x.shifted[code] {
		delete(x.shifted, code)
		if len(x.shifted) == 0 && x.shift != 0 {
			if e := x.send(xproto.KeyRelease, x.shift, image.Point{}); err == nil {
				err = e
			}
			x.shift = 0
		}
	}
	return err
}

// Close releases the keys and buttons still held down (control ended in
// the middle of a shortcut or a drag), empties the spare keycodes KeySym mapped, and closes the
// connection.
func (x *X11) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	for code := range x.down {
		x.release(code)
	}
	for b := range x.buttons { // control ended in the middle of a drag
		x.send(xproto.ButtonRelease, b, image.Point{})
	}
	if x.shift != 0 {
		x.send(xproto.KeyRelease, x.shift, image.Point{})
		x.shift = 0
	}
	x.emptySpares()
	x.closed = true
	x.xc.Close()
	return nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
