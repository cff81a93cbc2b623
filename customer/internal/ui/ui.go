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
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
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
}

// Message is one chat line to show. A line whose ID was shown already is
// not shown again (history and live events overlap around a reconnect).
type Message struct {
	ID       string
	From     string
	Text     string
	At       time.Time
	Outgoing bool
}

// Window is the customer client's window content.
type Window struct {
	win fyne.Window
	act Actions
	// Zone is the time zone chat times are shown in; tests pin it.
	Zone *time.Location

	agent    string
	messages *fyne.Container
	scroll   *container.Scroll
	shown    map[string]bool
	// pending holds the deny functions of open consent dialogs; leaving the
	// session screen answers them all with no.
	pending map[*dialog.CustomDialog]func(bool)
}

// Title is the window title outside a session.
const Title = "Porthole support"

// New makes the window's content controller.
func New(win fyne.Window, act Actions) *Window {
	win.SetTitle(Title)
	win.SetIcon(Icon)
	return &Window{win: win, act: act, Zone: time.Local, pending: map[*dialog.CustomDialog]func(bool){}}
}

// FormatKey formats what a person typed or pasted as a session key: the
// digits only, at most ten, with a dash after the fourth.
func FormatKey(s string) string {
	var d strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' && d.Len() < 10 {
			d.WriteRune(r)
		}
	}
	digits := d.String()
	if len(digits) > 4 {
		return digits[:4] + "-" + digits[4:]
	}
	return digits
}

func heading(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.TextStyle = fyne.TextStyle{Bold: true}
	l.SizeName = theme.SizeNameHeadingText
	l.Alignment = fyne.TextAlignCenter
	return l
}

func wrapped(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	l.Alignment = fyne.TextAlignCenter
	return l
}

func logo() fyne.CanvasObject {
	img := canvas.NewImageFromResource(Icon)
	img.FillMode = canvas.ImageFillContain
	img.SetMinSize(fyne.NewSquareSize(96))
	return container.NewCenter(img)
}

// column gives content a fixed width and the height it needs at that width
// (wrapped labels only know their height once they have a width).
func column(width float32, content fyne.CanvasObject) fyne.CanvasObject {
	content.Resize(fyne.NewSize(width, content.MinSize().Height))
	return container.New(layout.NewGridWrapLayout(fyne.NewSize(width, content.MinSize().Height)), content)
}

// card centres content in a column of readable width.
func card(objs ...fyne.CanvasObject) fyne.CanvasObject {
	return container.NewCenter(column(420, container.NewVBox(objs...)))
}

// ShowKey shows the key entry, with key filled in and errMsg (if any) under
// it in the error colour.
func (w *Window) ShowKey(key, errMsg string) {
	w.denyPending()
	entry := widget.NewEntry()
	entry.SetPlaceHolder("1234-567890")
	entry.TextStyle = fyne.TextStyle{Monospace: true}
	join := widget.NewButtonWithIcon("Join", theme.NavigateNextIcon(), nil)
	join.Importance = widget.HighImportance
	complete := func() bool { return len(entry.Text) == 11 }
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
	errLabel := widget.NewLabel(errMsg)
	errLabel.Importance = widget.DangerImportance
	errLabel.Wrapping = fyne.TextWrapWord
	errLabel.Alignment = fyne.TextAlignCenter
	if errMsg == "" {
		errLabel.Hide()
	}
	w.win.SetContent(card(
		logo(),
		heading("Join a support session"),
		wrapped("Enter the session key your support agent gave you."),
		entry,
		errLabel,
		join,
	))
	w.win.Canvas().Focus(entry)
}

// ShowConnecting shows progress while joining; step says what is happening.
func (w *Window) ShowConnecting(step string) {
	w.denyPending()
	bar := widget.NewProgressBarInfinite()
	w.win.SetContent(card(
		logo(),
		heading("Connecting"),
		wrapped(step),
		bar,
	))
}

// ShowConnected shows the session: who is helping, what they may do, and
// the chat. path is "direct" or "relayed".
func (w *Window) ShowConnected(agent, path string, history []Message) {
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
		dialog.ShowConfirm("End the session?",
			fmt.Sprintf("%s will no longer be able to help you in this session.", agent),
			func(ok bool) {
				if ok {
					w.act.End()
				}
			}, w.win)
	})
	end.Importance = widget.DangerImportance
	icon := canvas.NewImageFromResource(Icon)
	icon.FillMode = canvas.ImageFillContain
	icon.SetMinSize(fyne.NewSquareSize(40))
	header := container.NewBorder(nil, nil, icon, container.NewCenter(end), container.NewVBox(title, sub))

	may := widget.NewLabel(fmt.Sprintf("%s can chat with you. Anything more needs your permission.", agent))
	may.Truncation = fyne.TextTruncateEllipsis
	may.Importance = widget.LowImportance

	w.messages = container.NewVBox()
	w.scroll = container.NewVScroll(w.messages)
	w.shown = map[string]bool{}
	for _, m := range history {
		w.AddMessage(m)
	}
	input := widget.NewEntry()
	input.SetPlaceHolder("Write a message…")
	send := func() {
		text := strings.TrimSpace(input.Text)
		if text == "" {
			return
		}
		w.act.Send(text)
		input.SetText("")
	}
	input.OnSubmitted = func(string) { send() }
	sendBtn := widget.NewButtonWithIcon("Send", theme.MailSendIcon(), send)
	sendBtn.Importance = widget.HighImportance
	compose := container.NewBorder(nil, nil, nil, sendBtn, input)

	w.win.SetContent(container.NewBorder(
		container.NewVBox(header, may, widget.NewSeparator()),
		compose, nil, nil, w.scroll))
	w.scroll.ScrollToBottom()
	w.win.Canvas().Focus(input)
}

func (w *Window) bubble(m Message) fyne.CanvasObject {
	who := m.From
	if m.Outgoing {
		who = "You"
	}
	head := widget.NewLabel(who + " · " + m.At.In(w.Zone).Format("15:04"))
	head.TextStyle = fyne.TextStyle{Bold: true}
	head.Importance = widget.LowImportance
	body := widget.NewLabel(m.Text)
	body.Wrapping = fyne.TextWrapWord
	return container.NewVBox(head, body)
}

// AddMessage appends a chat line and scrolls to it.
func (w *Window) AddMessage(m Message) {
	if w.messages == nil || (m.ID != "" && w.shown[m.ID]) {
		return
	}
	w.shown[m.ID] = true
	w.messages.Add(w.bubble(m))
	w.scroll.ScrollToBottom()
}

// ShowEnded says the session is over and why.
func (w *Window) ShowEnded(reason string) {
	w.denyPending()
	w.win.SetTitle(Title)
	closeBtn := widget.NewButton("Close", w.act.Quit)
	closeBtn.Importance = widget.HighImportance
	w.win.SetContent(card(
		logo(),
		heading("The session has ended"),
		wrapped(reason),
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
		left.SetText("If you do not answer, this is denied in " + countdown(time.Until(deadline)) + ".")
	}
	setLeft()
	detail := widget.NewLabel(c.Detail)
	detail.Wrapping = fyne.TextWrapWord
	allow := widget.NewButtonWithIcon("Allow", theme.ConfirmIcon(), func() { reply(true) })
	allow.Importance = widget.HighImportance
	deny := widget.NewButtonWithIcon("Deny", theme.CancelIcon(), func() { reply(false) })
	body := container.NewVBox(detail, left)
	if c.Detail == "" {
		detail.Hide()
	}
	d = dialog.NewCustomWithoutButtons(c.Title, column(380, body), w.win)
	d.SetButtons([]fyne.CanvasObject{deny, allow})
	d.SetOnClosed(func() { reply(false) }) // Escape or closing denies
	w.pending[d] = reply
	d.Show()
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

// denyPending answers every open consent request with no.
func (w *Window) denyPending() {
	for _, reply := range w.pending {
		reply(false)
	}
}

// countdown says how long is left, in words a person reads at a glance.
func countdown(d time.Duration) string {
	secs := int((d + time.Second/2) / time.Second)
	switch {
	case secs < 0:
		secs = 0
	case secs > 90:
		return fmt.Sprintf("%d min", (secs+30)/60)
	}
	return fmt.Sprintf("%d s", secs)
}
