// Package input injects the agent's pointer and keys on the customer's
// screen (issue 13, step 5). On X11 it goes through XTest on one persistent
// connection: the pointer by monitor and monitor-relative position
// (mapped here, on the customer's side), buttons and scrolling (vertical
// and horizontal), keys by X keycode (the key's position, as the agent's
// keyboard reported it) or by keysym (KeySym: for an agent with no X
// keycode, or the "system keys" menu), and text typed as it is, whatever
// the keyboard layout (Type). The sharing service (package sharing) calls
// it for an agent holding the control grant.
//
// A keysym is looked up in the keyboard mapping, cached and loaded again
// when the server says it changed (MappingNotify) or a keysym is not in
// it; one at the shifted level is pressed with Shift around it unless
// the agent holds Shift already. A keysym no key has is mapped onto a
// spare keycode (one with no keysyms, from the top of the range; at most
// eight of them, the least recently used remapped first), which Close
// empties again. The change takes effect before the key is pressed
// without any sleep: the server handles one client's requests in order,
// so the reply to a GetKeyboardMapping sent after ChangeKeyboardMapping
// shows the new mapping in force (and is checked), and every application
// gets its MappingNotify before the key press that follows. What no
// round trip can tell is when an application has read its events: one
// still behind by more than eight such keysyms may read a remapped
// spare code with its new keysym, which is why the pool is not smaller.
//
// Only the first group of the layout is used: a key whose second group
// types something else counts as not having the keysym (it types
// differently with the other layout active), and a spare code is used.
// Caps Lock is not undone: with it on, letters come out as the
// application makes them.
//
// GrabShortcut is the customer's own way to end control at once
// (ShortcutName, grabbed on the root window).
//
// This is pure Go XTest over xgb. On Windows, Windows does the same
// through SendInput (windows.go), and GrabShortcut registers a hot key;
// macOS has no build yet.
package input

import "errors"

// Buttons, as X numbers them.
const (
	Left   = 1
	Middle = 2
	Right  = 3
)

// MaxScroll caps the clicks of one scroll event (a hostile agent's huge
// number does not hold the customer's screen).
const MaxScroll = 50

// ErrClosed is returned after Close.
var ErrClosed = errors.New("input: closed")

// MaxText caps the text of one Type call, in bytes (the protocol's
// MaxInputText).
const MaxText = 1024
