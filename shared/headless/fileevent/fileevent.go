// Package fileevent turns what the file transfer engine (package
// transfer) reports into the headless interface's file_* events
// (docs/headless.md, "Files"), for both apps. It lives apart from package
// headless so that headless does not depend on the engine.
package fileevent

import (
	"errors"
	"math"
	"strings"
	"time"

	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/transfer"
)

// Policy is the event form of a policy.
func Policy(p transfer.Policy) *headless.FilePolicy {
	return &headless.FilePolicy{
		Enabled: p.Enabled, Extensions: p.Extensions, ContentTypes: p.ContentTypes,
		MaxSize: p.MaxSize, MaxFiles: p.MaxFiles, InvitationRequired: p.InvitationRequired,
		InvitationMs: p.Invitation.Milliseconds(),
	}
}

// From turns an event of the transfer engine into its headless event:
// file_offer, file_progress, file_done, file_refused, file_failed,
// file_cancelled, file_invite or file_policy. The session is left out
// unless withSession (the customer's events carry none).
func From(ev transfer.Event, withSession bool) headless.Event {
	t := ev.Transfer
	out := headless.Event{ID: t.ID, Name: t.Name, Dir: t.Dir, Session: t.Session}
	switch ev.Kind {
	case transfer.EventOffer:
		out.Event, out.From, out.ContentType, out.Size = "file_offer", t.Peer, t.ContentType, ptr(t.Size)
	case transfer.EventProgress:
		out.Event, out.State, out.Done, out.Size = "file_progress", string(t.State), ptr(t.Done), ptr(t.Size)
		if ev.Rate > 0 {
			out.Rate = int64(math.Round(ev.Rate))
		}
		if ev.Left > 0 {
			out.SecondsLeft = int64(math.Ceil(ev.Left.Seconds()))
		}
	case transfer.EventDone:
		out.Event, out.Size, out.SHA256, out.Deduped = "file_done", ptr(t.Size), t.SHA256, t.Deduped
		if t.Dir == transfer.In {
			out.Path = t.Path
		}
	case transfer.EventRefused:
		out.Event, out.Reason = "file_refused", reason(t.Why)
	case transfer.EventFailed:
		out.Event, out.Reason = "file_failed", reason(t.Why)
	case transfer.EventCancelled:
		out.Event, out.Reason = "file_cancelled", reason(t.Why)
	case transfer.EventInvite:
		out = headless.Event{Event: "file_invite", Session: ev.Session, Expires: ev.Until.UTC().Format(time.RFC3339)}
	case transfer.EventPolicy:
		out = headless.Event{Event: "file_policy", Session: ev.Session, Policy: Policy(ev.Policy)}
	case transfer.EventSkipped:
		n := ev.Count
		out = headless.Event{Event: "files_skipped", Session: ev.Session, Path: ev.Folder, Count: &n}
		for _, s := range ev.Skipped {
			out.Skipped = append(out.Skipped, headless.SkippedFile{Name: s.Name, Reason: s.Why})
		}
	default:
		out.Event = "file_" + ev.Kind
	}
	if !withSession {
		out.Session = ""
	}
	return out
}

// Listed is the "file" event for one transfer, in answer to the
// files command.
func Listed(t transfer.Transfer, withSession bool) headless.Event {
	out := headless.Event{
		Event: "file", ID: t.ID, Name: t.Name, Dir: t.Dir, Peer: t.Peer, State: string(t.State),
		Size: ptr(t.Size), Done: ptr(t.Done), ContentType: t.ContentType, SHA256: t.SHA256,
		Deduped: t.Deduped, Reason: reason(t.Why), Path: t.Path, At: headless.Time(t.Created),
	}
	if withSession {
		out.Session = t.Session
	}
	return out
}

func ptr(n int64) *int64 { return &n }

// reason words why a file was refused, failed or stopped. A refusal by
// the agent's policy comes from the other side as "not_allowed: ..."; it
// reads "not allowed: ..." like the same refusal made on this side.
func reason(why string) string {
	if rest, ok := strings.CutPrefix(why, "not_allowed: "); ok {
		return "not allowed: " + rest
	}
	return why
}

// ErrorCode is the error code for an error of the transfer engine: an
// unknown file id is not_found, what a policy forbids not_allowed, the
// rest bad_request.
func ErrorCode(err error) string {
	switch {
	case errors.Is(err, transfer.ErrUnknown):
		return "not_found"
	case errors.Is(err, transfer.ErrNotAllowed):
		return "not_allowed"
	}
	return "bad_request"
}
