package e2e

import (
	"fmt"
	"image"
	"path/filepath"
	"strings"
	"testing"
	"time"

	h "github.com/porthole-dev/porthole/shared/dev/internal/harness"
)

// permission waits for the agent's permission event of kind in state.
func permission(t *testing.T, agent *h.Proc, kind, state string) h.Event {
	t.Helper()
	return agent.Expect("permission", func(e h.Event) bool { return e.S("kind") == kind && e.S("state") == state })
}

// pointerAt is where the pointer is on display (xdotool getmouselocation).
func pointerAt(t *testing.T, display string) string {
	t.Helper()
	out := string(h.OnDisplay(t, display, "xdotool", "getmouselocation"))
	f := strings.Fields(out) // x:10 y:20 screen:0 window:...
	return f[0] + " " + f[1]
}

// TestScreenAndControl: the customer's screen on a display of its own
// (A), seen and controlled by a headless agent, with the customer's
// consent at each step.
func TestScreenAndControl(t *testing.T) {
	displayA := h.StartXvfb(t, "1280x800x24")
	t.Setenv("DISPLAY", displayA) // the customer's machine
	tw := h.StartTestWin(t, displayA, 200, 150, "scroll", "60")

	w := newWorld(t)
	agent := w.agent(t)
	sid, cust, _ := pair(t, w, agent, "direct", "--accept-control", "ask")
	ask := func(kind string) string {
		agent.Send(map[string]any{"cmd": "request_permission", "session": sid, "kind": kind, "reason": "to help"})
		return permission(t, agent, kind, "requested").S("id")
	}

	// Nothing without the view grant; refused once, then allowed.
	agent.Send(map[string]any{"cmd": "screen_start", "session": sid})
	if e := agent.Expect("error", nil); e.S("code") != "not_allowed" {
		t.Fatalf("screen_start without the grant: %v", e)
	}
	id := ask("screen")
	req := cust.Expect("permission_request", func(e h.Event) bool { return e.S("kind") == "screen" })
	cust.Send(map[string]any{"cmd": "answer_permission", "id": req.S("id"), "allow": false})
	if e := agent.Expect("permission", func(e h.Event) bool { return e.S("id") == id }); e.S("state") != "denied" {
		t.Fatalf("denied view: %v", e)
	}
	// Control without the view: the customer is not even asked.
	ask("control")
	permission(t, agent, "control", "needs_screen")

	id = ask("screen")
	req = cust.Expect("permission_request", func(e h.Event) bool { return e.S("kind") == "screen" })
	cust.Send(map[string]any{"cmd": "answer_permission", "id": req.S("id"), "allow": true})
	permission(t, agent, "screen", "allowed")

	agent.Send(map[string]any{"cmd": "screen_start", "session": sid})
	st := agent.Expect("screen_started", nil)
	mons, _ := st["monitors"].([]any)
	if len(mons) != 1 {
		t.Fatalf("screen_started: %v", st)
	}
	if m := mons[0].(map[string]any); m["width"] != 1280.0 || m["height"] != 800.0 {
		t.Fatalf("monitor %v, want 1280 × 800", m)
	}
	cust.Expect("screen_shared", func(e h.Event) bool { return e.S("state") == "on" && e.S("agent") == "alice" })

	// Once the window has stopped scrolling, the agent's snapshot is the
	// screen, pixel for pixel.
	tw.Wait(t, "scrolled")
	time.Sleep(300 * time.Millisecond) // the last line drawn
	snap := filepath.Join(t.TempDir(), "snap.png")
	agent.Send(map[string]any{"cmd": "screen_snapshot", "session": sid, "path": snap})
	agent.Expect("screen_snapshot", nil)
	root := h.Shot(t, displayA)
	if n, at, err := h.Differ(h.ReadPNG(t, snap), root); err != nil || n != 0 {
		t.Fatalf("the snapshot differs from the screen: %d pixels (first at %v), %v", n, at, err)
	}
	if e := agent.Expect("screen_stats", nil); e["rate"] == nil && e["fps"] == nil {
		t.Fatalf("screen_stats: %v", e)
	}

	// Input needs control.
	move := func(x, y int) map[string]any { return map[string]any{"type": "move", "x": x, "y": y} }
	agent.Send(map[string]any{"cmd": "input", "session": sid, "events": []any{move(5, 5)}})
	if e := agent.Expect("error", nil); e.S("code") != "not_allowed" {
		t.Fatalf("input without control: %v", e)
	}
	ask("control")
	req = cust.Expect("permission_request", func(e h.Event) bool { return e.S("kind") == "control" })
	cust.Send(map[string]any{"cmd": "answer_permission", "id": req.S("id"), "allow": true})
	permission(t, agent, "control", "allowed")

	b := tw.Button
	bx, by := (b.Min.X+b.Max.X)/2, (b.Min.Y+b.Max.Y)/2
	agent.Send(map[string]any{"cmd": "input", "session": sid, "events": []any{move(bx, by)}})
	want := fmt.Sprintf("x:%d y:%d", bx, by)
	for deadline := time.Now().Add(h.Timeout); pointerAt(t, displayA) != want; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the pointer is at %s, want %s", pointerAt(t, displayA), want)
		}
	}
	agent.Send(map[string]any{"cmd": "input", "session": sid, "events": []any{
		map[string]any{"type": "button", "button": 1, "down": true}, map[string]any{"type": "button", "button": 1},
	}})
	tw.Wait(t, "clicked 1")

	f := tw.Field
	agent.Send(map[string]any{"cmd": "input", "session": sid, "events": []any{
		move(f.Min.X+10, f.Min.Y+10),
		map[string]any{"type": "text", "text": "hello"},
		map[string]any{"type": "key", "keysym": 0x21, "down": true}, map[string]any{"type": "key", "keysym": 0x21}, // "!", with Shift
		map[string]any{"type": "key", "scancode": 38, "down": true}, map[string]any{"type": "key", "scancode": 38}, // "a" by position
	}})
	for _, s := range []string{"h", "he", "hel", "hell", "hello", "hello!", "hello!a"} {
		if got := tw.Wait(t, "text "); got != "text "+s {
			t.Fatalf("the field got %q, want %q", got, "text "+s)
		}
	}

	// Control revoked: input refused, and nothing reaches the screen.
	cust.Send(map[string]any{"cmd": "revoke_control"})
	if e := permission(t, agent, "control", "revoked"); e.S("reason") != "revoked" {
		t.Fatalf("control revoked: %v", e)
	}
	agent.Send(map[string]any{"cmd": "input", "session": sid, "events": []any{move(10, 10), map[string]any{"type": "text", "text": "no"}}})
	if e := agent.Expect("error", nil); e.S("code") != "not_allowed" {
		t.Fatalf("input after revoking control: %v", e)
	}
	time.Sleep(300 * time.Millisecond)
	if got := pointerAt(t, displayA); got != fmt.Sprintf("x:%d y:%d", f.Min.X+10, f.Min.Y+10) {
		t.Fatalf("the pointer moved after control ended: %s", got)
	}
	for _, l := range tw.Lines() {
		if strings.HasPrefix(l, "text ") {
			t.Fatalf("typed after control ended: %q", l)
		}
	}

	// The view stopped mid-stream by the customer: the agent hears why.
	cust.Send(map[string]any{"cmd": "stop_sharing"})
	if e := agent.Expect("screen_stopped", nil); e.S("by") != "customer" || e.S("reason") != "revoked" {
		t.Fatalf("screen_stopped: %v", e)
	}
	permission(t, agent, "screen", "revoked")
	cust.Expect("screen_shared", func(e h.Event) bool { return e.S("state") == "off" })
	agent.Send(map[string]any{"cmd": "screen_start", "session": sid})
	if e := agent.Expect("error", nil); e.S("code") != "not_allowed" {
		t.Fatalf("screen_start after the view was revoked: %v", e)
	}
}

// TestScreenTwoMonitors: a customer with two monitors of different sizes
// (RandR monitors on one screen, as desktops set them up) gets both
// listed with their places; the agent switches to the second, whose
// snapshot is that monitor's part of the screen.
func TestScreenTwoMonitors(t *testing.T) {
	displayA := h.StartXvfb(t, "2304x800x24")
	h.SetMonitors(t, displayA, image.Rect(0, 0, 1280, 800), image.Rect(1280, 0, 2304, 768))
	t.Setenv("DISPLAY", displayA)
	h.StartTestWin(t, displayA, 1400, 100) // on the second monitor
	w := newWorld(t)
	agent := w.agent(t)
	sid, cust, _ := pair(t, w, agent, "direct", "--accept-screen", "all")
	agent.Send(map[string]any{"cmd": "request_permission", "session": sid, "kind": "screen"})
	permission(t, agent, "screen", "allowed")
	agent.Send(map[string]any{"cmd": "screen_start", "session": sid})
	st := agent.Expect("screen_started", nil)
	mons, _ := st["monitors"].([]any)
	if len(mons) != 2 {
		t.Fatalf("screen_started: %v, want two monitors", st)
	}
	second := mons[1].(map[string]any)
	if second["x"] != 1280.0 || second["width"] != 1024.0 || second["height"] != 768.0 {
		t.Fatalf("the second monitor is %v, want 1024 × 768 at x 1280", second)
	}
	agent.Send(map[string]any{"cmd": "screen_monitor", "session": sid, "monitor": 1})
	if st := agent.Expect("screen_started", nil); st["monitor"] != 1.0 {
		t.Fatalf("after screen_monitor: %v", st)
	}
	cust.Expect("screen_shared", func(e h.Event) bool { return e.S("state") == "on" && e["monitor"] == 1.0 })
	time.Sleep(300 * time.Millisecond)
	snap := filepath.Join(t.TempDir(), "snap.png")
	agent.Send(map[string]any{"cmd": "screen_snapshot", "session": sid, "path": snap})
	agent.Expect("screen_snapshot", nil)
	root := h.Shot(t, displayA)
	part := root.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(image.Rect(1280, 0, 2304, 768))
	if n, at, err := h.Differ(h.ReadPNG(t, snap), part); err != nil || n != 0 {
		t.Fatalf("the second monitor's snapshot differs from the screen: %d pixels (first at %v), %v", n, at, err)
	}
}
