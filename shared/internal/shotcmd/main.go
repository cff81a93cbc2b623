// Command shotcmd is `make screenshots`: under an X display (the Makefile
// starts Xvfb) it opens the real windows of both apps, walks them through
// their main screens with real input, and saves each window as a PNG.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	h "github.com/porthole-dev/porthole/shared/internal/harness"
)

func main() {
	out := flag.String("out", "docs/screenshots", "folder for the PNG files")
	large := flag.Bool("large", false, "size the console window to 1920x1080 (needs a screen that large)")
	flag.Parse()
	if os.Getenv("DISPLAY") == "" {
		fmt.Fprintln(os.Stderr, "shotcmd: needs an X display (make screenshots starts Xvfb)")
		os.Exit(2)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "shotcmd:", err)
		os.Exit(1)
	}
	p := &h.Program{}
	defer p.Close()
	h.Timeout = time.Minute
	s := &shooter{p: p, out: *out, large: *large}
	dir := p.TempDir()

	// First run: the setup screen.
	setup := h.Start(p, "agent window", filepath.Join(h.Binaries(p), "porthole-agent"), "--data", filepath.Join(dir, "fresh"))
	s.shoot(h.FindWindow(p, "Porthole Console$"), "agent-setup.png")
	setup.Kill()

	// Signed in with a new session: the key, large.
	w := h.StartConsole(p, dir, "Alice")
	console := h.FindWindow(p, "Alice – Porthole Console$")
	s.shoot(console, "agent-new-session.png")

	// A customer who has the client but not the key yet.
	entry := h.Start(p, "customer window", filepath.Join(h.Binaries(p), "porthole-customer"),
		"--relay", w.Relay, "--relay-fingerprint", w.Pin, "--data", filepath.Join(dir, "entry"))
	win := h.FindWindow(p, "^Porthole support$")
	h.TypeInto(p, win, "4921", false)
	s.shoot(win, "customer-key.png")
	entry.Kill()

	// The session: both sides chat, typed into the windows.
	w.Join(p, dir, "bob@laptop")
	customer := h.FindWindow(p, "Alice is helping you")
	h.TypeInto(p, console, "Hi Bob, this is Alice from support. How can I help?", true)
	w.Customer.Expect("chat", nil)
	h.TypeInto(p, customer, "Hi Alice! My printer stopped working after an update.", true)
	w.Agent.Expect("chat", nil)
	h.TypeInto(p, console, "Let's have a look together. Which printer is it?", true)
	w.Customer.Expect("chat", nil)
	h.TypeInto(p, customer, "The LaserJet in the hallway.", true)
	w.Agent.Expect("chat", nil)
	s.shoot(console, "agent-session.png")
	s.shoot(customer, "customer-session.png")
	fmt.Printf("screenshots: %s\n", strings.Join(s.done, ", "))
}

type shooter struct {
	p     *h.Program
	out   string
	large bool
	done  []string
}

// shoot raises a window, lets it draw, and saves it.
func (s *shooter) shoot(window, name string) {
	if s.large && strings.HasPrefix(name, "agent-") {
		h.Xdotool(s.p, "windowsize", "--sync", window, "1920", "1080")
	}
	h.Xdotool(s.p, "windowraise", window)
	h.Xdotool(s.p, "windowfocus", "--sync", window) // in front: what it shows as read
	time.Sleep(700 * time.Millisecond)              // the window redraws after raising or typing
	path := filepath.Join(s.out, name)
	if out, err := exec.Command("import", "-window", window, path).CombinedOutput(); err != nil {
		s.p.Fatalf("import %s: %v\n%s", name, err, out)
	}
	s.done = append(s.done, path)
}
