//go:build linux

package input

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/customer/internal/xconn/xvfb"
)

// The customer's shortcut, pressed through XTest on another connection
// (as an agent's keys come), calls f with Caps Lock and Num Lock off or
// on; with a modifier short, the key goes to the focused window instead.
// Another program cannot take it while it is held, and can after Close.
func TestShortcut(t *testing.T) {
	d := xvfb.Start(t, "-screen", "0", "640x480x24")
	x, err := Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	calls := make(chan struct{}, 16)
	s, err := GrabShortcut(d, func() { calls <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := watch(t, d)

	const ctrl, alt, shift, capsLock, numLock = 0xffe3, 0xffe9, 0xffe1, 0xffe5, 0xff7f
	combo := func(syms ...uint32) {
		t.Helper()
		for _, sym := range syms {
			if err := x.KeySym(sym, true); err != nil {
				t.Fatal(err)
			}
		}
		for _, sym := range slices.Backward(syms) {
			if err := x.KeySym(sym, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	called := func() {
		t.Helper()
		select {
		case <-calls:
		case <-time.After(5 * time.Second):
			t.Fatal("the shortcut was not called within 5 s")
		}
	}

	// A modifier short: the window gets the key (a grabbed one would not).
	combo(ctrl, alt, 's')
	if got := w.typed(t, 1); got[0] != 's' {
		t.Fatalf("the window got %#x", got[0])
	}
	combo(shift, 's')
	if got := w.typed(t, 1); got[0] != 'S' {
		t.Fatalf("the window got %#x", got[0])
	}
	combo(ctrl, alt, shift, 's')
	called()
	// The grab took the key: what the window gets next is the next key.
	combo('z')
	if got := w.typed(t, 1); got[0] != 'z' {
		t.Fatalf("the window got %#x after the shortcut", got[0])
	}
	for _, lock := range [][]uint32{{capsLock}, {numLock}, {capsLock, numLock}} {
		for _, sym := range lock {
			combo(sym) // on
		}
		combo(ctrl, alt, shift, 's')
		called()
		for _, sym := range lock {
			combo(sym) // off
		}
	}
	select {
	case <-calls:
		t.Fatal("called once too many")
	default:
	}

	if _, err := GrabShortcut(d, func() {}); !errors.Is(err, ErrShortcutTaken) {
		t.Fatalf("grabbed a second time: %v", err)
	}
	s.Close()
	s2, err := GrabShortcut(d, func() {})
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	s2.Close()
}
