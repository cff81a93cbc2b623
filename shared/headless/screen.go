package headless

import (
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// Monitor is one of the customer's monitors in a screen_started event, in
// the screen's pixels.
type Monitor struct {
	Index   int  `json:"index"`
	X       int  `json:"x"`
	Y       int  `json:"y"`
	Width   int  `json:"width"`
	Height  int  `json:"height"`
	Primary bool `json:"primary,omitempty"`
}

// InputEvent is one event of the input command (docs/headless.md,
// "Screen"): type "move" (monitor, x, y: pixels from the monitor's top
// left), "button" (button 1 left, 2 middle, 3 right; down), "scroll" (dx,
// dy: wheel clicks, positive right and down), "key" (down; scancode, the
// X keycode, or keysym, or char) or "text" (text, typed as it is).
type InputEvent struct {
	Type     string `json:"type"`
	Monitor  int    `json:"monitor,omitempty"`
	X        int    `json:"x,omitempty"`
	Y        int    `json:"y,omitempty"`
	Button   int    `json:"button,omitempty"`
	Down     bool   `json:"down,omitempty"`
	Dx       int    `json:"dx,omitempty"`
	Dy       int    `json:"dy,omitempty"`
	Scancode uint32 `json:"scancode,omitempty"`
	Keysym   uint32 `json:"keysym,omitempty"`
	Char     string `json:"char,omitempty"`
	Text     string `json:"text,omitempty"`
}

// Input turns the input command's events into the protocol's; it fails,
// naming the event, on one it cannot (the protocol's own checks follow).
func Input(evs []InputEvent) ([]*pb.InputEvent, error) {
	kinds := map[string]pb.InputEvent_Kind{
		"move": pb.InputEvent_KIND_MOVE, "button": pb.InputEvent_KIND_BUTTON, "scroll": pb.InputEvent_KIND_SCROLL,
		"key": pb.InputEvent_KIND_KEY, "text": pb.InputEvent_KIND_TEXT,
	}
	out := make([]*pb.InputEvent, len(evs))
	for i, e := range evs {
		k, ok := kinds[e.Type]
		if !ok {
			return nil, fmt.Errorf("input event %d: the type is move, button, scroll, key or text, not %q", i, e.Type)
		}
		for _, n := range []int{e.Monitor, e.X, e.Y, e.Button, e.Dx, e.Dy} {
			if n < math.MinInt32 || n > math.MaxInt32 {
				return nil, fmt.Errorf("input event %d: %d is out of range", i, n)
			}
		}
		var r rune
		if e.Char != "" {
			var n int
			r, n = utf8.DecodeRuneInString(e.Char)
			if r == utf8.RuneError || n != len(e.Char) {
				return nil, fmt.Errorf("input event %d: char is one character", i)
			}
		}
		out[i] = &pb.InputEvent{Kind: k, Monitor: int32(e.Monitor), X: int32(e.X), Y: int32(e.Y), Button: int32(e.Button), Down: e.Down,
			Dx: int32(e.Dx), Dy: int32(e.Dy), Scancode: e.Scancode, Keysym: e.Keysym, Rune: r, Text: e.Text}
	}
	return out, nil
}
