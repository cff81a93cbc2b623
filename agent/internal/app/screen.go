package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/porthole-dev/porthole/agent/internal/console"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/protocol"
)

// handleScreen runs the screen commands (docs/headless.md, "Screen"); it
// reports whether c was one. report turns an error into an error event.
func handleScreen(ctx context.Context, con *console.Console, out *headless.Writer, c headless.Command, report func(error)) bool {
	monitor := 0
	if c.Monitor != nil {
		monitor = *c.Monitor
	}
	switch c.Cmd {
	case "screen_start":
		report(con.StartScreen(ctx, c.Session, monitor))
	case "screen_stop":
		con.StopScreen(c.Session)
	case "screen_monitor":
		report(con.SelectMonitor(c.Session, monitor))
	case "screen_snapshot":
		// The path is checked before the customer is asked for the
		// screen as it is now.
		if err := snapshotPath(c.Path); err != nil {
			report(err)
			return true
		}
		// Aside: it waits for the frames on their way, and other commands
		// (input among them) need not.
		go func() {
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := con.Snapshot(sctx, c.Session, c.Path); err != nil {
				report(err)
				return
			}
			out.Emit(headless.Event{Event: "screen_snapshot", Session: c.Session, Path: c.Path})
		}()
	case "input":
		evs, err := headless.Input(c.Events)
		if err != nil {
			report(&console.Error{Code: protocol.CodeBadRequest, Message: err.Error()})
			return true
		}
		report(con.SendInput(c.Session, evs))
	default:
		return false
	}
	return true
}

// snapshotPath checks where screen_snapshot is to write its PNG: a path
// whose folder is there, and that is not a folder itself.
func snapshotPath(path string) error {
	bad := func(format string, args ...any) error {
		return &console.Error{Code: protocol.CodeBadRequest, Message: fmt.Sprintf(format, args...)}
	}
	if path == "" {
		return bad("screen_snapshot needs a path")
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return bad("screen_snapshot: the folder %s is not there", filepath.Dir(path))
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return bad("screen_snapshot: %s is a folder; give the path of a file to write", path)
	}
	return nil
}
