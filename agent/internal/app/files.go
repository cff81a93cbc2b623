package app

import (
	"github.com/porthole-dev/porthole/agent/internal/console"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/headless/fileevent"
	"github.com/porthole-dev/porthole/shared/headless/linkevent"
)

// handleFiles runs the file and link commands (docs/headless.md, "Files"
// and "Links"); it
// reports whether c was one. report turns an error into an error event.
func handleFiles(con *console.Console, out *headless.Writer, c headless.Command, report func(error)) bool {
	if fileevent.Settings(con, out, c, report) {
		return true
	}
	switch c.Cmd {
	case "send_file":
		_, err := con.SendFile(c.Session, c.Path)
		report(err)
	case "answer_offer":
		if con.IsLink(c.ID) {
			report(con.AnswerLink(c.ID, c.Decision))
		} else {
			report(con.AnswerOffer(c.ID, c.Decision))
		}
	case "send_link":
		_, err := con.SendLink(c.Session, c.URL)
		report(err)
	case "links":
		ls := con.Links(c.Session)
		for _, k := range ls {
			out.Emit(linkevent.Listed(k, true))
		}
		n := len(ls)
		out.Emit(headless.Event{Event: "links_end", Session: c.Session, Count: &n})
	case "cancel_transfer":
		report(con.CancelTransfer(c.ID))
	case "request_files":
		_, err := con.RequestFiles(c.Session)
		report(err)
	case "files":
		ts := con.Transfers(c.Session)
		for _, t := range ts {
			out.Emit(fileevent.Listed(t, true))
		}
		n := len(ts)
		out.Emit(headless.Event{Event: "files_end", Session: c.Session, Path: con.SessionFolder(c.Session), Count: &n})
	case "delete_files":
		folder := con.SessionFolder(c.Session)
		n, err := con.DeleteSessionFiles(c.Session)
		if err != nil {
			report(err)
			return true
		}
		out.Emit(headless.Event{Event: "files_deleted", Session: c.Session, Path: folder, Count: &n})
	default:
		return false
	}
	return true
}
