package harness

import (
	"context"
	"os/exec"
	"strings"
	"time"
)

// Xdotool runs xdotool (real X input events and window lookups) and returns
// its output, trimmed.
func Xdotool(tb TB, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "xdotool", args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("xdotool %q: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// FindWindow waits for a shown window whose title matches the regular
// expression and returns its id.
func FindWindow(tb TB, title string) string {
	tb.Helper()
	ids := strings.Fields(Xdotool(tb, "search", "--sync", "--onlyvisible", "--name", title))
	return ids[0]
}

// TypeInto gives a window the keyboard focus and types text into it, then
// presses Return when enter is set.
func TypeInto(tb TB, window, text string, enter bool) {
	tb.Helper()
	Xdotool(tb, "windowfocus", "--sync", window)
	time.Sleep(200 * time.Millisecond) // the focus change reaches the window
	Xdotool(tb, "type", "--delay", "20", text)
	if enter {
		Xdotool(tb, "key", "Return")
	}
}
