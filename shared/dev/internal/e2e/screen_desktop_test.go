package e2e

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"
	"time"

	h "github.com/porthole-dev/porthole/shared/dev/internal/harness"
)

// click presses the left button at x, y in a window of the test display.
func click(t *testing.T, window string, x, y int) {
	t.Helper()
	h.Xdotool(t, "mousemove", "--window", window, fmt.Sprint(x), fmt.Sprint(y))
	time.Sleep(200 * time.Millisecond)
	h.Xdotool(t, "click", "1")
	time.Sleep(200 * time.Millisecond)
}

// windowShot is what a window of the test display shows.
func windowShot(t *testing.T, window string) image.Image {
	t.Helper()
	path := filepath.Join(t.TempDir(), "window.png")
	h.OnDisplay(t, os.Getenv("DISPLAY"), "import", "-window", window, path)
	return h.ReadPNG(t, path)
}

// count counts the pixels of img near c.
func count(img image.Image, c color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r>>8, c.R) && near(g>>8, c.G) && near(bl>>8, c.B) {
				n++
			}
		}
	}
	return n
}

func near(a uint32, b uint8) bool { return a+6 >= uint32(b) && a <= uint32(b)+6 }

// TestDesktopScreen: the agent's real window, on the test display, shows
// the screen of a customer on a display of its own (two machines): the
// agent asks from the window's menu, the customer allows, and the
// customer's test window appears in the agent's.
func TestDesktopScreen(t *testing.T) {
	needDisplay(t)
	displayA := h.StartXvfb(t, "1280x800x24")
	h.StartTestWin(t, displayA, 200, 150)
	dir := t.TempDir()
	w := h.StartConsole(t, dir, "alice")
	console := h.FindWindow(t, "alice – Porthole Console$")
	h.Xdotool(t, "windowsize", "--sync", console, "1100", "700")

	mine := os.Getenv("DISPLAY")
	t.Setenv("DISPLAY", displayA) // the customer's machine
	cust := h.StartCustomer(t, &h.Relay{Addr: w.Relay, Fingerprint: w.Pin}, w.Key, filepath.Join(dir, "customer"),
		"--name", "bob", "--accept-screen", "all")
	os.Setenv("DISPLAY", mine) // the agent's
	cust.Expect("connected", nil)
	w.Agent.Expect("customer_joined", nil)

	// Ask for access → See the screen, in the window.
	time.Sleep(500 * time.Millisecond)
	click(t, console, 340, 107)
	click(t, console, 340, 145)
	w.Agent.Expect("permission", func(e h.Event) bool { return e.S("kind") == "screen" && e.S("state") == "allowed" })
	cust.Expect("screen_shared", func(e h.Event) bool { return e.S("state") == "on" })

	// The customer's button (blue, 120 × 60, #2050c0) shows in the agent's
	// window, scaled to fit.
	blue := color.RGBA{0x20, 0x50, 0xc0, 0xff}
	deadline := time.Now().Add(h.Timeout)
	for {
		n := count(windowShot(t, console), blue)
		if n > 500 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent's window shows %d pixels of the customer's button", n)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
