package console

import (
	"math"
	"time"

	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/headless/eventline"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/session"
)

// JSON is the headless line of one of the console's events (see
// Config.Events), as docs/headless.md documents it; ok is false for a value
// that has none.
func JSON(ev any) (e headless.Event, ok bool) {
	switch ev := ev.(type) {
	case session.KeyIssued:
		r := ev.Record
		return headless.Event{Event: "session_key", Session: r.ID, Key: protocol.FormatKey(r.Nameplate, r.Secret), Expires: r.KeyExpires.Format(time.RFC3339)}, true
	case KeyBurned:
		return headless.Event{Event: "key_burned", Session: ev.Session, Reason: ev.Reason, Message: ev.Message}, true
	case session.Joined:
		return headless.Event{Event: "customer_joined", Session: ev.Session, Path: string(ev.Path), Name: ev.Peer}, true
	case session.Left:
		return headless.Event{Event: "customer_left", Session: ev.Session, Reason: ev.Reason}, true
	case consent.Event:
		e := headless.Event{Event: "permission", Session: ev.Session, ID: ev.ID, Kind: ev.Kind, State: ev.State}
		if ev.State == consent.StateRevoked {
			e.Reason = ev.Why
		}
		return e, true
	case ScreenStarted:
		mon := ev.Monitor
		e := headless.Event{Event: "screen_started", Session: ev.Session, Monitor: &mon}
		for _, m := range ev.Monitors {
			e.Monitors = append(e.Monitors, headless.Monitor{Index: m.Index, X: m.Bounds.Min.X, Y: m.Bounds.Min.Y,
				Width: m.Bounds.Dx(), Height: m.Bounds.Dy(), Primary: m.Primary})
		}
		return e, true
	case ScreenStats:
		fps, enc, dec := round2(ev.FPS), round2(ev.EncodeMs), round2(ev.DecodeMs)
		rtt := ev.RTT.Milliseconds()
		return headless.Event{Event: "screen_stats", Session: ev.Session, FPS: &fps, Rate: ev.BytesPerSec, EncodeMs: &enc, DecodeMs: &dec, RTTMs: &rtt}, true
	case ScreenStopped:
		return headless.Event{Event: "screen_stopped", Session: ev.Session, By: ev.By, Reason: ev.Why}, true
	}
	return eventline.Line(ev, true)
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
