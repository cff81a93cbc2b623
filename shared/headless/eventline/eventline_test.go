package eventline

import (
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/chat"
	"github.com/porthole-dev/porthole/shared/session"
	"github.com/porthole-dev/porthole/shared/transfer"
)

// The agent's lines name their session; the customer's do not. A value
// with no line here is said so.
func TestLines(t *testing.T) {
	at := time.Date(2026, 12, 7, 15, 4, 5, 6e6, time.UTC)
	line := chat.Line{Session: "s1", Message: appdb.Message{ID: "m1", From: "bob", Text: "hi", At: at, Outgoing: true}}
	for _, tt := range []struct {
		ev                 any
		agent              bool
		event, session, at string
	}{
		{line, true, "chat_sent", "s1", "2026-12-07T15:04:05.006Z"},
		{line, false, "chat_sent", "", "2026-12-07T15:04:05.006Z"},
		{chat.Line{Session: "s1", Message: appdb.Message{ID: "m2", Text: "yo"}}, true, "chat", "s1", "0001-01-01T00:00:00Z"},
		{session.Ended{Session: "s1", Reason: "done"}, true, "session_ended", "s1", ""},
		{session.Ended{Session: "s1", Reason: "done"}, false, "session_ended", "", ""},
		{session.Failure{Session: "s1", Code: "pake_failed"}, true, "error", "s1", ""},
		{session.Relay{Connected: true}, true, "relay", "", ""},
		{transfer.Event{Kind: transfer.EventDone, Transfer: transfer.Transfer{ID: "f1", Session: "s1", State: transfer.Done}}, true, "file_done", "s1", ""},
	} {
		e, ok := Line(tt.ev, tt.agent)
		if !ok || e.Event != tt.event || e.Session != tt.session || e.At != tt.at {
			t.Errorf("%T (agent %v): %+v, %v; want %s in %q at %q", tt.ev, tt.agent, e, ok, tt.event, tt.session, tt.at)
		}
	}
	if _, ok := Line(session.Joined{}, true); ok {
		t.Error("Joined has a line here; it is each app's own")
	}
}
