// Package desktop runs the customer client as a window: it bridges the
// client logic (package client), which reports events from its own
// goroutines, to the window (package ui), which must only be touched on
// Fyne's goroutine.
package desktop

import (
	"context"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/porthole-dev/porthole/customer/internal/client"
	"github.com/porthole-dev/porthole/customer/internal/ui"
	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/failure"
	"github.com/porthole-dev/porthole/shared/headless"
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
	agent  string // who is helping, once connected
	// blocked, when not empty, says why the client cannot join at all (it
	// has no usable relay); it is shown instead of joining.
	blocked string
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
	b := &bridge{cfg: cfg, events: events, app: a, win: win, blocked: blocked}
	b.ui = ui.New(win, ui.Actions{Join: b.join, Send: b.send, End: b.end, Quit: a.Quit})
	b.join(cfg.Key)
	win.SetOnClosed(func() {
		if b.cl != nil {
			b.cl.Close() // the session stays open; a restart resumes it
		}
	})
	win.ShowAndRun()
	return nil
}

// join starts the client with key ("" resumes a stored session, if any).
func (b *bridge) join(key string) {
	if b.blocked != "" {
		b.ui.ShowCannotStart(b.blocked)
		return
	}
	b.ui.ShowConnecting("Checking the session key…")
	cfg := b.cfg
	cfg.Key = key
	cfg.Emit = func(e headless.Event) {
		b.events(e)
		fyne.Do(func() { b.event(e) })
	}
	go func() {
		cl, err := client.New(cfg)
		if err == nil {
			// Known to the window before Start: events (and answers to
			// them) can come while Start is still running.
			fyne.DoAndWait(func() { b.cl = cl })
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			err = cl.Start(ctx)
			cancel()
			if err != nil {
				cl.Close()
			}
		}
		fyne.Do(func() {
			if err != nil {
				b.cl = nil
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

func (b *bridge) event(e headless.Event) {
	switch e.Event {
	case "paired":
		b.ui.ShowConnecting("Paired securely with " + e.Agent + ". Connecting…")
	case "connected":
		var history []ui.Message
		if b.cl != nil {
			msgs, _ := b.cl.History()
			for _, m := range msgs {
				history = append(history, message(m))
			}
		}
		b.agent = e.Agent
		b.ui.ShowConnected(e.Agent, e.Path, history)
	case "chat", "chat_sent":
		at, _ := time.Parse(time.RFC3339Nano, e.At)
		b.ui.AddMessage(ui.Message{ID: e.ID, From: e.From, Text: e.Text, At: at, Outgoing: e.Event == "chat_sent"})
	case "session_ended":
		b.ui.ShowEnded(e.Reason)
	case "permission_request":
		id := e.ID
		b.ui.AskConsent(ui.ConsentFor(b.agent, e.Kind, e.Reason, time.Duration(e.TimeoutMs)*time.Millisecond), func(ok bool) {
			if b.cl != nil {
				go b.cl.AnswerPermission(id, ok) // after a timeout the logic has said no already
			}
		})
	}
}

func message(m appdb.Message) ui.Message {
	return ui.Message{ID: m.ID, From: m.From, Text: m.Text, At: m.At, Outgoing: m.Outgoing}
}

func (b *bridge) send(text string) {
	if b.cl == nil {
		return
	}
	go b.cl.Chat(text)
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
