// Package linkevent turns what the shared links service (package weblink)
// reports into the headless interface's link_* events (docs/headless.md,
// "Links"), and gives its errors the apps' codes, for both apps.
package linkevent

import (
	"errors"

	"github.com/porthole-dev/porthole/shared/failure"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/weblink"
)

// From turns an event of the links service into its headless event:
// link_offer, link_opened or link_refused. The session is left out unless
// withSession (the customer's events carry none).
func From(ev weblink.Event, withSession bool) headless.Event {
	out := Listed(ev.Link, withSession)
	out.Event, out.State, out.At = "link_"+ev.Kind, "", ""
	if ev.Kind != weblink.EventRefused {
		out.Reason = ""
	}
	return out
}

// Listed is the "link" event for one link, in answer to the links
// command.
func Listed(k weblink.Link, withSession bool) headless.Event {
	out := headless.Event{
		Event: "link", ID: k.ID, Dir: k.Dir, Peer: k.Peer, URL: k.URL, State: k.State,
		Reason: k.Why, Shown: k.Shown, At: headless.Time(k.Offered),
	}
	if k.Dir == weblink.In {
		out.From = k.Peer
	}
	if a, ok := k.Address(); ok {
		if a.Display != a.URL {
			out.Display = a.Display
		}
		if a.Mixed() {
			out.Scripts = a.Scripts
		}
	}
	if withSession {
		out.Session = k.Session
	}
	return out
}

// Error gives an error of the links service its code: bad_request for a
// link that is not one (the message says why), a wrong answer or a
// missing addressee, not_found for an unknown or answered link, internal
// for the rest.
func Error(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, weblink.ErrNotLink):
		return failure.New(protocol.CodeBadRequest, "not a link that can be shared: "+err.Error())
	case errors.Is(err, weblink.ErrUnknown):
		return failure.New(protocol.CodeNotFound, "no link offer with that id")
	case errors.Is(err, weblink.ErrAnswered):
		return failure.New(protocol.CodeNotFound, "that link was answered already")
	case errors.Is(err, weblink.ErrBadDecision):
		return failure.New(protocol.CodeBadRequest, err.Error())
	case errors.Is(err, weblink.ErrNoSession):
		return failure.New(failure.CodeNotJoined, "nobody has joined this session yet")
	}
	return failure.New(protocol.CodeInternal, err.Error())
}

// SetTrust remembers (or, with "", forgets) a decision for links from
// sender in s, with the apps' error codes: bad_request for a missing
// sender, one that is not a name as the peers' hellos carry it
// (protocol.ValidName) or an unknown decision.
func SetTrust(s *weblink.Service, sender, decision string) error {
	switch {
	case sender == "":
		return failure.New(protocol.CodeBadRequest, "whose links? the sender is missing")
	case decision != "" && decision != weblink.Always && decision != weblink.Never:
		return failure.New(protocol.CodeBadRequest, "the decision for links is always_open, never, or empty to ask again")
	}
	if err := protocol.ValidName(sender); err != nil {
		return failure.New(protocol.CodeBadRequest, "the sender is not a name: "+err.Error())
	}
	if err := s.SetTrust(sender, decision); err != nil {
		return failure.New(protocol.CodeInternal, err.Error())
	}
	return nil
}
