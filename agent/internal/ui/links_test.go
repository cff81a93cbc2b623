package ui

import (
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/desktopui/uitest"
	"github.com/porthole-dev/porthole/shared/weblink"
)

// The customer offers a link in a session behind: asked, counted,
// notified; the answer goes to the console, and a later state closes
// nothing twice.
func TestCustomerOffersALink(t *testing.T) {
	w, win, r := signedIn(t)
	w.PutSession(active("a", "bob@laptop"))
	b := active("b", "carol@desk")
	b.Created = t0.Add(1)
	w.PutSession(b)
	w.OpenSession("a")
	w.OpenSession("b")
	l := Link{ID: "l1", Dir: weblink.In, Peer: "bob@laptop", Display: "https://printer.example/driver", URL: "https://printer.example/driver", State: weblink.Offered, At: t0}
	w.PutLink("a", l)
	if w.Unread("a") != 1 || len(r.notes) != 1 || r.notes[0][0] != "bob@laptop sends you a link" {
		t.Fatalf("unread %d, notes %q", w.Unread("a"), r.notes)
	}
	test.Tap(button(t, overlay(t, win), "Not now"))
	if len(r.linkAnswers) != 1 || r.linkAnswers[0] != [2]string{"l1", weblink.NotNow} {
		t.Fatalf("answers %q", r.linkAnswers)
	}
	l.State, l.Why = weblink.Refused, weblink.NotNow
	w.PutLink("a", l)
	if dialogUp(win) {
		t.Fatal("a question is still up")
	}
	// A remembered decision answers a second link: its question goes.
	l2 := Link{ID: "l2", Dir: weblink.In, Peer: "bob@laptop", Display: "https://example.com/", URL: "https://example.com/", State: weblink.Offered, At: t0}
	w.PutLink("a", l2)
	if !dialogUp(win) {
		t.Fatal("no question for the second link")
	}
	l2.State = weblink.Opened
	w.PutLink("a", l2)
	if dialogUp(win) {
		t.Fatal("the answered link's question is still up")
	}
}

// The link button and a link typed alone both send links to the session
// in front.
func TestSendALink(t *testing.T) {
	w, win, r := signedIn(t)
	w.PutSession(active("a", "bob@laptop"))
	w.OpenSession("a")
	sv := w.sessionView("a")
	test.Tap(uitest.Find(t, win.Content(), func(b *widget.Button) bool { return b.Icon == desktopui.LinkIcon }))
	if !dialogUp(win) {
		t.Fatal("the link button asked nothing")
	}
	escape(win)
	sv.chat.Input.SetText("https://printer.example/driver")
	sv.chat.Input.OnSubmitted(sv.chat.Input.Text)
	test.Tap(button(t, overlay(t, win), "Send as link"))
	sv.chat.Input.SetText("https://printer.example/other")
	sv.chat.Input.OnSubmitted(sv.chat.Input.Text)
	test.Tap(button(t, overlay(t, win), "Send as text"))
	if len(r.links) != 1 || r.links[0] != [2]string{"a", "https://printer.example/driver"} ||
		len(r.sent) != 1 || r.sent[0] != [2]string{"a", "https://printer.example/other"} {
		t.Fatalf("links %q, sent %q", r.links, r.sent)
	}
}
