package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	h "github.com/porthole-dev/porthole/shared/dev/internal/harness"
)

type world struct {
	relay    *h.Relay
	pwFile   string
	agentDir string
}

func newWorld(t *testing.T, relayArgs ...string) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	dir := t.TempDir()
	relayDir := filepath.Join(dir, "relay")
	pw := h.AddAgent(t, relayDir, "alice", "correct horse battery")
	r := h.StartRelay(t, relayDir, "127.0.0.1:0", relayArgs...)
	return &world{relay: r, pwFile: pw, agentDir: filepath.Join(dir, "agent")}
}

func (w *world) agent(t *testing.T, extra ...string) *h.Proc {
	return h.StartAgent(t, w.relay, "alice", w.pwFile, w.agentDir, extra...)
}

func chatFrom(text string) func(h.Event) bool {
	return func(e h.Event) bool { return e.S("text") == text }
}

// pair starts a customer with a new key and waits until both sides report
// the connection; it returns the session id and the customer.
func pair(t *testing.T, w *world, agent *h.Proc, wantPath string, customerArgs ...string) (string, *h.Proc, string) {
	t.Helper()
	sid, key, _ := h.NewSession(t, agent)
	custDir := filepath.Join(t.TempDir(), "customer")
	cust := h.StartCustomer(t, w.relay, key, custDir, append([]string{"--name", "bob"}, customerArgs...)...)
	cust.Expect("relay", func(e h.Event) bool { return e.S("message") == "connected" })
	ce := cust.Expect("connected", nil)
	if ce.S("path") != wantPath || ce.S("agent") != "alice" {
		t.Fatalf("customer connected %v, want path %s from alice", ce, wantPath)
	}
	ae := agent.Expect("customer_joined", func(e h.Event) bool { return e.S("session") == sid })
	if ae.S("path") != wantPath || ae.S("name") != "bob" {
		t.Fatalf("agent saw %v, want path %s and name bob", ae, wantPath)
	}
	return sid, cust, custDir
}

func chatBothWays(t *testing.T, agent, cust *h.Proc, sid, tag string) {
	t.Helper()
	for i := range 3 {
		agent.Send(map[string]any{"cmd": "chat", "session": sid, "text": fmt.Sprintf("%s agent line %d", tag, i)})
	}
	for i := range 3 {
		cust.Send(map[string]any{"cmd": "chat", "text": fmt.Sprintf("%s customer line %d", tag, i)})
	}
	for i := range 3 {
		e := cust.Expect("chat", nil)
		if want := fmt.Sprintf("%s agent line %d", tag, i); e.S("text") != want || e.S("from") != "alice" {
			t.Fatalf("customer got %v, want %q from alice (in order)", e, want)
		}
		if _, err := time.Parse(time.RFC3339Nano, e.S("at")); err != nil {
			t.Fatalf("chat at: %v", err)
		}
	}
	for i := range 3 {
		e := agent.Expect("chat", func(e h.Event) bool { return e.S("session") == sid })
		if want := fmt.Sprintf("%s customer line %d", tag, i); e.S("text") != want || e.S("from") != "bob" {
			t.Fatalf("agent got %v, want %q from bob (in order)", e, want)
		}
	}
}

func TestChatDirect(t *testing.T) {
	w := newWorld(t)
	agent := w.agent(t)
	sid, cust, _ := pair(t, w, agent, "direct")
	chatBothWays(t, agent, cust, sid, "direct")
}

func TestChatForcedRelayCustomer(t *testing.T) {
	w := newWorld(t)
	agent := w.agent(t)
	sid, cust, _ := pair(t, w, agent, "relayed", "--force-relay")
	chatBothWays(t, agent, cust, sid, "relayed")
}

func TestChatForcedRelayAgent(t *testing.T) {
	w := newWorld(t)
	agent := w.agent(t, "--force-relay")
	sid, cust, _ := pair(t, w, agent, "relayed")
	chatBothWays(t, agent, cust, sid, "relayed")
}

func TestWrongSecretFailsBothSidesAndBurnsKey(t *testing.T) {
	w := newWorld(t)
	agent := w.agent(t)
	sid, key, _ := h.NewSession(t, agent)
	// The nameplate and its dash ("1234-5678-"), then a wrong secret.
	wrong := key[:10] + "000-000"
	if wrong == key {
		wrong = key[:10] + "111-111"
	}
	cust := h.StartCustomer(t, w.relay, wrong, t.TempDir())
	e := cust.Expect("error", nil)
	if e.S("code") != "pake_failed" {
		t.Fatalf("customer error %v, want pake_failed", e)
	}
	if code := cust.WaitExit(); code == 0 {
		t.Fatal("customer exited 0 after a failed pairing")
	}
	if e := agent.Expect("error", func(e h.Event) bool { return e.S("session") == sid }); e.S("code") != "pake_failed" {
		t.Fatalf("agent error %v, want pake_failed", e)
	}
	agent.Expect("session_ended", func(e h.Event) bool { return e.S("session") == sid })
	// The right key no longer works: one guess burned it.
	again := h.StartCustomer(t, w.relay, key, t.TempDir())
	if e := again.Expect("error", nil); e.S("code") != "used" {
		t.Fatalf("reusing a burned key: %v, want used", e)
	}
}

func TestExpiredKey(t *testing.T) {
	w := newWorld(t, "--key-lifetime", "1s")
	agent := w.agent(t)
	_, key, expires := h.NewSession(t, agent)
	time.Sleep(time.Until(expires) + 1100*time.Millisecond) // "expires" is whole seconds; let the wall clock pass it
	cust := h.StartCustomer(t, w.relay, key, t.TempDir())
	if e := cust.Expect("error", nil); e.S("code") != "expired" {
		t.Fatalf("expired key: %v, want expired", e)
	}
	if code := cust.WaitExit(); code == 0 {
		t.Fatal("customer exited 0 with an expired key")
	}
}

func TestReusedKey(t *testing.T) {
	w := newWorld(t)
	agent := w.agent(t)
	sid, key, _ := h.NewSession(t, agent)
	first := h.StartCustomer(t, w.relay, key, t.TempDir())
	first.Expect("connected", nil)
	agent.Expect("customer_joined", func(e h.Event) bool { return e.S("session") == sid })
	second := h.StartCustomer(t, w.relay, key, t.TempDir())
	if e := second.Expect("error", nil); e.S("code") != "used" {
		t.Fatalf("second use of a key: %v, want used", e)
	}
	if code := second.WaitExit(); code == 0 {
		t.Fatal("second customer exited 0")
	}
}

func TestUnknownKeyAndUnreachableRelay(t *testing.T) {
	w := newWorld(t)
	cust := h.StartCustomer(t, w.relay, "0000-0000-123-456", t.TempDir())
	if e := cust.Expect("error", nil); e.S("code") != "bad_key" && e.S("code") != "used" && e.S("code") != "expired" {
		t.Fatalf("unknown key: %v, want bad_key", e)
	}
	cust.WaitExit()

	w.relay.Kill()
	gone := h.StartCustomer(t, w.relay, "1234-5678-123-456", t.TempDir())
	if e := gone.Expect("error", nil); e.S("code") != "relay_unreachable" {
		t.Fatalf("relay down: %v, want relay_unreachable", e)
	}
	if code := gone.WaitExit(); code == 0 {
		t.Fatal("customer exited 0 without a relay")
	}
}

func TestRelayKilledDuringDirectSession(t *testing.T) {
	w := newWorld(t)
	agent := w.agent(t)
	sid, cust, _ := pair(t, w, agent, "direct")
	chatBothWays(t, agent, cust, sid, "before")
	w.relay.Kill()
	chatBothWays(t, agent, cust, sid, "relay gone")
}

func TestRelayRestartedClientsComeBack(t *testing.T) {
	for _, mode := range []string{"direct", "relayed"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t)
			agent := w.agent(t)
			var args []string
			if mode == "relayed" {
				args = []string{"--force-relay"}
			}
			sid, cust, _ := pair(t, w, agent, mode, args...)
			w.relay.Kill()
			w.relay.Restart(t)
			// The restarted relay answers the old connections with
			// stateless resets, so both clients notice and come back.
			isDown := func(e h.Event) bool { return e.S("message") == "disconnected" }
			isUp := func(e h.Event) bool { return e.S("message") == "connected" }
			agent.Expect("relay", isDown)
			agent.Expect("relay", isUp)
			cust.Expect("relay", isDown)
			cust.Expect("relay", isUp)
			// On the relayed path the peers' QUIC connection either
			// survived (the relay reloads the session's channel) or is
			// made again; either way, chat flows.
			chatBothWays(t, agent, cust, sid, "after restart")
			// New sessions work on the restarted relay too.
			sid2, cust2, _ := pair(t, w, agent, mode, args...)
			chatBothWays(t, agent, cust2, sid2, "new session")
		})
	}
}

func TestCustomerRestartRejoins(t *testing.T) {
	w := newWorld(t)
	agent := w.agent(t)
	sid, cust, custDir := pair(t, w, agent, "direct")
	chatBothWays(t, agent, cust, sid, "first run")
	cust.Kill()
	agent.Expect("customer_left", func(e h.Event) bool { return e.S("session") == sid })
	// Lines said while the customer is away are delivered when it is back.
	agent.Send(map[string]any{"cmd": "chat", "session": sid, "text": "are you there?"})
	again := h.StartCustomer(t, w.relay, "", custDir, "--name", "bob")
	again.Expect("connected", nil)
	agent.Expect("customer_joined", func(e h.Event) bool { return e.S("session") == sid })
	again.Expect("chat", chatFrom("are you there?"))
	chatBothWays(t, agent, again, sid, "second run")

	// The history of both runs is there, in order, after the restart.
	again.Send(map[string]any{"cmd": "history"})
	end := again.Expect("history_end", nil)
	if n, _ := end["count"].(float64); n != 13 {
		t.Fatalf("customer history has %v lines, want 13 (6 + 1 + 6)", end["count"])
	}
	// Each side stores lines in the order it saw them; per sender, that is
	// the order they were said.
	var fromAgent, fromCustomer []string
	for range 13 {
		e := again.Expect("history", nil)
		switch {
		case e.S("from") == "alice" && e.S("state") == "received":
			fromAgent = append(fromAgent, e.S("text"))
		case e.S("from") == "bob" && e.S("state") == "sent":
			fromCustomer = append(fromCustomer, e.S("text"))
		default:
			t.Fatalf("history line %v", e)
		}
	}
	wantAgent := []string{"first run agent line 0", "first run agent line 1", "first run agent line 2", "are you there?",
		"second run agent line 0", "second run agent line 1", "second run agent line 2"}
	if fmt.Sprint(fromAgent) != fmt.Sprint(wantAgent) || len(fromCustomer) != 6 || fromCustomer[5] != "second run customer line 2" {
		t.Fatalf("history from the agent %q, from the customer %q", fromAgent, fromCustomer)
	}
	agent.Send(map[string]any{"cmd": "history", "session": sid})
	if e := agent.Expect("history_end", nil); e["count"].(float64) != 13 {
		t.Fatalf("agent history: %v", e)
	}
}

func TestAgentRestartReattaches(t *testing.T) {
	w := newWorld(t)
	agent := w.agent(t)
	sid, cust, _ := pair(t, w, agent, "direct")
	agent.Kill()
	// Written before the customer can know the agent's app is gone: it is
	// delivered once the new app is connected.
	cust.Send(map[string]any{"cmd": "chat", "text": "hello? anyone?"})
	agent2 := w.agent(t)
	agent2.Expect("customer_joined", func(e h.Event) bool { return e.S("session") == sid })
	agent2.Expect("chat", chatFrom("hello? anyone?"))
	cust.Expect("connected", nil)
	chatBothWays(t, agent2, cust, sid, "after agent restart")
}

func TestAgentEndsSession(t *testing.T) {
	w := newWorld(t)
	agent := w.agent(t)
	sid, cust, custDir := pair(t, w, agent, "direct")
	agent.Send(map[string]any{"cmd": "end_session", "session": sid})
	agent.Expect("session_ended", func(e h.Event) bool { return e.S("session") == sid })
	cust.Expect("session_ended", nil)
	if code := cust.WaitExit(); code != 0 {
		t.Fatalf("customer exit code %d after the agent ended the session", code)
	}
	// The stored session is over: a restart without a key has nothing to resume.
	again := h.StartCustomer(t, w.relay, "", custDir)
	if e := again.Expect("error", nil); e.S("code") != "bad_key" {
		t.Fatalf("restart after end: %v", e)
	}
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}
