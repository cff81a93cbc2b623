//go:build windows

package input

// scanCode is the PC set 1 scan code of the key at X keycode code, and
// whether it is an extended one (E0). An X keycode is the Linux evdev
// number plus 8; evdev numbers the main block, the function keys and the
// keypad as set 1 does, and the keys the PC added later are E0 codes.
func scanCode(code int) (sc uint16, extended, ok bool) {
	ev := code - 8
	switch {
	case ev >= 1 && ev <= 83, ev >= 86 && ev <= 88:
		return uint16(ev), false, true
	}
	if sc, found := evdevOther[ev]; found {
		return sc, false, true
	}
	if e, found := evdevExtended[ev]; found {
		return e, true, true
	}
	return 0, false, false
}

// evdevVK maps the evdev numbers of the keys whose scan codes the systems
// tell apart differently to virtual keys: Num Lock and Pause share 0x45
// (Pause is E1 1D 45, which SendInput cannot send), and Windows and Wine
// disagree on which is which.
var evdevVK = map[int]uint16{
	69:  0x90, // Num Lock
	119: 0x13, // Pause
}

// evdevOther maps the evdev numbers of the keys beyond the PC/AT's that
// are not E0 ones (Japanese and Brazilian keyboards', Pause) to their scan
// codes.
var evdevOther = map[int]uint16{
	89:  0x73, // RO (ABNT2's /?)
	92:  0x79, // Henkan
	93:  0x70, // Katakana/Hiragana
	94:  0x7b, // Muhenkan
	117: 0x59, // keypad =
	121: 0x7e, // keypad , (ABNT2)
	124: 0x7d, // Yen
}

// evdevExtended maps the evdev numbers of the E0 keys to their scan codes.
var evdevExtended = map[int]uint16{
	96:  0x1c, // keypad Enter
	97:  0x1d, // right Ctrl
	98:  0x35, // keypad /
	99:  0x37, // Print Screen (SysRq)
	100: 0x38, // right Alt (AltGr)
	102: 0x47, // Home
	103: 0x48, // Up
	104: 0x49, // Page Up
	105: 0x4b, // Left
	106: 0x4d, // Right
	107: 0x4f, // End
	108: 0x50, // Down
	109: 0x51, // Page Down
	110: 0x52, // Insert
	111: 0x53, // Delete
	113: 0x20, // Mute
	114: 0x2e, // Volume Down
	115: 0x30, // Volume Up
	125: 0x5b, // left Windows
	126: 0x5c, // right Windows
	127: 0x5d, // Menu
	163: 0x19, // Next track
	164: 0x22, // Play/Pause
	165: 0x10, // Previous track
	166: 0x24, // Stop
}

// Virtual keys of the named X keysyms.
var keysymVK = map[uint32]uint16{
	0xff08: 0x08, // BackSpace
	0xff09: 0x09, // Tab
	0xff0d: 0x0d, // Return
	0xff13: 0x13, // Pause
	0xff14: 0x91, // Scroll_Lock
	0xff1b: 0x1b, // Escape
	0xff50: 0x24, // Home
	0xff51: 0x25, // Left
	0xff52: 0x26, // Up
	0xff53: 0x27, // Right
	0xff54: 0x28, // Down
	0xff55: 0x21, // Prior (Page Up)
	0xff56: 0x22, // Next (Page Down)
	0xff57: 0x23, // End
	0xff61: 0x2c, // Print
	0xff63: 0x2d, // Insert
	0xff67: 0x5d, // Menu
	0xff7f: 0x90, // Num_Lock
	0xff8d: 0x0d, // KP_Enter
	0xffe1: 0xa0, // Shift_L
	0xffe2: 0xa1, // Shift_R
	0xffe3: 0xa2, // Control_L
	0xffe4: 0xa3, // Control_R
	0xffe5: 0x14, // Caps_Lock
	0xffe9: 0xa4, // Alt_L
	0xffea: 0xa5, // Alt_R
	0xffeb: 0x5b, // Super_L
	0xffec: 0x5c, // Super_R
	0xffff: 0x2e, // Delete
	0x0020: 0x20, // space
}

// extendedVK are the virtual keys sent with KEYEVENTF_EXTENDEDKEY: the
// ones set 1 gives an E0 code (without it, Windows takes the arrows for
// the keypad's, and right Ctrl for the left one).
var extendedVK = map[uint16]bool{
	0x21: true, 0x22: true, 0x23: true, 0x24: true, 0x25: true, 0x26: true, 0x27: true, 0x28: true,
	0x2c: true, 0x2d: true, 0x2e: true, 0x5b: true, 0x5c: true, 0x5d: true, 0x90: true,
	0xa3: true, 0xa5: true,
}

// symVK is the virtual key of a named keysym sym (F1 to F24 among them).
// Letters and digits are not named: their key depends on the layout
// (layoutVK).
func symVK(sym uint32) (uint16, bool) {
	if vk, ok := keysymVK[sym]; ok {
		return vk, true
	}
	if sym >= 0xffbe && sym <= 0xffd5 { // F1 to F24
		return uint16(0x70 + sym - 0xffbe), true
	}
	return 0, false
}

// keysymRune is the character an X keysym stands for: Latin-1 keysyms are
// their code points, and 0x1000000 + U is U+U. Anything else is -1.
func keysymRune(sym uint32) rune {
	switch {
	case sym >= 0x20 && sym <= 0x7e, sym >= 0xa0 && sym <= 0xff:
		return rune(sym)
	case sym >= 0x1000100 && sym <= 0x110ffff:
		return rune(sym - 0x1000000)
	}
	return -1
}
