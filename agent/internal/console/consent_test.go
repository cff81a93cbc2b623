package console

import (
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

func permission(id, state string) func(headless.Event) bool {
	return func(e headless.Event) bool { return e.ID == id && e.State == state }
}

// A console asks only for what a service of it acts on (none in this
// build; a test gives it a kind); the customer's grant reaches it as a
// permission event, holds while the connection does, and ends as revoked
// when the customer takes it back or the connection ends.
func TestPermissionsAndGrants(t *testing.T) {
	w := startConsole(t, false, func(c *Config) { c.Requestable = []string{consent.KindScreen} })
	sid, key := w.newSession(t)
	c := testpeer.JoinCustomer(t, testpeer.CustomerOptions{Relay: w.addr, Fingerprint: w.fp, Key: key})
	asked := make(chan consent.Event, 8)
	give := consent.NewGiver(c.Router, consent.GiverConfig{Kinds: []string{consent.KindScreen}, Events: func(ev consent.Event) {
		if ev.State == consent.StateRequested {
			asked <- ev
		}
	}})
	w.ev.Expect(t, "customer_joined", inSession(sid))

	for _, kind := range []string{consent.KindFiles, consent.KindShell, "anything"} {
		if _, err := w.con.RequestPermission(sid, kind, "", 0); err == nil || asError(err).Code != "bad_request" {
			t.Fatalf("asking for %s: %v", kind, err)
		}
	}
	id, err := w.con.RequestPermission(sid, consent.KindScreen, "to look at the printer settings", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	w.ev.Expect(t, "permission", permission(id, "requested"))
	if ev := testpeer.Receive(t, asked, "the request at the customer"); ev.ID != id || ev.Reason != "to look at the printer settings" || ev.Peer != testpeer.AgentName {
		t.Fatalf("the customer got %+v", ev)
	}
	give.Answer(id, true)
	w.ev.Expect(t, "permission", permission(id, "allowed"))
	if !w.con.Holds(sid, consent.KindScreen) || w.con.Holds(sid, consent.KindControl) {
		t.Fatal("the console does not hold what was granted, or holds more")
	}
	give.Revoke(id)
	if e := w.ev.Expect(t, "permission", permission(id, "revoked")); e.Reason != "revoked" || e.Kind != consent.KindScreen {
		t.Fatalf("revoked event %+v", e)
	}
	if w.con.Holds(sid, consent.KindScreen) {
		t.Fatal("a revoked grant still holds")
	}

	// A grant ends with the connection it was given on.
	id, _ = w.con.RequestPermission(sid, consent.KindScreen, "", time.Minute)
	testpeer.Receive(t, asked, "the second request")
	give.Answer(id, true)
	w.ev.Expect(t, "permission", permission(id, "allowed"))
	c.Link.Close(peer.CodeNoError, "network gone")
	if e := w.ev.Expect(t, "permission", permission(id, "revoked")); e.Reason != "disconnected" {
		t.Fatalf("the grant at the link's end: %+v", e)
	}
	if w.con.Holds(sid, consent.KindScreen) {
		t.Fatal("a grant outlived its connection")
	}
}
