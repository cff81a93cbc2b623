package ui

import (
	"fmt"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/desktopui/uitest"
)

type recorder struct {
	signIns  []SignIn
	newCount int
	sent     [][2]string
	ended    []string
	asked    [][2]string
	prefs    []Prefs
	signOuts int
	notes    [][2]string
	copied   []string
	history  map[string][]Message
	files    [][2]string // session, path
	answers  [][2]string
	requests []string
	saved    [][2]string
	opened   []string

	links       [][2]string // session, url
	linkAnswers [][2]string
}

func (r *recorder) actions() Actions {
	return Actions{
		SignIn:     func(s SignIn) { r.signIns = append(r.signIns, s) },
		NewSession: func() { r.newCount++ },
		Send:       func(s, t string) { r.sent = append(r.sent, [2]string{s, t}) },
		End:        func(s string) { r.ended = append(r.ended, s) },
		Ask:        func(s, k string) { r.asked = append(r.asked, [2]string{s, k}) },
		History:    func(s string) []Message { return r.history[s] },
		Settings:   func(p Prefs) { r.prefs = append(r.prefs, p) },
		SignOut:    func() { r.signOuts++ },
		Notify:     func(title, body string) { r.notes = append(r.notes, [2]string{title, body}) },
		Copy:       func(s string) { r.copied = append(r.copied, s) },

		SendFiles: func(s string, p []string) {
			for _, x := range p {
				r.files = append(r.files, [2]string{s, x})
			}
		},
		AnswerFile:   func(id, d string) { r.answers = append(r.answers, [2]string{id, d}) },
		RequestFiles: func(s string) { r.requests = append(r.requests, s) },
		Open:         func(p string) { r.opened = append(r.opened, p) },
		SaveAs:       func(src, dst string) { r.saved = append(r.saved, [2]string{src, dst}) },
		Folder:       func(string) string { return "/home/alice/Downloads/Porthole/Files from bob" },

		SendLink:   func(s, u string) { r.links = append(r.links, [2]string{s, u}) },
		AnswerLink: func(id, d string) { r.linkAnswers = append(r.linkAnswers, [2]string{id, d}) },
	}
}

var t0 = time.Date(2026, 11, 21, 14, 0, 0, 0, time.UTC)

func newWindow(t *testing.T) (*Window, fyne.Window, *recorder) {
	t.Helper()
	test.NewTempApp(t)
	win := test.NewTempWindow(t, nil)
	win.Resize(fyne.NewSize(1280, 800))
	r := &recorder{history: map[string][]Message{}}
	w := New(win, r.actions())
	w.Zone = time.UTC
	w.Now = func() time.Time { return t0.Add(time.Minute) }
	return w, win, r
}

// looks checks the window against a golden markup file in testdata/ and,
// with $PORTHOLE_UI_SHOTS set, also writes what it looks like there as a
// PNG (software rendering), for people checking the look.
func looks(t *testing.T, golden string, win fyne.Window) {
	t.Helper()
	test.AssertRendersToMarkup(t, golden, win.Canvas())
	dir := os.Getenv("PORTHOLE_UI_SHOTS")
	if dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(dir, strings.TrimSuffix(golden, ".xml")+".png"))
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	png.Encode(f, win.Canvas().Capture())
}

func waiting(id, key string) Session {
	return Session{ID: id, State: Waiting, Key: key, Created: t0, Expires: t0.Add(20 * time.Minute)}
}

func active(id, customer string) Session {
	return Session{ID: id, State: Active, Customer: customer, Online: true, Path: "direct", RTT: 3 * time.Millisecond, Created: t0}
}

func signedIn(t *testing.T) (*Window, fyne.Window, *recorder) {
	w, win, r := newWindow(t)
	w.ShowMain("alice", "Relay on this computer · connected")
	return w, win, r
}

func find[T fyne.CanvasObject](t *testing.T, root fyne.CanvasObject, match func(T) bool) T {
	t.Helper()
	return uitest.Find(t, root, match)
}

func button(t *testing.T, root fyne.CanvasObject, label string) *widget.Button {
	t.Helper()
	return uitest.Button(t, root, label)
}

func overlay(t *testing.T, win fyne.Window) fyne.CanvasObject {
	t.Helper()
	top := win.Canvas().Overlays().Top()
	if top == nil || !top.Visible() {
		t.Fatal("no dialog showing")
	}
	return top
}

func focused(t *testing.T, win fyne.Window) *widget.Entry {
	t.Helper()
	e, ok := win.Canvas().Focused().(*widget.Entry)
	if !ok {
		t.Fatalf("focused object is %T, want an entry", win.Canvas().Focused())
	}
	return e
}

// escape presses Escape as the desktop driver delivers it.
func escape(win fyne.Window) { uitest.Press(win.Canvas(), fyne.KeyEscape) }

// dialogUp says whether a dialog is showing.
func dialogUp(win fyne.Window) bool {
	top := win.Canvas().Overlays().Top()
	return top != nil && top.Visible()
}

func TestSetupFirstRun(t *testing.T) {
	w, win, r := newWindow(t)
	w.ShowSignIn(SignIn{Local: true, LocalPort: "7443", First: true}, "")
	looks(t, "setup.xml", win)
	name := focused(t, win)
	test.Type(name, "alice")
	name.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if len(r.signIns) != 0 {
		t.Fatal("signed in without a password")
	}
	says := func(text string) {
		t.Helper()
		find(t, win.Content(), func(l *widget.Label) bool { return l.Text == text })
	}
	says("Enter your password.")
	pw := focused(t, win)
	if !pw.Password || pw.PlaceHolder != "Password" {
		t.Fatal("the password entry does not have the focus")
	}
	test.Type(pw, "correct horse")
	pw.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if len(r.signIns) != 0 {
		t.Fatal("made the relay's account with the password typed once")
	}
	says("The two passwords are not the same. Type the password again under Repeat.")
	again := focused(t, win)
	test.Type(again, "correct hose")
	again.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if len(r.signIns) != 0 {
		t.Fatal("made the relay's account with two different passwords")
	}
	again.SetText("")
	test.Type(again, "correct horse")
	again.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	want := SignIn{Local: true, LocalPort: "7443", Name: "alice", Password: "correct horse", First: true}
	if len(r.signIns) != 1 || r.signIns[0] != want {
		t.Fatalf("sign-in %+v, want %+v", r.signIns, want)
	}
}

func TestSetupWithServerAsksPasswordOnce(t *testing.T) {
	w, win, r := newWindow(t)
	w.ShowSignIn(SignIn{Local: true, LocalPort: "7443", First: true}, "")
	find(t, win.Content(), func(g *widget.RadioGroup) bool { return true }).SetSelected(choiceServer)
	test.Tap(button(t, win.Content(), "Sign in"))
	find(t, win.Content(), func(l *widget.Label) bool { return l.Text == "Enter the relay server's address." })
	test.Type(focused(t, win), "relay.example.com:7443")
	name := find(t, win.Content(), func(e *widget.Entry) bool { return e.PlaceHolder == "Your agent name" })
	test.Type(name, "alice")
	test.Type(find(t, win.Content(), func(e *widget.Entry) bool { return e.PlaceHolder == "Password" }), "secret")
	looks(t, "setup_server.xml", win)
	test.Tap(button(t, win.Content(), "Sign in"))
	want := SignIn{LocalPort: "7443", Address: "relay.example.com:7443", Name: "alice", Password: "secret", First: true}
	if len(r.signIns) != 1 || r.signIns[0] != want {
		t.Fatalf("sign-in %+v, want %+v", r.signIns, want)
	}
}

func TestSignInToServerWithError(t *testing.T) {
	w, win, r := newWindow(t)
	w.ShowSignIn(SignIn{Address: "relay.example.com:7443", Fingerprint: "sha256:abc", Name: "alice"},
		"The name or password is wrong.")
	looks(t, "signin_error.xml", win)
	pw := focused(t, win)
	if !pw.Password {
		t.Fatal("with the name known, the password should have the focus")
	}
	test.Type(pw, "secret")
	test.Tap(button(t, win.Content(), "Sign in"))
	want := SignIn{Address: "relay.example.com:7443", Fingerprint: "sha256:abc", Name: "alice", Password: "secret"}
	if len(r.signIns) != 1 || r.signIns[0] != want {
		t.Fatalf("sign-in %+v, want %+v", r.signIns, want)
	}
}

func TestBusy(t *testing.T) {
	w, win, _ := newWindow(t)
	w.ShowBusy("Starting the relay on this computer…")
	looks(t, "busy.xml", win)
}

func TestMainEmpty(t *testing.T) {
	_, win, r := signedIn(t)
	looks(t, "main_empty.xml", win)
	test.Tap(button(t, win.Content(), "New session"))
	if r.newCount != 1 {
		t.Fatal("New session did not ask for a session")
	}
}

func TestNewSessionShowsKey(t *testing.T) {
	w, win, r := signedIn(t)
	s := waiting("s1", "1234-5678-123-456")
	s.JoinHint = "porthole-customer --relay 192.168.1.20:7443 --relay-fingerprint sha256:4f2a --key 1234-5678-123-456"
	w.PutSession(s)
	w.OpenSession("s1")
	looks(t, "session_key.xml", win)
	test.Tap(button(t, win.Content(), "Copy key"))
	if len(r.copied) != 1 || r.copied[0] != "1234-5678-123-456" {
		t.Fatalf("copied %q", r.copied)
	}
	left := find(t, win.Content(), func(l *widget.Label) bool { return l.Text == "The key expires in 19 min if nobody uses it." })
	w.Now = func() time.Time { return t0.Add(19*time.Minute + 30*time.Second) }
	w.Tick()
	if left.Text != "The key expires in 30 s if nobody uses it." {
		t.Fatalf("countdown says %q", left.Text)
	}
	w.Now = func() time.Time { return t0.Add(21 * time.Minute) }
	w.Tick()
	if left.Text != "The key has expired." {
		t.Fatalf("countdown says %q", left.Text)
	}
	// A relay that listens only on loopback (the demo's) is no way in for
	// the network: the hint says who can use it.
	s.JoinHint, s.HintHereOnly = "porthole-customer --relay 127.0.0.1:7443 --relay-fingerprint sha256:4f2a --key 1234-5678-123-456", true
	w.PutSession(s)
	find(t, win.Content(), func(l *widget.Label) bool {
		return strings.HasPrefix(l.Text, "The relay runs on this computer and listens only to it. A customer on this computer")
	})
}

func TestAloud(t *testing.T) {
	if got := aloud("1234-5678-123-456"); got != "1 2 3 4  –  5 6 7 8  –  1 2 3  –  4 5 6" {
		t.Fatalf("aloud = %q", got)
	}
}

func TestActiveSessionChat(t *testing.T) {
	w, win, r := signedIn(t)
	r.history["s1"] = []Message{{ID: "m1", From: "bob@laptop", Text: "My printer stopped working.", At: t0.Add(time.Minute)}}
	w.Requestable = []string{"screen", "control", "shell"} // as a build with those services
	w.PutSession(waiting("s1", "1234-5678-123-456"))
	w.OpenSession("s1")
	s := active("s1", "bob@laptop")
	w.PutSession(s)
	w.SetPermission("s1", "screen", "allowed")
	w.SetPermission("s1", "shell", "denied")
	looks(t, "session_active.xml", win)

	input := focused(t, win)
	test.Type(input, "Let's have a look.")
	input.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if len(r.sent) != 1 || r.sent[0] != [2]string{"s1", "Let's have a look."} {
		t.Fatalf("sent %q", r.sent)
	}
	if input.Text != "" {
		t.Fatal("the input kept the sent line")
	}
	w.AddMessage("s1", Message{ID: "m2", From: "alice", Text: "Let's have a look.", At: t0.Add(2 * time.Minute), Outgoing: true})
	w.AddMessage("s1", Message{ID: "m2", From: "alice", Text: "Let's have a look.", At: t0.Add(2 * time.Minute), Outgoing: true})
	if w.Unread("s1") != 0 || len(r.notes) != 0 {
		t.Fatal("the agent's own line counted as unread")
	}
	looks(t, "session_chat.xml", win)
}

func TestUnreadBadgeAppearsAndClears(t *testing.T) {
	w, win, r := signedIn(t)
	w.PutSession(active("a", "bob@laptop"))
	b := active("b", "carol@desk")
	b.Created = t0.Add(time.Minute)
	w.PutSession(b)
	w.OpenSession("a")
	w.OpenSession("b")
	w.AddMessage("a", Message{ID: "x1", From: "bob@laptop", Text: "Are you there?", At: t0})
	w.AddMessage("a", Message{ID: "x2", From: "bob@laptop", Text: "Hello?", At: t0})
	if n := w.Unread("a"); n != 2 {
		t.Fatalf("unread %d, want 2", n)
	}
	if w.main.byID["a"].tab.Text != "bob@laptop (2)" {
		t.Fatalf("tab says %q", w.main.byID["a"].tab.Text)
	}
	if len(r.notes) != 2 || r.notes[0] != [2]string{"Message from bob@laptop", "New message"} {
		t.Fatalf("notifications %q", r.notes)
	}
	looks(t, "unread.xml", win)

	// The agent's own line (from another device, or echoed back) in a
	// session behind is not unread and does not notify.
	w.AddMessage("a", Message{ID: "x3", From: "alice", Text: "One moment.", At: t0, Outgoing: true})
	if n := w.Unread("a"); n != 2 || len(r.notes) != 2 {
		t.Fatalf("own line in a session behind: unread %d, %d notifications", n, len(r.notes))
	}

	// The session in front, with its chat shown: read at once.
	w.AddMessage("b", Message{ID: "y1", From: "carol@desk", Text: "Thanks!", At: t0})
	if w.Unread("b") != 0 || len(r.notes) != 2 {
		t.Fatal("a line in the session in front counted as unread")
	}

	// Picking the session in the list shows it and clears its count.
	w.main.list.Select(1)
	if w.main.current != w.main.byID["a"] {
		t.Fatal("the list did not bring the session to the front")
	}
	if n := w.Unread("a"); n != 0 {
		t.Fatalf("unread %d after viewing, want 0", n)
	}
	if w.main.byID["a"].tab.Text != "bob@laptop" {
		t.Fatalf("tab says %q after viewing", w.main.byID["a"].tab.Text)
	}
	looks(t, "unread_cleared.xml", win)
}

func TestRoundTripUpdateKeepsTheCard(t *testing.T) {
	w, win, _ := signedIn(t)
	s := active("a", "bob@laptop")
	w.PutSession(s)
	w.OpenSession("a")
	sv := w.main.byID["a"]
	card := sv.work.Objects[0]
	s.RTT, s.Path = 42*time.Millisecond, "relayed"
	w.PutSession(s)
	if sv.work.Objects[0] != card {
		t.Fatal("a new round trip rebuilt the customer card")
	}
	find(t, win.Content(), func(l *widget.Label) bool {
		return l.Text == "Through the relay · 42 ms round trip · end-to-end encrypted"
	})
	s.Online, s.Reason = false, "the connection dropped"
	w.PutSession(s)
	if sv.work.Objects[0] == card {
		t.Fatal("going offline did not change the card")
	}
	find(t, win.Content(), func(l *widget.Label) bool { return strings.HasPrefix(l.Text, "Offline: the connection dropped.") })
}

func TestNotificationPreferences(t *testing.T) {
	w, _, r := signedIn(t)
	w.PutSession(active("a", "bob@laptop"))
	w.SetPrefs(Prefs{Notify: true, NotifyPreview: true})
	w.AddMessage("a", Message{ID: "1", From: "bob@laptop", Text: "Are you there?", At: t0})
	w.SetPrefs(Prefs{Notify: false})
	w.AddMessage("a", Message{ID: "2", From: "bob@laptop", Text: "Hello?", At: t0})
	if len(r.notes) != 1 || r.notes[0] != [2]string{"Message from bob@laptop", "Are you there?"} {
		t.Fatalf("notifications %q", r.notes)
	}
	if w.Unread("a") != 2 {
		t.Fatal("without notifications the count still counts")
	}
}

func TestBackgroundWindowCountsAndNotifies(t *testing.T) {
	w, _, r := signedIn(t)
	w.PutSession(active("a", "bob@laptop"))
	w.OpenSession("a")
	w.SetForeground(false)
	w.AddMessage("a", Message{ID: "1", From: "bob@laptop", Text: "Hello?", At: t0})
	if w.Unread("a") != 1 || len(r.notes) != 1 {
		t.Fatalf("unread %d, notes %d; want 1 and 1", w.Unread("a"), len(r.notes))
	}
	w.SetForeground(true)
	if w.Unread("a") != 0 {
		t.Fatal("coming back to the window did not clear the count")
	}
}

func TestHiddenChatCountsOnItsButton(t *testing.T) {
	w, win, r := signedIn(t)
	w.PutSession(active("a", "bob@laptop"))
	w.OpenSession("a")
	test.Tap(button(t, win.Content(), "Hide chat"))
	w.AddMessage("a", Message{ID: "1", From: "bob@laptop", Text: "Hello?", At: t0})
	show := button(t, win.Content(), "Show chat (1)")
	if len(r.notes) != 0 {
		t.Fatal("a notification for the session in front")
	}
	looks(t, "chat_hidden.xml", win)
	test.Tap(show)
	if w.Unread("a") != 0 {
		t.Fatal("showing the chat did not clear the count")
	}
	button(t, win.Content(), "Hide chat")
}

func TestUnpinnedChatFloatsAndClosesOnLeave(t *testing.T) {
	w, win, _ := signedIn(t)
	w.PutSession(active("a", "bob@laptop"))
	b := active("b", "carol@desk")
	b.Created = t0.Add(time.Minute)
	w.PutSession(b)
	w.OpenSession("a")
	test.Tap(button(t, win.Content(), "Unpin chat"))
	looks(t, "chat_unpinned.xml", win)
	w.OpenSession("b")
	w.OpenSession("a")
	if w.main.byID["a"].chatShown {
		t.Fatal("an unpinned chat stayed open after leaving its tab")
	}
	test.Tap(button(t, win.Content(), "Show chat"))
	test.Tap(button(t, win.Content(), "Pin chat"))
	w.OpenSession("b")
	w.OpenSession("a")
	if !w.main.byID["a"].chatShown {
		t.Fatal("a pinned chat closed when leaving its tab")
	}
}

func TestEndSessionAsksFirst(t *testing.T) {
	w, win, r := signedIn(t)
	w.PutSession(active("a", "bob@laptop"))
	w.OpenSession("a")
	test.Tap(button(t, win.Content(), "End session"))
	looks(t, "end_confirm.xml", win)
	escape(win)
	if len(r.ended) != 0 {
		t.Fatal("Escape ended the session")
	}
	if dialogUp(win) {
		t.Fatal("Escape left the dialog up")
	}
	// Once Tab has moved the focus onto a button of the dialog, the key
	// goes to that button; Escape still closes the dialog.
	test.Tap(button(t, win.Content(), "End session"))
	win.Canvas().FocusNext()
	if win.Canvas().Focused() == nil {
		t.Fatal("Tab focused nothing in the dialog")
	}
	escape(win)
	if len(r.ended) != 0 || dialogUp(win) {
		t.Fatal("Escape on a focused button did not just close the dialog")
	}
	test.Tap(button(t, win.Content(), "End session"))
	test.Tap(button(t, overlay(t, win), "End session"))
	if len(r.ended) != 1 || r.ended[0] != "a" {
		t.Fatalf("ended %q", r.ended)
	}
}

func TestEndedSession(t *testing.T) {
	w, win, _ := signedIn(t)
	s := active("a", "bob@laptop")
	s.State, s.Online, s.Reason = Ended, false, "the customer ended the session"
	w.PutSession(s)
	w.OpenSession("a")
	looks(t, "session_ended.xml", win)
	if !button(t, win.Content(), "End session").Disabled() {
		t.Fatal("an ended session can be ended again")
	}
}

func TestCustomerOffline(t *testing.T) {
	w, win, _ := signedIn(t)
	s := active("a", "bob@laptop")
	s.Online, s.Reason = false, "connection lost"
	w.PutSession(s)
	w.OpenSession("a")
	looks(t, "session_offline.xml", win)
}

func TestAskForAccess(t *testing.T) {
	w, win, r := signedIn(t)
	w.Requestable = []string{"screen", "control"} // as a build with those services
	w.PutSession(active("a", "bob@laptop"))
	w.OpenSession("a")
	test.Tap(button(t, win.Content(), "Ask for access"))
	menu := overlay(t, win)
	looks(t, "ask_menu.xml", win)
	item := find(t, menu, func(w fyne.Widget) bool {
		return fmt.Sprintf("%T", w) == "*widget.menuItem" && hasText(t, w, "See the screen")
	})
	test.Tap(item.(fyne.Tappable))
	if len(r.asked) != 1 || r.asked[0] != [2]string{"a", "screen"} {
		t.Fatalf("asked %q", r.asked)
	}
}

// With nothing this build can ask for, the window offers nothing: no "Ask
// for access", no Access card.
func TestNothingToAskForIsNotOffered(t *testing.T) {
	w, win, _ := signedIn(t)
	w.PutSession(active("a", "bob@laptop"))
	w.OpenSession("a")
	if w.main.byID["a"].askBtn.Visible() {
		t.Fatal("Ask for access is offered with nothing to ask for")
	}
	if hasText(t, win.Content(), "Access") {
		t.Fatal("an Access card with nothing in it")
	}
}

func hasText(t *testing.T, o fyne.CanvasObject, text string) bool {
	found := false
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch v := o.(type) {
		case *fyne.Container:
			for _, c := range v.Objects {
				walk(c)
			}
		case *canvas.Text:
			found = found || v.Text == text
		case *widget.Label:
			found = found || v.Text == text
		case fyne.Widget:
			for _, c := range test.TempWidgetRenderer(t, v).Objects() {
				walk(c)
			}
		}
	}
	walk(o)
	return found
}

func TestSettings(t *testing.T) {
	_, win, r := signedIn(t)
	test.Tap(button(t, win.Content(), "Settings"))
	looks(t, "settings.xml", win)
	check := find(t, overlay(t, win), func(c *desktopui.Check) bool { return c.Text == "Show the message text in notifications" })
	test.Tap(check)
	if len(r.prefs) != 1 || r.prefs[0] != (Prefs{Notify: true, NotifyPreview: true}) {
		t.Fatalf("prefs %+v", r.prefs)
	}
	if win.Canvas().Focused() != fyne.Focusable(check) {
		t.Fatalf("focus is on %T after tapping the check box", win.Canvas().Focused())
	}
	escape(win)
	if dialogUp(win) {
		t.Fatal("Escape on the focused check box left settings up")
	}
	test.Tap(button(t, win.Content(), "Settings"))
	test.Tap(button(t, overlay(t, win), "Sign out"))
	if r.signOuts != 1 {
		t.Fatal("Sign out did not sign out")
	}
}

func TestErrorDialog(t *testing.T) {
	w, win, _ := signedIn(t)
	w.ShowError("No new session", "The relay did not give a session: the relay does not answer")
	looks(t, "error.xml", win)
	escape(win)
	if dialogUp(win) {
		t.Fatal("Escape left the dialog up")
	}
}

// Colours the console sets on canvas objects follow a switch between light
// and dark while it runs.
func TestColoursFollowTheTheme(t *testing.T) {
	w, win, _ := signedIn(t)
	w.PutSession(waiting("k", "1234-5678-123-456"))
	a := active("a", "bob@laptop")
	a.Created = t0.Add(time.Minute)
	w.PutSession(a)
	w.OpenSession("k")
	w.AddMessage("a", Message{ID: "1", From: "bob@laptop", Text: "Hello?", At: t0})
	sv := w.main.byID["a"]
	sv.setPinned(false)

	key := find(t, win.Content(), func(c *canvas.Text) bool { return c.Text == "1234-5678-123-456" })
	badge := find(t, win.Content(), func(c *canvas.Circle) bool { return true })
	for _, variant := range []fyne.ThemeVariant{theme.VariantLight, theme.VariantDark} {
		fyne.CurrentApp().Settings().SetTheme(variantTheme{theme.DefaultTheme(), variant})
		if want := theme.DefaultTheme().Color(theme.ColorNameForeground, variant); key.Color != want {
			t.Errorf("variant %d: key colour %v, want %v", variant, key.Color, want)
		}
		if want := theme.DefaultTheme().Color(theme.ColorNamePrimary, variant); badge.FillColor != want {
			t.Errorf("variant %d: badge colour %v, want %v", variant, badge.FillColor, want)
		}
	}
}

// variantTheme is a theme fixed to one variant, as the system preference
// would pick it.
type variantTheme struct {
	fyne.Theme
	v fyne.ThemeVariant
}

func (t variantTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, t.v)
}
