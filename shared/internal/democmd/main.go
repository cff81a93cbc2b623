// Command democmd is `make demo`: it starts a real relay, a headless agent
// console and a headless customer client on this machine, joins them with a
// session key, and lets them chat — once on the direct path and once through
// the relay — printing what happens.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	h "github.com/porthole-dev/porthole/shared/internal/harness"
)

func main() {
	p := &h.Program{}
	defer p.Close()
	say := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }

	dir := p.TempDir()
	relayDir := filepath.Join(dir, "relay")
	pw := h.AddAgent(p, relayDir, "Alice", "demo-password-123")
	relay := h.StartRelay(p, relayDir, "127.0.0.1:0")
	say("relay     listening on %s (certificate %s…)", relay.Addr, relay.Fingerprint[:23])

	agent := h.StartAgent(p, relay, "Alice", pw, filepath.Join(dir, "agent"))
	say("agent     Alice signed in to the relay")

	for i, mode := range []string{"direct", "relayed"} {
		say("")
		sid, key, expires := h.NewSession(p, agent)
		say("agent     new session; key %s (valid until %s) — read it to the customer", key, expires.Local().Format("15:04"))
		var extra []string
		if mode == "relayed" {
			extra = []string{"--force-relay"}
		}
		name := []string{"bob", "carol"}[i]
		start := time.Now()
		cust := h.StartCustomer(p, relay, key, filepath.Join(dir, "customer-"+name), append([]string{"--name", name}, extra...)...)
		c := cust.Expect("connected", nil)
		agent.Expect("customer_joined", func(e h.Event) bool { return e.S("session") == sid })
		say("customer  %s typed the key; paired with %s and connected on the %s path in %d ms (end-to-end encrypted)",
			name, c.S("agent"), c.S("path"), time.Since(start).Milliseconds())

		lines := []struct {
			fromAgent bool
			text      string
		}{
			{true, fmt.Sprintf("Hi %s, this is Alice from support. How can I help?", name)},
			{false, "Hi Alice! My printer stopped working after an update."},
			{true, "Let's have a look together. Can you tell me the printer model?"},
			{false, "It's the LaserJet in the hallway."},
		}
		for _, l := range lines {
			if l.fromAgent {
				agent.Send(map[string]any{"cmd": "chat", "session": sid, "text": l.text})
				e := cust.Expect("chat", nil)
				say("  %-7s → %s", e.S("from"), e.S("text"))
			} else {
				cust.Send(map[string]any{"cmd": "chat", "text": l.text})
				e := agent.Expect("chat", func(e h.Event) bool { return e.S("session") == sid })
				say("  %-7s → %s", e.S("from"), e.S("text"))
			}
		}
		agent.Send(map[string]any{"cmd": "status", "session": sid})
		st := agent.Expect("status", func(e h.Event) bool { return e.S("session") == sid })
		rtt := "under 1 ms"
		if ms, _ := st["rtt_ms"].(float64); ms >= 1 {
			rtt = fmt.Sprintf("%.0f ms", ms)
		}
		say("agent     path %s, round trip %s", st.S("path"), rtt)
		agent.Send(map[string]any{"cmd": "end_session", "session": sid})
		cust.Expect("session_ended", nil)
		say("agent     ended the session; %s's client closed", name)
		cust.WaitExit()
	}
	say("")
	say("%s", strings.TrimSpace(`
That was a real relay, agent console and customer client talking over QUIC
on this machine (headless; the desktop windows come with the desktop apps).
Run them yourself: see README.md. Logs and data were in `+dir+` (removed now).`))
	_ = os.Stdout.Sync()
}
