package headless

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestReadCommandsRefusesMistypedFields (issue 14): a command whose field
// has the wrong JSON type is a bad_command, and nothing is handled.
func TestReadCommandsRefusesMistypedFields(t *testing.T) {
	lines := []string{
		`{"cmd":5}`,
		`{"cmd":"chat","text":5}`,
		`{"cmd":"end_session","session":"s","reason":["solved"]}`,
		`{"cmd":"answer_permission","id":"x","allow":"yes"}`,
		`{"cmd":"receive_files","on":"off"}`,
		`{"cmd":"request_permission","session":"s","kind":"screen","timeout_ms":"60s"}`,
		`{"cmd":"screen_start","session":"s","monitor":"primary"}`,
		`{"cmd":"screen_start","session":"s","monitor":1.5}`,
		`{"cmd":"input","session":"s","events":{"type":"move"}}`,
		`{"cmd":"input","session":"s","events":[{"type":"key","scancode":-1}]}`,
	}
	var out bytes.Buffer
	var got []Command
	if err := ReadCommands(strings.NewReader(strings.Join(lines, "\n")), NewWriter(&out), func(c Command) { got = append(got, c) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("handled %+v", got)
	}
	n := 0
	for line := range strings.Lines(out.String()) {
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Event != "error" || e.Code != "bad_command" {
			t.Fatalf("event %q (%v), want a bad_command error", line, err)
		}
		n++
	}
	if n != len(lines) {
		t.Fatalf("%d errors for %d lines", n, len(lines))
	}
}

// TestInputRefusesTheWholeCommand: one event Input cannot turn into the
// protocol's fails the command; none of it comes back.
func TestInputRefusesTheWholeCommand(t *testing.T) {
	move := InputEvent{Type: "move", X: 10, Y: 20}
	for _, tc := range []struct {
		name string
		bad  InputEvent
	}{
		{"no type", InputEvent{}},
		{"an unknown type", InputEvent{Type: "jump"}},
		{"a type in capitals", InputEvent{Type: "MOVE"}},
		{"a char of two characters", InputEvent{Type: "key", Char: "ab"}},
		{"a char not UTF-8", InputEvent{Type: "key", Char: "\xff"}},
		{"x beyond 32 bits", InputEvent{Type: "move", X: math.MaxInt32 + 1}},
		{"a monitor below 32 bits", InputEvent{Type: "move", Monitor: math.MinInt32 - 1}},
		{"dy beyond 32 bits", InputEvent{Type: "scroll", Dy: math.MaxInt32 + 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := Input([]InputEvent{move, tc.bad, move})
			if err == nil || evs != nil {
				t.Fatalf("Input with %+v: %v, %v; want an error and nothing", tc.bad, evs, err)
			}
			if !strings.Contains(err.Error(), "input event 1") {
				t.Fatalf("the error %q does not name event 1", err)
			}
		})
	}
	evs, err := Input([]InputEvent{move, {Type: "key", Char: "é", Down: true}, {Type: "text", Text: "hello"}})
	if err != nil || len(evs) != 3 || evs[0].X != 10 || evs[1].Rune != 'é' || evs[2].Text != "hello" {
		t.Fatalf("Input of good events: %v, %v", evs, err)
	}
}
