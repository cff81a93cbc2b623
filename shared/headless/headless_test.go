package headless

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestReadCommandsSurvivesBadAndOverlongLines(t *testing.T) {
	input := strings.Join([]string{
		`{"cmd":"chat","text":"one"}`,
		`not json`,
		`{"text":"no cmd"}`,
		`{"cmd":"chat","text":"` + strings.Repeat("x", MaxCommandLine+10) + `"}`,
		``,
		`{"cmd":"quit"}`,
	}, "\n")
	var out bytes.Buffer
	w := NewWriter(&out)
	var got []Command
	if err := ReadCommands(strings.NewReader(input), w, func(c Command) { got = append(got, c) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Text != "one" || got[1].Cmd != "quit" {
		t.Fatalf("commands = %+v, want chat then quit", got)
	}
	var codes []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("event line %q: %v", line, err)
		}
		if e.Event != "error" {
			t.Fatalf("unexpected event %+v", e)
		}
		codes = append(codes, e.Code)
	}
	if len(codes) != 3 {
		t.Fatalf("got %d error events (%v), want 3: bad JSON, missing cmd, too long", len(codes), codes)
	}
}
