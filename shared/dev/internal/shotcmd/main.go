// Command shotcmd is `make screenshots`: under an X display (the Makefile
// starts Xvfb) it opens the real windows of both apps, walks them through
// their main screens with real input, and saves each window as a PNG.
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	h "github.com/porthole-dev/porthole/shared/dev/internal/harness"
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

	// Files both ways: the customer drops a picture of the problem on the
	// client, the agent accepts it; the agent drops notes back.
	picture := filepath.Join(dir, "printer-error.png")
	notes := filepath.Join(dir, "LaserJet driver notes.txt")
	if err := writeFiles(picture, notes); err != nil {
		p.Fatalf("%v", err)
	}
	h.Drop(p, customer, 400, 400, picture)
	w.Agent.Expect("file_offer", nil)
	s.shoot(console, "agent-file-offer.png")
	accept(p, console)
	w.Agent.Expect("file_done", nil)
	h.Drop(p, console, 700, 600, notes)
	w.Customer.Expect("file_offer", nil)
	accept(p, customer)
	w.Customer.Expect("file_done", nil)
	h.TypeInto(p, console, "Thanks for the picture. I sent you the driver notes.", true)
	w.Customer.Expect("chat", nil)
	s.shoot(console, "agent-files.png")
	h.Xdotool(p, "windowraise", customer) // without a window manager the windows overlap
	h.Xdotool(p, "windowfocus", "--sync", customer)
	time.Sleep(300 * time.Millisecond)
	click(p, customer, 125, 150) // the Files tab
	s.shoot(customer, "customer-files.png")

	// A file with no preview, shown in the customer's Files tab on a
	// 1280 x 800 screen: the window must not grow past it.
	firmware := filepath.Join(dir, "printer-firmware.bin")
	if err := os.WriteFile(firmware, make([]byte, 40<<10), 0o644); err != nil {
		p.Fatalf("%v", err)
	}
	h.Drop(p, console, 700, 600, firmware)
	w.Customer.Expect("file_offer", func(e h.Event) bool { return e.S("name") == "printer-firmware.bin" })
	accept(p, customer)
	w.Customer.Expect("file_done", func(e h.Event) bool { return e.S("name") == "printer-firmware.bin" })
	h.Xdotool(p, "windowsize", "--sync", customer, "1280", "800")
	s.shoot(customer, "customer-files-no-preview.png")
	if geo := h.Xdotool(p, "getwindowgeometry", customer); !strings.Contains(geo, "Geometry: 1280x800") {
		p.Fatalf("the customer's window is not 1280 x 800 with a file without preview shown:\n%s", geo)
	}
	h.Xdotool(p, "windowsize", "--sync", customer, "880", "640")

	// A link: the customer types an address alone in the chat, which
	// offers to send it as a link; the agent reads it before opening it.
	click(p, customer, 40, 150)  // the Chat tab
	click(p, customer, 400, 615) // its message line
	h.TypeInto(p, customer, "https://hilfe.müller-drucker.example/laserjet/m404", true)
	s.shoot(customer, "customer-send-as-link.png")
	accept(p, customer) // Tab reaches "Send as link"
	w.Agent.Expect("link_offer", nil)
	s.shoot(console, "agent-link-offer.png")
	h.Xdotool(p, "key", "Escape") // decide later: the chat keeps it with "Answer…"
	s.shoot(console, "agent-link-in-chat.png")
	w.Customer.Kill()
	w.Agent.Kill()

	s.screen(dir)
	fmt.Printf("screenshots: %s\n", strings.Join(s.done, ", "))
}

// screen shows a customer's screen in the agent's window: the customer on
// a display of its own (their computer), with a window and a colourful
// desktop; the agent asks from the window's menu and takes control.
func (s *shooter) screen(dir string) {
	p := s.p
	mine := os.Getenv("DISPLAY")
	theirs := h.StartXvfb(p, "1280x800x24")
	h.StartTestWin(p, theirs, 420, 330)
	sdir := filepath.Join(dir, "screen")
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		p.Fatalf("%v", err)
	}
	w := h.StartConsole(p, sdir, "Alice")
	console := h.FindWindow(p, "Alice – Porthole Console$")
	h.Xdotool(p, "windowsize", "--sync", console, "1100", "700")
	os.Setenv("DISPLAY", theirs)
	w.Join(p, sdir, "bob@laptop", "--accept-screen", "all", "--accept-control", "all")
	os.Setenv("DISPLAY", mine)
	time.Sleep(500 * time.Millisecond)
	click(p, console, 340, 107) // Ask for access
	click(p, console, 340, 145) // See the screen
	w.Agent.Expect("permission", func(e h.Event) bool { return e.S("kind") == "screen" && e.S("state") == "allowed" })
	w.Agent.Expect("screen_stats", nil)
	click(p, console, 357, 152) // Request control
	w.Agent.Expect("permission", func(e h.Event) bool { return e.S("kind") == "control" && e.S("state") == "allowed" })
	h.Xdotool(p, "mousemove", "--window", console, "600", "560") // over the remote screen: it moves there too
	w.Agent.Expect("screen_stats", nil)
	s.shoot(console, "agent-remote-screen.png")

	// The customer's window, on their computer, says who sees and controls.
	ids := strings.Fields(string(h.OnDisplay(p, theirs, "xdotool", "search", "--sync", "--onlyvisible", "--name", "Alice is helping you")))
	h.OnDisplay(p, theirs, "xdotool", "windowraise", ids[0])
	time.Sleep(700 * time.Millisecond)
	path := filepath.Join(s.out, "customer-sharing-bar.png")
	h.OnDisplay(p, theirs, "import", "-window", ids[0], path)
	s.done = append(s.done, path)
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

// click presses the left button at x, y in a window.
func click(p *h.Program, window string, x, y int) {
	h.Xdotool(p, "windowraise", window)
	h.Xdotool(p, "windowfocus", "--sync", window)
	h.Xdotool(p, "mousemove", "--window", window, fmt.Sprint(x), fmt.Sprint(y))
	time.Sleep(300 * time.Millisecond)
	h.Xdotool(p, "mousedown", "1")
	time.Sleep(100 * time.Millisecond)
	h.Xdotool(p, "mouseup", "1")
	time.Sleep(200 * time.Millisecond)
}

// accept answers an offer dialog in a window with the keyboard: Tab reaches
// "Accept this file", Space presses it.
func accept(p *h.Program, window string) {
	h.Xdotool(p, "windowfocus", "--sync", window)
	time.Sleep(300 * time.Millisecond)
	h.Xdotool(p, "key", "Tab")
	h.Xdotool(p, "key", "space")
}

// writeFiles makes the files the screenshots send: a picture of a printer's
// error screen, and a text file.
func writeFiles(picture, notes string) error {
	img := image.NewRGBA(image.Rect(0, 0, 480, 300))
	bg, panel, red := color.RGBA{0xe8, 0xe4, 0xdc, 0xff}, color.RGBA{0x30, 0x38, 0x40, 0xff}, color.RGBA{0xd8, 0x3a, 0x2e, 0xff}
	for y := 0; y < 300; y++ {
		for x := 0; x < 480; x++ {
			c := bg
			switch {
			case x > 60 && x < 420 && y > 50 && y < 250:
				c = panel
				if (x-240)*(x-240)+(y-150)*(y-150) < 50*50 {
					c = red
				}
				if x > 228 && x < 252 && y > 120 && y < 165 || x > 228 && x < 252 && y > 172 && y < 186 {
					c = color.RGBA{0xff, 0xff, 0xff, 0xff}
				}
			}
			img.Set(x, y, c)
		}
	}
	f, err := os.Create(picture)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.WriteFile(notes, []byte("LaserJet in the hallway\n\n1. Remove the old driver.\n2. Install version 7.1 from the shared folder.\n3. Print a test page.\n"), 0o644)
}
