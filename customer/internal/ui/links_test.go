package ui

import (
	"slices"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/desktopui/uitest"

	"github.com/porthole-dev/porthole/shared/weblink"
)

// The agent offers a look-alike link: the customer reads the whole address
// with its punycode and the warning, and answers; the chat keeps it with
// where it stands.
func TestAgentOffersALink(t *testing.T) {
	w, win, r := newWindow(t)
	win.Resize(fyne.NewSize(880, 640))
	at := time.Date(2026, 11, 21, 14, 3, 0, 0, time.UTC)
	w.ShowConnected("Alice", "direct", []Message{{From: "Alice", Text: "Please open the driver page.", At: at}})
	l := Link{ID: "l1", Dir: weblink.In, Peer: "Alice", Display: "https://\u0430pple.com/driver", URL: "https://xn--pple-43d.com/driver", State: weblink.Offered, At: at.Add(time.Minute)}
	w.PutLink(l)
	looks(t, "link_offer.xml", win)
	test.Tap(findButton(t, overlayContent(t, win), "Never open links from Alice"))
	if len(r.linkAnswers) != 1 || r.linkAnswers[0] != [2]string{"l1", weblink.Never} {
		t.Fatalf("answers %q", r.linkAnswers)
	}
	l.State, l.Why = weblink.Refused, weblink.Never
	w.PutLink(l)
	if got := w.chat.Entries(); len(got) != 2 || got[1] != "Link from Alice: https://\u0430pple.com/driver" {
		t.Fatalf("chat %q", got)
	}
	// Opened with no browser: the chat offers to copy it.
	l2 := Link{ID: "l2", Dir: weblink.In, Peer: "Alice", Display: "https://example.com/", URL: "https://example.com/", State: weblink.Opened, Shown: true, At: at.Add(2 * time.Minute)}
	w.PutLink(l2)
	test.Tap(findButton(t, win.Content(), "Copy link"))
	if len(r.copied) != 1 || r.copied[0] != "https://example.com/" {
		t.Fatalf("copied %q", r.copied)
	}
	// The settings list the agent for links, and the choice goes through.
	w.showFileSettings()
	top := overlayContent(t, win)
	if d := r.linkTrust["Alice"]; d != "" {
		t.Fatalf("showing the settings changed them: %q", d)
	}
	// Alice has sent links only: her links' row is there, and it decides.
	sel := uitest.Find(t, top, func(s *desktopui.Select) bool { return slices.Contains(s.Options, "Always open") })
	sel.SetSelected("Always open")
	if d := r.linkTrust["Alice"]; d != weblink.Always {
		t.Fatalf("the links row set %q", d)
	}
	findButton(t, top, "Close").OnTapped()
}

// A link typed alone is offered as a link, and sent as one.
func TestLinkTypedAlone(t *testing.T) {
	w, win, r := newWindow(t)
	w.ShowConnected("Alice", "direct", nil)
	input := focusedEntry(t, win)
	test.Type(input, "https://example.com/error-page")
	input.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if len(r.sent) != 0 {
		t.Fatalf("sent as chat at once: %q", r.sent)
	}
	test.Tap(findButton(t, overlayContent(t, win), "Send as link"))
	if len(r.links) != 1 || r.links[0] != "https://example.com/error-page" {
		t.Fatalf("links %q", r.links)
	}
}
