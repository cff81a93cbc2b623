package client

import (
	"fmt"

	"github.com/porthole-dev/porthole/customer/internal/sharing"
	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/protocol"
)

// What --accept-screen and --accept-control say.
const (
	AcceptAsk  = "ask"  // ask the person (the default)
	AcceptAll  = "all"  // allow every request of the kind, asking nobody
	AcceptNone = "none" // deny them all
)

func validAccept(flag, v string) error {
	switch v {
	case "", AcceptAsk, AcceptAll, AcceptNone:
		return nil
	}
	return &Error{Code: protocol.CodeBadRequest, Message: fmt.Sprintf("%s is ask, all or none, not %q", flag, v)}
}

// newSharing makes the screen-sharing service, which each session's
// router serves.
func (c *Client) newSharing() *sharing.Service {
	return sharing.New(sharing.Config{
		Allowed: func(session, agent, kind string) bool {
			c.mu.Lock()
			give, rec := c.give, c.rec
			c.mu.Unlock()
			return give != nil && rec != nil && rec.ID == session && give.Allowed(agent, kind)
		},
		EndControl: func() { c.RevokeControl() },
		Events:     func(v sharing.Viewing) { c.publish(v) },
		Log:        c.log,
	})
}

// consentEvent takes the consent service's events: the sharing service
// hears of grants ending, requests of a kind the flags answer are
// answered, and the event is published.
func (c *Client) consentEvent(ev consent.Event) {
	c.share.Consent(ev)
	c.publish(ev)
	if ev.State != consent.StateRequested {
		return
	}
	accept := ""
	switch ev.Kind {
	case consent.KindScreen:
		accept = c.cfg.AcceptScreen
	case consent.KindControl:
		accept = c.cfg.AcceptControl
	}
	if accept == AcceptAll || accept == AcceptNone {
		// Aside: the Giver is telling of the request it has just opened.
		go c.AnswerPermission(ev.ID, accept == AcceptAll)
	}
}

// StopSharing ends every agent's view of the screen, and with it control
// ("Stop" on the sharing bar, stop_sharing); it reports how many grants
// ended.
func (c *Client) StopSharing() int {
	c.mu.Lock()
	give := c.give
	c.mu.Unlock()
	if give == nil {
		return 0
	}
	return give.RevokeKind(consent.KindScreen)
}

// RevokeControl ends every agent's control of the mouse and keyboard
// (the sharing bar, the shortcut, revoke_control); the view stays.
func (c *Client) RevokeControl() int {
	c.mu.Lock()
	give := c.give
	c.mu.Unlock()
	if give == nil {
		return 0
	}
	return give.RevokeKind(consent.KindControl)
}

// ShortcutHeld says whether the shortcut that ends control
// (sharing.ShortcutName) is grabbed now: while an agent holds control, and
// unless another program holds it.
func (c *Client) ShortcutHeld() bool { return c.share.ShortcutHeld() }

// Viewers lists the agents who see the screen now.
func (c *Client) Viewers() []string {
	c.mu.Lock()
	rec := c.rec
	c.mu.Unlock()
	if rec == nil {
		return nil
	}
	return c.share.Viewers(rec.ID)
}
