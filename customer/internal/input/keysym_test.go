//go:build linux

package input

import (
	"slices"
	"testing"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/porthole-dev/porthole/customer/internal/xconn/xvfb"
)

// mapping returns the whole keyboard mapping of the server c is on.
func mapping(t *testing.T, c *xgb.Conn) []xproto.Keysym {
	t.Helper()
	s := xproto.Setup(c)
	r, err := xproto.GetKeyboardMapping(c, s.MinKeycode, byte(s.MaxKeycode-s.MinKeycode+1)).Reply()
	if err != nil {
		t.Fatal(err)
	}
	return r.Keysyms
}

// keysDown returns the keycodes the server has down.
func keysDown(t *testing.T, c *xgb.Conn) []int {
	t.Helper()
	r, err := xproto.QueryKeymap(c).Reply()
	if err != nil {
		t.Fatal(err)
	}
	var down []int
	for i, b := range r.Keys {
		for bit := range 8 {
			if b&(1<<bit) != 0 {
				down = append(down, i*8+bit)
			}
		}
	}
	return down
}

// Keys given by keysym arrive as that keysym: on the keyboard, at its
// shifted level (with Shift around it), or not on it at all (on a spare
// keycode); text arrives in order whatever it is made of, bad text types
// nothing, and Close lets every key go and empties the spare keycodes.
func TestKeySymsAndText(t *testing.T) {
	d := xvfb.Start(t, "-screen", "0", "640x480x24")
	x, err := Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	w := watch(t, d)
	before := mapping(t, w.c)

	press := func(sym uint32) {
		t.Helper()
		if err := x.KeySym(sym, true); err != nil {
			t.Fatalf("keysym %#x: %v", sym, err)
		}
		if err := x.KeySym(sym, false); err != nil {
			t.Fatalf("keysym %#x up: %v", sym, err)
		}
	}
	// The system keys, each arriving as itself.
	for _, sym := range []uint32{0xffe9, 0xff09, 0xffeb, 0xff61, 0xffe3, 0xffff} {
		press(sym)
		if _, got := w.key(t, true); got != sym {
			t.Fatalf("keysym %#x arrived as %#x", sym, got)
		}
		if _, got := w.key(t, false); got != sym {
			t.Fatalf("keysym %#x let go as %#x", sym, got)
		}
	}
	// 'a', then 'A' and '!' at the shifted level, then the euro (in Unicode
	// and as its own keysym), which this keyboard does not have.
	for _, sym := range []uint32{'a', 'A', '!', 0x10020ac, 0x20ac} {
		press(sym)
		if got := w.typed(t, 1); got[0] != sym {
			t.Fatalf("keysym %#x arrived as %#x", sym, got[0])
		}
	}
	if down := keysDown(t, w.c); len(down) != 0 {
		t.Fatalf("keys %v still down", down)
	}

	text := "Hé, A€!\n\tx中\b~"
	if err := x.Type(text); err != nil {
		t.Fatal(err)
	}
	var want []uint32
	for _, r := range text {
		want = append(want, RuneKeysym(r))
	}
	if got := w.typed(t, len(want)); !slices.Equal(got, want) {
		t.Fatalf("typed %#x, want %#x", got, want)
	}

	// Bad text types nothing: what comes next is what is typed next.
	for _, bad := range []string{"ok\x01", "ok\xff", string(make([]byte, MaxText+1))} {
		if err := x.Type(bad); err == nil {
			t.Fatalf("%q typed", bad)
		}
	}
	if err := x.Type("z"); err != nil {
		t.Fatal(err)
	}
	if got := w.typed(t, 1); got[0] != 'z' {
		t.Fatalf("after bad text came %#x", got[0])
	}

	// Control ends with keys held down by keysym: one on a spare code, one
	// with our Shift, one as the agent's own Shift, Close lets go of all.
	for _, sym := range []uint32{0x10020ac, 'A', 0xffe2} {
		if err := x.KeySym(sym, true); err != nil {
			t.Fatal(err)
		}
	}
	if down := keysDown(t, w.c); len(down) != 4 {
		t.Fatalf("keys %v down, not the euro's, A's, Shift and Shift_R", down)
	}
	x.Close()
	if down := keysDown(t, w.c); len(down) != 0 {
		t.Fatalf("keys %v still down after Close", down)
	}
	if after := mapping(t, w.c); !slices.Equal(after, before) {
		t.Fatal("the spare keycodes were not emptied at Close")
	}
	if err := x.KeySym('a', true); err != ErrClosed {
		t.Fatalf("after Close: %v", err)
	}
}

// A keysym at the shifted level is pressed without another Shift when the
// agent holds one, and the agent's Shift stays down after it.
func TestKeySymUnderTheAgentsShift(t *testing.T) {
	d := xvfb.Start(t, "-screen", "0", "640x480x24")
	x, err := Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	w := watch(t, d)
	if err := x.KeySym(0xffe1, true); err != nil { // Shift_L
		t.Fatal(err)
	}
	shift, _ := w.key(t, true)
	if err := x.KeySym('A', true); err != nil {
		t.Fatal(err)
	}
	if _, sym := w.key(t, true); sym != 'A' {
		t.Fatalf("arrived as %#x", sym)
	}
	x.KeySym('A', false)
	if _, sym := w.key(t, false); sym != 'A' {
		t.Fatalf("let go as %#x", sym)
	}
	if down := keysDown(t, w.c); len(down) != 1 || down[0] != int(shift) {
		t.Fatalf("keys %v down, not the agent's Shift %d alone", down, shift)
	}
}

// More keysyms no key has than spare codes: the codes come from the top
// of the empty ones, and the least recently used is mapped again.
func TestSpareCodesAreReused(t *testing.T) {
	d := xvfb.Start(t, "-screen", "0", "640x480x24")
	x, err := Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	w := watch(t, d)
	before := mapping(t, w.c)
	setup := xproto.Setup(w.c)
	per := len(before) / (int(setup.MaxKeycode) - int(setup.MinKeycode) + 1)
	var empty []xproto.Keycode // from the top
	for c := int(setup.MaxKeycode); c >= int(setup.MinKeycode); c-- {
		i := (c - int(setup.MinKeycode)) * per
		if !slices.ContainsFunc(before[i:i+per], func(s xproto.Keysym) bool { return s != 0 }) {
			empty = append(empty, xproto.Keycode(c))
		}
	}
	if len(empty) < maxSpares {
		t.Skipf("the server has %d empty keycodes", len(empty))
	}
	typ := func(r rune) xproto.Keycode {
		t.Helper()
		if err := x.Type(string(r)); err != nil {
			t.Fatal(err)
		}
		code, sym := w.key(t, true) // read before the next change
		if sym != RuneKeysym(r) {
			t.Fatalf("%c arrived as %#x", r, sym)
		}
		return code
	}
	var codes []xproto.Keycode
	for _, r := range "一二三四五六七八九十" {
		codes = append(codes, typ(r))
	}
	if !slices.Equal(codes[:maxSpares], empty[:maxSpares]) {
		t.Fatalf("spare codes %v, not the top empty ones %v", codes[:maxSpares], empty[:maxSpares])
	}
	if codes[8] != codes[0] || codes[9] != codes[1] {
		t.Fatalf("the ninth and tenth on %d and %d, not %d and %d", codes[8], codes[9], codes[0], codes[1])
	}
	// 三 is still there; used again, it is no longer the least recent: the
	// next newcomer takes 四's code.
	if c := typ('三'); c != codes[2] {
		t.Fatalf("三 again on %d, not %d", c, codes[2])
	}
	if c := typ('百'); c != codes[3] {
		t.Fatalf("a newcomer on %d, not %d", c, codes[3])
	}
	x.Close()
	if after := mapping(t, w.c); !slices.Equal(after, before) {
		t.Fatal("the spare keycodes were not emptied at Close")
	}
}

// Another program changing the mapping is heard: a keysym that moved is
// pressed where it is now, and one it mapped is used where it put it (and
// left there at Close).
func TestMappingChangesAreHeard(t *testing.T) {
	d := xvfb.Start(t, "-screen", "0", "640x480x24")
	heard := make(chan struct{}, 1)
	x, err := open(d, func() {
		select {
		case heard <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	w := watch(t, d)
	press := func(sym uint32) xproto.Keycode {
		t.Helper()
		if err := x.KeySym(sym, true); err != nil {
			t.Fatal(err)
		}
		if err := x.KeySym(sym, false); err != nil {
			t.Fatal(err)
		}
		code, got := w.key(t, true)
		if got != sym {
			t.Fatalf("keysym %#x arrived as %#x", sym, got)
		}
		return code
	}
	q := press('q')
	km := mapping(t, w.c)
	setup := xproto.Setup(w.c)
	per := len(km) / (int(setup.MaxKeycode) - int(setup.MinKeycode) + 1)
	row := func(code xproto.Keycode) []xproto.Keysym {
		i := (int(code) - int(setup.MinKeycode)) * per
		return km[i : i+per]
	}
	// q and the key after it swap places.
	swapped := slices.Concat(row(q+1), row(q))
	if err := xproto.ChangeKeyboardMappingChecked(w.c, 2, q, byte(per), swapped).Check(); err != nil {
		t.Fatal(err)
	}
	<-heard
	if code := press('q'); code != q+1 {
		t.Fatalf("q on %d, not %d where it is now", code, q+1)
	}
	// The euro put on an empty key by another program.
	var free xproto.Keycode
	for c := setup.MinKeycode; c < setup.MaxKeycode; c++ {
		if !slices.ContainsFunc(row(c), func(s xproto.Keysym) bool { return s != 0 }) {
			free = c // the lowest: not the one a spare would be
			break
		}
	}
	if err := xproto.ChangeKeyboardMappingChecked(w.c, 1, free, 1, []xproto.Keysym{0x10020ac}).Check(); err != nil {
		t.Fatal(err)
	}
	if code := press(0x10020ac); code != free {
		t.Fatalf("the euro on %d, not %d where the other program put it", code, free)
	}
	theirs := mapping(t, w.c)
	x.Close()
	if !slices.Equal(mapping(t, w.c), theirs) {
		t.Fatal("Close changed the other program's mapping")
	}
}
