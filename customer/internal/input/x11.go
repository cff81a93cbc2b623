//go:build linux

// Package input injects the agent's pointer and keys on the customer's
// X11 screen (issue 13, step 5), through XTest on one persistent
// connection: the pointer by monitor and monitor-relative position
// (mapped here, on the customer's side), buttons and scrolling (vertical
// and horizontal), keys by X keycode (the key's position, as the agent's
// keyboard reported it). Nothing calls it yet: the control grant and the
// session service come with the next steps.
package input

import (
	"errors"
	"fmt"
	"image"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"

	"github.com/porthole-dev/porthole/customer/internal/capture"
	"github.com/porthole-dev/porthole/customer/internal/xconn"
)

// Buttons, as X numbers them.
const (
	Left   = 1
	Middle = 2
	Right  = 3
)

// X's scroll buttons: up, down, left, right.
const (
	scrollUp    = 4
	scrollDown  = 5
	scrollLeft  = 6
	scrollRight = 7
)

// MaxScroll caps the clicks of one scroll event (a hostile agent's huge
// number does not hold the customer's screen).
const MaxScroll = 50

// ErrClosed is returned after Close.
var ErrClosed = errors.New("input: closed")

// X11 injects input on an X display.
type X11 struct {
	xc   *xconn.Conn
	root xproto.Window

	mu     sync.Mutex
	closed bool
	down   map[byte]bool // keys held down, released at Close
}

// Open connects to display ("": $DISPLAY) and checks that it has XTest.
func Open(display string) (*X11, error) {
	x := &X11{down: map[byte]bool{}}
	xc, err := xconn.Open(display, func(c *xgb.Conn) error {
		if err := xtest.Init(c); err != nil {
			return fmt.Errorf("the X server has no XTEST: %w", err)
		}
		if _, err := xtest.GetVersion(c, 2, 2).Reply(); err != nil {
			return fmt.Errorf("XTEST: %w", err)
		}
		x.root = xproto.Setup(c).DefaultScreen(c).Root
		return nil
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
	return x.fake(typ, byte(button), image.Point{})
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
	typ := byte(xproto.KeyRelease)
	if down {
		typ = xproto.KeyPress
	}
	if err := x.fake(typ, byte(code), image.Point{}); err != nil {
		return err
	}
	x.mu.Lock()
	if down {
		x.down[byte(code)] = true
	} else {
		delete(x.down, byte(code))
	}
	x.mu.Unlock()
	return nil
}

// Close releases the keys still held down (control ended in the middle of
// a shortcut) and closes the connection.
func (x *X11) Close() error {
	x.mu.Lock()
	held := make([]byte, 0, len(x.down))
	for k := range x.down {
		held = append(held, k)
	}
	x.mu.Unlock()
	for _, k := range held {
		x.Key(int(k), false)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
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
