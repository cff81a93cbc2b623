package e2e

import (
	"testing"

	h "github.com/porthole-dev/porthole/shared/dev/internal/harness"
)

// TestPermissionRequests: what this build has no service for (a shell
// comes with its own; files are answered one by one) the agent does not
// ask for: it is refused with bad_request and the customer is never asked.
// The customer's list of grants is empty, and revoking an unknown one is
// not_found. (The screen and control are asked for in screen_test.go.)
func TestPermissionRequests(t *testing.T) {
	w := newWorld(t)
	agent := w.agent(t)
	sid, cust, _ := pair(t, w, agent, "direct")
	for _, kind := range []string{"shell", "files"} {
		agent.Send(map[string]any{"cmd": "request_permission", "session": sid, "kind": kind})
		if e := agent.Expect("error", nil); e.S("code") != "bad_request" {
			t.Fatalf("asking for %s: %v", kind, e)
		}
	}
	cust.Send(map[string]any{"cmd": "grants"})
	if e := cust.Expect("grants_end", nil); e["count"].(float64) != 0 {
		t.Fatalf("grants: %v", e)
	}
	cust.Send(map[string]any{"cmd": "revoke_permission", "id": "0123456789abcdef01234567"})
	if e := cust.Expect("error", nil); e.S("code") != "not_found" {
		t.Fatalf("revoking nothing: %v", e)
	}
	// Chat still works: nothing above broke the session.
	agent.Send(map[string]any{"cmd": "chat", "session": sid, "text": "still here"})
	cust.Expect("chat", func(e h.Event) bool { return e.S("text") == "still here" })
	if len(cust.Events()) > 0 {
		for _, e := range cust.Events() {
			if e.Name() == "permission_request" {
				t.Fatalf("the customer was asked: %v", e)
			}
		}
	}
}
