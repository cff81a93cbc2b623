package fileevent

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/transfer"
)

func line(t *testing.T, e headless.Event) string {
	t.Helper()
	var b bytes.Buffer
	headless.NewWriter(&b).Emit(e)
	return strings.TrimSpace(b.String())
}

func TestFileEvents(t *testing.T) {
	tr := transfer.Transfer{
		ID: "f1", Session: "s1", Dir: transfer.In, Peer: "alice", Name: "a.pdf", Size: 1000,
		ContentType: "application/pdf", State: transfer.Sending, Done: 250,
	}
	done := tr
	done.State, done.Done, done.Path, done.SHA256 = transfer.Done, 1000, "/d/a.pdf", "abcd"
	out := tr
	out.Dir, out.Path, out.State, out.SHA256 = transfer.Out, "", transfer.Done, "abcd"
	refused := tr
	refused.Dir, refused.State, refused.Why = transfer.Out, transfer.Refused, "not_allowed: files of type .exe"
	failed := tr
	failed.State, failed.Why = transfer.Failed, "the receiver could not write the file: the disk is full"
	cancelled := tr
	cancelled.State, cancelled.Why = transfer.Cancelled, "stopped by the sender"
	until := time.Date(2026, 11, 21, 15, 29, 7, 500e6, time.UTC)
	for _, tc := range []struct {
		ev          transfer.Event
		withSession bool
		want        string
	}{
		{transfer.Event{Kind: transfer.EventOffer, Transfer: tr}, true,
			`{"event":"file_offer","session":"s1","name":"a.pdf","id":"f1","from":"alice","size":1000,"dir":"in","content_type":"application/pdf"}`},
		{transfer.Event{Kind: transfer.EventProgress, Transfer: tr, Rate: 1234.6, Left: 1100 * time.Millisecond}, false,
			`{"event":"file_progress","name":"a.pdf","id":"f1","state":"sending","size":1000,"done":250,"rate":1235,"seconds_left":2,"dir":"in"}`},
		{transfer.Event{Kind: transfer.EventProgress, Transfer: transfer.Transfer{ID: "f2", Name: "b", Dir: transfer.Out, State: transfer.Offered}}, false,
			`{"event":"file_progress","name":"b","id":"f2","state":"offered","size":0,"done":0,"dir":"out"}`},
		{transfer.Event{Kind: transfer.EventDone, Transfer: done}, false,
			`{"event":"file_done","path":"/d/a.pdf","name":"a.pdf","id":"f1","size":1000,"dir":"in","sha256":"abcd"}`},
		{transfer.Event{Kind: transfer.EventDone, Transfer: out}, false, // the sender has no saved path
			`{"event":"file_done","name":"a.pdf","id":"f1","size":1000,"dir":"out","sha256":"abcd"}`},
		{transfer.Event{Kind: transfer.EventRefused, Transfer: refused}, false,
			`{"event":"file_refused","name":"a.pdf","id":"f1","reason":"not allowed: files of type .exe","dir":"out"}`},
		{transfer.Event{Kind: transfer.EventFailed, Transfer: failed}, false,
			`{"event":"file_failed","name":"a.pdf","id":"f1","reason":"the receiver could not write the file: the disk is full","dir":"in"}`},
		{transfer.Event{Kind: transfer.EventCancelled, Transfer: cancelled}, false,
			`{"event":"file_cancelled","name":"a.pdf","id":"f1","reason":"stopped by the sender","dir":"in"}`},
		{transfer.Event{Kind: transfer.EventInvite, Session: "s1", Until: until}, true,
			`{"event":"file_invite","session":"s1","expires":"2026-11-21T15:29:07Z"}`},
		{transfer.Event{Kind: transfer.EventInvite, Session: "s1", Until: until}, false,
			`{"event":"file_invite","expires":"2026-11-21T15:29:07Z"}`},
		{transfer.Event{Kind: transfer.EventPolicy, Session: "s1", Policy: transfer.Policy{Enabled: true, Extensions: []string{"pdf"}, MaxSize: 25e6, InvitationRequired: true, Invitation: time.Minute}}, false,
			`{"event":"file_policy","policy":{"enabled":true,"extensions":["pdf"],"max_size":25000000,"invitation_required":true,"invitation_ms":60000}}`},
		{transfer.Event{Kind: transfer.EventPolicy, Policy: transfer.Policy{}}, false,
			`{"event":"file_policy","policy":{"enabled":false}}`},
	} {
		if got := line(t, From(tc.ev, tc.withSession)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.ev.Kind, got, tc.want)
		}
	}
}

func TestFileListEvent(t *testing.T) {
	tr := transfer.Transfer{ID: "f1", Session: "s1", Dir: transfer.In, Peer: "bob", Name: "a", Size: 5, Done: 5,
		State: transfer.Cancelled, Why: "deleted when the session ended", Created: time.Date(2026, 11, 21, 15, 0, 0, 0, time.UTC)}
	want := `{"event":"file","session":"s1","name":"a","id":"f1","at":"2026-11-21T15:00:00Z","reason":"deleted when the session ended","state":"cancelled","size":5,"done":5,"dir":"in","peer":"bob"}`
	if got := line(t, Listed(tr, true)); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

func TestFileErrorCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{transfer.ErrUnknown, "not_found"},
		{fmt.Errorf("%w: files without an invitation", transfer.ErrNotAllowed), "not_allowed"},
		{errors.New("cannot send /x: no such file"), "bad_request"},
	} {
		if got := ErrorCode(tc.err); got != tc.want {
			t.Errorf("ErrorCode(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}
