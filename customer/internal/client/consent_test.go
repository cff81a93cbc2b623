package client

import (
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

// The client asks its person only about what a service of it acts on
// (none in this build; a test gives it a kind) and refuses the rest without
// asking; what the person allows is listed until taken back, and the agent
// hears of both.
func TestPermissionRequestsAndGrants(t *testing.T) {
	w := newWorld(t, false)
	c, ev, _ := w.start(t, t.TempDir(), w.agent.Key, false, func(c *Config) { c.Grantable = []string{consent.KindScreen} })
	w.expectConnected(t, ev, "direct")
	agentEvents := make(chan consent.Event, 16)
	ask := consent.NewAsker(w.agent.Router, func(e consent.Event) { agentEvents <- e })
	l := w.agent.Router.Only()
	agentState := func(id, state string) consent.Event {
		t.Helper()
		for {
			e := testpeer.Receive(t, agentEvents, "the agent's "+state)
			if e.ID == id && e.State == state {
				return e
			}
		}
	}

	shell := consent.Request(consent.KindShell, "", time.Minute)
	ask.Ask(l, shell)
	agentState(shell.Id, consent.WhyUnsupported)
	if ev.Seen("permission_request") {
		t.Fatal("the person was asked about a kind with no service")
	}

	req := consent.Request(consent.KindScreen, "to see the error", time.Minute)
	ask.Ask(l, req)
	r := ev.Expect(t, "permission_request", func(e headless.Event) bool { return e.ID == req.Id })
	if r.Kind != consent.KindScreen || r.Reason != "to see the error" || r.Agent != testpeer.AgentName || r.TimeoutMs != 60000 {
		t.Fatalf("permission_request %+v", r)
	}
	if err := c.AnswerPermission(req.Id, true); err != nil {
		t.Fatal(err)
	}
	if a := ev.Expect(t, "permission_answered", func(e headless.Event) bool { return e.ID == req.Id }); a.State != "allowed" || a.Agent != testpeer.AgentName {
		t.Fatalf("permission_answered %+v", a)
	}
	agentState(req.Id, consent.StateAllowed)
	if gs := c.Grants(); len(gs) != 1 || gs[0].ID != req.Id || gs[0].Kind != consent.KindScreen {
		t.Fatalf("grants %+v", gs)
	}
	if err := c.RevokePermission(req.Id); err != nil {
		t.Fatal(err)
	}
	if e := ev.Expect(t, "permission_revoked", func(e headless.Event) bool { return e.ID == req.Id }); e.Reason != "revoked" {
		t.Fatalf("permission_revoked %+v", e)
	}
	agentState(req.Id, consent.StateRevoked)
	if len(c.Grants()) != 0 || ask.Holds(consent.KindScreen) {
		t.Fatal("a revoked grant is still listed or held")
	}
	if err := c.RevokePermission(req.Id); err == nil || asError(err).Code != "not_found" {
		t.Fatalf("revoking twice: %v", err)
	}
}
