package fileevent

import (
	"sort"

	"github.com/porthole-dev/porthole/shared/failure"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/transfer"
)

// SetTrust remembers (or, with "", forgets) a decision for files from
// sender in e, with the apps' error codes: bad_request for a missing
// sender, one that is not a name (validSender) or an unknown decision,
// internal when it cannot be stored.
func SetTrust(e *transfer.Engine, sender, decision string) error {
	switch {
	case sender == "":
		return failure.New(protocol.CodeBadRequest, "whose files? the sender is missing")
	case decision != "" && decision != transfer.AcceptAll && decision != transfer.RefuseAlways && decision != transfer.Blocked:
		return failure.New(protocol.CodeBadRequest, "the decision is accept_all, refuse_always, blocked, or empty to ask again")
	}
	if err := validSender(sender); err != nil {
		return err
	}
	if err := e.SetTrust(sender, decision); err != nil {
		return failure.New(protocol.CodeInternal, err.Error())
	}
	return nil
}

// validSender checks the sender of a set_trust: a name as the peers'
// hellos carry it (protocol.ValidName: 1 to 64 bytes, no control
// characters), the only names a remembered decision can ever apply to.
// It is a bad_request otherwise, so nothing is stored for it.
func validSender(sender string) error {
	if err := protocol.ValidName(sender); err != nil {
		return failure.New(protocol.CodeBadRequest, "the sender is not a name: "+err.Error())
	}
	return nil
}

// SetReceiving turns receiving files on or off in e, with the apps' error
// codes.
func SetReceiving(e *transfer.Engine, on bool) error {
	if err := e.SetReceiving(on); err != nil {
		return failure.New(protocol.CodeInternal, err.Error())
	}
	return nil
}

// Receiver is what both apps' logic offers for the receiving settings:
// the switch for files and links, and the decisions remembered per sender
// for each.
type Receiver interface {
	SetTrust(sender, decision string) error
	Trusts() map[string]string
	SetLinkTrust(sender, decision string) error
	LinkTrusts() map[string]string
	SetReceiving(on bool) error
	Receiving() bool
}

// Kinds of trust in the set_trust command and trust events.
const (
	TrustFiles = "files"
	TrustLinks = "links"
)

// Settings runs the headless commands of the receiving settings, the same
// in both apps: set_trust, trusts, receive_files. It reports whether c was
// one; report turns an error into an error event.
func Settings(r Receiver, out *headless.Writer, c headless.Command, report func(error)) bool {
	switch c.Cmd {
	case "set_trust":
		var err error
		switch c.Kind {
		case "", TrustFiles:
			err = r.SetTrust(c.Sender, c.Decision)
		case TrustLinks:
			err = r.SetLinkTrust(c.Sender, c.Decision)
		default:
			err = failure.New(protocol.CodeBadRequest, `set_trust's kind is "files" (the default) or "links"`)
		}
		if err != nil {
			report(err)
			return true
		}
		kind := c.Kind
		if kind == "" {
			kind = TrustFiles
		}
		out.Emit(headless.Event{Event: "trust", Name: c.Sender, Decision: c.Decision, Kind: kind})
	case "trusts":
		n := 0
		for _, t := range []struct {
			kind   string
			trusts map[string]string
		}{{TrustFiles, r.Trusts()}, {TrustLinks, r.LinkTrusts()}} {
			names := make([]string, 0, len(t.trusts))
			for name := range t.trusts {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				out.Emit(headless.Event{Event: "trust", Name: name, Decision: t.trusts[name], Kind: t.kind})
				n++
			}
		}
		out.Emit(headless.Event{Event: "trusts_end", Count: &n})
	case "receive_files":
		if c.On == nil {
			report(failure.New(protocol.CodeBadRequest, `receive_files needs "on": true or false`))
			return true
		}
		if err := r.SetReceiving(*c.On); err != nil {
			report(err)
			return true
		}
		state := "off"
		if r.Receiving() {
			state = "on"
		}
		out.Emit(headless.Event{Event: "receiving", State: state})
	default:
		return false
	}
	return true
}
