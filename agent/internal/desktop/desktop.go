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
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
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
)

// AppID identifies the console to the desktop (settings, notifications).
const AppID = "dev.porthole.agent"

// keepEnded is how long ended sessions stay in the list.
const keepEnded = 7 * 24 * time.Hour

// signInTimeout bounds connecting and signing in to the relay.
const signInTimeout = 15 * time.Second

// sendQueue is how many chat lines may wait for the console; a line
// beyond that is refused with an error rather than blocking the window.
const sendQueue = 256

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
	SetInvitation(session string, from, until time.Time)
	SetFilePolicy(p ui.FilePolicy)
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
		SignIn: b.signIn, NewSession: b.newSession, Send: b.send, End: b.end, Ask: b.ask,
		History: b.history, Settings: b.savePrefs, SignOut: b.signOut, Notify: b.notify,
		Copy: func(s string) { a.Clipboard().SetContent(s) },

		SendFiles: b.sendFiles, AnswerFile: b.answerFile, CancelFile: b.cancelFile, RequestFiles: b.requestFiles,
		Open: b.open, SaveAs: b.saveAs, Folder: b.folder, Receiving: b.receiving,
		SetReceiving: b.setReceiving, SetTrust: b.setTrust,
	})
	w.Requestable = console.Requestable()
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

// form is the sign-in screen filled in from the settings.
func (b *bridge) form(first bool) ui.SignIn {
	s := b.settings
	return ui.SignIn{Local: s.Local, LocalPort: s.LocalListen, Address: s.Address, Fingerprint: s.Fingerprint, Name: s.Name, First: first}
}

// signedInto is what a sign-in started: the console, the relay on this
// computer (nil for a relay server), and where the console is connected.
type signedInto struct {
	con      *console.Console
	local    *setup.LocalRelay
	addr, fp string
}

func (s *signedInto) close() {
	s.con.Close()
	if s.local != nil {
		s.local.Close()
	}
}

// noAccount is said when the relay on this computer has no account and
// the form was not the setup form.
const noAccount = "The relay on this computer has no agent account yet; choose a name and password for it."

// signIn starts the relay on this computer if chosen, then the console.
func (b *bridge) signIn(f ui.SignIn) {
	if f.Local {
		b.ui.ShowBusy("Starting the relay on this computer…")
	} else {
		b.ui.ShowBusy("Connecting to " + f.Address + "…")
	}
	b.shutdown()
	gen := b.gen.Load()
	ctx, cancel := context.WithCancel(b.ctx)
	b.abort = cancel
	prev, done := b.signing, make(chan struct{})
	b.signing = done
	b.running.Add(1)
	go func() {
		defer b.running.Done()
		defer close(done)
		defer cancel()
		if prev != nil {
			<-prev // the sign-in before has closed what it started (the port, the folders)
		}
		b.signInAsync(ctx, gen, f)
	}()
}

// signInAsync runs a sign-in off Fyne's goroutine and hands what it
// started to the window, or closes it when the sign-in is stale by then
// (ctx is cancelled when it becomes stale).
func (b *bridge) signInAsync(ctx context.Context, gen uint64, f ui.SignIn) {
	in, err := b.start(ctx, gen, f)
	if err != nil {
		b.later(gen, func() {
			f.Password = ""
			if errors.Is(err, setup.ErrNoAccount) {
				f.First = true
				b.ui.ShowSignIn(f, noAccount)
				return
			}
			b.ui.ShowSignIn(f, signInMessage(f, err))
		})
		return
	}
	// Exactly one side claims what the sign-in started: the window (still
	// this generation) or this goroutine (stale), which closes it.
	var claimed atomic.Bool
	decided := make(chan struct{}, 1)
	b.do(func() {
		defer func() { decided <- struct{}{} }()
		if b.gen.Load() != gen || !claimed.CompareAndSwap(false, true) {
			return
		}
		b.con, b.local = in.con, in.local
		b.signedIn(gen, f, in)
	})
	select {
	case <-decided:
	case <-ctx.Done():
	}
	if claimed.CompareAndSwap(false, true) {
		in.close()
	}
}

// start brings up the relay (if local) and signs the console in; it runs
// off Fyne's goroutine.
func (b *bridge) start(ctx context.Context, gen uint64, f ui.SignIn) (*signedInto, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in := &signedInto{addr: f.Address, fp: f.Fingerprint}
	if f.Local {
		local, err := setup.StartLocalRelay(filepath.Join(b.opt.DataDir, "relay"), f.LocalPort, b.opt.Log)
		if err != nil {
			return nil, fmt.Errorf("the relay on this computer could not start: %w", err)
		}
		if err := local.EnsureAccount(f.Name, f.Password, f.First); err != nil {
			local.Close()
			return nil, err
		}
		in.local, in.addr, in.fp = local, local.DialAddr(), local.Fingerprint()
	}
	con, err := b.newConsole(console.Config{
		Relay: in.addr, Fingerprint: in.fp, Name: f.Name, Password: f.Password,
		DataDir: accountDir(b.opt.DataDir, f), ForceRelay: b.opt.ForceRelay, Log: b.opt.Log,
		Downloads: b.opt.Downloads,
		Emit:      b.opt.Events, // the JSON lines, for --events
		Events:    func(ev any) { b.later(gen, func() { b.event(ev) }) },
	})
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, signInTimeout)
		err = con.Start(sctx)
		cancel()
		if err != nil {
			con.Close()
		}
	}
	if err != nil {
		if in.local != nil {
			in.local.Close()
		}
		return nil, err
	}
	in.con = con
	return in, nil
}

// accountDir is the console's data folder for the account f signs in to.
// A console attaches every open session in its database to the relay and
// marks those the relay does not know as ended, so each relay and agent
// name has a folder of its own: DataDir/accounts/<first 8 bytes of
// sha256(relay key + NUL + name), in hex>. A relay server's key is
// "server:" and its fingerprint when pinned (the same relay under another
// address is the same relay), else its address. The relay on this
// computer's key is "local" whatever its port: it is the same relay, with
// its identity in DataDir/relay; should that data be wiped, the sessions
// the new relay does not know are rightly marked ended at the next
// sign-in, where a fingerprint key would hide them in a folder nobody
// opens.
func accountDir(dataDir string, f ui.SignIn) string {
	key := "local"
	if !f.Local {
		id := strings.ToLower(strings.TrimSpace(f.Fingerprint))
		if id == "" {
			id = strings.ToLower(strings.TrimSpace(f.Address))
		}
		key = "server:" + id
	}
	sum := sha256.Sum256([]byte(key + "\x00" + f.Name))
	return filepath.Join(dataDir, "accounts", hex.EncodeToString(sum[:8]))
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
		if f.Local {
			return "The relay on this computer (" + localPort(f.LocalPort) + ") did not answer. Try again, or restart the console."
		}
		return "The relay at " + f.Address + " does not answer. Check the address and your network."
	}
	return e.Message
}

// localPort names where the relay on this computer listens: "port 7443",
// or the host:port typed.
func localPort(listen string) string {
	addr, err := setup.ListenAddr(listen)
	if err != nil {
		return "port " + strings.TrimSpace(listen)
	}
	host, port, _ := net.SplitHostPort(addr)
	if host == "" {
		return "port " + port
	}
	return addr
}

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
	for session, fs := range files {
		b.ui.LoadFiles(session, fs)
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
	switch e := ev.(type) {
	case session.Relay:
		if e.Connected {
			b.ui.SetRelay(b.relay)
		} else {
			b.ui.SetRelay(b.relay + " · reconnecting…")
		}
	case session.KeyIssued:
		b.put(b.fromRecord(e.Record))
		b.ui.OpenSession(e.Record.ID)
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

// files runs f with the console off Fyne's goroutine and shows its error
// under title, if any (while the console is still the one signed in).
func (b *bridge) files(title string, f func(c *console.Console) error) {
	c, gen := b.con, b.gen.Load()
	if c == nil {
		return
	}
	go func() {
		if err := f(c); err != nil {
			msg := failure.From(err).Message
			b.later(gen, func() { b.ui.ShowError(title, desktopui.Sentence(msg)) })
		}
	}()
}

func (b *bridge) sendFiles(session string, paths []string) {
	b.files("Files not sent", func(c *console.Console) error {
		for _, p := range paths {
			if _, err := c.SendFile(session, p); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *bridge) answerFile(id, decision string) {
	b.files("No answer given", func(c *console.Console) error { return c.AnswerOffer(id, decision) })
}

func (b *bridge) cancelFile(id string) {
	b.files("Not stopped", func(c *console.Console) error { return c.CancelTransfer(id) })
}

func (b *bridge) requestFiles(session string) {
	b.files("Files not requested", func(c *console.Console) error {
		_, err := c.RequestFiles(session) // the file_invite event shows the countdown
		return err
	})
}

func (b *bridge) setReceiving(on bool) {
	b.files("Setting not saved", func(c *console.Console) error { return c.SetReceiving(on) })
}

func (b *bridge) setTrust(sender, decision string) {
	b.files("Setting not saved", func(c *console.Console) error { return c.SetTrust(sender, decision) })
}

// saveAs copies a received file into a folder the agent chose.
func (b *bridge) saveAs(src, folder string) {
	b.files("File not saved", func(*console.Console) error { return copyInto(src, folder) })
}

// copyInto copies src into folder under its own name, numbered when the
// folder has that name already ("report (2).pdf"): nothing there is
// overwritten, and the copy appears complete or not at all.
func copyInto(src, folder string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(folder, ".porthole-save-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, in)
	if err == nil {
		err = tmp.Chmod(info.Mode().Perm() | 0o444&^0o022) // readable like the original
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = linkFree(tmp.Name(), folder, filepath.Base(src))
	}
	os.Remove(tmp.Name()) // gone already when linked in place
	return err
}

// linkFree gives the file tmp the first free name like name in folder
// ("name", "name (2).ext", ...); a hard link never replaces a file.
func linkFree(tmp, folder, name string) error {
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 1; i <= 1000; i++ {
		try := name
		if i > 1 {
			try = fmt.Sprintf("%s (%d)%s", stem, i, ext)
		}
		target := filepath.Join(folder, try)
		err := os.Link(tmp, target)
		if err != nil && !errors.Is(err, os.ErrExist) {
			// No hard links here (FAT, some shares): rename onto a name
			// that is free now.
			if _, serr := os.Lstat(target); errors.Is(serr, os.ErrNotExist) {
				return os.Rename(tmp, target)
			}
			continue
		}
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("too many files named like %s in %s", name, folder)
}

func (b *bridge) folder(session string) string {
	if b.con == nil {
		return ""
	}
	return b.con.SessionFolder(session)
}

func (b *bridge) receiving() (bool, map[string]string) {
	if b.con == nil {
		return false, map[string]string{}
	}
	return b.con.Receiving(), b.con.Trusts()
}

// open opens a file with its program, or a folder in the file manager.
func (b *bridge) open(path string) {
	if err := b.app.OpenURL(&url.URL{Scheme: "file", Path: path}); err != nil {
		b.ui.ShowError("Cannot open", err.Error())
	}
}
