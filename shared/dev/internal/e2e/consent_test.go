package e2e

import (
	"testing"

	h "github.com/porthole-dev/porthole/shared/dev/internal/harness"
)

// TestPermissionRequests: the agent asks, the customer answers yes or no,
// an unanswered request is denied when its time runs out, a grant ends when
// the customer takes it back, kinds with no service yet are refused, and
// ending the session denies what is still open and ends what was granted.
func TestPermissionRequests(t *testing.T) {
	w := newWorld(t)
	agent := w.agent(t)
	sid, cust, _ := pair(t, w, agent, "direct")
	ask := func(kind string, timeoutMs int) (id string) {
		agent.Send(map[string]any{"cmd": "request_permission", "session": sid, "kind": kind, "reason": "to fix the printer", "timeout_ms": timeoutMs})
		e := agent.Expect("permission", func(e h.Event) bool { return e.S("kind") == kind && e.S("state") == "requested" })
		r := cust.Expect("permission_request", func(r h.Event) bool { return r.S("id") == e.S("id") })
		if r.S("kind") != kind || r.S("reason") != "to fix the printer" {
			t.Fatalf("customer saw %v", r)
		}
		return e.S("id")
	}
	answered := func(id, state string) {
		t.Helper()
		if e := agent.Expect("permission", func(e h.Event) bool { return e.S("id") == id && e.S("state") != "requested" }); e.S("state") != state {
			t.Fatalf("agent: request %s is %q, want %q", id, e.S("state"), state)
		}
	}

	id := ask("files", 60000)
	cust.Send(map[string]any{"cmd": "answer_permission", "id": id, "allow": true})
	answered(id, "allowed")
	if g := cust.Expect("permission_answered", func(e h.Event) bool { return e.S("id") == id }); g.S("state") != "allowed" || g.S("agent") != "alice" {
		t.Fatalf("customer: %v", g)
	}
	cust.Send(map[string]any{"cmd": "grants"})
	if g := cust.Expect("grant", nil); g.S("id") != id || g.S("kind") != "files" || g.S("agent") != "alice" {
		t.Fatalf("grant: %v", g)
	}
	cust.Expect("grants_end", nil)
	cust.Send(map[string]any{"cmd": "revoke_permission", "id": id})
	cust.Expect("permission_revoked", func(e h.Event) bool { return e.S("id") == id && e.S("reason") == "revoked" })
	if e := agent.Expect("permission", func(e h.Event) bool { return e.S("id") == id }); e.S("state") != "revoked" || e.S("reason") != "revoked" {
		t.Fatalf("agent after the revoke: %v", e)
	}

	id = ask("files", 60000)
	cust.Send(map[string]any{"cmd": "answer_permission", "id": id, "allow": false})
	answered(id, "denied")

	id = ask("files", 1000) // nobody answers
	answered(id, "timeout")
	cust.Send(map[string]any{"cmd": "answer_permission", "id": id, "allow": true}) // too late
	if e := cust.Expect("error", nil); e.S("code") != "not_found" {
		t.Fatalf("late answer: %v", e)
	}

	// What no service of this version acts on is not asked for.
	for _, kind := range []string{"screen", "control", "shell"} {
		agent.Send(map[string]any{"cmd": "request_permission", "session": sid, "kind": kind})
		if e := agent.Expect("error", nil); e.S("code") != "bad_request" {
			t.Fatalf("asking for %s: %v", kind, e)
		}
	}

	granted := ask("files", 60000)
	cust.Send(map[string]any{"cmd": "answer_permission", "id": granted, "allow": true})
	answered(granted, "allowed")
	id = ask("files", 60000)
	cust.Send(map[string]any{"cmd": "end"})
	answered(id, "ended")
	if e := agent.Expect("permission", func(e h.Event) bool { return e.S("id") == granted }); e.S("state") != "revoked" || e.S("reason") != "ended" {
		t.Fatalf("the grant at the end: %v", e)
	}
}
