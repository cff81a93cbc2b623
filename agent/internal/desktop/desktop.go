// Package desktop runs the agent console as a window: it bridges the
// console logic (package console), the remembered settings and the relay
// the console can run itself (package setup), which report from their own
// goroutines, to the window (package ui), which must only be touched on
// Fyne's goroutine.
//
// Every sign-in starts a new generation: what a console reports, and what
// the goroutines working for it finish, reaches the window only while that
// console is still the one signed in. A sign-in overtaken by a sign-out,
// another sign-in or the closing of the window closes what it started.
// Each account (relay and agent name) keeps its sessions in a data folder
// of its own (see accountDir).
package desktop

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/porthole-dev/porthole/agent/internal/console"
	"github.com/porthole-dev/porthole/agent/internal/setup"
	"github.com/porthole-dev/porthole/agent/internal/ui"
	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/chat"
	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/failure"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/session"
	"github.com/porthole-dev/porthole/shared/transfer"
	"github.com/porthole-dev/porthole/shared/weblink"
)

// AppID identifies the console to the desktop (settings, notifications).
const AppID = "dev.porthole.agent"

// keepEnded is how long ended sessions stay in the list.
const keepEnded = 7 * 24 * time.Hour

// signInTimeout bounds connecting and signing in to the relay.
const signInTimeout = 15 * time.Second

// sendQueue is how many chat lines may wait for the console; a line
// beyond that is refused with an error rather than blocking the window.
const sendQueue = 1024 // far more than anyone types or pastes ahead of a slow link

// Options configure the window.
type Options struct {
	// DataDir holds the settings, the relay on this computer (relay/) and
	// each account's sessions and chats (accounts/, see accountDir).
	DataDir    string
	ForceRelay bool
	Log        *slog.Logger
	// SignIn, when set (from the command line), signs in at once instead of
	// showing the sign-in screen. When the data folder has no settings yet
	// it counts as the setup form (First): with the relay on this computer
	// it then creates the agent account.
	SignIn *ui.SignIn
	// NewSession starts a session as soon as the console is signed in.
	NewSession bool
	// Downloads, when set, is where received files go (--downloads).
	Downloads string
	// Events, when set, also gets every console event (--events).
	Events func(headless.Event)
}

// view is what the bridge uses of the window (*ui.Window).
type view interface {
	ShowSignIn(f ui.SignIn, errMsg string)
	ShowBusy(step string)
	ShowMain(agent, relay string)
	ShowError(title, msg string)
	SetPrefs(p ui.Prefs)
	SetForeground(fg bool)
	SetRelay(text string)
	PutSession(s ui.Session)
	OpenSession(id string)
	AddMessage(session string, msg ui.Message)
	SetPermission(session, kind, state string)
	Tick()
	PutFile(session string, f ui.File)
	LoadFiles(session string, files []ui.File)
	PutLink(session string, l ui.Link)
	LoadLinks(session string, links []ui.Link)
	SetInvitation(session string, from, until time.Time)
	SetFilePolicy(p ui.FilePolicy)
	ScreenStarted(session string, monitors []ui.Monitor, current int)
	ScreenStats(session string, fps float64, bytesPerSec int64, rtt time.Duration)
	ScreenStopped(session, by, why string)
	RemoteScreen(session string) *desktopui.RemoteScreen // any goroutine
}

type bridge struct {
	opt Options
	app fyne.App
	win fyne.Window
	ui  view
	// do runs a function on Fyne's goroutine (fyne.Do).
	do func(func())
	// newConsole is console.New; tests look at what it is given.
	newConsole func(console.Config) (*console.Console, error)

	// The window's life: close cancels ctx and waits for running (sign-ins,
	// tickers and chat senders).
	ctx     context.Context
	cancel  context.CancelFunc
	running sync.WaitGroup

	// gen is the sign-in generation, bumped by every sign-in and shutdown.
	// Only Fyne's goroutine changes it (and close, once the window is
	// gone); others read it to see whether what they work for is stale.
	gen atomic.Uint64

	// The agent's input, in order, off the window's goroutine.
	inputOnce sync.Once
	inputs    chan inputBatch

	// Only touched on Fyne's goroutine:
	settings setup.Settings
	con      *console.Console
	local    *setup.LocalRelay
	sessions map[string]ui.Session
	stop     chan struct{}               // closed at shutdown: ends the ticker and the chat sender
	outbox   *desktopui.Sender[chatLine] // the chat sender
	abort    context.CancelFunc          // cancels the sign-in in progress
	signing  chan struct{}               // closed when the latest sign-in goroutine is done
	relay    string                      // where the console is signed in, in words
}

// Run opens the window and returns when it is closed.
func Run(opt Options) error {
	a := app.NewWithID(AppID)
	a.Settings().SetTheme(desktopui.Theme())
	win := a.NewWindow(ui.Title)
	win.Resize(fyne.NewSize(1280, 800))
	b := newBridge(a, win, opt, fyne.Do)
	b.begin()
	win.ShowAndRun()
	b.close()
	return nil
}

// newBridge puts the window's content into win; do runs a function on
// Fyne's goroutine.
func newBridge(a fyne.App, win fyne.Window, opt Options, do func(func())) *bridge {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Events == nil {
		opt.Events = func(headless.Event) {}
	}
	b := &bridge{opt: opt, app: a, win: win, do: do, newConsole: console.New}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	w := ui.New(win, ui.Actions{
		SignIn: b.signIn, NewSession: b.newSession, NewKey: b.newKey, Send: b.send, End: b.end, Ask: b.ask,
		History: b.history, Settings: b.savePrefs, SignOut: b.signOut, Notify: b.notify,
		Copy: func(s string) { a.Clipboard().SetContent(s) },

		SendFiles: b.sendFiles, AnswerFile: b.answerFile, CancelFile: b.cancelFile, RequestFiles: b.requestFiles,
		Open: b.open, SaveAs: b.saveAs, Folder: b.folder, Receiving: b.receiving,
		SetReceiving: b.setReceiving, SetTrust: b.setTrust,

		SendLink: b.sendLink, AnswerLink: b.answerLink, SetLinkTrust: b.setLinkTrust,
	})
	w.Requestable = console.Requestable()
	w.ScreenAct = b.screenActions()
	b.ui = w
	a.Lifecycle().SetOnEnteredForeground(func() { b.ui.SetForeground(true) })
	a.Lifecycle().SetOnExitedForeground(func() { b.ui.SetForeground(false) })
	win.SetOnClosed(b.shutdown)
	return b
}

// begin shows the first screen, or signs in at once; on Fyne's goroutine.
func (b *bridge) begin() {
	s, found, err := setup.Load(b.opt.DataDir)
	b.settings = s
	b.ui.SetPrefs(ui.Prefs{Notify: s.Notify, NotifyPreview: s.NotifyPreview})
	switch {
	case b.opt.SignIn != nil:
		f := *b.opt.SignIn
		f.First = f.First || !found
		b.signIn(f)
	case err != nil:
		b.ui.ShowSignIn(b.form(true), "The saved settings could not be read ("+err.Error()+"); set up again.")
	default:
		b.ui.ShowSignIn(b.form(!found), "")
	}
}

// close ends everything once the window is gone (after ShowAndRun): a
// sign-in still in progress closes what it started, and the console and
// the relay on this computer are closed.
func (b *bridge) close() {
	b.gen.Add(1)
	b.cancel()
	b.running.Wait()
	b.shutdown()
}

// later runs f on Fyne's goroutine unless the console of sign-in
// generation gen is gone by then.
func (b *bridge) later(gen uint64, f func()) {
	b.do(func() {
		if b.gen.Load() == gen {
			f()
		}
	})
}

// noAccount is said when the relay on this computer has no account and
// the form was not the setup form.
const noAccount = "The relay on this computer has no agent account yet; choose a name and password for it."

// signedIn shows the main window and the sessions the console knows.
func (b *bridge) signedIn(gen uint64, f ui.SignIn, in *signedInto) {
	b.settings.Local, b.settings.LocalListen, b.settings.Name = f.Local, f.LocalPort, f.Name
	if !f.Local {
		b.settings.Address, b.settings.Fingerprint = f.Address, f.Fingerprint
	}
	if err := setup.Save(b.opt.DataDir, b.settings); err != nil {
		b.opt.Log.Warn("saving settings", "err", err)
	}
	b.relay = "Relay " + f.Address
	if f.Local {
		b.relay = "Relay on this computer (" + b.local.PublicAddr() + ")"
	}
	b.opt.Events(headless.Event{Event: "ready", Agent: f.Name, Relay: in.addr, Fingerprint: in.fp})
	b.ui.ShowMain(f.Name, b.relay)
	b.sessions = map[string]ui.Session{}
	recs, err := b.con.Recorded()
	if err != nil {
		b.ui.ShowError("Sessions", "The session list could not be read: "+err.Error())
	}
	for _, r := range recs {
		if r.State == appdb.StateEnded && time.Since(r.Ended) > keepEnded {
			continue
		}
		b.put(b.fromRecord(r))
	}
	p := b.con.FilePolicy()
	b.ui.SetFilePolicy(ui.FilePolicy{Enabled: p.Enabled, InvitationRequired: p.InvitationRequired})
	files := map[string][]ui.File{}
	for _, t := range b.con.Transfers("") {
		if _, shown := b.sessions[t.Session]; shown {
			files[t.Session] = append(files[t.Session], desktopui.FromTransfer(t, 0, 0))
		}
	}
	links := map[string][]ui.Link{}
	for _, k := range b.con.Links("") {
		if _, shown := b.sessions[k.Session]; shown {
			links[k.Session] = append(links[k.Session], desktopui.FromLink(k))
		}
	}
	for session := range b.sessions {
		b.ui.LoadLinks(session, links[session])
		b.ui.LoadFiles(session, files[session]) // puts the chat in time order
	}
	b.stop = make(chan struct{})
	con := b.con
	b.outbox = desktopui.NewSender(sendQueue, func(l chatLine) error { return con.Chat(l.session, l.text) },
		func(l chatLine, err error) {
			msg := desktopui.NotSent(l.text, failure.From(err).Message)
			b.later(gen, func() { b.ui.ShowError("Message not sent", msg) })
		})
	b.running.Add(2)
	go b.tick(gen, b.stop)
	go func(s *desktopui.Sender[chatLine], stop chan struct{}) { // the window's close waits for it
		defer b.running.Done()
		select {
		case <-b.ctx.Done():
		case <-stop: // signed out
		}
		s.Stop()
		s.Wait()
	}(b.outbox, b.stop)
	if b.opt.NewSession {
		b.opt.NewSession = false
		b.newSession()
	}
}

func (b *bridge) fromRecord(r appdb.Session) ui.Session {
	s := ui.Session{ID: r.ID, State: r.State, Customer: r.PeerName, Created: r.Created, Ended: r.Ended, Expires: r.KeyExpires}
	if r.State == appdb.StateWaiting {
		s.Key = protocol.FormatKey(r.Nameplate, r.Secret)
		if b.local != nil {
			s.JoinHint, s.HintHereOnly = b.local.JoinHint(s.Key), b.local.HereOnly()
		}
	}
	if r.State == console.StateBurned {
		s.Reason = r.BurnedWhy
		if s.Reason == "" { // stored before the reason was
			s.Reason = "the key was used by someone who did not know its secret"
		}
	}
	if r.State == appdb.StateEnded {
		s.Reason = "The session ended on " + r.Ended.Local().Format("Jan 2 at 15:04") + "."
	}
	if l := b.con.Link(r.ID); l != nil {
		s.Online, s.Path, s.RTT = true, string(l.Path), l.RTT()
	}
	return s
}

func (b *bridge) put(s ui.Session) {
	b.sessions[s.ID] = s
	b.ui.PutSession(s)
}

// tick updates countdowns every second and round-trip times every other.
func (b *bridge) tick(gen uint64, stop chan struct{}) {
	defer b.running.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		b.later(gen, func() {
			b.ui.Tick()
			if n%2 != 0 {
				return
			}
			for id, s := range b.sessions {
				l := b.con.Link(id)
				if l == nil || !s.Online {
					continue
				}
				rtt := l.RTT().Round(time.Millisecond)
				if string(l.Path) != s.Path || rtt != s.RTT.Round(time.Millisecond) {
					s.Path, s.RTT = string(l.Path), rtt
					b.put(s)
				}
			}
		})
	}
}

// event shows what the console reports.
func (b *bridge) event(ev any) {
	if b.sessions == nil {
		return
	}
	if b.screenEvent(ev) {
		return
	}
	switch e := ev.(type) {
	case session.Relay:
		if e.Connected {
			b.ui.SetRelay(b.relay)
		} else {
			b.ui.SetRelay(b.relay + " · reconnecting…")
		}
	case session.KeyIssued: // a new session, or a new key for one
		b.put(b.fromRecord(e.Record))
		b.ui.OpenSession(e.Record.ID)
	case console.KeyBurned: // after a failed PAKE the session ends at once: its end tells
		if s, known := b.sessions[e.Session]; known && s.State == ui.Waiting && e.Reason != protocol.CodePakeFailed {
			s.State, s.Key, s.JoinHint, s.HintHereOnly, s.Reason = ui.Burned, "", "", false, e.Message
			b.put(s)
		}
	case session.Joined:
		s, known := b.sessions[e.Session]
		if !known {
			return
		}
		first := s.State == ui.Waiting
		s.State, s.Customer, s.Online, s.Path, s.RTT, s.Reason, s.Key, s.JoinHint, s.HintHereOnly = ui.Active, e.Peer, true, string(e.Path), e.RTT, "", "", "", false
		b.put(s)
		if first { // a reconnect must not take the agent away from another session
			b.ui.OpenSession(e.Session) // the tab comes to the front when the customer joins
		}
	case session.Left:
		if s, known := b.sessions[e.Session]; known {
			s.Online, s.Reason = false, e.Reason
			b.put(s)
		}
	case chat.Line:
		b.ui.AddMessage(e.Session, ui.Message{ID: e.ID, From: e.From, Text: e.Text, At: e.At, Outgoing: e.Outgoing})
	case session.Ended:
		if s, known := b.sessions[e.Session]; known {
			s.State, s.Online, s.Reason, s.Ended = ui.Ended, false, e.Reason, time.Now()
			b.put(s)
		}
	case transfer.Event:
		switch e.Kind {
		case transfer.EventInvite:
			b.ui.SetInvitation(e.Session, time.Now(), e.Until)
		case transfer.EventPolicy:
		case transfer.EventSkipped:
			b.ui.ShowError("Not everything was sent", desktopui.SkippedText(e))
		default:
			b.ui.PutFile(e.Transfer.Session, desktopui.FromTransfer(e.Transfer, e.Rate, e.Left))
		}
	case weblink.Event:
		b.ui.PutLink(e.Link.Session, desktopui.FromLink(e.Link))
	case consent.Event:
		st := e.State
		if st == consent.StateRevoked && e.Why != consent.StateRevoked {
			st += "_" + e.Why // ended otherwise than by the customer
		}
		b.ui.SetPermission(e.Session, e.Kind, st)
	case session.Failure:
		switch {
		case e.Code == protocol.CodeAuthFailed && e.Session == "":
			// The relay stopped accepting the password (changed meanwhile).
			f := b.form(false)
			b.shutdown()
			b.ui.ShowSignIn(f, "The relay no longer accepts your password; sign in again.")
		case e.Session != "":
			b.ui.ShowError("Session problem", e.Message)
		}
	}
}

func (b *bridge) newSession() {
	c, gen := b.con, b.gen.Load()
	if c == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if _, err := c.NewSession(ctx); err != nil {
			msg := failure.From(err).Message
			b.later(gen, func() { b.ui.ShowError("No new session", "The relay did not give a session: "+msg) })
		}
	}()
}

// newKey asks for a fresh key for a session whose key was used up; the
// key comes as a KeyIssued.
func (b *bridge) newKey(session string) {
	c, gen := b.con, b.gen.Load()
	if c == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if _, err := c.NewKey(ctx, session); err != nil {
			msg := failure.From(err).Message
			b.later(gen, func() { b.ui.ShowError("No new key", "The relay did not give a new key: "+msg) })
		}
	}()
}

// chatLine is a line the agent wrote, waiting for the chat sender.
type chatLine struct{ session, text string }

// send queues a chat line for the console's chat sender, which sends the
// lines one by one in the order written.
func (b *bridge) send(session, text string) {
	if b.outbox == nil {
		return
	}
	if !b.outbox.Push(chatLine{session, text}) {
		b.ui.ShowError("Message not sent", desktopui.NotSent(text, "too many messages are waiting to be sent"))
	}
}

func (b *bridge) end(session string) {
	c, gen := b.con, b.gen.Load()
	if c == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.EndSession(ctx, session, ""); err != nil {
			msg := failure.From(err).Message
			b.later(gen, func() { b.ui.ShowError("The session did not end", msg) })
		}
	}()
}

func (b *bridge) ask(session, kind string) {
	c, gen := b.con, b.gen.Load()
	if c == nil {
		return
	}
	go func() {
		if _, err := c.RequestPermission(session, kind, "", 0); err != nil {
			msg := failure.From(err).Message
			b.later(gen, func() { b.ui.ShowError("Could not ask", msg) })
		}
	}()
}

func (b *bridge) history(session string) []ui.Message {
	if b.con == nil {
		return nil
	}
	msgs, err := b.con.History(session)
	if err != nil {
		return nil
	}
	out := make([]ui.Message, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, ui.Message{ID: m.ID, From: m.From, Text: m.Text, At: m.At, Outgoing: m.Outgoing})
	}
	return out
}

func (b *bridge) savePrefs(p ui.Prefs) {
	b.settings.Notify, b.settings.NotifyPreview = p.Notify, p.NotifyPreview
	if err := setup.Save(b.opt.DataDir, b.settings); err != nil {
		b.ui.ShowError("Settings not saved", err.Error())
	}
}

func (b *bridge) notify(title, body string) {
	b.app.SendNotification(fyne.NewNotification(title, body))
}

func (b *bridge) signOut() {
	b.shutdown()
	b.ui.ShowSignIn(b.form(false), "")
}

// shutdown closes the console and the relay on this computer (sessions
// stay open on the relay for the next sign-in), and makes whatever still
// works for them stale: their events, and a sign-in in progress.
func (b *bridge) shutdown() {
	b.gen.Add(1)
	if b.abort != nil {
		b.abort()
		b.abort = nil
	}
	if b.stop != nil {
		close(b.stop)
		b.stop = nil
	}
	if b.outbox != nil {
		b.outbox.Stop()
		b.outbox = nil
	}
	b.sessions = nil
	con, local := b.con, b.local
	b.con, b.local = nil, nil
	if con != nil {
		con.Close()
	}
	if local != nil {
		local.Close()
	}
}
