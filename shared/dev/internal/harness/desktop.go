package harness

import (
	"os"
	"path/filepath"
)

// Windows are an agent console window with the relay inside it and a
// customer window joined to a new session of it.
type Windows struct {
	Agent, Customer *Proc
	Session, Key    string
	Relay, Pin      string // where the console's relay listens, its fingerprint
}

// StartConsole opens the agent console signed in as agent, with a relay
// inside it on loopback and a new session; it prints its events.
func StartConsole(tb TB, dir, agent string) *Windows {
	tb.Helper()
	pw := filepath.Join(dir, "agent-password")
	if err := os.WriteFile(pw, []byte("porthole-demo-password\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	w := &Windows{}
	w.Agent = Start(tb, "agent window", filepath.Join(Binaries(tb), "porthole-agent"),
		"--local-relay", "127.0.0.1:0", "--name", agent, "--password-file", pw,
		"--data", filepath.Join(dir, "agent"), "--downloads", filepath.Join(dir, "agent-downloads"),
		"--new-session", "--events", "-")
	ready := w.Agent.Expect("ready", nil)
	w.Relay, w.Pin = ready.S("relay"), ready.S("fingerprint")
	e := w.Agent.Expect("session_key", nil)
	w.Session, w.Key = e.S("session"), e.S("key")
	return w
}

// Join opens the customer window, started with the session's key, and
// waits until both sides are connected. extra goes to the customer.
func (w *Windows) Join(tb TB, dir, customer string, extra ...string) {
	tb.Helper()
	args := append([]string{"--relay", w.Relay, "--relay-fingerprint", w.Pin, "--key", w.Key,
		"--name", customer, "--data", filepath.Join(dir, "customer"), "--downloads", filepath.Join(dir, "customer-downloads"),
		"--events", "-"}, extra...)
	w.Customer = Start(tb, "customer window", filepath.Join(Binaries(tb), "porthole-customer"), args...)
	w.Customer.Expect("connected", nil)
	w.Agent.Expect("customer_joined", func(e Event) bool { return e.S("session") == w.Session })
}

// StartWindows opens the console (StartConsole) and a customer window
// joined to its session (Join).
func StartWindows(tb TB, dir, agent, customer string, extra ...string) *Windows {
	tb.Helper()
	w := StartConsole(tb, dir, agent)
	w.Join(tb, dir, customer, extra...)
	return w
}
