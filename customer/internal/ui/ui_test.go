package ui

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui/uitest"
)

type recorder struct {
	joined  []string
	sent    []string
	ended   int
	quit    int
	files   [][]string
	answers [][2]string
	kept    []bool
	trust   map[string]string
	recv    bool
	revoked []string

	links       []string
	linkAnswers [][2]string
	linkTrust   map[string]string
	copied      []string
}

func (r *recorder) actions() Actions {
	return Actions{
		Join: func(k string) { r.joined = append(r.joined, k) },
		Send: func(t string) { r.sent = append(r.sent, t) },
		End:  func() { r.ended++ },
		Quit: func() { r.quit++ },

		SendFiles:  func(p []string) { r.files = append(r.files, p) },
		AnswerFile: func(id, d string) { r.answers = append(r.answers, [2]string{id, d}) },
		Open:       func(string) {},
		Folder:     func() string { return "/home/bob/Downloads/Porthole/Support with Alice" },
		Receiving: func() (bool, map[string]string, map[string]string) {
			if r.trust == nil {
				r.trust = map[string]string{}
			}
			if r.linkTrust == nil {
				r.linkTrust = map[string]string{}
			}
			return r.recv, r.trust, r.linkTrust
		},
		SendLink:     func(u string) { r.links = append(r.links, u) },
		AnswerLink:   func(id, d string) { r.linkAnswers = append(r.linkAnswers, [2]string{id, d}) },
		SetLinkTrust: func(s, d string) { r.linkTrust[s] = d },
		Copy:         func(s string) { r.copied = append(r.copied, s) },
		SetReceiving: func(on bool) { r.recv = on },
		SetTrust:     func(s, d string) { r.trust[s] = d },
		KeepFiles:    func(keep bool) { r.kept = append(r.kept, keep) },
		Revoke:       func(id string) { r.revoked = append(r.revoked, id) },
	}
}

func newWindow(t *testing.T) (*Window, fyne.Window, *recorder) {
	t.Helper()
	test.NewTempApp(t)
	win := test.NewTempWindow(t, nil)
	win.Resize(fyne.NewSize(640, 480))
	r := &recorder{}
	w := New(win, r.actions())
	w.Zone = time.UTC
	return w, win, r
}

func focusedEntry(t *testing.T, win fyne.Window) *widget.Entry {
	t.Helper()
	e, ok := win.Canvas().Focused().(*widget.Entry)
	if !ok {
		t.Fatalf("focused object is %T, want the entry", win.Canvas().Focused())
	}
	return e
}

func TestFormatKey(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "",
		"12":                   "12",
		"1234":                 "1234",
		"12345":                "1234-5",
		"12345678123456":       "1234-5678-123-456",
		" 1234 5678 123456 ":   "1234-5678-123-456",
		"1234-5678-123-456123": "1234-5678-123-456",
		"1234-567890":          "1234-5678-90",
		"ab12cd34-56":          "1234-56",
	} {
		if got := FormatKey(in); got != want {
			t.Errorf("FormatKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKeyScreenFormatsAndJoins(t *testing.T) {
	w, win, r := newWindow(t)
	w.ShowKey("", "")
	looks(t, "key_empty.xml", win)
	entry := focusedEntry(t, win)
	test.Type(entry, "12345")
	if entry.Text != "1234-5" {
		t.Fatalf("typed key shows %q, want 1234-5", entry.Text)
	}
	entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if len(r.joined) != 0 {
		t.Fatal("an incomplete key was submitted")
	}
	test.Type(entry, "678123456")
	if entry.Text != "1234-5678-123-456" {
		t.Fatalf("key shows %q", entry.Text)
	}
	looks(t, "key_complete.xml", win)
	entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if len(r.joined) != 1 || r.joined[0] != "1234-5678-123-456" {
		t.Fatalf("joined %q", r.joined)
	}
}

func TestKeyScreenAcceptsPaste(t *testing.T) {
	w, win, _ := newWindow(t)
	w.ShowKey("", "")
	entry := focusedEntry(t, win)
	entry.SetText(" 1234 5678 123456\n")
	if entry.Text != "1234-5678-123-456" {
		t.Fatalf("pasted key shows %q", entry.Text)
	}
}

func TestKeyScreenShowsError(t *testing.T) {
	w, win, _ := newWindow(t)
	w.ShowKey("1234-5678-123-456", "This session key has expired; ask your agent for a new one.")
	looks(t, "key_error.xml", win)
}

func TestConnecting(t *testing.T) {
	w, win, _ := newWindow(t)
	w.ShowConnecting("Pairing securely with your agent…")
	looks(t, "connecting.xml", win)
}

func TestConnectedChat(t *testing.T) {
	w, win, r := newWindow(t)
	at := time.Date(2026, 11, 21, 14, 3, 0, 0, time.UTC)
	w.ShowConnected("Alice", "direct", []Message{
		{From: "Alice", Text: "Hi, this is Alice from support. How can I help?", At: at},
		{From: "bob", Text: "My printer stopped working.", At: at.Add(time.Minute), Outgoing: true},
	})
	looks(t, "connected.xml", win)

	input := focusedEntry(t, win)
	test.Type(input, "It's the LaserJet")
	input.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if len(r.sent) != 1 || r.sent[0] != "It's the LaserJet" || input.Text != "" {
		t.Fatalf("sent %q, input left %q", r.sent, input.Text)
	}
	input.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) // empty: nothing is sent
	if len(r.sent) != 1 {
		t.Fatalf("an empty line was sent: %q", r.sent)
	}
	w.AddMessage(Message{From: "Alice", Text: "Let's have a look.", At: at.Add(2 * time.Minute)})
	looks(t, "connected_more.xml", win)
}

// What the customer allowed shows under the header, each with Take back;
// with nothing allowed the header says so.
func TestGrantsShowWithTakeBack(t *testing.T) {
	w, win, r := newWindow(t)
	w.ShowConnected("Alice", "direct", nil)
	w.SetGrants([]Grant{{ID: "g1", Agent: "Alice", Kind: "files"}})
	looks(t, "grants.xml", win)
	test.Tap(findButton(t, win.Content(), "Take back"))
	if len(r.revoked) != 1 || r.revoked[0] != "g1" {
		t.Fatalf("revoked %q", r.revoked)
	}
	w.SetGrants(nil)
	looks(t, "connected_no_grants.xml", win)
}

func TestConnectedRelayedSaysSo(t *testing.T) {
	w, win, _ := newWindow(t)
	w.ShowConnected("Alice", "relayed", nil)
	looks(t, "connected_relayed.xml", win)
}

func TestEndSessionAsksFirst(t *testing.T) {
	w, win, r := newWindow(t)
	w.ShowConnected("Alice", "direct", nil)
	end := findButton(t, win.Content(), "End session")
	test.Tap(end)
	if r.ended != 0 {
		t.Fatal("ended without confirmation")
	}
	looks(t, "end_confirm.xml", win)
	yes := findButton(t, overlayContent(t, win), "End session")
	test.Tap(yes)
	if r.ended != 1 {
		t.Fatalf("End called %d times after confirming, want 1", r.ended)
	}
}

func TestEnded(t *testing.T) {
	w, win, r := newWindow(t)
	w.ShowEnded("the agent ended the session") // as the logic says it: shown as a sentence
	looks(t, "ended.xml", win)
	test.Tap(findButton(t, win.Content(), "Close"))
	if r.quit != 1 {
		t.Fatal("Close did not quit")
	}
}

func TestCannotStart(t *testing.T) {
	w, win, r := newWindow(t)
	w.ShowCannotStart("This copy of Porthole does not know which support server to use. Ask the person helping you for a complete download.")
	looks(t, "cannot_start.xml", win)
	test.Tap(findButton(t, win.Content(), "Close"))
	if r.quit != 1 {
		t.Fatal("Close did not quit")
	}
}

func TestConsentAllowAndDeny(t *testing.T) {
	w, win, _ := newWindow(t)
	w.ShowConnected("Alice", "direct", nil)
	got := make(chan bool, 2)
	w.AskConsent(Consent{Title: "Alice asks to see your screen", Detail: "Alice will see everything on your screen until you stop it.", Timeout: time.Hour},
		func(ok bool) { got <- ok })
	looks(t, "consent.xml", win)
	test.Tap(findButton(t, overlayContent(t, win), "Allow"))
	if ok := <-got; !ok {
		t.Fatal("Allow answered no")
	}

	w.AskConsent(Consent{Title: "Alice asks to control your computer", Timeout: time.Hour}, func(ok bool) { got <- ok })
	test.Tap(findButton(t, overlayContent(t, win), "Deny"))
	if ok := <-got; ok {
		t.Fatal("Deny answered yes")
	}
	if len(got) != 0 {
		t.Fatal("answered twice")
	}
}

func TestConsentEscapeDenies(t *testing.T) {
	w, win, _ := newWindow(t)
	w.ShowConnected("Alice", "direct", nil)
	got := make(chan bool, 1)
	w.AskConsent(Consent{Title: "Alice asks to see your screen", Timeout: time.Hour}, func(ok bool) { got <- ok })
	// Tab first: the key then goes to the focused button, as on a desktop.
	win.Canvas().FocusNext()
	if win.Canvas().Focused() == nil {
		t.Fatal("Tab focused nothing in the dialog")
	}
	uitest.Press(win.Canvas(), fyne.KeyEscape)
	if ok := <-got; ok {
		t.Fatal("Escape allowed the request")
	}
	if top := win.Canvas().Overlays().Top(); top != nil && top.Visible() {
		t.Fatal("the dialog is still showing after Escape")
	}
}

func TestConsentTimesOutToDeny(t *testing.T) {
	w, win, _ := newWindow(t)
	w.ShowConnected("Alice", "direct", nil)
	got := make(chan bool, 1)
	w.AskConsent(Consent{Title: "Alice asks to open a command shell", Timeout: 50 * time.Millisecond}, func(ok bool) { got <- ok })
	select {
	case ok := <-got:
		if ok {
			t.Fatal("a timed-out request was allowed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request never timed out")
	}
	if top := win.Canvas().Overlays().Top(); top != nil && top.Visible() {
		t.Fatal("the dialog is still showing after the timeout")
	}
}

func findButton(t *testing.T, root fyne.CanvasObject, label string) *widget.Button {
	t.Helper()
	return uitest.Button(t, root, label)
}

func overlayContent(t *testing.T, win fyne.Window) fyne.CanvasObject {
	t.Helper()
	top := win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no dialog showing")
	}
	return top
}

func TestSessionEndDeniesOpenRequests(t *testing.T) {
	w, win, _ := newWindow(t)
	w.ShowConnected("Alice", "direct", nil)
	got := make(chan bool, 1)
	w.AskConsent(Consent{Title: "Alice asks to see your screen", Timeout: time.Hour}, func(ok bool) { got <- ok })
	w.ShowEnded("The agent ended the session.")
	if ok := <-got; ok {
		t.Fatal("ending the session allowed the request")
	}
	if top := win.Canvas().Overlays().Top(); top != nil && top.Visible() {
		t.Fatal("the consent dialog outlived the session")
	}
}

func TestMessagesShownOnce(t *testing.T) {
	w, win, _ := newWindow(t)
	at := time.Date(2026, 11, 21, 14, 3, 0, 0, time.UTC)
	hi := Message{ID: "a1", From: "Alice", Text: "Hi, this is Alice from support. How can I help?", At: at}
	w.ShowConnected("Alice", "direct", []Message{hi})
	w.AddMessage(hi) // the live event for a line the history already had
	w.AddMessage(Message{ID: "b2", From: "bob", Text: "My printer stopped working.", At: at.Add(time.Minute), Outgoing: true})
	w.AddMessage(Message{ID: "b2", From: "bob", Text: "My printer stopped working.", At: at.Add(time.Minute), Outgoing: true})
	if n := w.chat.Len(); n != 2 {
		t.Fatalf("%d lines shown, want 2", n)
	}
	looks(t, "connected_dedup.xml", win)
}

func TestConsentFor(t *testing.T) {
	c := ConsentFor("Alice", "screen", "to see the printer dialog", time.Minute)
	if c.Title != "Alice asks to see your screen" || c.Timeout != time.Minute {
		t.Fatalf("%+v", c)
	}
	if want := "Alice says: “to see the printer dialog”\nAlice will see everything on your screen until you stop it."; c.Detail != want {
		t.Fatalf("detail %q", c.Detail)
	}
	if c := ConsentFor("Alice", "telepathy", "", time.Minute); c.Title != "Alice asks to have “telepathy” access" || c.Detail != "" {
		t.Fatalf("unknown kind: %+v", c)
	}
}

func TestFailureText(t *testing.T) {
	for _, code := range []string{"bad_key", "expired", "used", "pake_failed", "rate_limited", "relay_unreachable", "relay_untrusted", "version_mismatch"} {
		if got := FailureText(code, "raw"); got == "" || got == "Raw." {
			t.Errorf("%s: %q", code, got)
		}
	}
	if got := FailureText("internal", "the disk is full"); got != "The disk is full." {
		t.Errorf("fallback %q", got)
	}
}

// looks checks the window against a golden markup file in testdata/ and,
// with PORTHOLE_UI_SHOTS set, saves a picture of it there.
func looks(t *testing.T, golden string, win fyne.Window) {
	t.Helper()
	test.AssertRendersToMarkup(t, golden, win.Canvas())
	if dir := os.Getenv("PORTHOLE_UI_SHOTS"); dir != "" {
		f, err := os.Create(filepath.Join(dir, "customer-"+strings.TrimSuffix(golden, ".xml")+".png"))
		if err == nil {
			png.Encode(f, win.Canvas().Capture())
			f.Close()
		}
	}
}

// While the screen is seen or controlled, the sharing bar says who, with
// Stop for each, and how to end control from the keyboard.
func TestSharingBar(t *testing.T) {
	w, win, r := newWindow(t)
	win.Resize(fyne.NewSize(1280, 800))
	w.Shortcut = "Ctrl+Alt+Shift+S"
	w.ShowConnected("Alice", "direct", nil)
	w.SetGrants([]Grant{{ID: "v1", Agent: "Alice", Kind: "screen"}, {ID: "c1", Agent: "Alice", Kind: "control"}})
	if !hasLabel(win.Content(), "You allowed Alice to see your screen.") {
		t.Fatal("a view grant not yet used should say it is allowed")
	}
	w.SetViewing([]string{"Alice"})
	looks(t, "sharing_bar.xml", win)
	for _, text := range []string{"Alice sees your screen", "Alice controls your mouse and keyboard (Ctrl+Alt+Shift+S stops it)"} {
		if !hasLabel(win.Content(), text) {
			t.Fatalf("the bar does not say %q", text)
		}
	}
	if got := win.Canvas().Size(); got.Width > 1280 || got.Height > 800 {
		t.Fatalf("the window grew to %v", got)
	}
	test.Tap(findButton(t, win.Content(), "Stop"))
	if len(r.revoked) != 1 || r.revoked[0] != "v1" {
		t.Fatalf("Stop revoked %q, want the view's grant", r.revoked)
	}
	w.SetViewing(nil)
	w.SetGrants(nil)
	if hasLabel(win.Content(), "Alice sees your screen") {
		t.Fatal("the bar outlived the sharing")
	}
}

func hasLabel(o fyne.CanvasObject, text string) bool {
	switch v := o.(type) {
	case *widget.Label:
		return v.Text == text
	case *fyne.Container:
		for _, c := range v.Objects {
			if hasLabel(c, text) {
				return true
			}
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(v).Objects() {
			if hasLabel(c, text) {
				return true
			}
		}
	}
	return false
}

// The connecting screen's progress bar stops once the session shows: left
// running, it drew the window 60 times a second.
func TestConnectingBarStops(t *testing.T) {
	w, _, _ := newWindow(t)
	w.ShowConnecting("Connecting…")
	bar := w.busy
	if bar == nil || !bar.Running() {
		t.Fatal("no running progress bar while connecting")
	}
	w.ShowConnected("Alice", "direct", nil)
	if bar.Running() {
		t.Fatal("the progress bar still runs behind the session")
	}
}
