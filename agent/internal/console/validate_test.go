package console

import (
	"slices"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/testpeer"
	"github.com/porthole-dev/porthole/shared/transfer"
)

// TestEndSessionWithABadReasonChangesNothing (issue 14, finding 5): an
// end_session whose reason the relay and the customer would refuse is a
// bad_request before anything stops. The file on its way is not
// cancelled, no bye goes (the customer would refuse it and drop the
// link), and the session stays active on both sides and on the relay.
func TestEndSessionWithABadReasonChangesNothing(t *testing.T) {
	w, _ := startFilesConsole(t, nil)
	sid, key := w.newSession(t)
	cust := joinFileCustomer(t, w, key)
	w.ev.Expect(t, "customer_joined", inSession(sid))
	path, _, sum := randomFile(t, "notes.txt", 300<<10)
	ts, err := w.con.SendFile(sid, path)
	if err != nil || len(ts) != 1 {
		t.Fatalf("SendFile: %v, %v", ts, err)
	}
	id := ts[0].ID
	cust.expect(t, transfer.EventOffer, fileID(id)) // on its way: offered, not answered yet
	link := w.con.Link(sid)
	if link == nil {
		t.Fatal("no link to the customer")
	}

	for _, tc := range []struct{ name, reason string }{
		{"300 bytes", strings.Repeat("x", 300)},
		{"257 bytes", strings.Repeat("é", 128) + "x"},
		{"a newline", "solved\nmostly"},
		{"a control character", "solved\a"},
		{"a direction override", "solved \u202e"},
		{"not UTF-8", "solved \xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, "EndSession with a reason of "+tc.name, w.con.EndSession(ctxFor(t), sid, tc.reason), protocol.CodeBadRequest)
			if tr, ok := w.con.Transfer(id); !ok || tr.State != transfer.Offered {
				t.Fatalf("the file on its way is %+v, want it still offered", tr)
			}
			if l := w.con.Link(sid); l != link {
				t.Fatalf("the link to the customer is %v, want the same one up (%v)", l, link)
			}
			select {
			case <-link.Done():
				t.Fatal("the link to the customer ended")
			default:
			}
			if i := slices.IndexFunc(w.con.Sessions(), func(s appdb.Session) bool { return s.ID == sid }); i < 0 || w.con.Sessions()[i].State != appdb.StateActive {
				t.Fatalf("sessions %+v, want %s active", w.con.Sessions(), sid)
			}
		})
	}

	// The customer heard nothing of it, and the session goes on: the
	// relay still routes it, the chat flows, and the file arrives.
	select {
	case r := <-cust.Ended:
		t.Fatalf("the customer got a bye: %q", r)
	case err := <-cust.Down:
		t.Fatalf("the customer's link went down: %v", err)
	case r := <-cust.RelayEnded:
		t.Fatalf("the relay ended the session: %q", r)
	default:
	}
	if err := w.con.Chat(sid, "still here"); err != nil {
		t.Fatalf("Chat after the refused end: %v", err)
	}
	if m := testpeer.Receive(t, cust.Messages, "the chat line after the refused end"); m.Text != "still here" {
		t.Fatalf("customer got %q", m.Text)
	}
	if err := cust.e.Answer(id, transfer.Accept); err != nil {
		t.Fatalf("the customer accepting the file: %v", err)
	}
	cust.expect(t, transfer.EventDone, fileID(id))
	if e := w.ev.Expect(t, "file_done", eventID(id)); e.SHA256 != sum {
		t.Fatalf("file_done %+v", e)
	}
	if w.ev.Seen("file_cancelled") || w.ev.Seen("session_ended") {
		t.Fatal("a file was cancelled or the session ended")
	}

	// A good reason still ends it.
	if err := w.con.EndSession(ctxFor(t), sid, "solved"); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	if e := w.ev.Expect(t, "session_ended", inSession(sid)); e.Reason != "solved" {
		t.Fatalf("session_ended %+v", e)
	}
}
