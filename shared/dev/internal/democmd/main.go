// Command democmd is `make demo`. On a desktop it opens both windows: the
// agent console, with a relay running inside it, and a customer client
// already joined to a new session of it, so a newcomer sees a live session
// at once. Without a display (or with -headless) it starts a real relay, a
// headless agent console and a headless customer client, joins them with a
// session key and lets them chat — once on the direct path and once through
// the relay — printing what happens.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	h "github.com/porthole-dev/porthole/shared/dev/internal/harness"
)

func say(format string, args ...any) { fmt.Printf(format+"\n", args...) }

func main() {
	headlessOnly := flag.Bool("headless", false, "run the headless demo even when there is a display")
	flag.Parse()
	p := &h.Program{}
	defer p.Close()
	if os.Getenv("DISPLAY") != "" && !*headlessOnly {
		windows(p)
		return
	}
	say("No display here, so the demo runs headless (on a desktop, make demo opens both windows).")
	say("")
	headless(p)
}

// windows opens the agent console and a joined customer client and waits
// until both are closed.
func windows(p *h.Program) {
	dir := p.TempDir()
	h.Timeout = 2 * time.Minute // a cold desktop can be slow to open windows
	w := h.StartWindows(p, dir, "Alice", "bob@"+hostname())
	say("%s", strings.TrimSpace(fmt.Sprintf(`
Two windows are open on this desktop:
  - the agent console, signed in as Alice, with a relay running inside it
    (%s, certificate %s…);
  - a customer client that joined session key %s and is connected
    end to end.
Chat in either window; start more sessions with "New session" (customers on
this machine join with: porthole-customer --relay %s --relay-fingerprint %s).
Close both windows, or press Ctrl-C, to end the demo. Its data is in %s and
is removed at the end.`, w.Relay, w.Pin[:23], w.Key, w.Relay, w.Pin, dir)))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	agentOpen, customerOpen := w.Agent.Done(), w.Customer.Done()
	for agentOpen != nil || customerOpen != nil {
		select {
		case <-agentOpen:
			agentOpen = nil
		case <-customerOpen:
			customerOpen = nil
		case <-sig:
			say("")
			say("Ctrl-C: closing both windows.")
			return
		}
	}
	say("Both windows are closed; the demo is over.")
}

func hostname() string {
	n, err := os.Hostname()
	if err != nil || n == "" {
		return "laptop"
	}
	return n
}

// headless runs the relay, agent and customer without windows.
func headless(p *h.Program) {

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
		// A file, agent to customer: offered, accepted, checked, in place.
		notes := filepath.Join(dir, fmt.Sprintf("printer-fix-%s.txt", name))
		os.WriteFile(notes, []byte("1. Open Settings > Printers.\n2. Remove the LaserJet.\n3. Add it again.\n"), 0o644)
		agent.Send(map[string]any{"cmd": "send_file", "session": sid, "path": notes})
		offer := cust.Expect("file_offer", nil)
		say("agent     offers %s (%d bytes); the customer accepts it", offer.S("name"), int(offer["size"].(float64)))
		cust.Send(map[string]any{"cmd": "answer_offer", "id": offer.S("id"), "decision": "accept"})
		done := cust.Expect("file_done", func(e h.Event) bool { return e.S("id") == offer.S("id") })
		agent.Expect("file_done", func(e h.Event) bool { return e.S("id") == offer.S("id") })
		say("customer  received %s, SHA-256 checked (%s…), in %s", done.S("name"), done.S("sha256")[:12], filepath.Dir(done.S("path")))

		agent.Send(map[string]any{"cmd": "status", "session": sid})
		st := agent.Expect("status", func(e h.Event) bool { return e.S("session") == sid })
		rtt := "under 1 ms"
		if ms, _ := st["rtt_ms"].(float64); ms >= 1 {
			rtt = fmt.Sprintf("%.0f ms", ms)
		}
		say("agent     path %s, round trip %s", st.S("path"), rtt)
		agent.Send(map[string]any{"cmd": "end_session", "session": sid})
		cust.Expect("session_ended", nil)
		// The client asks whether to keep what arrived in the session.
		kept := cust.Expect("session_files", nil)
		cust.Send(map[string]any{"cmd": "delete_files"})
		cust.Expect("files_deleted", nil)
		say("agent     ended the session; %s deleted the session's %d file and the client closed", name, int(kept["count"].(float64)))
		cust.WaitExit()
	}
	say("")
	say("%s", strings.TrimSpace(`
That was a real relay, agent console and customer client talking over QUIC
on this machine, without their windows.
Run them yourself: see README.md. Logs and data were in `+dir+` (removed now).`))
	_ = os.Stdout.Sync()
}
