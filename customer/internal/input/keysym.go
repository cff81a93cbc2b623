//go:build linux

package input

import (
	"errors"
	"fmt"
	"image"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/jezek/xgb/xproto"
)

// maxSpares caps the spare keycodes mapped to keysyms no key has.
const maxSpares = 8

// Keysyms of the keys Type presses for control characters.
const (
	symBackSpace = 0xff08
	symTab       = 0xff09
	symReturn    = 0xff0d
)

// A keysym is 29 bits; 0 is NoSymbol and 0xffffff VoidSymbol.
const (
	maxKeysym  = 0x1fffffff
	voidSymbol = 0xffffff
)

// ErrNoSpareKey is returned by KeySym when a keysym no key has is to be
// pressed while every spare keycode is held down.
var ErrNoSpareKey = errors.New("input: every spare keycode is held down")

// keymap is the server's keyboard and modifier mapping.
type keymap struct {
	loaded   bool
	min, max byte
	per      int              // keysyms per keycode
	syms     []xproto.Keysym  // per keysyms for each keycode from min
	shifts   []xproto.Keycode // the keys of the Shift modifier
}

// row is code's keysyms (nil outside the range).
func (k *keymap) row(code byte) []xproto.Keysym {
	if !k.loaded || code < k.min || code > k.max {
		return nil
	}
	i := int(code-k.min) * k.per
	return k.syms[i : i+k.per]
}

// find returns a key that types sym in the first group, at the unshifted
// level or else at the shifted one (shift), keys that skip accepts left
// out.
func (k *keymap) find(sym xproto.Keysym, skip func(byte) bool) (code byte, shift, ok bool) {
	for level := range 2 {
		for c := int(k.min); c <= int(k.max); c++ {
			r := k.row(byte(c))
			if len(r) > level && r[level] == sym && oneGroup(r) && !skip(byte(c)) {
				return byte(c), level == 1, true
			}
		}
	}
	return 0, false, false
}

// oneGroup tells whether a key types the same in the second group as in
// the first (or nothing there): a key of a second layout types what the
// first group says only while the first layout is active.
func oneGroup(r []xproto.Keysym) bool {
	for i := 2; i < min(4, len(r)); i++ {
		if r[i] != 0 && r[i] != r[i-2] {
			return false
		}
	}
	return true
}

// empty returns the highest keycode with no keysyms that skip does not
// refuse (0: none).
func (k *keymap) empty(skip func(byte) bool) byte {
	for c := int(k.max); c >= int(k.min); c-- {
		if !slices.ContainsFunc(k.row(byte(c)), func(s xproto.Keysym) bool { return s != 0 }) && !skip(byte(c)) {
			return byte(c)
		}
	}
	return 0
}

// spare is a keycode mapped to a keysym no key had.
type spare struct {
	code byte
	sym  xproto.Keysym
	used uint64 // x.tick at its last use
}

// RuneKeysym returns the keysym that types r: the rune itself in Latin-1,
// Return, Tab and BackSpace for '\n', '\t' and '\b', 0x01000000 + r for
// the rest of Unicode; 0 for a rune that types nothing (another control
// character, or no character).
func RuneKeysym(r rune) uint32 {
	switch {
	case r == '\n':
		return symReturn
	case r == '\t':
		return symTab
	case r == '\b':
		return symBackSpace
	case unicode.IsControl(r) || !utf8.ValidRune(r):
		return 0
	case r <= 0xff:
		return uint32(r)
	}
	return 0x01000000 + uint32(r)
}

// KeySym presses (down) or releases the key that types keysym sym in the
// customer's layout: for an agent with no X keycode (another OS) and the
// "system keys" menu (Alt_L 0xffe9, Tab 0xff09, Super_L 0xffeb, …). A
// keysym at the shifted level is pressed with Shift, unless the agent
// holds Shift already (and with Shift held, a keysym of the unshifted
// level comes out as the key's shifted one, as it would by hand). A
// keysym no key has is mapped onto a spare keycode first. The key is held
// down until released by keysym, by Key with its keycode, or by Close; a
// release of a keysym not held down does nothing.
func (x *X11) KeySym(sym uint32, down bool) error {
	if sym == 0 || sym > maxKeysym || sym == voidSymbol {
		return fmt.Errorf("input: no keysym %#x", sym)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return ErrClosed
	}
	return x.keySym(xproto.Keysym(sym), down)
}

// Type types text as it is, whatever the keyboard layout: each rune is
// pressed and released by its keysym (RuneKeysym). A text of more than
// MaxText bytes, not UTF-8, or with a control character other than '\n',
// '\t' and '\b' is refused whole, and nothing is typed. The modifiers the
// agent holds down stay down and apply (with Shift held, letters come out
// in capitals).
func (x *X11) Type(text string) error {
	if len(text) > MaxText {
		return fmt.Errorf("input: a text of %d bytes is more than %d", len(text), MaxText)
	}
	if !utf8.ValidString(text) {
		return errors.New("input: the text is not UTF-8")
	}
	syms := make([]xproto.Keysym, 0, len(text))
	for i, r := range text {
		sym := RuneKeysym(r)
		if sym == 0 {
			return fmt.Errorf("input: the text has %U at byte %d, which types nothing", r, i)
		}
		syms = append(syms, xproto.Keysym(sym))
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return ErrClosed
	}
	for _, sym := range syms {
		if err := x.keySym(sym, true); err != nil {
			return err
		}
		if err := x.keySym(sym, false); err != nil {
			return err
		}
	}
	return nil
}

// keySym is KeySym with x.mu held.
func (x *X11) keySym(sym xproto.Keysym, down bool) error {
	if !down {
		code, ok := x.bySym[uint32(sym)]
		if !ok {
			return nil
		}
		return x.release(code)
	}
	if code, ok := x.bySym[uint32(sym)]; ok { // the agent's key repeats
		return x.send(xproto.KeyPress, code, image.Point{})
	}
	code, shift, err := x.keyFor(sym)
	if err != nil {
		return err
	}
	if shift && !x.shiftDown() {
		if err := x.send(xproto.KeyPress, byte(x.km.shifts[0]), image.Point{}); err != nil {
			return err
		}
		x.shift = byte(x.km.shifts[0])
	}
	if shift && x.shift != 0 {
		x.shifted[code] = true
	}
	x.down[code] = true
	x.bySym[uint32(sym)] = code
	if err := x.send(xproto.KeyPress, code, image.Point{}); err != nil {
		x.release(code)
		return err
	}
	return nil
}

// shiftDown tells whether a Shift key is held down, the agent's or ours.
func (x *X11) shiftDown() bool {
	if x.shift != 0 {
		return true
	}
	for code := range x.down {
		if slices.Contains(x.km.shifts, xproto.Keycode(code)) {
			return true
		}
	}
	return false
}

// keyFor returns the key that types sym, and whether it needs Shift: a key
// of the layout, or else a spare keycode mapped to it.
func (x *X11) keyFor(sym xproto.Keysym) (code byte, shift bool, err error) {
	loaded := false
	if !x.km.loaded || x.stale.Load() {
		if err := x.loadKeymap(); err != nil {
			return 0, false, err
		}
		loaded = true
	}
	for {
		if i := slices.IndexFunc(x.spares, func(s spare) bool { return s.sym == sym }); i >= 0 {
			x.tick++
			x.spares[i].used = x.tick
			return x.spares[i].code, false, nil
		}
		code, shift, ok := x.km.find(sym, x.isSpare)
		if ok && (!shift || len(x.km.shifts) > 0 || x.shiftDown()) {
			return code, shift, nil
		}
		if loaded {
			break
		}
		// Not there: the mapping may have changed without our having
		// heard yet, and a spare is to be chosen from the mapping as it is.
		if err := x.loadKeymap(); err != nil {
			return 0, false, err
		}
		loaded = true
	}
	code, err = x.mapSpare(sym)
	return code, false, err
}

func (x *X11) isSpare(code byte) bool {
	return slices.ContainsFunc(x.spares, func(s spare) bool { return s.code == code })
}

// loadKeymap loads the keyboard and modifier mappings, and forgets the
// spares another program has mapped since.
func (x *X11) loadKeymap() error {
	x.stale.Store(false) // before the requests: a change after them is heard again
	c := x.xc.Conn
	s := xproto.Setup(c)
	kc := xproto.GetKeyboardMapping(c, s.MinKeycode, byte(s.MaxKeycode-s.MinKeycode+1))
	mc := xproto.GetModifierMapping(c)
	kr, err := kc.Reply()
	if err != nil {
		return fmt.Errorf("input: the keyboard mapping: %w", err)
	}
	mr, err := mc.Reply()
	if err != nil {
		return fmt.Errorf("input: the modifier mapping: %w", err)
	}
	per := int(kr.KeysymsPerKeycode)
	if per == 0 || len(kr.Keysyms) < per*(int(s.MaxKeycode)-int(s.MinKeycode)+1) {
		return fmt.Errorf("input: a keyboard mapping of %d keysyms, %d a key", len(kr.Keysyms), per)
	}
	n := int(mr.KeycodesPerModifier)
	var shifts []xproto.Keycode
	if len(mr.Keycodes) >= n {
		for _, k := range mr.Keycodes[:n] { // the first modifier is Shift
			if k != 0 {
				shifts = append(shifts, k)
			}
		}
	}
	x.km = keymap{loaded: true, min: byte(s.MinKeycode), max: byte(s.MaxKeycode), per: per, syms: kr.Keysyms, shifts: shifts}
	x.spares = slices.DeleteFunc(x.spares, func(sp spare) bool {
		r := x.km.row(sp.code)
		return len(r) == 0 || r[0] != sp.sym
	})
	return nil
}

// mapSpare maps sym onto a spare keycode: a new one while there are fewer
// than maxSpares, else the least recently used not held down.
func (x *X11) mapSpare(sym xproto.Keysym) (byte, error) {
	i := -1
	var code byte
	if len(x.spares) < maxSpares {
		code = x.km.empty(func(c byte) bool { return x.down[c] || x.isSpare(c) })
	}
	if code == 0 {
		for j, sp := range x.spares {
			if !x.down[sp.code] && (i < 0 || sp.used < x.spares[i].used) {
				i = j
			}
		}
		if i < 0 && len(x.spares) == 0 {
			return 0, fmt.Errorf("input: no key types keysym %#x, and no keycode is free to map it", uint32(sym))
		}
		if i < 0 {
			return 0, fmt.Errorf("%w (keysym %#x)", ErrNoSpareKey, uint32(sym))
		}
		code = x.spares[i].code
	}
	c := x.xc.Conn
	// Both levels, so that Shift held down does not change it. The reply
	// to the request after it shows the change in force (see the package
	// doc); a change the server refused shows there too.
	xproto.ChangeKeyboardMapping(c, 1, xproto.Keycode(code), 2, []xproto.Keysym{sym, sym})
	r, err := xproto.GetKeyboardMapping(c, xproto.Keycode(code), 1).Reply()
	if err != nil {
		return 0, fmt.Errorf("input: mapping keysym %#x onto keycode %d: %w", uint32(sym), code, err)
	}
	if len(r.Keysyms) == 0 || r.Keysyms[0] != sym {
		return 0, fmt.Errorf("input: the X server did not map keysym %#x onto keycode %d", uint32(sym), code)
	}
	if row := x.km.row(code); int(r.KeysymsPerKeycode) == len(row) {
		copy(row, r.Keysyms)
	} else {
		x.stale.Store(true)
	}
	x.tick++
	if i < 0 {
		x.spares = append(x.spares, spare{code: code, sym: sym, used: x.tick})
	} else {
		x.spares[i] = spare{code: code, sym: sym, used: x.tick}
	}
	return code, nil
}

// emptySpares gives the spare keycodes back their empty mapping; x.mu is
// held.
func (x *X11) emptySpares() {
	c := x.xc.Conn
	for _, sp := range x.spares {
		xproto.ChangeKeyboardMappingChecked(c, 1, xproto.Keycode(sp.code), 1, []xproto.Keysym{0}).Check()
	}
	x.spares = nil
}
