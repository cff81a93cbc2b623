//go:build windows

package input

import (
	"fmt"
	"image"
	"sync"
	"syscall"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Windows injects input on this Windows desktop through SendInput, the
// way the system's own drivers report it: the pointer at absolute
// positions on the virtual screen, buttons and both wheels, keys by scan
// code (the key's position: an agent's X keycode is evdev + 8, and evdev
// numbers the keys as the PC's set 1 does), by virtual key for the keysyms
// of named keys, letters and digits by the key that types them in the
// customer's layout, and everything else as the characters it types
// (KEYEVENTF_UNICODE).
//
// Coordinates are physical pixels: Open makes the process DPI aware (per
// monitor where Windows can), as the screen capture needs it to be too.
type Windows struct {
	mu      sync.Mutex
	closed  bool
	keys    map[keyKey]bool // held down, released at Close
	buttons map[int]bool    // pointer buttons held down, released at Close
}

// keyKey is a key held down: a scan code (with its extended bit), a
// virtual key, or a character.
type keyKey struct {
	kind  byte // 's' scan code, 'v' virtual key, 'u' character
	code  uint16
	extra bool // scan code: extended (E0)
}

var (
	user32               = syscall.NewLazyDLL("user32.dll")
	procSendInput        = user32.NewProc("SendInput")
	procGetSystemMetrics = user32.NewProc("GetSystemMetrics")
	procSetDPIAware      = user32.NewProc("SetProcessDPIAware")
	procMapVirtualKey    = user32.NewProc("MapVirtualKeyW")
	procVkKeyScan        = user32.NewProc("VkKeyScanW")
	procSetDPIContext    = user32.NewProc("SetProcessDpiAwarenessContext")
)

// scanVK is the virtual key the layout gives scan code sc.
func scanVK(sc uint16, extended bool) uint16 {
	code := uintptr(sc)
	if extended {
		code |= 0xe000
	}
	const vscToVKEx = 3
	vk, _, _ := procMapVirtualKey.Call(code, vscToVKEx)
	return uint16(vk)
}

const (
	inputMouse    = 0
	inputKeyboard = 1

	mouseMove       = 0x0001
	mouseLeftDown   = 0x0002
	mouseLeftUp     = 0x0004
	mouseRightDown  = 0x0008
	mouseRightUp    = 0x0010
	mouseMiddleDown = 0x0020
	mouseMiddleUp   = 0x0040
	mouseWheel      = 0x0800
	mouseHWheel     = 0x1000
	mouseVirtual    = 0x4000
	mouseAbsolute   = 0x8000
	wheelDelta      = 120

	keyExtended = 0x0001
	keyUp       = 0x0002
	keyUnicode  = 0x0004
	keyScancode = 0x0008

	smXVirtual  = 76
	smYVirtual  = 77
	smCXVirtual = 78
	smCYVirtual = 79
)

// sendInput is one INPUT of SendInput: its type, then a MOUSEINPUT or a
// KEYBDINPUT in a union the size of the larger (MOUSEINPUT), 40 bytes on
// amd64 in all.
type sendInput struct {
	typ uint32
	_   uint32
	u   [32]byte
}

type mouseInput struct {
	dx, dy    int32
	mouseData uint32
	flags     uint32
	time      uint32
	extra     uintptr
}

type keybdInput struct {
	vk, scan uint16
	flags    uint32
	time     uint32
	extra    uintptr
}

func mouse(m mouseInput) sendInput {
	in := sendInput{typ: inputMouse}
	*(*mouseInput)(unsafe.Pointer(&in.u)) = m
	return in
}

func keybd(k keybdInput) sendInput {
	in := sendInput{typ: inputKeyboard}
	*(*keybdInput)(unsafe.Pointer(&in.u)) = k
	return in
}

func send(ins ...sendInput) error {
	if len(ins) == 0 {
		return nil
	}
	n, _, err := procSendInput.Call(uintptr(len(ins)), uintptr(unsafe.Pointer(&ins[0])), unsafe.Sizeof(ins[0]))
	if int(n) != len(ins) {
		return fmt.Errorf("input: SendInput took %d of %d events (input is blocked: the secure desktop or the lock screen is up, or another program holds it): %v", n, len(ins), err)
	}
	return nil
}

func metric(i uintptr) int {
	v, _, _ := procGetSystemMetrics.Call(i)
	return int(int32(v))
}

// Open makes the process DPI aware and checks that SendInput is there.
func Open() (*Windows, error) {
	if err := procSendInput.Find(); err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	DPIAware()
	return &Windows{keys: map[keyKey]bool{}, buttons: map[int]bool{}}, nil
}

// DPIAware makes the process see the screen in physical pixels (on a
// scaled display, the capture and the pointer must agree): per monitor
// (Windows 10 1703 on), else system-wide.
func DPIAware() {
	const perMonitorV2 = ^uintptr(3) // DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2, -4
	if procSetDPIContext.Find() == nil {
		if ok, _, _ := procSetDPIContext.Call(perMonitorV2); ok != 0 {
			return
		}
	}
	if procSetDPIAware.Find() == nil {
		procSetDPIAware.Call()
	}
}

func (w *Windows) lock() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// Move puts the pointer at p on the virtual screen (every monitor's
// pixels, as capture numbers them).
func (w *Windows) Move(p image.Point) error {
	if err := w.lock(); err != nil {
		return err
	}
	defer w.mu.Unlock()
	return send(mouse(w.absolute(p)))
}

// absolute is a move to p in SendInput's units: 0 to 65535 across the
// virtual screen, the centre of each pixel.
func (w *Windows) absolute(p image.Point) mouseInput {
	vx, vy := metric(smXVirtual), metric(smYVirtual)
	vw, vh := max(metric(smCXVirtual), 1), max(metric(smCYVirtual), 1)
	norm := func(v, origin, size int) int32 {
		return int32(((v-origin)*65536 + 65536/2) / size)
	}
	return mouseInput{dx: norm(p.X, vx, vw), dy: norm(p.Y, vy, vh), flags: mouseMove | mouseAbsolute | mouseVirtual}
}

// Button presses (down) or releases button (Left, Middle or Right) where
// the pointer is.
func (w *Windows) Button(button int, down bool) error {
	flags := map[int][2]uint32{
		Left: {mouseLeftDown, mouseLeftUp}, Middle: {mouseMiddleDown, mouseMiddleUp}, Right: {mouseRightDown, mouseRightUp},
	}
	f, ok := flags[button]
	if !ok {
		return fmt.Errorf("input: no button %d", button)
	}
	if err := w.lock(); err != nil {
		return err
	}
	defer w.mu.Unlock()
	flag := f[1]
	if down {
		flag = f[0]
	}
	if err := send(mouse(mouseInput{flags: flag})); err != nil {
		return err
	}
	if down {
		w.buttons[button] = true
	} else {
		delete(w.buttons, button)
	}
	return nil
}

// Scroll turns the wheels dx clicks right (negative: left) and dy clicks
// down (negative: up), at most MaxScroll each.
func (w *Windows) Scroll(dx, dy int) error {
	if abs(dx) > MaxScroll || abs(dy) > MaxScroll {
		return fmt.Errorf("input: a scroll of %d, %d clicks (at most %d)", dx, dy, MaxScroll)
	}
	if err := w.lock(); err != nil {
		return err
	}
	defer w.mu.Unlock()
	var ins []sendInput
	if dy != 0 { // the wheel's positive turn is away from the user: up
		ins = append(ins, mouse(mouseInput{flags: mouseWheel, mouseData: uint32(int32(-dy * wheelDelta))}))
	}
	if dx != 0 {
		ins = append(ins, mouse(mouseInput{flags: mouseHWheel, mouseData: uint32(int32(dx * wheelDelta))}))
	}
	return send(ins...)
}

// Key presses or releases the key at X keycode code (8 to 255).
func (w *Windows) Key(code int, down bool) error {
	if vk, ok := evdevVK[code-8]; ok {
		if err := w.lock(); err != nil {
			return err
		}
		defer w.mu.Unlock()
		return w.key(keyKey{kind: 'v', code: vk}, down)
	}
	sc, ext, ok := scanCode(code)
	if !ok {
		return fmt.Errorf("input: no key at X keycode %d here", code)
	}
	if err := w.lock(); err != nil {
		return err
	}
	defer w.mu.Unlock()
	return w.key(keyKey{kind: 's', code: sc, extra: ext}, down)
}

// KeySym presses or releases the key of an X keysym: a named key by its
// virtual key, a letter or digit by the key that types it in the
// customer's layout (when the agent's Shift agrees), anything else as the
// character it stands for.
func (w *Windows) KeySym(sym uint32, down bool) error {
	if vk, ok := symVK(sym); ok {
		if err := w.lock(); err != nil {
			return err
		}
		defer w.mu.Unlock()
		return w.key(keyKey{kind: 'v', code: vk}, down)
	}
	r := keysymRune(sym)
	if r < 0 || r > 0xffff {
		// Beyond the first plane a character takes two UTF-16 units,
		// which have no key of their own to hold down: typed once.
		if r > 0xffff && down {
			return w.Type(string(r))
		}
		if r > 0xffff {
			return nil
		}
		return fmt.Errorf("input: keysym %#x has no key or character here", sym)
	}
	if err := w.lock(); err != nil {
		return err
	}
	defer w.mu.Unlock()
	// A letter or a digit whose key in the customer's layout types it with
	// the Shift state the agent holds goes as that key, so that the
	// agent's Ctrl+C is a Ctrl+C; anything else as the character. A
	// release lets go of what the press pressed.
	char := keyKey{kind: 'u', code: uint16(r)}
	if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
		if vk, shift, ok := layoutVK(r); ok {
			k := keyKey{kind: 'v', code: vk}
			if down && shift == w.shiftHeld() || !down && w.keys[k] && !w.keys[char] {
				return w.key(k, down)
			}
		}
	}
	return w.key(char, down)
}

// layoutVK is the virtual key that types r in the customer's layout, and
// whether it takes Shift; not ok when it takes Ctrl or Alt (AltGr), or no
// key types it.
func layoutVK(r rune) (vk uint16, shift, ok bool) {
	v, _, _ := procVkKeyScan.Call(uintptr(r))
	if int16(v) == -1 || v>>8&6 != 0 {
		return 0, false, false
	}
	return uint16(v & 0xff), v>>8&1 != 0, true
}

// shiftHeld says whether the agent holds a Shift key down here. The caller
// holds w.mu.
func (w *Windows) shiftHeld() bool {
	return w.keys[keyKey{kind: 's', code: 0x2a}] || w.keys[keyKey{kind: 's', code: 0x36}] ||
		w.keys[keyKey{kind: 'v', code: 0xa0}] || w.keys[keyKey{kind: 'v', code: 0xa1}]
}

// key sends one key down or up and keeps track of it. The caller holds
// w.mu.
func (w *Windows) key(k keyKey, down bool) error {
	if !down && !w.keys[k] {
		return nil // not ours to release
	}
	if err := send(keybd(k.input(down))); err != nil {
		return err
	}
	if down {
		w.keys[k] = true
	} else {
		delete(w.keys, k)
	}
	return nil
}

func (k keyKey) input(down bool) keybdInput {
	var in keybdInput
	switch k.kind {
	case 's':
		// The virtual key too, in the customer's layout: Windows ignores
		// it beside KEYEVENTF_SCANCODE, Wine reads it.
		in = keybdInput{vk: scanVK(k.code, k.extra), scan: k.code, flags: keyScancode}
		if k.extra {
			in.flags |= keyExtended
		}
	case 'v':
		in = keybdInput{vk: k.code}
		if extendedVK[k.code] {
			in.flags |= keyExtended
		}
	default:
		in = keybdInput{scan: k.code, flags: keyUnicode}
	}
	if !down {
		in.flags |= keyUp
	}
	return in
}

// Type types text as it is, whatever the keyboard layout: each character
// pressed and released (KEYEVENTF_UNICODE); newline as Return, tab as Tab.
func (w *Windows) Type(text string) error {
	if len(text) > MaxText {
		return fmt.Errorf("input: %d bytes of text to type (at most %d)", len(text), MaxText)
	}
	if !utf8.ValidString(text) {
		return fmt.Errorf("input: the text to type is not UTF-8")
	}
	if err := w.lock(); err != nil {
		return err
	}
	defer w.mu.Unlock()
	var ins []sendInput
	for _, r := range text {
		switch r {
		case '\n', '\r':
			ins = append(ins, keybd(keybdInput{vk: 0x0d}), keybd(keybdInput{vk: 0x0d, flags: keyUp}))
			continue
		case '\t':
			ins = append(ins, keybd(keybdInput{vk: 0x09}), keybd(keybdInput{vk: 0x09, flags: keyUp}))
			continue
		case '\b':
			ins = append(ins, keybd(keybdInput{vk: 0x08}), keybd(keybdInput{vk: 0x08, flags: keyUp}))
			continue
		}
		if r < 0x20 || r == 0x7f {
			continue // other control characters type nothing
		}
		for _, u := range utf16.Encode([]rune{r}) {
			ins = append(ins, keybd(keybdInput{scan: u, flags: keyUnicode}), keybd(keybdInput{scan: u, flags: keyUnicode | keyUp}))
		}
	}
	return send(ins...)
}

// Close releases the buttons and keys still held down (an agent whose
// control ends mid-drag, or mid-shortcut, leaves nothing pressed).
func (w *Windows) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	var ins []sendInput
	for b := range w.buttons {
		up := map[int]uint32{Left: mouseLeftUp, Middle: mouseMiddleUp, Right: mouseRightUp}[b]
		ins = append(ins, mouse(mouseInput{flags: up}))
	}
	for k := range w.keys {
		ins = append(ins, keybd(k.input(false)))
	}
	w.buttons, w.keys = nil, nil
	return send(ins...)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
