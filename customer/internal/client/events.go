package client

import (
	"github.com/porthole-dev/porthole/customer/internal/sharing"
	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/headless/eventline"
	"github.com/porthole-dev/porthole/shared/session"
)

// JSON is the headless line of one of the client's events (see
// Config.Events), as docs/headless.md documents it; ok is false for a value
// that has none. The client is in one session at a time, so only paired
// and connected name it.
func JSON(ev any) (e headless.Event, ok bool) {
	switch ev := ev.(type) {
	case session.Paired:
		return headless.Event{Event: "paired", Session: ev.Session, Agent: ev.Agent}, true
	case session.Joined:
		return headless.Event{Event: "connected", Session: ev.Session, Path: string(ev.Path), Agent: ev.Peer}, true
	case session.Left:
		return headless.Event{Event: "disconnected", Reason: ev.Reason}, true
	case session.Reconnecting:
		return headless.Event{Event: "reconnecting", Code: ev.Code, Message: ev.Message}, true
	case consent.Event:
		switch ev.State {
		case consent.StateRequested:
			return headless.Event{Event: "permission_request", ID: ev.ID, Agent: ev.Peer, Kind: ev.Kind, Reason: ev.Reason, TimeoutMs: ev.Timeout.Milliseconds()}, true
		case consent.StateRevoked:
			return headless.Event{Event: "permission_revoked", ID: ev.ID, Agent: ev.Peer, Kind: ev.Kind, Reason: ev.Why}, true
		}
		return headless.Event{Event: "permission_answered", ID: ev.ID, Agent: ev.Peer, Kind: ev.Kind, State: ev.State}, true
	case sharing.Viewing:
		e := headless.Event{Event: "screen_shared", Agent: ev.Agent, State: "on"}
		if ev.On {
			mon := ev.Monitor
			e.Monitor = &mon
		} else {
			e.State, e.Reason = "off", ev.Why
		}
		return e, true
	}
	return eventline.Line(ev, false)
}
