package desktopui

import (
	"image"
	"math"
	"unicode"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// The remote screen's input: the pointer, the wheel and the keys turned
// into the agent's input events while control is on, and the keys the
// local system keeps (SystemKeys).

// send gives evs to OnInput while control is on.
func (rs *RemoteScreen) send(evs ...*pb.InputEvent) {
	if rs.control && rs.OnInput != nil && len(evs) > 0 {
		rs.OnInput(evs)
	}
}

func (rs *RemoteScreen) move(p image.Point) *pb.InputEvent {
	rs.last = &pb.InputEvent{Kind: pb.InputEvent_KIND_MOVE, Monitor: rs.monitor.Load(), X: int32(p.X), Y: int32(p.Y)}
	return rs.last
}

// pointTo sends a MOVE to p (a place in the widget) unless the pointer is
// there already or p is off the picture.
func (rs *RemoteScreen) pointTo(p fyne.Position, clamp bool) {
	if !rs.control {
		return
	}
	at, ok := rs.toPicture(p, clamp)
	if !ok || rs.last != nil && rs.last.Monitor == rs.monitor.Load() && rs.last.X == int32(at.X) && rs.last.Y == int32(at.Y) {
		return
	}
	rs.send(rs.move(at))
}

// hover moves the pointer, first releasing the buttons held down that the
// mouse no longer holds (released over another object, which got the
// MouseUp).
func (rs *RemoteScreen) hover(ev *desktop.MouseEvent) {
	if !rs.control {
		return
	}
	var up []*pb.InputEvent
	for _, b := range []int32{1, 2, 3} {
		if rs.buttons[b] && ev.Button&fyneButton(b) == 0 {
			delete(rs.buttons, b)
			up = append(up, &pb.InputEvent{Kind: pb.InputEvent_KIND_BUTTON, Button: b})
		}
	}
	rs.send(up...)
	rs.pointTo(ev.Position, false)
}

// MouseIn is called when the mouse enters the view: a MOVE there.
func (rs *RemoteScreen) MouseIn(ev *desktop.MouseEvent) { rs.hover(ev) }

// MouseMoved is called when the mouse moves over the view: a MOVE there.
func (rs *RemoteScreen) MouseMoved(ev *desktop.MouseEvent) { rs.hover(ev) }

// MouseOut is called when the mouse leaves the view; the customer's
// pointer stays where it was.
func (rs *RemoteScreen) MouseOut() {}

// Dragged is called when the mouse moves with a button down, which Fyne
// then reports here even off the view: a MOVE to the nearest place on the
// picture.
func (rs *RemoteScreen) Dragged(ev *fyne.DragEvent) { rs.pointTo(ev.Position, true) }

// DragEnd is called when a drag ends (its MouseUp came first).
func (rs *RemoteScreen) DragEnd() {}

func remoteButton(b desktop.MouseButton) int32 {
	switch b {
	case desktop.MouseButtonPrimary:
		return 1
	case desktop.MouseButtonTertiary:
		return 2
	case desktop.MouseButtonSecondary:
		return 3
	}
	return 0
}

func fyneButton(b int32) desktop.MouseButton {
	switch b {
	case 1:
		return desktop.MouseButtonPrimary
	case 2:
		return desktop.MouseButtonTertiary
	}
	return desktop.MouseButtonSecondary
}

// MouseDown is called when a button is pressed over the view: it takes
// the keyboard's focus and, while control is on and the mouse is on the
// picture, sends a MOVE there and the button down.
func (rs *RemoteScreen) MouseDown(ev *desktop.MouseEvent) {
	if !rs.focused {
		if c := fyne.CurrentApp().Driver().CanvasForObject(rs); c != nil {
			c.Focus(rs)
		}
	}
	b := remoteButton(ev.Button)
	if !rs.control || b == 0 {
		return
	}
	at, ok := rs.toPicture(ev.Position, false)
	if !ok {
		return
	}
	rs.buttons[b] = true
	rs.send(rs.move(at), &pb.InputEvent{Kind: pb.InputEvent_KIND_BUTTON, Button: b, Down: true})
}

// MouseUp is called when a button is released (over the view, or
// anywhere after a drag that began on it): a MOVE there when it is on the
// picture, and the button up when its down was sent.
func (rs *RemoteScreen) MouseUp(ev *desktop.MouseEvent) {
	b := remoteButton(ev.Button)
	if !rs.control || !rs.buttons[b] {
		return
	}
	delete(rs.buttons, b)
	var evs []*pb.InputEvent
	if at, ok := rs.toPicture(ev.Position, false); ok {
		evs = append(evs, rs.move(at))
	}
	rs.send(append(evs, &pb.InputEvent{Kind: pb.InputEvent_KIND_BUTTON, Button: b})...)
}

// Scrolled is called for the wheel over the view. While control is on
// and the mouse is on the picture it sends wheel clicks, keeping the
// fractions a touchpad gives until they make a click; otherwise it
// scrolls the view NewRemoteView made (Fyne gives the wheel to the
// innermost Scrollable only).
func (rs *RemoteScreen) Scrolled(ev *fyne.ScrollEvent) {
	if _, on := rs.toPicture(ev.Position, false); !rs.control || !on {
		if rs.scroll != nil {
			rs.scroll.Scrolled(ev)
		}
		return
	}
	dx, dy := wheelClicks(&rs.wheelX, ev.Scrolled.DX), wheelClicks(&rs.wheelY, -ev.Scrolled.DY)
	if dx != 0 || dy != 0 {
		rs.send(&pb.InputEvent{Kind: pb.InputEvent_KIND_SCROLL, Dx: dx, Dy: dy})
	}
}

// wheelClicks turns a scroll of d Fyne units into whole wheel clicks,
// keeping the rest in acc for the next.
func wheelClicks(acc *float32, d float32) int32 {
	if d == 0 {
		return 0
	}
	if abs := float32(math.Abs(float64(d))); wheelBoost != 1 && abs >= wheelBoostFrom*wheelClick*wheelBoost {
		d /= wheelBoost // undo the driver's acceleration of a fast wheel
	}
	if (*acc < 0) != (d < 0) {
		*acc = 0 // a turn the other way starts afresh
	}
	*acc += d / wheelClick
	n := float32(math.Trunc(float64(*acc)))
	*acc -= n
	return int32(min(max(n, -maxScrollClicks), maxScrollClicks))
}

// FocusGained is called when the view gets the keyboard's focus.
func (rs *RemoteScreen) FocusGained() { rs.focused = true }

// FocusLost is called when the view loses the keyboard's focus (or the
// window its own): the keys and buttons held are released.
func (rs *RemoteScreen) FocusLost() {
	rs.focused = false
	rs.releaseAll()
}

// releaseAll sends an up for every button and key the customer was told
// is down, the keys in the reverse order of their presses (a modifier
// pressed first goes last).
func (rs *RemoteScreen) releaseAll() {
	var evs []*pb.InputEvent
	for _, b := range []int32{1, 2, 3} {
		if rs.buttons[b] {
			evs = append(evs, &pb.InputEvent{Kind: pb.InputEvent_KIND_BUTTON, Button: b})
		}
	}
	for i := len(rs.keys) - 1; i >= 0; i-- {
		if h := rs.keys[i]; h.ev != nil {
			evs = append(evs, keyUp(h.ev))
		}
	}
	rs.keys = rs.keys[:0]
	clear(rs.buttons)
	rs.textNext = true
	rs.send(evs...)
}

func keyUp(down *pb.InputEvent) *pb.InputEvent {
	return &pb.InputEvent{Kind: pb.InputEvent_KIND_KEY, Scancode: down.Scancode, Keysym: down.Keysym}
}

// held is the key held with id, or -1.
func (rs *RemoteScreen) held(id keyID) int {
	for i, h := range rs.keys {
		if h.id == id {
			return i
		}
	}
	return -1
}

// AcceptsTab says Tab goes to the customer while control is on (rather
// than moving the focus).
func (rs *RemoteScreen) AcceptsTab() bool { return rs.control }

func (rs *RemoteScreen) keyEvent(ev *fyne.KeyEvent, down bool) *pb.InputEvent {
	e := &pb.InputEvent{Kind: pb.InputEvent_KIND_KEY, Down: down, Keysym: keysyms[ev.Name]}
	if sc := ev.Physical.ScanCode; rs.scancodes && sc >= 8 && sc <= 255 {
		e.Scancode = uint32(sc)
	}
	if e.Scancode == 0 && e.Keysym == 0 {
		return nil
	}
	return e
}

// KeyDown is called when a key is pressed while the view has the focus:
// a KEY down, by its X keycode where there is one and its keysym where
// it has one; a key with neither goes as the text it types.
func (rs *RemoteScreen) KeyDown(ev *fyne.KeyEvent) {
	if !rs.control {
		return
	}
	id := keyID{ev.Name, ev.Physical.ScanCode}
	if i := rs.held(id); i >= 0 { // a second press without a release: a repeat
		h := rs.keys[i]
		h.typed = false
		rs.textNext = h.ev == nil
		if h.ev != nil {
			rs.send(h.ev)
		}
		return
	}
	h := &heldKey{id: id, ev: rs.keyEvent(ev, true)}
	rs.keys = append(rs.keys, h)
	rs.textNext = h.ev == nil
	if h.ev != nil {
		rs.send(h.ev)
	}
}

// KeyUp is called when a key is released: a KEY up when its down was sent.
func (rs *RemoteScreen) KeyUp(ev *fyne.KeyEvent) {
	i := rs.held(keyID{ev.Name, ev.Physical.ScanCode})
	if !rs.control || i < 0 {
		return
	}
	h := rs.keys[i]
	rs.keys = append(rs.keys[:i], rs.keys[i+1:]...)
	if h.ev != nil {
		rs.send(keyUp(h.ev))
	}
	rs.textNext = true
	for _, o := range rs.keys {
		if o.ev != nil {
			rs.textNext = false
			break
		}
	}
}

// repeat handles the TypedKey or TypedShortcut of a key held: the first
// is its press's, later ones are the driver's repeats.
func (rs *RemoteScreen) repeat(h *heldKey) {
	if !h.typed {
		h.typed = true
		return
	}
	rs.textNext = h.ev == nil
	if h.ev != nil {
		rs.send(h.ev)
	}
}

// TypedKey is called for a key press and each of its repeats: a repeat
// of a key sent goes as another KEY down.
func (rs *RemoteScreen) TypedKey(ev *fyne.KeyEvent) {
	if !rs.control {
		return
	}
	if i := rs.held(keyID{ev.Name, ev.Physical.ScanCode}); i >= 0 {
		rs.repeat(rs.keys[i])
	}
}

// TypedRune is called for each character typed: it goes as TEXT when it
// did not come from a key sent as a key (one with neither an X keycode
// nor a keysym here, or text typed without a key Fyne reports).
func (rs *RemoteScreen) TypedRune(r rune) {
	if !rs.control || !rs.textNext || !utf8.ValidRune(r) || !unicode.IsGraphic(r) {
		return
	}
	rs.send(&pb.InputEvent{Kind: pb.InputEvent_KIND_TEXT, Text: string(r)})
}

// TypedShortcut is called for a key pressed (or repeated) with a modifier
// other than Shift, which Fyne's driver gives as a shortcut rather than a
// TypedKey. While control is on the key went to the customer already (a
// repeat goes again); otherwise the window's own shortcuts get it.
func (rs *RemoteScreen) TypedShortcut(s fyne.Shortcut) {
	if !rs.control {
		if c := fyne.CurrentApp().Driver().CanvasForObject(rs); c != nil {
			if sc, ok := c.(fyne.Shortcutable); ok {
				sc.TypedShortcut(s)
			}
		}
		return
	}
	name := shortcutKey(s)
	if name == "" {
		return
	}
	for i := len(rs.keys) - 1; i >= 0; i-- {
		if rs.keys[i].id.name == name {
			rs.repeat(rs.keys[i])
			return
		}
	}
}

// shortcutKey is the key Fyne's driver made shortcut s from.
func shortcutKey(s fyne.Shortcut) fyne.KeyName {
	switch s := s.(type) {
	case *desktop.CustomShortcut:
		return s.KeyName
	case *fyne.ShortcutCopy:
		if s.Secondary {
			return fyne.KeyInsert
		}
		return fyne.KeyC
	case *fyne.ShortcutPaste:
		if s.Secondary {
			return fyne.KeyInsert
		}
		return fyne.KeyV
	case *fyne.ShortcutCut:
		if s.Secondary {
			return fyne.KeyDelete
		}
		return fyne.KeyX
	case *fyne.ShortcutUndo:
		return fyne.KeyZ
	case *fyne.ShortcutRedo:
		return fyne.KeyY
	case *fyne.ShortcutSelectAll:
		return fyne.KeyA
	}
	return ""
}

// X11 keysyms (X11/keysymdef.h) of the keys Fyne names.
const (
	xkBackSpace = 0xff08
	xkTab       = 0xff09
	xkReturn    = 0xff0d
	xkEscape    = 0xff1b
	xkDelete    = 0xffff
	xkHome      = 0xff50
	xkLeft      = 0xff51
	xkUp        = 0xff52
	xkRight     = 0xff53
	xkDown      = 0xff54
	xkPageUp    = 0xff55
	xkPageDown  = 0xff56
	xkEnd       = 0xff57
	xkPrint     = 0xff61
	xkInsert    = 0xff63
	xkMenu      = 0xff67
	xkKPEnter   = 0xff8d
	xkF1        = 0xffbe
	xkShiftL    = 0xffe1
	xkShiftR    = 0xffe2
	xkControlL  = 0xffe3
	xkControlR  = 0xffe4
	xkCapsLock  = 0xffe5
	xkAltL      = 0xffe9
	xkAltR      = 0xffea
	xkSuperL    = 0xffeb
	xkSuperR    = 0xffec
)

// keysyms maps Fyne's key names to X11 keysyms. Letters are lowercase and
// punctuation its ASCII code, as X names them; Fyne names those keys by
// the agent's keyboard layout.
var keysyms = func() map[fyne.KeyName]uint32 {
	m := map[fyne.KeyName]uint32{
		fyne.KeyReturn: xkReturn, fyne.KeyEnter: xkKPEnter, fyne.KeyTab: xkTab,
		fyne.KeyEscape: xkEscape, fyne.KeyBackspace: xkBackSpace, fyne.KeyDelete: xkDelete,
		fyne.KeyInsert: xkInsert, fyne.KeyHome: xkHome, fyne.KeyEnd: xkEnd,
		fyne.KeyPageUp: xkPageUp, fyne.KeyPageDown: xkPageDown,
		fyne.KeyLeft: xkLeft, fyne.KeyRight: xkRight, fyne.KeyUp: xkUp, fyne.KeyDown: xkDown,
		fyne.KeySpace: ' ',

		desktop.KeyShiftLeft: xkShiftL, desktop.KeyShiftRight: xkShiftR,
		desktop.KeyControlLeft: xkControlL, desktop.KeyControlRight: xkControlR,
		desktop.KeyAltLeft: xkAltL, desktop.KeyAltRight: xkAltR,
		desktop.KeySuperLeft: xkSuperL, desktop.KeySuperRight: xkSuperR,
		desktop.KeyMenu: xkMenu, desktop.KeyPrintScreen: xkPrint, desktop.KeyCapsLock: xkCapsLock,

		fyne.KeyApostrophe: '\'', fyne.KeyComma: ',', fyne.KeyMinus: '-', fyne.KeyPeriod: '.',
		fyne.KeySlash: '/', fyne.KeyBackslash: '\\', fyne.KeyLeftBracket: '[',
		fyne.KeyRightBracket: ']', fyne.KeySemicolon: ';', fyne.KeyEqual: '=',
		fyne.KeyAsterisk: '*', fyne.KeyPlus: '+', fyne.KeyBackTick: '`',
	}
	for c := 'A'; c <= 'Z'; c++ {
		m[fyne.KeyName(string(c))] = uint32(unicode.ToLower(c))
	}
	for c := '0'; c <= '9'; c++ {
		m[fyne.KeyName(string(c))] = uint32(c)
	}
	for i, k := range []fyne.KeyName{fyne.KeyF1, fyne.KeyF2, fyne.KeyF3, fyne.KeyF4, fyne.KeyF5, fyne.KeyF6,
		fyne.KeyF7, fyne.KeyF8, fyne.KeyF9, fyne.KeyF10, fyne.KeyF11, fyne.KeyF12} {
		m[k] = xkF1 + uint32(i)
	}
	return m
}()

// SystemKey is a key combination the agent's own system keeps for itself
// (a press of it never reaches the view), to offer in a menu: Events
// press its keys in order and release them in reverse.
type SystemKey struct {
	Label  string
	Events []*pb.InputEvent
}

// SystemKeys are the combinations the agent's system keeps: Alt+Tab,
// Super, Print Screen and Ctrl+Alt+Del, by keysym alone (so the customer
// types them whatever its keyboard). Each call makes new events.
func SystemKeys() []SystemKey {
	combo := func(label string, keys ...uint32) SystemKey {
		k := SystemKey{Label: label}
		for _, sym := range keys {
			k.Events = append(k.Events, &pb.InputEvent{Kind: pb.InputEvent_KIND_KEY, Down: true, Keysym: sym})
		}
		for i := len(keys) - 1; i >= 0; i-- {
			k.Events = append(k.Events, &pb.InputEvent{Kind: pb.InputEvent_KIND_KEY, Keysym: keys[i]})
		}
		return k
	}
	return []SystemKey{
		combo("Alt+Tab", xkAltL, xkTab),
		combo("Super", xkSuperL),
		combo("Print Screen", xkPrint),
		combo("Ctrl+Alt+Del", xkControlL, xkAltL, xkDelete),
	}
}

var (
	_ fyne.Widget       = (*RemoteScreen)(nil)
	_ desktop.Hoverable = (*RemoteScreen)(nil)
	_ desktop.Mouseable = (*RemoteScreen)(nil)
	_ desktop.Keyable   = (*RemoteScreen)(nil)
	_ fyne.Draggable    = (*RemoteScreen)(nil)
	_ fyne.Scrollable   = (*RemoteScreen)(nil)
	_ fyne.Tabbable     = (*RemoteScreen)(nil)
	_ fyne.Shortcutable = (*RemoteScreen)(nil)
	_ fyne.Focusable    = (*RemoteScreen)(nil)
)
