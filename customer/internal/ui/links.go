package ui

import (
	"time"

	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/weblink"
)

// Link is one shared link to show.
type Link = desktopui.LinkEntry

// linksState is the session's links: every link the window was told of
// (kept across a reconnect, which rebuilds the screen), and the open
// questions about the agent's.
type linksState struct {
	all    map[string]Link
	order  []string
	offers map[string]*desktopui.LinkOfferDialog
	asked  map[string]bool // offers put to the person once already: "Decide later" stays later
}

// PutLink shows a link, new or changed: in the chat, and as a question
// when the agent offers one.
func (w *Window) PutLink(l Link) {
	s := &w.links
	if s.all == nil {
		s.all, s.offers, s.asked = map[string]Link{}, map[string]*desktopui.LinkOfferDialog{}, map[string]bool{}
	}
	old, known := s.all[l.ID]
	if !known {
		s.order = append(s.order, l.ID)
		if l.At.IsZero() {
			l.At = time.Now()
		}
	} else if l.At.IsZero() {
		l.At = old.At
	}
	s.all[l.ID] = l
	if w.chat == nil {
		return // not on the session screen; shown when it is back
	}
	w.chat.PutLink(l, w.linkActions())
	if l.Dir != weblink.In {
		return
	}
	if known && old.State == weblink.Offered && l.State != weblink.Offered {
		if d := s.offers[l.ID]; d != nil { // answered (here, or by a remembered decision)
			d.Close()
			delete(s.offers, l.ID)
		}
	}
	if l.State == weblink.Offered && !s.asked[l.ID] {
		w.askLink(l)
	}
}

// askNewLinks puts the agent's open offers that were never asked (they
// came while the session screen was not up) to the person.
func (w *Window) askNewLinks() {
	for _, id := range w.links.order {
		if l := w.links.all[id]; l.Dir == weblink.In && l.State == weblink.Offered && !w.links.asked[id] {
			w.askLink(l)
		}
	}
}

// askLink puts the agent's link to the person.
func (w *Window) askLink(l Link) {
	s := &w.links
	a, err := weblink.Check(l.URL)
	if err != nil || w.act.AnswerLink == nil {
		return
	}
	if d := s.offers[l.ID]; d != nil && !d.Closed() {
		return
	}
	s.asked[l.ID] = true
	s.offers[l.ID] = w.dialogs.LinkOffer(l.Peer, a, func(decision string) {
		delete(s.offers, l.ID)
		w.act.AnswerLink(l.ID, decision)
	})
}

func (w *Window) linkActions() desktopui.LinkActions {
	return desktopui.LinkActions{
		Answer: func(id string) {
			if l, ok := w.links.all[id]; ok && l.State == weblink.Offered {
				w.askLink(l)
			}
		},
		Copy: w.act.Copy,
	}
}

// shownLinks are the links so far, in the order they came.
func (w *Window) shownLinks() []Link {
	out := make([]Link, 0, len(w.links.order))
	for _, id := range w.links.order {
		out = append(out, w.links.all[id])
	}
	return out
}

// sendLink asks for a link and sends it to the agent.
func (w *Window) sendLink() {
	w.dialogs.SendLink(w.agent, func(url string) error {
		if _, err := weblink.Check(url); err != nil {
			return err
		}
		w.act.SendLink(url)
		return nil
	})
}

// loneLink asks whether a line that is only a web address goes as a link
// or as chat text.
func (w *Window) loneLink(text string) {
	w.dialogs.SendAsLink(text, func() { w.act.SendLink(text) }, func() { w.act.Send(text) })
}
