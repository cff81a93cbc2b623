package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	h "github.com/porthole-dev/porthole/shared/dev/internal/harness"
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
	h.TypeInto(t, h.FindWindow(t, "alice is helping you"), "Typed in the window", true)
	e := agent.Expect("chat", func(e h.Event) bool { return e.S("session") == sid })
	if e.S("text") != "Typed in the window" || e.S("from") != "bob" {
		t.Fatalf("agent got %v", e)
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
	win := h.FindWindow(t, "^Porthole support$")
	h.TypeInto(t, win, strings.ReplaceAll(key, "-", ""), true)
	agent.Expect("customer_joined", func(e h.Event) bool { return e.S("session") == sid && e.S("name") == "bob@laptop" })
	customer.Expect("connected", nil)

	// The console brings the joined session to the front with its chat
	// input focused.
	h.TypeInto(t, h.FindWindow(t, "Porthole Console$"), "Hi Bob, Alice here.", true)
	got := customer.Expect("chat", nil)
	if got.S("text") != "Hi Bob, Alice here." || got.S("from") != "alice" {
		t.Fatalf("customer got %v", got)
	}

	h.TypeInto(t, win, "Thanks, my printer is stuck.", true)
	got = agent.Expect("chat", func(e h.Event) bool { return e.S("session") == sid })
	if got.S("text") != "Thanks, my printer is stuck." || got.S("from") != "bob@laptop" {
		t.Fatalf("agent got %v", got)
	}
}

// TestDesktopDropFileAndAccept drops a file on the real console window (a
// real XDND drag from another X client), and the customer accepts it in the
// real customer window with the keyboard: the file arrives whole.
func TestDesktopDropFileAndAccept(t *testing.T) {
	needDisplay(t)
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("needs a C compiler for the drag-and-drop helper")
	}
	w := newWorld(t)
	agent := h.Start(t, "agent window", filepath.Join(h.Binaries(t), "porthole-agent"),
		"--relay", w.relay.Addr, "--relay-fingerprint", w.relay.Fingerprint,
		"--name", "alice", "--password-file", w.pwFile, "--data", w.agentDir,
		"--downloads", filepath.Join(t.TempDir(), "agent-downloads"),
		"--new-session", "--events", "-")
	agent.Expect("ready", nil)
	key := agent.Expect("session_key", nil).S("key")
	downloads := filepath.Join(t.TempDir(), "downloads")
	customer := h.Start(t, "customer window", filepath.Join(h.Binaries(t), "porthole-customer"),
		"--relay", w.relay.Addr, "--relay-fingerprint", w.relay.Fingerprint, "--key", key,
		"--name", "bob@laptop", "--data", filepath.Join(t.TempDir(), "customer"),
		"--downloads", downloads, "--events", "-")
	customer.Expect("connected", nil)
	agent.Expect("customer_joined", nil)

	src := filepath.Join(t.TempDir(), "printer-driver.txt")
	content := []byte(strings.Repeat("the driver for the printer on the second floor\n", 2000))
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	h.Drop(t, h.FindWindow(t, "Porthole Console$"), 700, 400, src)
	offer := customer.Expect("file_offer", nil)
	if offer.S("name") != "printer-driver.txt" || offer.S("from") != "alice" {
		t.Fatalf("offer %v", offer)
	}
	// The offer dialog is up in the customer window: Tab reaches its first
	// answer, "Accept this file", and Space presses it.
	win := h.FindWindow(t, "is helping you")
	h.Xdotool(t, "windowfocus", "--sync", win)
	time.Sleep(300 * time.Millisecond)
	h.Xdotool(t, "key", "Tab")
	h.Xdotool(t, "key", "space")
	done := customer.Expect("file_done", func(e h.Event) bool { return e.S("id") == offer.S("id") })
	got, err := os.ReadFile(done.S("path"))
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("received %d bytes at %q (%v), sent %d", len(got), done.S("path"), err, len(content))
	}
	if !strings.HasPrefix(done.S("path"), downloads) {
		t.Fatalf("saved outside the downloads folder: %s", done.S("path"))
	}
	agent.Expect("file_done", func(e h.Event) bool { return e.S("id") == offer.S("id") })
}
