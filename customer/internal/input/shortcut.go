//go:build linux

package input

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/porthole-dev/porthole/customer/internal/xconn"
)

// ShortcutName is the customer's shortcut that ends control at once, as
// the UI shows it.
const ShortcutName = "Ctrl+Alt+Shift+S"

// The shortcut: its modifiers, with each combination of the lock
// modifiers that should not stop it (Caps Lock, Num Lock as Mod2), and
// the keysym of its key.
const (
	shortcutMods = xproto.ModMaskControl | xproto.ModMask1 | xproto.ModMaskShift
	shortcutSym  = 's'
)

var lockMods = []uint16{0, xproto.ModMaskLock, xproto.ModMask2, xproto.ModMaskLock | xproto.ModMask2}

// ErrShortcutTaken is returned by GrabShortcut when another program holds
// the shortcut's key combination.
var ErrShortcutTaken = errors.New("input: another program holds " + ShortcutName)

// Shortcut is the customer's shortcut grabbed, until Close.
type Shortcut struct {
	xc      *xconn.Conn
	pressed chan struct{} // a press not yet handed to f
	done    chan struct{} // closed by Close

	mu     sync.Mutex
	codes  []xproto.Keycode // the keys grabbed
	closed bool
}

// GrabShortcut grabs ShortcutName on display ("": $DISPLAY), on a
// connection of its own, whatever the state of Caps Lock and Num Lock,
// and calls f for each press of it (and as it repeats when held), on a
// goroutine of the Shortcut's; presses while f runs make one call after
// it. The key is the one that types 's' when the grab is made. Keys
// injected through XTest trigger it like the customer's own: an agent
// pressing the combination through X11.Key ends its own control.
// When another program holds the combination, the error is
// ErrShortcutTaken.
func GrabShortcut(display string, f func()) (*Shortcut, error) {
	s := &Shortcut{pressed: make(chan struct{}, 1), done: make(chan struct{})}
	xc, err := xconn.OpenEvents(display, func(*xgb.Conn) error { return nil }, s.event)
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	s.xc = xc
	if err := s.grab(); err != nil {
		xc.Close() // the grabs made go with the connection
		return nil, err
	}
	go s.run(f)
	return s, nil
}

func (s *Shortcut) grab() error {
	c := s.xc.Conn
	setup := xproto.Setup(c)
	r, err := xproto.GetKeyboardMapping(c, setup.MinKeycode, byte(setup.MaxKeycode-setup.MinKeycode+1)).Reply()
	if err != nil {
		return fmt.Errorf("input: the keyboard mapping: %w", err)
	}
	var codes []xproto.Keycode
	if per := int(r.KeysymsPerKeycode); per > 0 {
		for i := 0; (i+1)*per <= len(r.Keysyms); i++ {
			if r.Keysyms[i*per] == shortcutSym {
				codes = append(codes, setup.MinKeycode+xproto.Keycode(i))
			}
		}
	}
	if len(codes) == 0 {
		return errors.New("input: no key types 's' for " + ShortcutName)
	}
	s.mu.Lock()
	s.codes = codes
	s.mu.Unlock()
	var cookies []xproto.GrabKeyCookie
	for _, root := range setup.Roots {
		for _, code := range codes {
			for _, lock := range lockMods {
				cookies = append(cookies, xproto.GrabKeyChecked(c, false, root.Root, shortcutMods|lock, code,
					xproto.GrabModeAsync, xproto.GrabModeAsync))
			}
		}
	}
	var first error
	for _, ck := range cookies {
		if err := ck.Check(); err != nil && first == nil {
			first = err
		}
	}
	if errors.As(first, new(xproto.AccessError)) {
		return ErrShortcutTaken
	}
	if first != nil {
		return fmt.Errorf("input: grabbing %s: %w", ShortcutName, first)
	}
	return nil
}

// event is called on the connection's reader: it must not wait.
func (s *Shortcut) event(ev xgb.Event) {
	e, ok := ev.(xproto.KeyPressEvent)
	if !ok {
		return
	}
	s.mu.Lock()
	ours := slices.Contains(s.codes, e.Detail)
	s.mu.Unlock()
	if !ours {
		return // another key pressed while the grab is active
	}
	select {
	case s.pressed <- struct{}{}:
	default: // one is waiting already
	}
}

func (s *Shortcut) run(f func()) {
	for {
		select {
		case <-s.done:
			return
		case <-s.pressed:
		}
		select {
		case <-s.done:
			return
		default:
		}
		f()
	}
}

// Close lets the shortcut go. It does not wait for a call of f under way
// (f may call Close); no press after Close calls f.
func (s *Shortcut) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	close(s.done)
	s.xc.Close()
}
