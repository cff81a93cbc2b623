// Package eventline turns the events both apps publish the same way into
// the JSON lines of docs/headless.md: the relay's state, failures, the end
// of a session, chat lines, files and links. Each app's JSON function handles its
// own events (who joined, permissions) and hands the rest to Line.
package eventline

import (
	"github.com/porthole-dev/porthole/shared/chat"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/headless/fileevent"
	"github.com/porthole-dev/porthole/shared/headless/linkevent"
	"github.com/porthole-dev/porthole/shared/session"
	"github.com/porthole-dev/porthole/shared/transfer"
	"github.com/porthole-dev/porthole/shared/weblink"
)

// Line is the headless line of ev; agent says whose line it is (the
// customer's lines carry no session, as the client is in one at a time).
// ok is false for a value that has none here.
func Line(ev any, agent bool) (e headless.Event, ok bool) {
	switch ev := ev.(type) {
	case session.Relay:
		if ev.Connected {
			return headless.Event{Event: "relay", Message: "connected"}, true
		}
		return headless.Event{Event: "relay", Message: "disconnected", Reason: ev.Reason}, true
	case session.Failure:
		e = headless.Event{Event: "error", Code: ev.Code, Message: ev.Message}
		if agent {
			e.Session = ev.Session
		}
		return e, true
	case session.Ended:
		e = headless.Event{Event: "session_ended", Reason: ev.Reason}
		if agent {
			e.Session = ev.Session
		}
		return e, true
	case chat.Line:
		name := "chat"
		if ev.Outgoing {
			name = "chat_sent"
		}
		e = headless.Event{Event: name, ID: ev.ID, From: ev.From, Text: ev.Text, At: headless.Time(ev.At)}
		if agent {
			e.Session = ev.Session
		}
		return e, true
	case transfer.Event:
		return fileevent.From(ev, agent), true
	case weblink.Event:
		return linkevent.From(ev, agent), true
	}
	return headless.Event{}, false
}
