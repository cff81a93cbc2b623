package desktop

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/porthole-dev/porthole/agent/internal/console"
	"github.com/porthole-dev/porthole/agent/internal/setup"
	"github.com/porthole-dev/porthole/agent/internal/ui"
	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/chat"
	"github.com/porthole-dev/porthole/shared/desktopui/uitest"
	"github.com/porthole-dev/porthole/shared/failure"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

// These tests run the bridge with Fyne's test app and window, a real
// console and real relays (in-process, over loopback QUIC). Fyne's test
// driver runs fyne.Do at once on the caller's goroutine, which would let
// console goroutines touch the window concurrently; the bridge is given
// loop.do instead, which plays the desktop driver's main goroutine.

const password = "correct horse battery"

// shown is one screen the bridge showed.
type shown struct {
	kind         string // "signin", "busy" or "main"
	form         ui.SignIn
	msg          string // the sign-in screen's error, or the busy step
	agent, relay string // the main screen's
}

// screen is the real window content, with a record of what the bridge
// asked of it. Only touched on the loop.
type screen struct {
	*ui.Window
	screens  []shown
	errors   [][2]string
	relays   []string
	sessions map[string]ui.Session
	messages [][2]string // session, text
}

func (s *screen) ShowSignIn(f ui.SignIn, msg string) {
	s.screens = append(s.screens, shown{kind: "signin", form: f, msg: msg})
	s.Window.ShowSignIn(f, msg)
}

func (s *screen) ShowBusy(step string) {
	s.screens = append(s.screens, shown{kind: "busy", msg: step})
	s.Window.ShowBusy(step)
}

func (s *screen) ShowMain(agent, relay string) {
	s.screens = append(s.screens, shown{kind: "main", agent: agent, relay: relay})
	s.sessions = map[string]ui.Session{}
	s.Window.ShowMain(agent, relay)
}

func (s *screen) ShowError(title, msg string) {
	s.errors = append(s.errors, [2]string{title, msg})
	s.Window.ShowError(title, msg)
}

func (s *screen) SetRelay(text string) {
	s.relays = append(s.relays, text)
	s.Window.SetRelay(text)
}

func (s *screen) PutSession(x ui.Session) {
	if s.sessions != nil {
		s.sessions[x.ID] = x
	}
	s.Window.PutSession(x)
}

func (s *screen) AddMessage(session string, m ui.Message) {
	s.messages = append(s.messages, [2]string{session, m.Text})
	s.Window.AddMessage(session, m)
}

type world struct {
	t       *testing.T
	dir     string
	win     fyne.Window
	loop    *uitest.Loop
	b       *bridge
	scr     *screen
	ev      *testpeer.Events // everything Options.Events got
	closed  bool
	wrapped func(func(any)) func(any) // when set, wraps each console's Events
}

// newWorld opens the window on the data folder dir (as Run does, with
// Fyne's test app) and shows its first screen.
func newWorld(t *testing.T, dir string) *world {
	t.Helper()
	a := test.NewTempApp(t)
	w := &world{t: t, dir: dir, win: test.NewWindow(nil), loop: uitest.NewLoop(), ev: testpeer.NewEvents()}
	w.b = newBridge(a, w.win, Options{DataDir: dir, Events: w.ev.Emit}, w.loop.Do)
	w.scr = &screen{Window: w.b.ui.(*ui.Window)}
	w.b.ui = w.scr
	w.b.newConsole = func(c console.Config) (*console.Console, error) {
		c.Listen = "127.0.0.1:0"
		if w.wrapped != nil {
			c.Events = w.wrapped(c.Events)
		}
		return console.New(c)
	}
	t.Cleanup(w.closeWindow)
	w.on(w.b.begin)
	return w
}

// closeWindow closes the window as a person does, and ends the bridge as
// Run does once ShowAndRun returns.
func (w *world) closeWindow() {
	if w.closed {
		return
	}
	w.closed = true
	w.on(w.win.Close)
	w.loop.Stop()
	w.b.close()
}

// on runs f on the loop and waits for it.
func (w *world) on(f func()) { w.loop.Run(f) }

// eventually polls cond (on the loop) until it holds.
func (w *world) eventually(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(testpeer.Timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var ok bool
		w.on(func() { ok = cond() })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: not within %v", what, testpeer.Timeout)
		}
		<-tick.C
	}
}

// mark is where the screen record stands now.
func (w *world) mark() int {
	var n int
	w.on(func() { n = len(w.scr.screens) })
	return n
}

// next waits for the first screen after mark that is not the busy one,
// and fails unless it is of kind.
func (w *world) next(mark int, kind string) shown {
	w.t.Helper()
	var s shown
	w.eventually("a screen after signing in", func() bool {
		for _, x := range w.scr.screens[mark:] {
			if x.kind != "busy" {
				s = x
				return true
			}
		}
		return false
	})
	if s.kind != kind {
		w.t.Fatalf("showed %+v, want the %s screen", s, kind)
	}
	return s
}

// signIn signs in with f and returns the screen that follows.
func (w *world) signIn(f ui.SignIn, kind string) shown {
	w.t.Helper()
	m := w.mark()
	w.on(func() { w.b.signIn(f) })
	return w.next(m, kind)
}

func (w *world) signOut() shown {
	w.t.Helper()
	m := w.mark()
	w.on(w.b.signOut)
	return w.next(m, "signin")
}

// newSession starts a session and returns it once it shows its key.
func (w *world) newSession() ui.Session {
	w.t.Helper()
	var known map[string]bool
	w.on(func() {
		known = map[string]bool{}
		for id := range w.scr.sessions {
			known[id] = true
		}
		w.b.newSession()
	})
	var s ui.Session
	w.eventually("a new session with its key", func() bool {
		for id, x := range w.scr.sessions {
			if !known[id] && x.State == ui.Waiting && x.Key != "" {
				s = x
				return true
			}
		}
		return false
	})
	return s
}

func (w *world) session(id string) ui.Session {
	var s ui.Session
	w.on(func() { s = w.scr.sessions[id] })
	return s
}

// join has a customer join s and waits until the window shows them.
func (w *world) join(relay, fp string, s ui.Session) *testpeer.Customer {
	w.t.Helper()
	c := testpeer.JoinCustomer(w.t, testpeer.CustomerOptions{Relay: relay, Fingerprint: fp, Key: s.Key})
	w.eventually("the customer in the window", func() bool {
		x := w.scr.sessions[s.ID]
		return x.State == ui.Active && x.Online
	})
	return c
}

func localForm(first bool) ui.SignIn {
	return ui.SignIn{Local: true, LocalPort: "127.0.0.1:0", Name: testpeer.AgentName, Password: password, First: first}
}

// unlocked says whether the database in dir can be opened, that is, no
// console has it open.
func unlocked(dir string) bool {
	db, err := appdb.Open(dir)
	if err != nil {
		return false
	}
	db.Close()
	return true
}

// relayUnlocked says whether the relay on this computer's data can be
// opened, that is, no relay runs on it.
func relayUnlocked(dataDir string) bool {
	r, err := setup.StartLocalRelay(filepath.Join(dataDir, "relay"), "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		return false
	}
	r.Close()
	return true
}

// TestLocalRelayFirstRunThenWrongPassword: on a new computer the setup
// form makes the account on the relay inside the console; a later sign-in
// with a wrong password is refused with words for a person.
func TestLocalRelayFirstRunThenWrongPassword(t *testing.T) {
	dir := t.TempDir()
	w := newWorld(t, dir)
	if first := w.next(0, "signin"); !first.form.First || !first.form.Local || first.msg != "" {
		t.Fatalf("first screen %+v, want the setup form for a relay on this computer", first)
	}
	m := w.signIn(localForm(true), "main")
	if m.agent != testpeer.AgentName || !strings.HasPrefix(m.relay, "Relay on this computer (127.0.0.1:") {
		t.Fatalf("main screen %+v", m)
	}
	ready := w.ev.Expect(t, "ready", nil)
	if ready.Agent != testpeer.AgentName || !strings.HasPrefix(ready.Relay, "127.0.0.1:") || ready.Fingerprint == "" {
		t.Fatalf("ready event %+v", ready)
	}
	if s, found, err := setup.Load(dir); err != nil || !found || !s.Local || s.Name != testpeer.AgentName {
		t.Fatalf("settings after the first sign-in: %+v %v %v", s, found, err)
	}

	if out := w.signOut(); out.form.First || out.form.Name != testpeer.AgentName || !out.form.Local {
		t.Fatalf("sign-in screen after signing out: %+v", out)
	}
	wrong := localForm(false)
	wrong.Password = "wrong horse"
	again := w.signIn(wrong, "signin")
	if again.msg != "The name or password is wrong for the relay on this computer." {
		t.Fatalf("wrong password says %q", again.msg)
	}
	if again.form.Password != "" || again.form.First || again.form.Name != testpeer.AgentName {
		t.Fatalf("form after the wrong password: %+v", again.form)
	}
	w.signIn(localForm(false), "main")
}

// TestLocalRelayWithoutAccountAsksForOne: the settings say "relay on this
// computer" but its accounts are gone; signing in makes no account and
// comes back as the setup form, which then does.
func TestLocalRelayWithoutAccountAsksForOne(t *testing.T) {
	dir := t.TempDir()
	if err := setup.Save(dir, setup.Settings{Local: true, LocalListen: "127.0.0.1:0", Name: testpeer.AgentName, Notify: true}); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, dir)
	f := w.next(0, "signin").form
	if f.First {
		t.Fatalf("form %+v: settings exist, so not the setup form", f)
	}
	f.Password = password
	back := w.signIn(f, "signin")
	if back.msg != noAccount || !back.form.First || back.form.Name != testpeer.AgentName || back.form.Password != "" {
		t.Fatalf("sign-in to a relay without accounts showed %+v", back)
	}
	r, err := setup.StartLocalRelay(filepath.Join(dir, "relay"), "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	err = r.EnsureAccount("someone", "else", false)
	r.Close()
	if !errors.Is(err, setup.ErrNoAccount) {
		t.Fatalf("the failed sign-in made an account (%v)", err)
	}
	f = back.form
	f.Password = password
	w.signIn(f, "main")
}

// gate holds a console's events on their way to the window, as a busy
// desktop loop can, and lets them go later.
type gate struct {
	mu   sync.Mutex
	emit func(any)
	held []any
	hold bool
}

func (g *gate) Emit(e any) {
	g.mu.Lock()
	if g.hold {
		g.held = append(g.held, e)
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	g.emit(e)
}

func (g *gate) holding(text string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range g.held {
		if l, ok := e.(chat.Line); ok && l.Text == text {
			return true
		}
	}
	return false
}

func (g *gate) release() {
	g.mu.Lock()
	held := g.held
	g.held, g.hold = nil, false
	g.mu.Unlock()
	for _, e := range held {
		g.emit(e)
	}
}

// TestStaleEventsAreDropped: events of a console that has been signed out
// reach the window after the next sign-in, and must change nothing there.
func TestStaleEventsAreDropped(t *testing.T) {
	_, addr, fp := testpeer.StartRelay(t)
	w := newWorld(t, t.TempDir())
	var gates []*gate
	var mu sync.Mutex
	w.wrapped = func(emit func(any)) func(any) {
		g := &gate{emit: emit}
		mu.Lock()
		gates = append(gates, g)
		mu.Unlock()
		return g.Emit
	}
	f := ui.SignIn{Address: addr, Fingerprint: fp, Name: testpeer.AgentName, Password: testpeer.AgentPassword}
	w.signIn(f, "main")
	s := w.newSession()
	c := w.join(addr, fp, s)

	mu.Lock()
	first := gates[0]
	mu.Unlock()
	first.mu.Lock()
	first.hold = true
	first.mu.Unlock()
	if _, err := c.Conv.Say("stale line"); err != nil {
		t.Fatal(err)
	}
	w.eventually("the console to report the line", func() bool { return first.holding("stale line") })
	w.signOut()
	w.signIn(f, "main")
	if got := w.session(s.ID); got.State != ui.Active {
		t.Fatalf("session after signing in again: %+v", got)
	}
	var mark, relays int
	w.on(func() { mark, relays = len(w.scr.messages), len(w.scr.relays) })

	first.release() // the chat line, and the relay and customer going away
	w.newSession()  // queued after them: once shown, they have been handled
	w.on(func() {
		for _, m := range w.scr.messages[mark:] {
			t.Errorf("a closed console's message reached the window: %q", m)
		}
		for _, r := range w.scr.relays[relays:] {
			if strings.Contains(r, "reconnecting") {
				t.Errorf("a closed console's disconnect reached the window: %q", r)
			}
		}
	})
	if got := w.session(s.ID); got.State != ui.Active {
		t.Fatalf("session after the stale events: %+v", got)
	}
}

// TestSignInOvertakenClosesWhatItStarted: a sign-in that a sign-out or
// the closing of the window overtakes closes its console and the relay on
// this computer, and the window never shows it.
func TestSignInOvertakenClosesWhatItStarted(t *testing.T) {
	for _, windowClosed := range []bool{false, true} {
		name := "signed out"
		if windowClosed {
			name = "window closed"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			w := newWorld(t, dir)
			connected := make(chan struct{}, 1)
			w.b.opt.Events = func(e headless.Event) {
				w.ev.Emit(e)
				if e.Event == "relay" && e.Message == "connected" {
					select {
					case connected <- struct{}{}:
					default:
					}
				}
			}
			f := localForm(true)
			var waited bool
			w.on(func() {
				w.b.signIn(f)
				// The window is busy while the sign-in finishes.
				select {
				case <-connected:
					waited = true
				case <-time.After(testpeer.Timeout):
				}
				if windowClosed {
					w.win.Close()
				} else {
					w.b.signOut()
				}
			})
			if !waited {
				t.Fatal("the console did not connect")
			}
			acct := accountDir(dir, f)
			if windowClosed {
				w.closed = true
				w.loop.Stop()
				w.b.close()
				if !unlocked(acct) || !relayUnlocked(dir) {
					t.Fatal("the console or the relay is still open after the window closed")
				}
			} else {
				// Each try waits store.OpenTimeout for the lock.
				deadline := time.Now().Add(testpeer.Timeout)
				for !unlocked(acct) || !relayUnlocked(dir) {
					if time.Now().After(deadline) {
						t.Fatal("the overtaken sign-in left its console or relay open")
					}
				}
				w.on(func() {
					if w.b.con != nil || w.b.local != nil {
						t.Error("the window holds the overtaken sign-in's console")
					}
				})
			}
			w.on(func() {
				for _, s := range w.scr.screens {
					if s.kind == "main" {
						t.Errorf("the overtaken sign-in was shown: %+v", s)
					}
				}
			})
		})
	}
}

// TestAccountsKeepTheirOwnSessions: signing in to another relay does not
// touch the sessions open on the first one.
func TestAccountsKeepTheirOwnSessions(t *testing.T) {
	_, addr, fp := testpeer.StartRelay(t)
	dir := t.TempDir()
	w := newWorld(t, dir)
	server := ui.SignIn{Address: addr, Fingerprint: fp, Name: testpeer.AgentName, Password: testpeer.AgentPassword}
	w.signIn(server, "main")
	s := w.newSession()

	w.signIn(localForm(true), "main") // signs out of the server first
	var others int
	w.on(func() { others = len(w.scr.sessions) })
	if others != 0 {
		t.Fatalf("the relay on this computer shows %d sessions of the server", others)
	}
	local := w.newSession()

	w.signIn(server, "main")
	if got := w.session(s.ID); got.State != ui.Waiting || got.Key != s.Key {
		t.Fatalf("the server's session after using the relay on this computer: %+v", got)
	}
	if got := w.session(local.ID); got.ID != "" {
		t.Fatalf("the server's account shows the local relay's session %+v", got)
	}
	w.join(addr, fp, s)

	if a, b := accountDir(dir, server), accountDir(dir, localForm(true)); a == b || filepath.Dir(a) != filepath.Join(dir, "accounts") {
		t.Fatalf("account folders %s and %s", a, b)
	}
}

// TestChatLinesGoInOrder: lines written quickly reach the customer in
// order, and a line that cannot be sent is shown back to the agent.
func TestChatLinesGoInOrder(t *testing.T) {
	_, addr, fp := testpeer.StartRelay(t)
	w := newWorld(t, t.TempDir())
	w.signIn(ui.SignIn{Address: addr, Fingerprint: fp, Name: testpeer.AgentName, Password: testpeer.AgentPassword}, "main")
	s := w.newSession()
	c := w.join(addr, fp, s)
	const n = 30
	w.on(func() {
		for i := range n {
			w.b.send(s.ID, fmt.Sprintf("line %d", i))
		}
	})
	for i := range n {
		m := testpeer.Receive(t, c.Messages, "a chat line")
		if want := fmt.Sprintf("line %d", i); m.Text != want {
			t.Fatalf("customer got %q, want %q: out of order", m.Text, want)
		}
	}

	waiting := w.newSession() // nobody to send to
	w.on(func() { w.b.send(waiting.ID, "are you there?") })
	var got [2]string
	w.eventually("the error for the unsent line", func() bool {
		if len(w.scr.errors) == 0 {
			return false
		}
		got = w.scr.errors[len(w.scr.errors)-1]
		return true
	})
	if got[0] != "Message not sent" || !strings.Contains(got[1], "“are you there?”") || !strings.Contains(got[1], "no customer has joined") {
		t.Fatalf("error %q", got)
	}
}

func TestSignInMessage(t *testing.T) {
	server := ui.SignIn{Address: "relay.example.com:7443"}
	local := ui.SignIn{Local: true, LocalPort: "7443"}
	unreachable := failure.New(protocol.CodeRelayUnreachable, "cannot reach the relay: timeout")
	for _, tc := range []struct {
		f    ui.SignIn
		err  error
		want string
	}{
		{server, unreachable, "The relay at relay.example.com:7443 does not answer. Check the address and your network."},
		{local, unreachable, "The relay on this computer (port 7443) did not answer. Try again, or restart the console."},
		{ui.SignIn{Local: true}, unreachable, "The relay on this computer (port 7443) did not answer. Try again, or restart the console."},
		{ui.SignIn{Local: true, LocalPort: "127.0.0.1:9000"}, unreachable, "The relay on this computer (127.0.0.1:9000) did not answer. Try again, or restart the console."},
		{local, failure.New(protocol.CodeAuthFailed, "x"), "The name or password is wrong for the relay on this computer."},
		{server, failure.New(protocol.CodeAuthFailed, "x"), "The name or password is wrong."},
	} {
		if got := signInMessage(tc.f, tc.err); got != tc.want {
			t.Errorf("signInMessage(%+v, %v) = %q, want %q", tc.f, tc.err, got, tc.want)
		}
	}
}

func TestAccountDir(t *testing.T) {
	d := func(f ui.SignIn) string { return accountDir("/data", f) }
	local := ui.SignIn{Local: true, LocalPort: "7443", Name: "alice", Address: "ignored:1"}
	pinned := ui.SignIn{Address: "relay.example.com:7443", Fingerprint: "sha256:AB", Name: "alice"}
	if d(local) != d(ui.SignIn{Local: true, LocalPort: "9000", Name: "alice"}) {
		t.Error("the relay on this computer changes folder with its port")
	}
	if d(pinned) != d(ui.SignIn{Address: "10.0.0.1:7443", Fingerprint: "sha256:ab", Name: "alice"}) {
		t.Error("a pinned relay changes folder with its address")
	}
	for _, other := range []ui.SignIn{
		{Local: true, Name: "bob"},
		{Address: "relay.example.com:7443", Fingerprint: "sha256:AB", Name: "bob"},
		{Address: "relay.example.com:7443", Name: "alice"},
		{Address: "local", Name: "alice"},
	} {
		if d(other) == d(local) || d(other) == d(pinned) {
			t.Errorf("%+v shares a folder", other)
		}
	}
	if !strings.HasPrefix(d(local), filepath.Join("/data", "accounts")+string(filepath.Separator)) {
		t.Errorf("folder %s", d(local))
	}
}

// Saving a received file elsewhere never overwrites: not another file, and
// not the received file itself when the agent picks its own folder.
func TestSaveAsNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "report.pdf")
	if err := os.WriteFile(src, []byte("the report"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"report (2).pdf", "report (3).pdf"} {
		if err := copyInto(src, dir); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, want))
		if err != nil || string(got) != "the report" {
			t.Fatalf("%s: %q, %v", want, got, err)
		}
	}
	if got, _ := os.ReadFile(src); string(got) != "the report" {
		t.Fatalf("the received file now holds %q", got)
	}
	other := t.TempDir()
	if err := copyInto(src, other); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(other)
	if len(entries) != 1 || entries[0].Name() != "report.pdf" {
		t.Fatalf("left in the folder: %v", entries)
	}
}
