package e2e

import (
	"testing"

	h "github.com/porthole-dev/porthole/shared/dev/internal/harness"
)

// TestPermissionRequests: the agent asks, the customer answers yes or no,
// an unanswered request is denied when its time runs out, and ending the
// session denies what is still open.
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

	id := ask("screen", 60000)
	cust.Send(map[string]any{"cmd": "answer_permission", "id": id, "allow": true})
	answered(id, "allowed")

	id = ask("control", 60000)
	cust.Send(map[string]any{"cmd": "answer_permission", "id": id, "allow": false})
	answered(id, "denied")

	id = ask("shell", 1000) // nobody answers
	answered(id, "timeout")
	cust.Send(map[string]any{"cmd": "answer_permission", "id": id, "allow": true}) // too late
	if e := cust.Expect("error", nil); e.S("code") != "not_found" {
		t.Fatalf("late answer: %v", e)
	}

	id = ask("files", 60000)
	cust.Send(map[string]any{"cmd": "end"})
	answered(id, "ended")
}
