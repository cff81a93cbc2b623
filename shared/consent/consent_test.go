package consent_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/session"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

const sessionID = "0123456789abcdef0123456789abcdef"

// customer is the customer's consent service on its router.
type customer struct {
	r      *session.Router
	g      *consent.Giver
	events chan consent.Event
}

func newCustomer(t *testing.T, kinds ...string) *customer {
	t.Helper()
	c := &customer{r: session.New(session.Config{Session: sessionID}), events: make(chan consent.Event, 32)}
	c.g = consent.NewGiver(c.r, consent.GiverConfig{Kinds: kinds, Events: func(ev consent.Event) { c.events <- ev },
		Needs: map[string]string{consent.KindControl: consent.KindScreen}})
	t.Cleanup(func() { c.r.Close("test over") })
	return c
}

// agent is one agent's consent service on its router, linked to the
// customer.
type agent struct {
	name   string
	r      *session.Router
	a      *consent.Asker
	link   *peer.Link // to the customer
	events chan consent.Event
}

func newAgent(t *testing.T, c *customer, name string) *agent {
	t.Helper()
	a := &agent{name: name, r: session.New(session.Config{Session: sessionID}), events: make(chan consent.Event, 32)}
	a.a = consent.NewAsker(a.r, func(ev consent.Event) { a.events <- ev })
	t.Cleanup(func() { a.r.Close("test over") })
	la, lc := testpeer.LinkPair(t, name, "bob")
	a.link = la
	a.r.Attach(la)
	c.r.Attach(lc)
	return a
}

func (a *agent) ask(t *testing.T, kind string, timeout time.Duration) string {
	t.Helper()
	req := consent.Request(kind, "to help", timeout)
	if err := a.a.Ask(a.link, req); err != nil {
		t.Fatal(err)
	}
	want(t, a.events, req.Id, consent.StateRequested, "")
	return req.Id
}

func want(t *testing.T, ch <-chan consent.Event, id, state, why string) consent.Event {
	t.Helper()
	ev := testpeer.Receive(t, ch, fmt.Sprintf("%s event", state))
	if ev.ID != id || ev.State != state || ev.Why != why || ev.Session != sessionID {
		t.Fatalf("event %+v, want id %s state %q why %q", ev, id, state, why)
	}
	return ev
}

func TestAllowAndRevoke(t *testing.T) {
	c := newCustomer(t, consent.KindFiles, consent.KindScreen)
	alice := newAgent(t, c, "alice")
	id := alice.ask(t, consent.KindScreen, time.Minute)
	ev := want(t, c.events, id, consent.StateRequested, "")
	if ev.Peer != "alice" || ev.Kind != consent.KindScreen || ev.Reason != "to help" || ev.Timeout != time.Minute {
		t.Fatalf("customer's request event %+v", ev)
	}
	if err := c.g.Answer(id, true); err != nil {
		t.Fatal(err)
	}
	want(t, c.events, id, consent.StateAllowed, "")
	want(t, alice.events, id, consent.StateAllowed, "")
	if !c.g.Allowed("alice", consent.KindScreen) || !alice.a.Holds(consent.KindScreen) {
		t.Fatal("the grant is not in force")
	}
	if c.g.Allowed("alice", consent.KindControl) || alice.a.Holds(consent.KindFiles) {
		t.Fatal("a grant covers another kind")
	}
	if gs := c.g.Grants(); len(gs) != 1 || gs[0].ID != id || gs[0].Peer != "alice" {
		t.Fatalf("grants %+v", gs)
	}
	if err := c.g.Answer(id, false); err != consent.ErrUnknown {
		t.Fatalf("a second answer: %v", err)
	}

	if err := c.g.Revoke(id); err != nil {
		t.Fatal(err)
	}
	want(t, c.events, id, consent.StateRevoked, consent.StateRevoked)
	want(t, alice.events, id, consent.StateRevoked, consent.StateRevoked)
	if c.g.Allowed("alice", consent.KindScreen) || alice.a.Holds(consent.KindScreen) || len(c.g.Grants()) != 0 {
		t.Fatal("a revoked grant is still in force")
	}
	if err := c.g.Revoke(id); err != consent.ErrUnknown {
		t.Fatalf("revoking twice: %v", err)
	}
}

func TestDenyTimeoutAndUnsupported(t *testing.T) {
	c := newCustomer(t, consent.KindFiles)
	alice := newAgent(t, c, "alice")
	id := alice.ask(t, consent.KindFiles, time.Minute)
	want(t, c.events, id, consent.StateRequested, "")
	c.g.Answer(id, false)
	want(t, c.events, id, consent.WhyDenied, consent.WhyDenied)
	want(t, alice.events, id, consent.WhyDenied, consent.WhyDenied)

	id = alice.ask(t, consent.KindFiles, time.Millisecond) // raised to MinTimeout
	if ev := want(t, c.events, id, consent.StateRequested, ""); ev.Timeout != consent.MinTimeout {
		t.Fatalf("timeout %v", ev.Timeout)
	}
	want(t, c.events, id, consent.WhyTimeout, consent.WhyTimeout)
	want(t, alice.events, id, consent.WhyTimeout, consent.WhyTimeout)
	if err := c.g.Answer(id, true); err != consent.ErrUnknown {
		t.Fatal("a timed-out request could still be allowed")
	}

	// No service for the kind on this side: denied at once, nobody asked.
	id = alice.ask(t, consent.KindShell, time.Minute)
	want(t, alice.events, id, consent.WhyUnsupported, consent.WhyUnsupported)
	want(t, c.events, id, consent.WhyUnsupported, consent.WhyUnsupported)
	if alice.a.Holds(consent.KindFiles) || alice.a.Holds(consent.KindShell) {
		t.Fatal("holds a grant nobody gave")
	}
}

// A grant given to one agent does not cover another; losing one agent's
// link ends that agent's grants and requests, and only those.
func TestGrantsArePerAgentAndEndWithTheLink(t *testing.T) {
	c := newCustomer(t, consent.KindFiles, consent.KindScreen)
	alice, carol := newAgent(t, c, "alice"), newAgent(t, c, "carol")
	aliceID := alice.ask(t, consent.KindScreen, time.Minute)
	want(t, c.events, aliceID, consent.StateRequested, "")
	c.g.Answer(aliceID, true)
	want(t, c.events, aliceID, consent.StateAllowed, "")
	want(t, alice.events, aliceID, consent.StateAllowed, "")
	if c.g.Allowed("carol", consent.KindScreen) || carol.a.Holds(consent.KindScreen) {
		t.Fatal("alice's grant covers carol")
	}
	carolID := carol.ask(t, consent.KindScreen, time.Minute)
	want(t, c.events, carolID, consent.StateRequested, "")
	c.g.Answer(carolID, true)
	want(t, c.events, carolID, consent.StateAllowed, "")
	want(t, carol.events, carolID, consent.StateAllowed, "")
	openID := carol.ask(t, consent.KindFiles, time.Minute)
	want(t, c.events, openID, consent.StateRequested, "")

	// A forged answer from alice for carol's request changes nothing.
	alice.link.Send(&pb.PeerMsg{Body: &pb.PeerMsg_PermissionAnswer{PermissionAnswer: &pb.PermissionAnswer{Id: openID, Allowed: true}}})

	carol.link.Close(peer.CodeNoError, "gone")
	got := map[string]string{}
	for range 2 {
		ev := testpeer.Receive(t, c.events, "the customer's end of carol's request and grant")
		got[ev.ID] = ev.State + "/" + ev.Why
	}
	if got[carolID] != "revoked/disconnected" || got[openID] != "disconnected/disconnected" {
		t.Fatalf("customer's events %v", got)
	}
	if c.g.Allowed("carol", consent.KindScreen) {
		t.Fatal("carol's grant outlived her link")
	}
	if !c.g.Allowed("alice", consent.KindScreen) || !alice.a.Holds(consent.KindScreen) {
		t.Fatal("losing carol's link ended alice's grant")
	}
	if gs := c.g.Grants(); len(gs) != 1 || gs[0].Peer != "alice" {
		t.Fatalf("grants %+v", gs)
	}
}

// Ending the session denies what is open and ends every grant; the agents
// hear both.
func TestEnd(t *testing.T) {
	c := newCustomer(t, consent.KindFiles, consent.KindScreen)
	alice := newAgent(t, c, "alice")
	granted := alice.ask(t, consent.KindScreen, time.Minute)
	want(t, c.events, granted, consent.StateRequested, "")
	c.g.Answer(granted, true)
	want(t, c.events, granted, consent.StateAllowed, "")
	want(t, alice.events, granted, consent.StateAllowed, "")
	open := alice.ask(t, consent.KindFiles, time.Hour)
	want(t, c.events, open, consent.StateRequested, "")
	c.g.End()
	want(t, alice.events, open, consent.WhyEnded, consent.WhyEnded)
	want(t, alice.events, granted, consent.StateRevoked, consent.WhyEnded)
	if c.g.Allowed("alice", consent.KindScreen) || alice.a.Holds(consent.KindScreen) {
		t.Fatal("a grant outlived the session")
	}
}

func TestTimeoutBounds(t *testing.T) {
	if consent.TimeoutOf(&pb.PermissionRequest{TimeoutMs: int64(time.Hour / time.Millisecond)}) != consent.MaxTimeout ||
		consent.TimeoutOf(&pb.PermissionRequest{}) != consent.DefaultTimeout {
		t.Fatal("timeout bounds")
	}
}

// An agent's session that ends ends what it asked and holds, as ended, not
// as a lost connection.
func TestAskerEnd(t *testing.T) {
	c := newCustomer(t, consent.KindFiles, consent.KindScreen)
	alice := newAgent(t, c, "alice")
	granted := alice.ask(t, consent.KindScreen, time.Minute)
	want(t, c.events, granted, consent.StateRequested, "")
	c.g.Answer(granted, true)
	want(t, alice.events, granted, consent.StateAllowed, "")
	open := alice.ask(t, consent.KindFiles, time.Hour)
	alice.a.End()
	got := map[string]string{}
	for range 2 {
		ev := testpeer.Receive(t, alice.events, "the end of a request or grant")
		got[ev.ID] = ev.State + "/" + ev.Why
	}
	if got[granted] != "revoked/ended" || got[open] != "ended/ended" {
		t.Fatalf("events %v", got)
	}
	if alice.a.Holds(consent.KindScreen) {
		t.Fatal("a grant outlived the session")
	}
}

// Control needs the screen: asked without it, it is denied at once; once
// the screen's grant is revoked, control's goes with it.
func TestControlNeedsScreen(t *testing.T) {
	c := newCustomer(t, consent.KindScreen, consent.KindControl)
	alice := newAgent(t, c, "alice")
	needs := consent.WhyNeeds + consent.KindScreen

	early := alice.ask(t, consent.KindControl, time.Minute)
	want(t, c.events, early, needs, needs)
	want(t, alice.events, early, needs, needs)

	view := alice.ask(t, consent.KindScreen, time.Minute)
	want(t, c.events, view, consent.StateRequested, "")
	c.g.Answer(view, true)
	want(t, c.events, view, consent.StateAllowed, "")
	want(t, alice.events, view, consent.StateAllowed, "")

	ctl := alice.ask(t, consent.KindControl, time.Minute)
	want(t, c.events, ctl, consent.StateRequested, "")
	c.g.Answer(ctl, true)
	want(t, c.events, ctl, consent.StateAllowed, "")
	want(t, alice.events, ctl, consent.StateAllowed, "")
	if !c.g.Allowed("alice", consent.KindControl) {
		t.Fatal("control not allowed after the grant")
	}

	if err := c.g.Revoke(view); err != nil {
		t.Fatal(err)
	}
	// Control ends first: no input goes in after the screen has gone.
	want(t, c.events, ctl, consent.StateRevoked, consent.StateRevoked)
	want(t, c.events, view, consent.StateRevoked, consent.StateRevoked)
	want(t, alice.events, ctl, consent.StateRevoked, consent.StateRevoked)
	want(t, alice.events, view, consent.StateRevoked, consent.StateRevoked)
	if c.g.Allowed("alice", consent.KindControl) || alice.a.Holds(consent.KindControl) {
		t.Fatal("control outlived the screen's grant")
	}

	// Asked while the screen was granted, answered after it was taken back:
	// no.
	view = alice.ask(t, consent.KindScreen, time.Minute)
	want(t, c.events, view, consent.StateRequested, "")
	c.g.Answer(view, true)
	want(t, c.events, view, consent.StateAllowed, "")
	want(t, alice.events, view, consent.StateAllowed, "")
	ctl = alice.ask(t, consent.KindControl, time.Minute)
	want(t, c.events, ctl, consent.StateRequested, "")
	c.g.Revoke(view)
	want(t, c.events, view, consent.StateRevoked, consent.StateRevoked)
	c.g.Answer(ctl, true)
	want(t, c.events, ctl, needs, needs)
	want(t, alice.events, view, consent.StateRevoked, consent.StateRevoked)
	want(t, alice.events, ctl, needs, needs)
}

// A grant taken back the moment it is given is told in that order:
// "allowed", then "revoked", never the other way round.
func TestAllowedIsToldBeforeItsRevocation(t *testing.T) {
	c := newCustomer(t, consent.KindScreen)
	alice := newAgent(t, c, "alice")
	for range 30 {
		id := alice.ask(t, consent.KindScreen, time.Minute)
		want(t, c.events, id, consent.StateRequested, "")
		done := make(chan struct{})
		go func() { // revokes as soon as there is something to revoke
			defer close(done)
			for c.g.RevokeKind(consent.KindScreen) == 0 {
			}
		}()
		c.g.Answer(id, true)
		<-done
		want(t, c.events, id, consent.StateAllowed, "")
		want(t, c.events, id, consent.StateRevoked, consent.StateRevoked)
		want(t, alice.events, id, consent.StateAllowed, "")
		want(t, alice.events, id, consent.StateRevoked, consent.StateRevoked)
	}
}
