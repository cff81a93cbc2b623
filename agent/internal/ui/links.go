package ui

import (
	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/weblink"
)

// Link is one shared link to show.
type Link = desktopui.LinkEntry

// PutLink shows a link of a session, new or changed: in its chat, and as
// a question when the customer offers one.
func (w *Window) PutLink(session string, l Link) { w.putLink(session, l, true) }

// LoadLinks shows a session's links as they were when the console
// started: open offers are asked, but nothing counts as new. Call it before
// LoadFiles, which puts the chat in time order.
func (w *Window) LoadLinks(session string, links []Link) {
	for _, l := range links {
		w.putLink(session, l, false)
	}
}

func (w *Window) putLink(session string, l Link, live bool) {
	m := w.main
	sv := w.sessionView(session)
	if sv == nil {
		return
	}
	old, known := sv.links[l.ID]
	if l.At.IsZero() {
		l.At = old.At
		if !known {
			l.At = w.Now()
		}
	}
	sv.links[l.ID] = l
	sv.chat.PutLink(l, w.linkActions(sv))
	if l.Dir != weblink.In {
		return
	}
	if known && old.State == weblink.Offered && l.State != weblink.Offered {
		if d := sv.linkOffers[l.ID]; d != nil { // answered (here, or by a remembered decision)
			d.Close()
			delete(sv.linkOffers, l.ID)
		}
	}
	if l.State != weblink.Offered || (known && old.State == weblink.Offered) {
		return
	}
	w.askLink(sv, l)
	if !live || (w.foreground && m.current == sv) {
		return
	}
	sv.unread++
	m.refresh()
	if w.prefs.Notify {
		w.act.Notify(l.Peer+" sends you a link", l.Display)
	}
}

// askLink puts a customer's link to the agent.
func (w *Window) askLink(sv *sessionView, l Link) {
	a, err := weblink.Check(l.URL)
	if err != nil || w.act.AnswerLink == nil {
		return
	}
	if d := sv.linkOffers[l.ID]; d != nil && !d.Closed() {
		return
	}
	sv.linkOffers[l.ID] = w.dialogs.LinkOffer(l.Peer, a, func(decision string) {
		delete(sv.linkOffers, l.ID)
		w.act.AnswerLink(l.ID, decision)
	})
}

// linkActions are what a link in a session's chat can do: ask again (an
// offer left for later) and copy (a link no browser took).
func (w *Window) linkActions(sv *sessionView) desktopui.LinkActions {
	return desktopui.LinkActions{
		Answer: func(id string) {
			if l, ok := sv.links[id]; ok && l.State == weblink.Offered {
				w.askLink(sv, l)
			}
		},
		Copy: w.act.Copy,
	}
}

// sendLink asks the agent for a link and sends it to the session's
// customer.
func (w *Window) sendLink(sv *sessionView) {
	if w.act.SendLink == nil {
		return
	}
	id, to := sv.s.ID, sv.s.Customer
	if to == "" {
		to = "the customer"
	}
	w.dialogs.SendLink(to, func(url string) error {
		if _, err := weblink.Check(url); err != nil {
			return err
		}
		w.act.SendLink(id, url)
		return nil
	})
}

// loneLink asks whether a line that is only a web address goes as a link
// or as chat text.
func (w *Window) loneLink(sv *sessionView, text string) {
	id := sv.s.ID
	w.dialogs.SendAsLink(text, func() {
		if w.act.SendLink != nil {
			w.act.SendLink(id, text)
		}
	}, func() { w.act.Send(id, text) })
}
