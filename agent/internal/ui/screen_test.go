package ui

import (
	"fmt"
	"image"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/screen"
)

// screenRecorder records the remote screen's actions.
type screenRecorder struct {
	started  []string
	stopped  []string
	monitors []int
	inputs   [][]*pb.InputEvent
}

func withScreen(t *testing.T) (*Window, fyne.Window, *recorder, *screenRecorder) {
	t.Helper()
	w, win, r := signedIn(t)
	sr := &screenRecorder{}
	w.Requestable = []string{"screen", "control"}
	w.ScreenAct = ScreenActions{
		StartScreen:   func(s string, m int) { sr.started = append(sr.started, s) },
		StopScreen:    func(s string) { sr.stopped = append(sr.stopped, s) },
		SelectMonitor: func(s string, m int) { sr.monitors = append(sr.monitors, m) },
		Input:         func(s string, evs []*pb.InputEvent) { sr.inputs = append(sr.inputs, evs) },
	}
	w.PutSession(active("a", "bob@laptop"))
	w.OpenSession("a")
	return w, win, r, sr
}

// picture is a small test screen: a gradient.
func picture(wd, ht int) *screen.Image {
	p := screen.NewImage(wd, ht)
	for y := range ht {
		for x := range wd {
			o := y*p.Stride + x*4
			p.Pix[o], p.Pix[o+1], p.Pix[o+2] = byte(x), byte(y), 0x80
		}
	}
	return p
}

// TestScreenShown: once the customer allows the screen, it is the
// session's main area: the monitor picker for two monitors, the readout,
// control asked for and used, and the reason when it stops.
func TestScreenShown(t *testing.T) {
	w, win, r, sr := withScreen(t)
	win.Resize(fyne.NewSize(1100, 700))
	w.SetPermission("a", "screen", "requested")
	if len(sr.started) != 0 {
		t.Fatal("the screen started before it was allowed")
	}
	w.SetPermission("a", "screen", "allowed")
	if len(sr.started) != 1 || sr.started[0] != "a" {
		t.Fatalf("started %q, want the session's screen", sr.started)
	}
	rs := w.RemoteScreen("a")
	if rs == nil {
		t.Fatal("no remote screen for the frames")
	}
	w.ScreenStarted("a", []Monitor{{Index: 0, Width: 320, Height: 200, Primary: true}, {Index: 1, Width: 160, Height: 100}}, 0)
	rs.Update(picture(320, 200), []image.Rectangle{image.Rect(0, 0, 320, 200)})
	w.ScreenStats("a", 29.6, 150<<10, 3*time.Millisecond)
	if !hasText(t, win.Content(), "30 fps · 150 KB/s · 3 ms round trip") {
		t.Fatal("no readout")
	}
	looks(t, "screen_view.xml", win)
	if got := win.Canvas().Size(); got.Width > 1100 || got.Height > 700 {
		t.Fatalf("the window grew to %v", got)
	}

	// Control: asked for from the bar, then on.
	test.Tap(button(t, win.Content(), "Request control"))
	if len(r.asked) != 1 || r.asked[0] != [2]string{"a", "control"} {
		t.Fatalf("asked %q", r.asked)
	}
	w.SetPermission("a", "control", "requested")
	button(t, win.Content(), "Asking for control…")
	if rs.Control() {
		t.Fatal("control on before it was allowed")
	}
	w.SetPermission("a", "control", "allowed")
	if !rs.Control() {
		t.Fatal("control not on once allowed")
	}
	test.Tap(button(t, win.Content(), "Controlling · pause"))
	if rs.Control() {
		t.Fatal("control still on after pausing")
	}
	test.Tap(button(t, win.Content(), "Take control"))
	if !rs.Control() {
		t.Fatal("control not back on")
	}
	w.SetPermission("a", "control", "revoked")
	if rs.Control() {
		t.Fatal("control on after the customer took it back")
	}

	test.Tap(button(t, win.Content(), "Stop viewing"))
	if len(sr.stopped) != 1 {
		t.Fatalf("stopped %q", sr.stopped)
	}
	w.ScreenStopped("a", "customer", "revoked")
	if w.RemoteScreen("a") != nil {
		t.Fatal("the remote screen outlived its stream")
	}
	if !hasText(t, win.Content(), "The customer stopped sharing the screen.") {
		t.Fatal("the card does not say why the screen went")
	}
}

// Control is not offered in the menu until the screen is allowed; then
// "See the screen" shows it again without asking the customer again.
func TestAskMenuFollowsTheGrants(t *testing.T) {
	w, win, r, sr := withScreen(t)
	test.Tap(button(t, win.Content(), "Ask for access"))
	if hasText(t, overlay(t, win), "Control mouse and keyboard") {
		t.Fatal("control offered without the screen")
	}
	win.Canvas().Overlays().Top().Hide()
	w.SetPermission("a", "screen", "allowed")
	w.ScreenStopped("a", "agent", "stopped")
	test.Tap(button(t, win.Content(), "Ask for access"))
	menu := overlay(t, win)
	if !hasText(t, menu, "Control mouse and keyboard") {
		t.Fatal("control not offered with the screen allowed")
	}
	item := find(t, menu, func(o fyne.Widget) bool {
		return fmt.Sprintf("%T", o) == "*widget.menuItem" && hasText(t, o, "See the screen")
	})
	test.Tap(item.(fyne.Tappable))
	if len(sr.started) != 2 || len(r.asked) != 0 {
		t.Fatalf("started %q, asked %q: the screen again, without a new request", sr.started, r.asked)
	}
}

// The sign-in progress bar stops once the window shows something else:
// left running, its animation drew the window 60 times a second (45 % of
// a core here) for as long as the console ran.
func TestBusyBarStops(t *testing.T) {
	w, _, _ := newWindow(t)
	w.ShowBusy("Connecting…")
	bar := w.busy
	if bar == nil || !bar.Running() {
		t.Fatal("no running progress bar while signing in")
	}
	w.ShowMain("alice", "relay")
	if bar.Running() {
		t.Fatal("the progress bar still runs behind the main window")
	}
}
