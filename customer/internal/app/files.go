package app

import (
	"time"

	"github.com/porthole-dev/porthole/customer/internal/client"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/headless/fileevent"
	"github.com/porthole-dev/porthole/shared/headless/linkevent"
)

// FilesChoiceWait is how long a headless client whose session has ended
// waits for keep_files or delete_files before it keeps the files and
// exits.
var FilesChoiceWait = 60 * time.Second

// handleFiles runs the file and link commands (docs/headless.md, "Files"
// and "Links"); it
// reports whether c was one. fail turns an error into an error event.
// keep_files and delete_files after the session's end go to choice, for
// the end-of-session question (filesAtEnd).
func handleFiles(cl *client.Client, out *headless.Writer, c headless.Command, fail func(error) int, choice chan<- string) bool {
	if fileevent.Settings(cl, out, c, func(err error) { fail(err) }) {
		return true
	}
	switch c.Cmd {
	case "send_file":
		if _, err := cl.SendFile(c.Path); err != nil {
			fail(err)
		}
	case "answer_offer":
		answer := cl.AnswerOffer
		if cl.IsLink(c.ID) {
			answer = cl.AnswerLink
		}
		if err := answer(c.ID, c.Decision); err != nil {
			fail(err)
		}
	case "send_link":
		if _, err := cl.SendLink(c.URL); err != nil {
			fail(err)
		}
	case "links":
		ls := cl.Links()
		for _, k := range ls {
			out.Emit(linkevent.Listed(k, false))
		}
		n := len(ls)
		out.Emit(headless.Event{Event: "links_end", Count: &n})
	case "cancel_transfer":
		if err := cl.CancelTransfer(c.ID); err != nil {
			fail(err)
		}
	case "files":
		ts := cl.Transfers()
		for _, t := range ts {
			out.Emit(fileevent.Listed(t, false))
		}
		n := len(ts)
		out.Emit(headless.Event{Event: "files_end", Path: cl.SessionFolder(), Count: &n})
	case "keep_files", "delete_files":
		select {
		case <-cl.Done(): // the answer to session_files
			select {
			case choice <- c.Cmd:
			default:
			}
			return true
		default:
		}
		if c.Cmd == "keep_files" {
			fail(&client.Error{Code: "bad_request", Message: "the session has not ended; received files are kept unless you delete them"})
			return true
		}
		deleteFiles(cl, out, fail)
	default:
		return false
	}
	return true
}

func deleteFiles(cl *client.Client, out *headless.Writer, fail func(error) int) {
	folder := cl.SessionFolder()
	n, err := cl.DeleteSessionFiles()
	if err != nil {
		fail(err)
		return
	}
	out.Emit(headless.Event{Event: "files_deleted", Path: folder, Count: &n})
}

// filesAtEnd asks what to do with the files received in a session that
// has ended, if there are any: a session_files event, then keep_files or
// delete_files on stdin. Nobody answering keeps them: FilesChoiceWait
// passes, stdin is closed (eof), or the client is told to stop (stop:
// quit or a signal).
func filesAtEnd(cl *client.Client, out *headless.Writer, fail func(error) int, choice <-chan string, eof, quit, stop <-chan struct{}) {
	folder, n := cl.ReceivedFiles()
	if n == 0 {
		return
	}
	out.Emit(headless.Event{Event: "session_files", Path: folder, Count: &n})
	timer := time.NewTimer(FilesChoiceWait)
	defer timer.Stop()
	var decision string
	select {
	case decision = <-choice:
	case <-eof:
	case <-quit:
	case <-stop:
	case <-timer.C:
	}
	if decision == "delete_files" {
		deleteFiles(cl, out, fail)
		return
	}
	out.Emit(headless.Event{Event: "files_kept", Path: folder, Count: &n})
}
