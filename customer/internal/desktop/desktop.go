// Package desktop runs the customer client as a window: it bridges the
// client logic (package client), which reports events from its own
// goroutines, to the window (package ui), which must only be touched on
// Fyne's goroutine.
package desktop

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/porthole-dev/porthole/customer/internal/client"
	"github.com/porthole-dev/porthole/customer/internal/sharing"
	"github.com/porthole-dev/porthole/customer/internal/ui"
	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/chat"
	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/failure"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/session"
	"github.com/porthole-dev/porthole/shared/transfer"
	"github.com/porthole-dev/porthole/shared/weblink"
)

// AppID identifies the client to the desktop (settings, notifications).
const AppID = "dev.porthole.customer"

type bridge struct {
	cfg    client.Config
	events func(headless.Event)
	app    fyne.App
	win    fyne.Window
	ui     *ui.Window
	cl     *client.Client
	out    *desktopui.Sender[string] // the chat sender of cl
	agent  string                    // who is helping, once connected
	grants []ui.Grant                // what the customer allowed, as the events said
	// blocked, when not empty, says why the client cannot join at all (it
	// has no usable relay); it is shown instead of joining.
	blocked string
	// do runs a function on Fyne's goroutine (fyne.Do; tests give a loop of
	// their own), doWait also waits for it.
	do, doWait func(func())
}

// Run opens the window and returns when it is closed. cfg.Key, when set,
// starts joining at once; otherwise the window asks for the key (or resumes
// a stored session). events, when not nil, also gets every client event.
// blocked, when not empty, is why this copy cannot join at all (no usable
// relay): the window says so, with only a way to close.
func Run(cfg client.Config, events func(headless.Event), blocked string) error {
	if events == nil {
		events = func(headless.Event) {}
	}
	a := app.NewWithID(AppID)
	a.Settings().SetTheme(desktopui.Theme())
	win := a.NewWindow("Porthole support")
	win.Resize(fyne.NewSize(880, 640))
	b := newBridge(a, win, cfg, events, blocked)
	b.join(cfg.Key)
	stopTick := make(chan struct{})
	go func() { // countdowns move on every second
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopTick:
				return
			case <-t.C:
				b.do(b.ui.Tick)
			}
		}
	}()
	win.SetOnClosed(func() {
		close(stopTick)
		b.close()
	})
	win.ShowAndRun()
	return nil
}

// newBridge makes the window's content and the bridge to the client.
func newBridge(a fyne.App, win fyne.Window, cfg client.Config, events func(headless.Event), blocked string) *bridge {
	b := &bridge{cfg: cfg, events: events, app: a, win: win, blocked: blocked, do: fyne.Do, doWait: fyne.DoAndWait}
	b.ui = ui.New(win, ui.Actions{
		Join: b.join, Send: b.send, End: b.end, Quit: a.Quit,
		SendFiles: b.sendFiles, AnswerFile: b.answerFile, CancelFile: b.cancelFile, Open: b.open,
		Folder: b.folder, Receiving: b.receiving, SetReceiving: b.setReceiving, SetTrust: b.setTrust,
		KeepFiles: b.keepFiles,
		SendLink:  b.sendLink, AnswerLink: b.answerLink, SetLinkTrust: b.setLinkTrust,
		Copy: func(s string) { a.Clipboard().SetContent(s) },
		Revoke: func(id string) {
			if b.cl != nil {
				go b.cl.RevokePermission(id)
			}
		},
	})
	return b
}

// close stops the chat sender and the client; the session stays open, and
// a restart resumes it.
func (b *bridge) close() {
	if b.out != nil {
		b.out.Stop()
		b.out.Wait() // queued lines are stored (and sent when they can be) first
		b.out = nil
	}
	if b.cl != nil {
		b.cl.Close()
	}
}

// sendQueue is how many chat lines may wait for the client; a line beyond
// that is refused with a message, not dropped silently.
const sendQueue = 1024 // far more than anyone types or pastes ahead of a slow link

// join starts the client with key ("" resumes a stored session, if any).
func (b *bridge) join(key string) {
	if b.blocked != "" {
		b.ui.ShowCannotStart(b.blocked)
		return
	}
	b.ui.ShowConnecting("Checking the session key…")
	cfg := b.cfg
	cfg.Key = key
	cfg.Emit = b.events // the JSON lines, for --events
	cfg.OpenURL = desktopui.OpenWeb
	cfg.Events = func(ev any) { b.do(func() { b.event(ev) }) }
	go func() {
		cl, err := client.New(cfg)
		var out *desktopui.Sender[string]
		if err == nil {
			out = desktopui.NewSender(sendQueue, cl.Chat, func(text string, err error) {
				msg := desktopui.NotSent(text, failure.From(err).Message)
				b.do(func() { b.ui.ShowError("Message not sent", msg) })
			})
			// Known to the window before Start: events (and answers to
			// them) can come while Start is still running.
			b.doWait(func() { b.cl, b.out = cl, out })
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			err = cl.Start(ctx)
			cancel()
			if err != nil {
				out.Stop()
				cl.Close()
			}
		}
		b.do(func() {
			if err != nil {
				b.cl, b.out = nil, nil
				e := failure.From(err)
				if key == "" && e.Code == "bad_key" {
					b.ui.ShowKey("", "") // nothing to resume: ask for a key
					return
				}
				b.ui.ShowKey(key, ui.FailureText(e.Code, e.Message))
			}
		})
	}()
}

// event renders one of the client's events.
func (b *bridge) event(ev any) {
	switch e := ev.(type) {
	case session.Paired:
		b.ui.ShowConnecting("Paired securely with " + e.Agent + ". Connecting…")
	case session.Joined:
		// The session screen is made anew: it shows the whole history and
		// every file so far.
		var history []ui.Message
		var files []transfer.Transfer
		if b.cl != nil {
			msgs, _ := b.cl.History()
			for _, m := range msgs {
				history = append(history, message(m))
			}
			files = b.cl.Transfers()
			for _, k := range b.cl.Links() { // before the screen, which shows them in time order
				b.ui.PutLink(desktopui.FromLink(k))
			}
		}
		b.agent = e.Peer
		b.ui.ShowConnected(e.Peer, string(e.Path), history)
		b.setGrants()
		if b.cl != nil {
			b.ui.SetViewing(b.cl.Viewers())
		}
		for _, t := range files {
			b.ui.PutFile(desktopui.FromTransfer(t, 0, 0))
		}
		b.updateSending()
	case chat.Line:
		b.ui.AddMessage(message(e.Message))
	case session.Ended:
		b.ui.ShowEnded(e.Reason)
	case transfer.Event:
		switch e.Kind {
		case transfer.EventInvite:
			b.ui.SetInvitation(time.Now(), e.Until, e.Policy.InvitationRequired)
			b.updateSending()
			// When it runs out, sending stops.
			time.AfterFunc(time.Until(e.Until)+100*time.Millisecond, func() { b.do(b.updateSending) })
		case transfer.EventPolicy:
			b.updateSending()
		case transfer.EventSkipped:
			b.ui.ShowError("Not everything was sent", desktopui.SkippedText(e))
		default:
			b.ui.PutFile(desktopui.FromTransfer(e.Transfer, e.Rate, e.Left))
		}
	case weblink.Event:
		b.ui.PutLink(desktopui.FromLink(e.Link))
	case consent.Event:
		b.permission(e)
	case sharing.Viewing:
		if b.cl != nil {
			b.ui.SetViewing(b.cl.Viewers())
		}
		if why, ok := strings.CutPrefix(e.Why, sharing.WhyUnavailable+": "); ok && !e.On {
			// The agent hears it too; the customer, who allowed it, should.
			b.ui.ShowError("Your screen cannot be shared", desktopui.Sentence(why))
		}
	}
}

// permission renders a consent event: a request as a dialog, a grant in
// the list of what the customer allowed.
func (b *bridge) permission(e consent.Event) {
	switch e.State {
	case consent.StateRequested:
		if b.answeredByFlag(e.Kind) {
			return // --accept-screen or --accept-control answers it
		}
		id := e.ID
		b.ui.AskConsent(ui.ConsentFor(e.Peer, e.Kind, e.Reason, e.Timeout), func(ok bool) {
			if b.cl != nil {
				go b.cl.AnswerPermission(id, ok) // after a timeout the logic has said no already
			}
		})
	case consent.StateAllowed:
		b.grants = append(b.grants, ui.Grant{ID: e.ID, Agent: e.Peer, Kind: e.Kind})
		b.setGrants()
	case consent.StateRevoked:
		b.grants = slices.DeleteFunc(b.grants, func(g ui.Grant) bool { return g.ID == e.ID })
		b.setGrants()
	}
}

// setGrants shows the grants, with the shortcut that ends control said
// only while it is grabbed (another program may hold it).
func (b *bridge) setGrants() {
	b.ui.Shortcut = ""
	if b.cl != nil && b.cl.ShortcutHeld() {
		b.ui.Shortcut = sharing.ShortcutName
	}
	b.ui.SetGrants(b.grants)
}

// answeredByFlag says whether the flags answer requests of kind, so that
// nobody is asked.
func (b *bridge) answeredByFlag(kind string) bool {
	accept := ""
	switch kind {
	case consent.KindScreen:
		accept = b.cfg.AcceptScreen
	case consent.KindControl:
		accept = b.cfg.AcceptControl
	}
	return accept == client.AcceptAll || accept == client.AcceptNone
}

func message(m appdb.Message) ui.Message {
	return ui.Message{ID: m.ID, From: m.From, Text: m.Text, At: m.At, Outgoing: m.Outgoing}
}

// send queues a chat line for the client's chat sender, which sends the
// lines one by one in the order written.
func (b *bridge) send(text string) {
	if b.out == nil {
		return
	}
	if !b.out.Push(text) {
		b.ui.ShowError("Message not sent", desktopui.NotSent(text, "too many messages are waiting to be sent"))
	}
}

func (b *bridge) end() {
	if b.cl == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.cl.End(ctx)
	}()
}

// updateSending tells the window whether the agent takes files now.
func (b *bridge) updateSending() {
	if b.cl == nil {
		return
	}
	if err := b.cl.CanSendFiles(); err != nil {
		b.ui.SetSending(false, desktopui.Sentence(failure.From(err).Message))
		return
	}
	b.ui.SetSending(true, "")
}

// later runs f off Fyne's goroutine and shows its error, if any.
func (b *bridge) later(title string, f func(cl *client.Client) error) {
	cl := b.cl
	if cl == nil {
		return
	}
	go func() {
		if err := f(cl); err != nil {
			msg := desktopui.Sentence(failure.From(err).Message)
			b.do(func() { b.ui.ShowError(title, msg) })
		}
	}()
}

func (b *bridge) sendFiles(paths []string) {
	b.later("Files not sent", func(cl *client.Client) error {
		for _, p := range paths {
			if _, err := cl.SendFile(p); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *bridge) answerFile(id, decision string) {
	b.later("No answer given", func(cl *client.Client) error { return cl.AnswerOffer(id, decision) })
}

func (b *bridge) cancelFile(id string) {
	b.later("Not stopped", func(cl *client.Client) error { return cl.CancelTransfer(id) })
}

func (b *bridge) setReceiving(on bool) {
	b.later("Setting not saved", func(cl *client.Client) error { return cl.SetReceiving(on) })
}

func (b *bridge) setTrust(sender, decision string) {
	b.later("Setting not saved", func(cl *client.Client) error { return cl.SetTrust(sender, decision) })
}

func (b *bridge) keepFiles(keep bool) {
	if keep {
		return
	}
	b.later("Files not deleted", func(cl *client.Client) error {
		_, err := cl.DeleteSessionFiles()
		return err
	})
}

func (b *bridge) folder() string {
	if b.cl == nil {
		return ""
	}
	return b.cl.SessionFolder()
}

func (b *bridge) receiving() (on bool, files, links map[string]string) {
	if b.cl == nil {
		return false, map[string]string{}, map[string]string{}
	}
	return b.cl.Receiving(), b.cl.Trusts(), b.cl.LinkTrusts()
}

func (b *bridge) sendLink(link string) {
	b.later("Link not sent", func(cl *client.Client) error {
		_, err := cl.SendLink(link)
		return err
	})
}

func (b *bridge) answerLink(id, decision string) {
	b.later("No answer given", func(cl *client.Client) error { return cl.AnswerLink(id, decision) })
}

func (b *bridge) setLinkTrust(sender, decision string) {
	b.later("Setting not saved", func(cl *client.Client) error { return cl.SetLinkTrust(sender, decision) })
}

// open opens a file with its program, or a folder in the file manager.
func (b *bridge) open(path string) {
	if err := b.app.OpenURL(&url.URL{Scheme: "file", Path: path}); err != nil {
		b.ui.ShowError("Cannot open", err.Error())
	}
}
