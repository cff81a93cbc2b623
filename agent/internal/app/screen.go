package app

import (
	"context"
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
		if c.Path == "" {
			report(&console.Error{Code: protocol.CodeBadRequest, Message: "screen_snapshot needs a path"})
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
