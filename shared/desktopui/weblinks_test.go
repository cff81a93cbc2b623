package desktopui_test

import (
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/desktopui/uitest"
	"github.com/porthole-dev/porthole/shared/weblink"
)

func TestLinkStatus(t *testing.T) {
	in := desktopui.LinkEntry{Dir: weblink.In, Peer: "alice", State: weblink.Offered}
	out := desktopui.LinkEntry{Dir: weblink.Out, Peer: "bob", State: weblink.Offered}
	with := func(l desktopui.LinkEntry, state, why string, shown bool) desktopui.LinkEntry {
		l.State, l.Why, l.Shown = state, why, shown
		return l
	}
	for _, tt := range []struct {
		l    desktopui.LinkEntry
		want string
	}{
		{in, "Waiting for your answer."},
		{out, "Waiting for bob's answer."},
		{with(in, weblink.Opened, "", false), "Opened in your browser."},
		{with(in, weblink.Opened, "", true), "No browser could open it here: copy it."},
		{with(out, weblink.Opened, "", false), "Bob opened it."},
		{with(in, weblink.Refused, weblink.NotNow, false), "Not opened (not now)."},
		{with(out, weblink.Refused, weblink.NotNow, false), "Bob did not open it (not now)."},
		{with(in, weblink.Refused, weblink.Never, false), "Not opened: links from alice are never opened."},
		{with(out, weblink.Refused, weblink.Never, false), "Bob does not open your links."},
		{with(out, weblink.Refused, weblink.WhyReceptionOff, false), "Bob does not receive links."},
		{with(in, weblink.Refused, weblink.WhyEnded, false), "The session ended before an answer."},
		{with(in, weblink.Refused, "bad_link: only http and https links are shared, not javascript: links", false),
			"Refused, not a link that is opened: only http and https links are shared, not javascript: links."},
		{with(out, weblink.Refused, "bad_link: the link is empty", false), "Bob's app refused it: the link is empty."},
	} {
		if got := desktopui.LinkStatus(tt.l); got != tt.want {
			t.Errorf("LinkStatus(%s %s %q) = %q, want %q", tt.l.Dir, tt.l.State, tt.l.Why, got, tt.want)
		}
	}
}

// The offer of a look-alike address: the whole address, its punycode and
// the warning, and each answer reaches the caller.
func TestLinkOfferDialog(t *testing.T) {
	a, err := weblink.Check("https://\u0430pple.com/account/verify?session=" + strings.Repeat("x", 120))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ button, want string }{
		{"Open link", weblink.Open},
		{"Always open links from alice", weblink.Always},
		{"Not now", weblink.NotNow},
		{"Never open links from alice", weblink.Never},
	} {
		test.NewTempApp(t)
		win := test.NewTempWindow(t, widget.NewLabel("behind"))
		win.Resize(fyne.NewSize(800, 600))
		d := desktopui.NewDialogs(win)
		got := ""
		o := d.LinkOffer("alice", a, func(decision string) { got = decision })
		if tt.want == weblink.Always { // the longest address there is: the answers stay on the screen
			huge, err := weblink.Check("https://example.com/" + strings.Repeat("a", 4000))
			if err != nil {
				t.Fatal(err)
			}
			d.LinkOffer("alice", huge, func(string) {}).Close()
			h := d.LinkOffer("alice", huge, func(string) {})
			if sz := win.Canvas().Overlays().Top().MinSize(); sz.Height > 600 {
				t.Fatalf("a 4 KB address makes the dialog %v tall", sz)
			}
			h.Close()
		}
		if tt.want == weblink.Open {
			looks(t, "link_offer.xml", win)
			top := win.Canvas().Overlays().Top()
			uitest.Find(t, top, func(l *widget.Label) bool { return l.Text == "Host in punycode: xn--pple-43d.com" })
			uitest.Find(t, top, func(l *widget.Label) bool { return strings.Contains(l.Text, "mixes Latin and Cyrillic letters") })
			if sz := top.MinSize(); sz.Width > 800 || sz.Height > 600 {
				t.Fatalf("the dialog needs %v in an 800×600 window", sz)
			}
		}
		test.Tap(uitest.Button(t, win.Canvas().Overlays().Top(), tt.button))
		if got != tt.want || !o.Closed() || d.Open() != 0 {
			t.Fatalf("%s: answer %q, closed %v, open %d", tt.button, got, o.Closed(), d.Open())
		}
	}
	// Decide later answers nothing.
	test.NewTempApp(t)
	win := test.NewTempWindow(t, widget.NewLabel("behind"))
	d := desktopui.NewDialogs(win)
	o := d.LinkOffer("alice", a, func(string) { t.Fatal("answered") })
	test.Tap(uitest.Button(t, win.Canvas().Overlays().Top(), "Decide later"))
	if !o.Closed() {
		t.Fatal("Decide later left the dialog open")
	}
}

// Sending a link: checked as it is typed, sent only when it is one.
func TestSendLinkDialog(t *testing.T) {
	test.NewTempApp(t)
	win := test.NewTempWindow(t, widget.NewLabel("behind"))
	win.Resize(fyne.NewSize(800, 600))
	d := desktopui.NewDialogs(win)
	var sent []string
	fail := error(nil)
	d.SendLink("bob", func(url string) error {
		sent = append(sent, url)
		return fail
	})
	top := win.Canvas().Overlays().Top()
	type field interface {
		fyne.CanvasObject
		fyne.Focusable
		SetText(string)
		SetPlaceHolder(string)
	}
	entry := uitest.Find(t, top, func(field) bool { return true })
	send := uitest.Button(t, top, "Send link")
	test.Type(entry, "javascript:alert(1)")
	uitest.Find(t, top, func(l *widget.Label) bool {
		return l.Text == "Only http and https links are shared, not javascript: links."
	})
	if !send.Disabled() {
		t.Fatal("Send is enabled for a javascript: link")
	}
	entry.SetText("https://bücher.example/liste")
	if send.Disabled() {
		t.Fatal("Send is disabled for a web link")
	}
	looks(t, "send_link.xml", win)
	fail = errors.New("the customer has left")
	test.Tap(send)
	uitest.Find(t, top, func(l *widget.Label) bool { return l.Text == "The customer has left." })
	if d.Open() != 1 {
		t.Fatal("a failed send closed the dialog")
	}
	fail = nil
	entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) // Enter sends too
	if len(sent) != 2 || sent[len(sent)-1] != "https://xn--bcher-kva.example/liste" || d.Open() != 0 {
		t.Fatalf("sent %q, open %d", sent, d.Open())
	}
}

// A line that is only a link goes to the lone-link question; any other
// line is chat.
func TestChatLoneLink(t *testing.T) {
	test.NewTempApp(t)
	var said, lone []string
	c := desktopui.NewChat(func(text string) { said = append(said, text) }, "")
	window(t, c.Object(), 400, 300)
	c.SetLoneLink(func(text string) { lone = append(lone, text) })
	for _, line := range []string{"https://example.com/help", "see https://example.com/help", "javascript:alert(1)", "  http://example.com  "} {
		c.Input.SetText(line)
		test.Type(c.Input, "\n")
		c.Input.OnSubmitted(c.Input.Text)
	}
	if strings.Join(lone, "|") != "https://example.com/help|http://example.com" ||
		strings.Join(said, "|") != "see https://example.com/help|javascript:alert(1)" {
		t.Fatalf("lone %q, said %q", lone, said)
	}
	c.SetLoneLink(nil)
	c.Input.SetText("https://example.com/help")
	c.Input.OnSubmitted(c.Input.Text)
	if len(said) != 3 {
		t.Fatalf("without a lone-link question, said %q", said)
	}
}

// Links in the conversation: where each stands, updated in place, with
// the button that applies.
func TestChatRecordsLinks(t *testing.T) {
	test.NewTempApp(t)
	c := desktopui.NewChat(func(string) {}, "")
	c.Zone = t0.Location()
	win := window(t, c.Object(), 420, 420)
	answered, copied := "", ""
	act := desktopui.LinkActions{Answer: func(id string) { answered = id }, Copy: func(u string) { copied = u }}
	in := desktopui.LinkEntry{ID: "l1", Dir: weblink.In, Peer: "alice", Display: "https://bücher.example/a-very-long-path/that-has/no-spaces/to-wrap-at/at-all/index.html",
		URL: "https://xn--bcher-kva.example/a-very-long-path/that-has/no-spaces/to-wrap-at/at-all/index.html", State: weblink.Offered, At: t0}
	c.PutLink(in, act)
	c.PutLink(desktopui.LinkEntry{ID: "l2", Dir: weblink.Out, Peer: "alice", Display: "https://example.com/", URL: "https://example.com/", State: weblink.Refused, Why: weblink.NotNow, At: t0}, act)
	test.Tap(uitest.Button(t, c.Object(), "Answer…"))
	if answered != "l1" {
		t.Fatalf("Answer… answered %q", answered)
	}
	in.State, in.Shown = weblink.Opened, true
	c.PutLink(in, act)
	looks(t, "chat_links.xml", win)
	test.Tap(uitest.Button(t, c.Object(), "Copy link"))
	if copied != in.URL {
		t.Fatalf("copied %q", copied)
	}
	if got := c.Entries(); len(got) != 2 || !strings.HasPrefix(got[0], "Link from alice: https://bücher.example/") || got[1] != "Link for alice: https://example.com/" {
		t.Fatalf("entries %q", got)
	}
}
