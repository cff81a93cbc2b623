package client

import (
	"github.com/porthole-dev/porthole/shared/headless/linkevent"
	"github.com/porthole-dev/porthole/shared/weblink"
)

// Shared links: the client runs one weblink.Service on its own database;
// links come and go on the session's router. Their events come through
// Config.Events (weblink.Event) and Config.Emit (the link_* events of
// docs/headless.md).

// SendLink offers a web link (http or https) to the agent; the offer goes
// now, or when the agent is back. A link that is not one is refused with
// code bad_request, saying why, and nothing is sent. The link comes back
// in its first state (offered).
func (c *Client) SendLink(url string) (weblink.Link, error) {
	id, err := c.inSession()
	if err != nil {
		return weblink.Link{}, err
	}
	k, err := c.links.Send(id, "", url)
	return k, linkevent.Error(err)
}

// AnswerLink answers a link the agent offered: weblink.Open, NotNow,
// Always (this link and every later one from this agent) or Never. The
// agent hears of it now, or when it is back.
func (c *Client) AnswerLink(id, decision string) error {
	return linkevent.Error(c.links.Answer(id, decision))
}

// IsLink says whether id is a shared link's (answer_offer takes both
// files' and links' ids).
func (c *Client) IsLink(id string) bool {
	_, ok := c.links.Get(id)
	return ok
}

// Links lists the session's links, both ways, oldest first.
func (c *Client) Links() []weblink.Link {
	id := c.sessionID()
	if id == "" {
		return nil
	}
	return c.links.Links(id)
}

// SharedLink returns one shared link.
func (c *Client) SharedLink(id string) (weblink.Link, bool) { return c.links.Get(id) }

// LinkTrusts lists the remembered decisions for links, by agent name.
func (c *Client) LinkTrusts() map[string]string { return c.links.Trusts() }

// SetLinkTrust remembers a decision for links from an agent name (""
// forgets it): weblink.Always or Never.
func (c *Client) SetLinkTrust(sender, decision string) error {
	return linkevent.SetTrust(c.links, sender, decision)
}
