package console

import (
	"github.com/porthole-dev/porthole/shared/headless/linkevent"
	"github.com/porthole-dev/porthole/shared/weblink"
)

// Shared links: the console runs one weblink.Service for all its
// sessions, on its own database; links come and go on each session's
// router. Their events come through Config.Events (weblink.Event) and
// Config.Emit (the link_* events of docs/headless.md).

// SendLink offers a web link (http or https) to the customer of a
// session; the offer goes now, or when the customer is back. A link that
// is not one is refused with code bad_request, saying why, and nothing is
// sent. The link comes back in its first state (offered).
func (c *Console) SendLink(session, url string) (weblink.Link, error) {
	if _, err := c.joined(session); err != nil {
		return weblink.Link{}, err
	}
	k, err := c.links.Send(session, "", url)
	return k, linkevent.Error(err)
}

// AnswerLink answers a link the customer offered: weblink.Open, NotNow,
// Always (this link and every later one from this customer) or Never.
// The customer hears of it now, or when it is back.
func (c *Console) AnswerLink(id, decision string) error {
	return linkevent.Error(c.links.Answer(id, decision))
}

// IsLink says whether id is a shared link's (answer_offer takes both
// files' and links' ids).
func (c *Console) IsLink(id string) bool {
	_, ok := c.links.Get(id)
	return ok
}

// Links lists a session's links, both ways, oldest first ("": every
// session's).
func (c *Console) Links(session string) []weblink.Link { return c.links.Links(session) }

// SharedLink returns one shared link.
func (c *Console) SharedLink(id string) (weblink.Link, bool) { return c.links.Get(id) }

// LinkTrusts lists the remembered decisions for links, by customer name.
func (c *Console) LinkTrusts() map[string]string { return c.links.Trusts() }

// SetLinkTrust remembers a decision for links from a customer name (""
// forgets it): weblink.Always or Never.
func (c *Console) SetLinkTrust(sender, decision string) error {
	return linkevent.SetTrust(c.links, sender, decision)
}
