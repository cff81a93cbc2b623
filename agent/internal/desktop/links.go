package desktop

import (
	"github.com/porthole-dev/porthole/agent/internal/console"
)

// The window's link actions, run off Fyne's goroutine on the console.

func (b *bridge) sendLink(session, link string) {
	b.files("Link not sent", func(c *console.Console) error {
		_, err := c.SendLink(session, link)
		return err
	})
}

func (b *bridge) answerLink(id, decision string) {
	b.files("No answer given", func(c *console.Console) error { return c.AnswerLink(id, decision) })
}

func (b *bridge) setLinkTrust(sender, decision string) {
	b.files("Setting not saved", func(c *console.Console) error { return c.SetLinkTrust(sender, decision) })
}
