// Package ui is the customer client's window, as Fyne widgets. It only
// renders what the client logic reports and forwards what the person does
// (Actions); it does not import fyne.io/fyne/v2/app, so it is tested
// headlessly. Every method runs on Fyne's goroutine (the desktop bridge
// calls them through fyne.Do).
package ui

//go:generate cp ../../../assets/porthole-customer.svg icon.svg

import (
	_ "embed"
	"fmt"
	"image/color"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/protocol"
)

//go:embed icon.svg
var iconSVG []byte

// Icon is the customer client's icon.
var Icon = fyne.NewStaticResource("porthole-customer.svg", iconSVG)

// Actions are what the window asks the client to do.
type Actions struct {
	Join func(key string) // the person entered a complete key
	Send func(text string)
	End  func() // end the session for everybody (after confirmation)
	Quit func() // close the client

	// Files (files.go). Nil actions have no button.
	SendFiles  func(paths []string)      // files or folders picked or dropped
	AnswerFile func(id, decision string) // accept, accept_all, refuse, refuse_always
	CancelFile func(id string)           // stop a file moving either way
	Open       func(path string)         // a file with its program, a folder in the file manager
	Folder     func() string             // the session's download folder ("" while none)
	// Receiving gives the receiving settings: on, and each sender's
	// remembered decisions for files and for links.
	Receiving    func() (on bool, files, links map[string]string)
	SetReceiving func(on bool)
	SetTrust     func(sender, decision string)
	KeepFiles    func(keep bool) // at the end of the session: keep or delete what arrived

	// Links (links.go). Nil SendLink: no link button.
	SendLink     func(url string)
	AnswerLink   func(id, decision string) // open, not_now, always_open, never
	SetLinkTrust func(sender, decision string)
	Copy         func(text string) // to the clipboard

	// Revoke takes back what the customer allowed (a grant, by the id of
	// the request it answered).
	Revoke func(id string)
}

// Message is one chat line to show.
type Message = desktopui.Message

// Window is the customer client's window content.
type Window struct {
	win fyne.Window
	act Actions
	// Zone is the time zone chat times are shown in; tests pin it.
	Zone *time.Location

	agent   string
	chat    *desktopui.Chat // while the session screen is up
	dialogs *desktopui.Dialogs
	// pending holds the deny functions of open consent dialogs; leaving the
	// session screen answers them all with no.
	pending map[*dialog.CustomDialog]func(bool)

	files   filesState
	links   linksState
	access  *fyne.Container // under the header: what the agent may do
	grants  []Grant
	viewing map[string]bool             // the agents who see the screen now
	busy    *widget.ProgressBarInfinite // while connecting
	// Shortcut is the keys that end control at once, said on the
	// sharing bar ("" says nothing of it).
	Shortcut string
}

// Grant is something the customer allowed an agent, until taken back.
type Grant struct {
	ID    string // the request it answered
	Agent string
	Kind  string
}

// Title is the window title outside a session.
const Title = "Porthole support"

// New makes the window's content controller.
func New(win fyne.Window, act Actions) *Window {
	win.SetTitle(Title)
	win.SetIcon(Icon)
	return &Window{win: win, act: act, Zone: time.Local, dialogs: desktopui.NewDialogs(win), pending: map[*dialog.CustomDialog]func(bool){}}
}

// keyDigits is how many digits a session key has.
const keyDigits = protocol.NameplateLen + protocol.SecretLen

// FormatKey formats what a person typed or pasted as a session key: the
// digits only, at most a key's, in the groups a key is shown in
// (1234-5678-123-456).
func FormatKey(s string) string {
	var d strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' && d.Len() < keyDigits {
			d.WriteRune(r)
		}
	}
	return protocol.GroupKey(d.String())
}

// ShowKey shows the key entry, with key filled in and errMsg (if any) under
// it in the error colour.
func (w *Window) ShowKey(key, errMsg string) {
	w.leaveSession()
	entry := widget.NewEntry()
	entry.SetPlaceHolder(protocol.ExampleKey)
	entry.TextStyle = fyne.TextStyle{Monospace: true}
	join := widget.NewButtonWithIcon("Join", theme.NavigateNextIcon(), nil)
	join.Importance = widget.HighImportance
	complete := func() bool { return len(FormatKey(entry.Text)) == len(protocol.ExampleKey) }
	submit := func() {
		if complete() {
			w.act.Join(entry.Text)
		}
	}
	join.OnTapped = submit
	entry.OnSubmitted = func(string) { submit() }
	entry.OnChanged = func(s string) {
		if f := FormatKey(s); f != s {
			entry.SetText(f)
			entry.CursorColumn = len(f)
			return
		}
		if complete() {
			join.Enable()
		} else {
			join.Disable()
		}
	}
	entry.SetText(FormatKey(key))
	if !complete() {
		join.Disable()
	}
	errLabel := desktopui.ErrorText(errMsg)
	w.win.SetContent(desktopui.Card(
		desktopui.Logo(Icon, 96),
		desktopui.Heading("Join a support session"),
		desktopui.Wrapped("Enter the session key your support agent gave you."),
		entry,
		errLabel,
		join,
	))
	w.win.Canvas().Focus(entry)
}

// FailureText says why joining failed in words for the person at the
// computer, from the client's error code (message is the fallback).
func FailureText(code, message string) string {
	switch code {
	case "bad_key":
		return "That session key is not valid. Check the digits with your agent and try again."
	case "expired":
		return "This session key has expired. Ask your agent for a new one."
	case "used":
		return "This session key was used already. Ask your agent for a new one."
	case "pake_failed":
		return "The key did not match, so it no longer works. Ask your agent for a new one."
	case "rate_limited":
		return "Too many tries from this network. Wait a minute, then try again."
	case "relay_unreachable":
		return "The support server does not answer. Check your internet connection and try again."
	case "relay_untrusted":
		return "The support server could not prove who it is, so the client did not connect. Ask your agent for a new download."
	case "version_mismatch":
		return "This client is too old or too new for your agent. Ask your agent for the current download."
	case "session_ended":
		return "Your agent has ended this session."
	}
	if message == "" {
		return "Joining failed. Try again."
	}
	return strings.ToUpper(message[:1]) + message[1:] + "."
}

// ShowConnecting shows progress while joining; step says what is happening.
func (w *Window) ShowConnecting(step string) {
	w.leaveSession()
	w.busy = widget.NewProgressBarInfinite()
	w.win.SetContent(desktopui.Card(
		desktopui.Logo(Icon, 96),
		desktopui.Heading("Connecting"),
		desktopui.Wrapped(step),
		w.busy,
	))
}

// ShowConnected shows the session: who is helping, what they may do, and
// the chat. path is "direct" or "relayed".
func (w *Window) ShowConnected(agent, path string, history []Message) {
	w.stopBusy()
	w.agent = agent
	w.win.SetTitle(agent + " is helping you – " + Title)
	title := widget.NewLabel(agent + " is helping you")
	title.TextStyle = fyne.TextStyle{Bold: true}
	title.SizeName = theme.SizeNameSubHeadingText
	how := "Connected directly · end-to-end encrypted"
	if path == "relayed" {
		how = "Connected through the relay · end-to-end encrypted"
	}
	sub := widget.NewLabel(how)
	sub.Importance = widget.LowImportance
	end := widget.NewButtonWithIcon("End session", theme.LogoutIcon(), func() {
		w.dialogs.ConfirmEnd("End the session?",
			fmt.Sprintf("%s will no longer be able to help you in this session.", agent),
			"End session", w.act.End)
	})
	end.Importance = widget.DangerImportance
	icon := canvas.NewImageFromResource(Icon)
	icon.FillMode = canvas.ImageFillContain
	icon.SetMinSize(fyne.NewSquareSize(40))
	header := container.NewBorder(nil, nil, icon, container.NewCenter(end), container.NewVBox(title, sub))

	w.access = container.NewVBox()
	w.grants = nil
	w.showAccess()

	w.chat = desktopui.NewChat(w.act.Send, "")
	w.chat.Zone = w.Zone
	if w.act.SendLink != nil {
		w.chat.SetLink(w.sendLink)
		w.chat.SetLoneLink(w.loneLink)
	}
	w.showHistory(history)
	w.win.SetContent(container.NewBorder(
		container.NewVBox(header, w.access, widget.NewSeparator()),
		nil, nil, nil, w.sessionTabs()))
	w.chat.ScrollToBottom()
	w.win.Canvas().Focus(w.chat.Input)
}

// grantWords say what each kind of grant lets the agent do.
var grantWords = map[string]string{
	"screen":  "see your screen",
	"control": "control your mouse and keyboard",
	"shell":   "run commands in a shell",
	"files":   "send you files",
}

// SetGrants shows what the customer has allowed, each with a button to
// take it back.
func (w *Window) SetGrants(gs []Grant) {
	w.grants = gs
	if w.access != nil {
		w.showAccess()
	}
}

// SetViewing says which agents see the screen now (the sharing bar says
// so, with Stop).
func (w *Window) SetViewing(agents []string) {
	w.viewing = map[string]bool{}
	for _, a := range agents {
		w.viewing[a] = true
	}
	if w.access != nil {
		w.showAccess()
	}
}

// showAccess shows what the agent may do. While the screen is seen or
// controlled it is the sharing bar: who sees it, who controls the mouse
// and keyboard, each with Stop, on a coloured band that stays at the top
// of the window.
func (w *Window) showAccess() {
	defer func() {
		// The header's height changed: the session below moves with it.
		if c := w.win.Content(); c != nil {
			c.Refresh()
		}
	}()
	w.access.RemoveAll()
	if len(w.grants) == 0 {
		may := widget.NewLabel(fmt.Sprintf("%s can chat with you. Anything more needs your permission.", w.agent))
		may.Truncation = fyne.TextTruncateEllipsis
		may.Importance = widget.LowImportance
		w.access.Add(may)
		return
	}
	sharing := false
	for _, g := range w.grants {
		id := g.ID
		stopText := "Take back"
		var line string
		switch {
		case g.Kind == "screen" && w.viewing[g.Agent]:
			line, stopText, sharing = g.Agent+" sees your screen", "Stop", true
		case g.Kind == "control":
			line, stopText, sharing = g.Agent+" controls your mouse and keyboard", "Stop", true
			if w.Shortcut != "" {
				line += " (" + w.Shortcut + " stops it)"
			}
		default:
			what, ok := grantWords[g.Kind]
			if !ok {
				what = "have “" + g.Kind + "” access"
			}
			line = fmt.Sprintf("You allowed %s to %s.", g.Agent, what)
		}
		text := widget.NewLabel(line)
		text.Truncation = fyne.TextTruncateEllipsis
		if stopText == "Stop" {
			text.TextStyle = fyne.TextStyle{Bold: true}
		}
		stop := widget.NewButtonWithIcon(stopText, theme.CancelIcon(), func() {
			if w.act.Revoke != nil {
				w.act.Revoke(id)
			}
		})
		if stopText == "Stop" {
			stop.Importance = widget.DangerImportance
		}
		w.access.Add(container.NewBorder(nil, nil, nil, stop, text))
	}
	if sharing {
		// The warning colour, faint, so that the text keeps its contrast
		// in either theme.
		r, g, b, _ := theme.Color(theme.ColorNameWarning).RGBA()
		band := canvas.NewRectangle(color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 0x48})
		band.StrokeColor = theme.Color(theme.ColorNameWarning)
		band.StrokeWidth = 1
		band.CornerRadius = theme.InputRadiusSize()
		rows := container.NewVBox(slices.Clone(w.access.Objects)...) // a copy: RemoveAll reuses the slice
		w.access.RemoveAll()
		w.access.Add(container.NewStack(band, container.NewPadded(rows)))
	}
}

// ShowError tells the person about a problem, in a dialog.
func (w *Window) ShowError(title, msg string) { w.dialogs.Information(title, msg) }

// AddMessage appends a chat line and scrolls to it.
func (w *Window) AddMessage(m Message) {
	if w.chat != nil {
		w.chat.Add(m)
	}
}

// ShowEnded says the session is over and why.
func (w *Window) ShowEnded(reason string) {
	w.showLast("The session has ended", desktopui.Sentence(reason))
	w.askKeepFiles()
}

// ShowCannotStart says why this copy of the client cannot join any session
// (it does not know which server to use), with only a way to close.
func (w *Window) ShowCannotStart(why string) { w.showLast("Porthole cannot connect", why) }

// showLast is a screen after which only closing is left.
func (w *Window) showLast(heading, text string) {
	w.leaveSession()
	w.win.SetTitle(Title)
	closeBtn := widget.NewButton("Close", w.act.Quit)
	closeBtn.Importance = widget.HighImportance
	w.win.SetContent(desktopui.Card(
		desktopui.Logo(Icon, 96),
		desktopui.Heading(heading),
		desktopui.Wrapped(text),
		closeBtn,
	))
}

// Consent is something the agent asks permission for.
type Consent struct {
	Title   string        // "Alice asks to see your screen"
	Detail  string        // what it means
	Timeout time.Duration // after this, the answer is no
}

// requests words each kind of permission request: what the agent asks to
// do, and what that means (%s is the agent's name).
var requests = map[string]struct{ what, means string }{
	"screen":  {"see your screen", "%s will see everything on your screen until you stop it."},
	"control": {"control your computer", "%s will be able to move your mouse and type until you stop it."},
	"shell":   {"open a command shell", "%s will be able to run commands on your computer until you stop it."},
	"files":   {"send you files", "You choose what to keep; files go to this session's download folder."},
}

// ConsentFor words a permission request of the given kind from agent.
func ConsentFor(agent, kind, reason string, timeout time.Duration) Consent {
	r, ok := requests[kind]
	if !ok {
		r.what = "have “" + kind + "” access"
	}
	detail := r.means
	if strings.Contains(detail, "%s") {
		detail = fmt.Sprintf(detail, agent)
	}
	if reason != "" {
		detail = strings.TrimSpace(agent + " says: “" + reason + "”\n" + detail)
	}
	return Consent{Title: agent + " asks to " + r.what, Detail: detail, Timeout: timeout}
}

// AskConsent shows a dialog with Allow and Deny and a countdown; when the
// countdown runs out the answer is deny. answer is called exactly once.
func (w *Window) AskConsent(c Consent, answer func(allowed bool)) {
	answered := false
	stop := make(chan struct{})
	var d *dialog.CustomDialog
	reply := func(ok bool) {
		if answered {
			return
		}
		answered = true
		close(stop)
		delete(w.pending, d)
		d.Hide()
		answer(ok)
	}
	left := widget.NewLabel("")
	deadline := time.Now().Add(c.Timeout)
	setLeft := func() {
		left.SetText("If you do not answer, this is denied in " + desktopui.Countdown(time.Until(deadline)) + ".")
	}
	setLeft()
	detail := widget.NewLabel(c.Detail)
	detail.Wrapping = fyne.TextWrapWord
	allow := w.dialogs.Button("Allow", theme.ConfirmIcon(), func() { reply(true) })
	allow.Importance = widget.HighImportance
	deny := w.dialogs.Button("Deny", theme.CancelIcon(), func() { reply(false) })
	body := container.NewVBox(detail, left)
	if c.Detail == "" {
		detail.Hide()
	}
	d = dialog.NewCustomWithoutButtons(c.Title, desktopui.Column(380, body), w.win)
	d.SetButtons([]fyne.CanvasObject{deny, allow})
	d.SetOnClosed(func() { reply(false) }) // Escape or closing denies
	w.pending[d] = reply
	w.dialogs.Show(d)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		done := time.After(c.Timeout)
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				fyne.Do(func() {
					if !answered {
						setLeft()
					}
				})
			case <-done:
				fyne.Do(func() { reply(false) })
				return
			}
		}
	}()
}

// stopBusy stops the progress bar of the connecting screen: its animation
// runs until stopped, gone from the window or not, and the window would be
// drawn 60 times a second for nothing.
func (w *Window) stopBusy() {
	if w.busy != nil {
		w.busy.Stop()
		w.busy = nil
	}
}

// leaveSession answers every open consent request with no, closes the
// other dialogs and forgets the session screen.
func (w *Window) leaveSession() {
	w.stopBusy()
	w.chat = nil
	w.files.leave(w.win)
	clear(w.links.offers) // CloseAll closes their dialogs; the offers stay open, to answer when the screen is back
	for _, reply := range w.pending {
		reply(false)
	}
	w.dialogs.CloseAll()
}
