package harness

import (
	"context"
	_ "embed"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

// xdndSource is the C source of the drag-and-drop helper (testdata/xdnd.c).
//
//go:embed testdata/xdnd.c
var xdndSource []byte

// Drop drags files onto a window and drops them there, at x, y inside it,
// as a file manager would: real XDND messages between X clients. The helper
// is built with the system's C compiler and Xlib on first use.
func Drop(tb TB, window string, x, y int, paths ...string) {
	tb.Helper()
	bin := xdndBinary(tb)
	args := []string{window, strconv.Itoa(x), strconv.Itoa(y)}
	for _, p := range paths {
		args = append(args, (&url.URL{Scheme: "file", Path: p}).String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput(); err != nil {
		tb.Fatalf("dropping %q on window %s: %v\n%s", paths, window, err, out)
	}
}

var xdndOnce struct {
	sync.Once
	path string
	err  error
}

func xdndBinary(tb TB) string {
	tb.Helper()
	xdndOnce.Do(func() {
		dir, err := os.MkdirTemp("", "porthole-xdnd-")
		if err != nil {
			xdndOnce.err = err
			return
		}
		src := filepath.Join(dir, "xdnd.c")
		if err := os.WriteFile(src, xdndSource, 0o644); err != nil {
			xdndOnce.err = err
			return
		}
		bin := filepath.Join(dir, "xdnd")
		if out, err := exec.Command("cc", "-O", "-o", bin, src, "-lX11").CombinedOutput(); err != nil {
			xdndOnce.err = fmt.Errorf("building the XDND helper: %v\n%s", err, out)
			return
		}
		xdndOnce.path = bin
	})
	if xdndOnce.err != nil {
		tb.Fatalf("%v", xdndOnce.err)
	}
	return xdndOnce.path
}
