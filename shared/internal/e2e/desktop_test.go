package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	h "github.com/porthole-dev/porthole/shared/internal/harness"
)

// needDisplay skips unless an X display and xdotool are there (make test
// runs the end-to-end tests under xvfb-run).
func needDisplay(t *testing.T) {
	t.Helper()
	if os.Getenv("DISPLAY") == "" {
		t.Skip("needs an X display: run under xvfb-run (make test does)")
	}
	if _, err := exec.LookPath("xdotool"); err != nil {
		t.Skip("needs xdotool")
	}
}

func xdotool(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "xdotool", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("xdotool %q: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestDesktopCustomerChat runs the customer client as a real window: it
// joins with the key it was started with, shows the agent's line, and what
// a person types into it (real X key events) reaches the agent.
func TestDesktopCustomerChat(t *testing.T) {
	needDisplay(t)
	w := newWorld(t)
	agent := w.agent(t)
	sid, key, _ := h.NewSession(t, agent)
	h.Start(t, "customer window", filepath.Join(h.Binaries(t), "porthole-customer"),
		"--relay", w.relay.Addr, "--relay-fingerprint", w.relay.Fingerprint,
		"--key", key, "--name", "bob", "--data", filepath.Join(t.TempDir(), "customer"))
	agent.Expect("customer_joined", func(e h.Event) bool { return e.S("session") == sid })
	agent.Send(map[string]any{"cmd": "chat", "session": sid, "text": "Hi, this is Alice from support."})

	// The title says who is helping once the session screen is up; its
	// message entry has the keyboard focus.
	xdotool(t, "search", "--sync", "--name", "alice is helping you")
	xdotool(t, "type", "--delay", "20", "Typed in the window")
	xdotool(t, "key", "Return")
	e := agent.Expect("chat", func(e h.Event) bool { return e.S("session") == sid })
	if e.S("text") != "Typed in the window" || e.S("from") != "bob" {
		t.Fatalf("agent got %v", e)
	}
	if dir := os.Getenv("PORTHOLE_SHOTS"); dir != "" {
		time.Sleep(300 * time.Millisecond) // let the window draw the line before the picture
		exec.Command("import", "-window", "root", filepath.Join(dir, "customer-session.png")).Run()
	}
}

// TestDesktopBothWindows runs the real relay and both real windows. The
// customer types the key into their window and a line into it; the agent
// types a line into the console window; each side receives the other's
// line. Key presses are real X events (xdotool).
func TestDesktopBothWindows(t *testing.T) {
	needDisplay(t)
	w := newWorld(t)
	agent := h.Start(t, "agent window", filepath.Join(h.Binaries(t), "porthole-agent"),
		"--relay", w.relay.Addr, "--relay-fingerprint", w.relay.Fingerprint,
		"--name", "alice", "--password-file", w.pwFile, "--data", w.agentDir,
		"--new-session", "--events", "-")
	agent.Expect("ready", nil)
	e := agent.Expect("session_key", nil)
	sid, key := e.S("session"), e.S("key")

	customer := h.Start(t, "customer window", filepath.Join(h.Binaries(t), "porthole-customer"),
		"--relay", w.relay.Addr, "--relay-fingerprint", w.relay.Fingerprint,
		"--name", "bob@laptop", "--data", filepath.Join(t.TempDir(), "customer"), "--events", "-")
	// The key entry has the focus when the window opens; it formats what
	// is typed, so the digits alone are enough.
	win := strings.TrimSpace(xdotool(t, "search", "--sync", "--onlyvisible", "--name", "^Porthole support$"))
	xdotool(t, "windowfocus", "--sync", win)
	xdotool(t, "type", "--delay", "30", strings.ReplaceAll(key, "-", ""))
	xdotool(t, "key", "Return")
	agent.Expect("customer_joined", func(e h.Event) bool { return e.S("session") == sid && e.S("name") == "bob@laptop" })
	customer.Expect("connected", nil)

	// The console brings the joined session to the front with its chat
	// input focused.
	console := strings.TrimSpace(xdotool(t, "search", "--sync", "--onlyvisible", "--name", "Porthole Console$"))
	xdotool(t, "windowfocus", "--sync", console)
	time.Sleep(200 * time.Millisecond) // the focus change reaches the window
	xdotool(t, "type", "--delay", "20", "Hi Bob, Alice here.")
	xdotool(t, "key", "Return")
	got := customer.Expect("chat", nil)
	if got.S("text") != "Hi Bob, Alice here." || got.S("from") != "alice" {
		t.Fatalf("customer got %v", got)
	}

	xdotool(t, "windowfocus", "--sync", win)
	time.Sleep(200 * time.Millisecond)
	xdotool(t, "type", "--delay", "20", "Thanks, my printer is stuck.")
	xdotool(t, "key", "Return")
	got = agent.Expect("chat", func(e h.Event) bool { return e.S("session") == sid })
	if got.S("text") != "Thanks, my printer is stuck." || got.S("from") != "bob@laptop" {
		t.Fatalf("agent got %v", got)
	}
}
