// Package desktop runs the agent console as a window: it bridges the
// console logic (package console), the remembered settings and the relay
// the console can run itself (package setup), which report from their own
// goroutines, to the window (package ui), which must only be touched on
// Fyne's goroutine.
package desktop

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/porthole-dev/porthole/agent/internal/console"
	"github.com/porthole-dev/porthole/agent/internal/setup"
	"github.com/porthole-dev/porthole/agent/internal/ui"
	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/failure"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/protocol"
)

// AppID identifies the console to the desktop (settings, notifications).
const AppID = "dev.porthole.agent"

// keepEnded is how long ended sessions stay in the list.
const keepEnded = 7 * 24 * time.Hour

// Options configure the window.
type Options struct {
	DataDir    string
	ForceRelay bool
	Log        *slog.Logger
	// SignIn, when set (from the command line), signs in at once instead of
	// showing the sign-in screen.
	SignIn *ui.SignIn
	// NewSession starts a session as soon as the console is signed in.
	NewSession bool
	// Events, when set, also gets every console event (--events).
	Events func(headless.Event)
}

type bridge struct {
	opt      Options
	app      fyne.App
	win      fyne.Window
	ui       *ui.Window
	settings setup.Settings

	// Only touched on Fyne's goroutine:
	con      *console.Console
	local    *setup.LocalRelay
	sessions map[string]ui.Session
	stopTick chan struct{}
	relay    string // where the console is signed in, in words
}

// Run opens the window and returns when it is closed.
func Run(opt Options) error {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Events == nil {
		opt.Events = func(headless.Event) {}
	}
	a := app.NewWithID(AppID)
	a.Settings().SetTheme(desktopui.Theme())
	win := a.NewWindow(ui.Title)
	win.Resize(fyne.NewSize(1280, 800))
	b := &bridge{opt: opt, app: a, win: win}
	b.ui = ui.New(win, ui.Actions{
		SignIn: b.signIn, NewSession: b.newSession, Send: b.send, End: b.end, Ask: b.ask,
		History: b.history, Settings: b.savePrefs, SignOut: b.signOut, Notify: b.notify,
		Copy: func(s string) { a.Clipboard().SetContent(s) },
	})
	a.Lifecycle().SetOnEnteredForeground(func() { b.ui.SetForeground(true) })
	a.Lifecycle().SetOnExitedForeground(func() { b.ui.SetForeground(false) })
	s, found, err := setup.Load(opt.DataDir)
	b.settings = s
	b.ui.SetPrefs(ui.Prefs{Notify: s.Notify, NotifyPreview: s.NotifyPreview})
	switch {
	case opt.SignIn != nil:
		b.signIn(*opt.SignIn)
	case err != nil:
		b.ui.ShowSignIn(b.form(true), "The saved settings could not be read ("+err.Error()+"); set up again.")
	default:
		b.ui.ShowSignIn(b.form(!found), "")
	}
	win.SetOnClosed(b.shutdown)
	win.ShowAndRun()
	return nil
}

// form is the sign-in screen filled in from the settings.
func (b *bridge) form(first bool) ui.SignIn {
	s := b.settings
	return ui.SignIn{Local: s.Local, LocalPort: s.LocalListen, Address: s.Address, Fingerprint: s.Fingerprint, Name: s.Name, First: first}
}

// signIn starts the relay on this computer if chosen, then the console.
func (b *bridge) signIn(f ui.SignIn) {
	if f.Local {
		b.ui.ShowBusy("Starting the relay on this computer…")
	} else {
		b.ui.ShowBusy("Connecting to " + f.Address + "…")
	}
	b.shutdown()
	go func() {
		local, con, err := b.start(f)
		fyne.Do(func() {
			if err != nil {
				f.Password = ""
				b.ui.ShowSignIn(f, signInMessage(f, err))
				return
			}
			b.local, b.con = local, con
			b.signedIn(f)
		})
	}()
}

// start brings up the relay (if local) and signs the console in; it runs
// off Fyne's goroutine.
func (b *bridge) start(f ui.SignIn) (*setup.LocalRelay, *console.Console, error) {
	addr, fp := f.Address, f.Fingerprint
	var local *setup.LocalRelay
	if f.Local {
		var err error
		local, err = setup.StartLocalRelay(filepath.Join(b.opt.DataDir, "relay"), f.LocalPort, b.opt.Log)
		if err != nil {
			return nil, nil, fmt.Errorf("the relay on this computer could not start: %w", err)
		}
		if err := local.EnsureAccount(f.Name, f.Password); err != nil {
			local.Close()
			return nil, nil, err
		}
		addr, fp = local.DialAddr(), local.Fingerprint()
	}
	con, err := console.New(console.Config{
		Relay: addr, Fingerprint: fp, Name: f.Name, Password: f.Password, DataDir: b.opt.DataDir,
		ForceRelay: b.opt.ForceRelay, Log: b.opt.Log,
		Emit: func(e headless.Event) {
			b.opt.Events(e)
			fyne.Do(func() { b.event(e) })
		},
	})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err = con.Start(ctx)
		cancel()
		if err != nil {
			con.Close()
		}
	}
	if err != nil {
		if local != nil {
			local.Close()
		}
		return nil, nil, err
	}
	b.opt.Events(headless.Event{Event: "ready", Agent: f.Name, Relay: addr, Fingerprint: fp})
	return local, con, nil
}

// signInMessage says why signing in failed, in words for a person.
func signInMessage(f ui.SignIn, err error) string {
	e := failure.From(err)
	switch e.Code {
	case protocol.CodeAuthFailed:
		if f.Local {
			return "The name or password is wrong for the relay on this computer."
		}
		return "The name or password is wrong."
	case protocol.CodeRateLimited:
		return "Too many failed sign-ins from here; wait a minute and try again."
	case failure.CodeRelayUntrusted:
		return "The relay's certificate does not match the fingerprint. Check the fingerprint with whoever runs the relay."
	case protocol.CodeRelayUnreachable:
		return "The relay at " + f.Address + " does not answer. Check the address and your network."
	}
	return e.Message
}

// signedIn shows the main window and the sessions the console knows.
func (b *bridge) signedIn(f ui.SignIn) {
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
	b.stopTick = make(chan struct{})
	go b.tick(b.stopTick)
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
			s.JoinHint = b.local.JoinHint(s.Key)
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
func (b *bridge) tick(stop chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		fyne.Do(func() {
			if b.con == nil {
				return
			}
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
func (b *bridge) event(e headless.Event) {
	if b.sessions == nil {
		return
	}
	s, known := b.sessions[e.Session]
	switch e.Event {
	case "relay":
		if e.Message == "connected" {
			b.ui.SetRelay(b.relay)
		} else {
			b.ui.SetRelay(b.relay + " · reconnecting…")
		}
	case "session_key":
		for _, r := range b.records() {
			if r.ID == e.Session {
				b.put(b.fromRecord(r))
			}
		}
		b.ui.OpenSession(e.Session)
	case "customer_joined":
		if !known {
			return
		}
		first := s.State == ui.Waiting
		s.State, s.Customer, s.Online, s.Path, s.Reason, s.Key, s.JoinHint = ui.Active, e.Name, true, e.Path, "", "", ""
		if l := b.con.Link(e.Session); l != nil {
			s.RTT = l.RTT()
		}
		b.put(s)
		if first { // a reconnect must not take the agent away from another session
			b.ui.OpenSession(e.Session) // the tab comes to the front when the customer joins
		}
	case "customer_left":
		if known {
			s.Online, s.Reason = false, e.Reason
			b.put(s)
		}
	case "chat", "chat_sent":
		at, _ := time.Parse(time.RFC3339Nano, e.At)
		b.ui.AddMessage(e.Session, ui.Message{ID: e.ID, From: e.From, Text: e.Text, At: at, Outgoing: e.Event == "chat_sent"})
	case "session_ended":
		if known {
			s.State, s.Online, s.Reason, s.Ended = ui.Ended, false, e.Reason, time.Now()
			b.put(s)
		}
	case "permission":
		b.ui.SetPermission(e.Session, e.Kind, e.State)
	case "error":
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

func (b *bridge) records() []appdb.Session {
	recs, _ := b.con.Recorded()
	return recs
}

func (b *bridge) newSession() {
	c := b.con
	if c == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if _, err := c.NewSession(ctx); err != nil {
			msg := failure.From(err).Message
			fyne.Do(func() { b.ui.ShowError("No new session", "The relay did not give a session: "+msg) })
		}
	}()
}

func (b *bridge) send(session, text string) {
	if c := b.con; c != nil {
		go func() {
			if err := c.Chat(session, text); err != nil {
				msg := failure.From(err).Message
				fyne.Do(func() { b.ui.ShowError("Message not sent", msg) })
			}
		}()
	}
}

func (b *bridge) end(session string) {
	c := b.con
	if c == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.EndSession(ctx, session, ""); err != nil {
			msg := failure.From(err).Message
			fyne.Do(func() { b.ui.ShowError("The session did not end", msg) })
		}
	}()
}

func (b *bridge) ask(session, kind string) {
	if c := b.con; c != nil {
		go func() {
			if _, err := c.RequestPermission(session, kind, "", 0); err != nil {
				msg := failure.From(err).Message
				fyne.Do(func() { b.ui.ShowError("Could not ask", msg) })
			}
		}()
	}
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
// stay open on the relay for the next sign-in).
func (b *bridge) shutdown() {
	if b.stopTick != nil {
		close(b.stopTick)
		b.stopTick = nil
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
