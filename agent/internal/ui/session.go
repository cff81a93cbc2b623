package ui

import (
	"fmt"
	"image/color"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui"
)

// sessionView is one session: its tab content and what the list shows.
type sessionView struct {
	m      *mainView
	s      Session
	unread int
	tab    *container.TabItem // nil while its tab is closed
	perms  map[string]string  // access kind -> state of the last request

	chat       *desktopui.Chat
	files      *sessionFiles
	links      map[string]Link                       // the session's shared links, by id
	linkOffers map[string]*desktopui.LinkOfferDialog // open questions about the customer's links
	chatShown  bool
	pinned     bool
	scr        *screenPane // the customer's screen, while shown
	screenNote string      // why it stopped, on the card

	body    *fyne.Container // the tab's content
	work    *fyne.Container // left of (or under) the chat
	area    *fyne.Container // work and chat, arranged as they are shown
	askBtn  *widget.Button
	chatBtn *widget.Button
	pinBtn  *widget.Button
	endBtn  *widget.Button
	keyLeft *widget.Label // the key's countdown, while waiting
	conn    *widget.Label // how the customer is connected, while active
}

// accessKinds word what the agent can ask a customer for, in menu order;
// the window offers only those in Window.Requestable.
var accessKinds = []struct{ kind, label string }{
	{"screen", "See the screen"},
	{"control", "Control mouse and keyboard"},
	{"shell", "Open a command shell"},
}

// asks are the kinds of access this window offers, in menu order.
func (w *Window) asks() []struct{ kind, label string } {
	var out []struct{ kind, label string }
	for _, k := range accessKinds {
		if slices.Contains(w.Requestable, k.kind) {
			out = append(out, k)
		}
	}
	return out
}

func newSessionView(m *mainView, s Session) *sessionView {
	sv := &sessionView{m: m, s: s, perms: map[string]string{}, chatShown: true, pinned: true,
		links: map[string]Link{}, linkOffers: map[string]*desktopui.LinkOfferDialog{}}
	sv.chat = desktopui.NewChat(func(text string) { m.w.act.Send(s.ID, text) }, "No messages yet.")
	sv.chat.Zone = m.w.Zone
	if m.w.act.History != nil {
		for _, msg := range m.w.act.History(s.ID) {
			sv.chat.Add(msg)
		}
	}
	sv.files = newSessionFiles(sv)
	sv.askBtn = widget.NewButtonWithIcon("Ask for access", theme.VisibilityIcon(), sv.askMenu)
	if len(m.w.asks()) == 0 {
		sv.askBtn.Hide() // nothing to ask for yet
	}
	sv.chatBtn = toolbarButton("Chat", theme.MailComposeIcon(), func() { sv.setChatShown(!sv.chatShown) })
	sv.pinBtn = toolbarButton("", theme.ViewRestoreIcon(), func() { sv.setPinned(!sv.pinned) })
	sv.endBtn = widget.NewButtonWithIcon("End session", theme.LogoutIcon(), sv.confirmEnd)
	sv.endBtn.Importance = widget.DangerImportance
	bar := container.NewBorder(nil, nil, sv.askBtn,
		container.NewHBox(sv.chatBtn, sv.pinBtn, sv.endBtn), nil)
	sv.work = container.NewStack()
	sv.area = container.NewStack()
	sv.body = container.NewBorder(container.NewVBox(bar, widget.NewSeparator()), nil, nil, nil, sv.area)
	sv.refreshWork()
	sv.arrange()
	return sv
}

func (sv *sessionView) update(s Session) {
	old := sv.s
	sv.s = s
	if sv.conn != nil && sameCard(old, s) {
		// Round trip and path change every few seconds: rebuilding the
		// card would flicker and lose its scroll position.
		if text := sv.connText(); sv.conn.Text != text {
			sv.conn.SetText(text)
		}
		return
	}
	sv.refreshWork()
}

// sameCard says whether a and b show the same card but for the connection
// line.
func sameCard(a, b Session) bool {
	return a.State == b.State && a.Online == b.Online && a.Customer == b.Customer &&
		a.Reason == b.Reason && a.Key == b.Key && a.JoinHint == b.JoinHint && a.HintHereOnly == b.HintHereOnly && a.Expires.Equal(b.Expires)
}

// refreshWork rebuilds the work area and the bar for the session's state.
func (sv *sessionView) refreshWork() {
	s := sv.s
	var content fyne.CanvasObject
	sv.keyLeft, sv.conn = nil, nil
	switch s.State {
	case Waiting:
		content = sv.keyCard()
		sv.chat.SetWritable(false, "You can chat once the customer has joined")
	case Burned:
		content = sv.burnedCard()
		sv.chat.SetWritable(false, "You can chat once the customer has joined")
	case Active:
		content = sv.customerCard()
		if s.Online {
			sv.chat.SetWritable(true, "Write a message…")
		} else {
			sv.chat.SetWritable(true, "The customer is offline; your message goes when they are back")
		}
	default:
		content = sv.endedCard()
		sv.chat.SetWritable(false, "The session has ended")
	}
	if s.State == Active && s.Online {
		sv.askBtn.Enable()
	} else {
		sv.askBtn.Disable()
	}
	sv.files.setOnline(s.State == Active && s.Online)
	if s.State == Active && sv.m.w.act.SendLink != nil { // a link goes now, or when the customer is back
		sv.chat.SetLink(func() { sv.m.w.sendLink(sv) })
		sv.chat.SetLoneLink(func(text string) { sv.m.w.loneLink(sv, text) })
	} else {
		sv.chat.SetLink(nil)
		sv.chat.SetLoneLink(nil)
	}
	if s.State == Active {
		sv.chat.SetAttach(func() { sv.m.w.pickFiles(s.ID, false) })
		sv.files.panel.SetSending(true)
	} else {
		sv.chat.SetAttach(nil)
		sv.files.panel.SetSending(false)
	}
	if s.State == Ended {
		sv.endBtn.Disable()
	} else {
		sv.endBtn.Enable()
	}
	var work fyne.CanvasObject = container.NewVScroll(content)
	if sv.scr != nil && s.State == Active {
		work = sv.scr.obj // the screen is the main area
	} else if s.State != Waiting && s.State != Burned { // files can be sent and received, or looked at after the end
		// The card gets the height it needs (up to 60 %: then it
		// scrolls), the files the rest.
		work = container.New(&cardOverFiles{card: content}, work, widget.NewSeparator(), sv.files.box)
	}
	sv.work.Objects = []fyne.CanvasObject{work}
	sv.work.Refresh()
}

// cardOverFiles lays the session card (in a scroll) over the files: the
// card as tall as it needs, at most maxCard of the height, a separator, and
// the files below.
type cardOverFiles struct{ card fyne.CanvasObject }

const maxCard = 0.6

func (l *cardOverFiles) MinSize(objs []fyne.CanvasObject) fyne.Size {
	files := objs[2].MinSize()
	return fyne.NewSize(max(files.Width, objs[0].MinSize().Width), files.Height+objs[1].MinSize().Height+objs[0].MinSize().Height)
}

func (l *cardOverFiles) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	sep := objs[1].MinSize().Height
	top := min(l.card.MinSize().Height+2*theme.Padding(), size.Height*maxCard)
	top = min(top, size.Height-sep-objs[2].MinSize().Height) // the files keep their least
	top = max(top, objs[0].MinSize().Height)
	objs[0].Move(fyne.NewPos(0, 0))
	objs[0].Resize(fyne.NewSize(size.Width, top))
	objs[1].Move(fyne.NewPos(0, top))
	objs[1].Resize(fyne.NewSize(size.Width, sep))
	objs[2].Move(fyne.NewPos(0, top+sep))
	objs[2].Resize(fyne.NewSize(size.Width, size.Height-top-sep))
}

// keyCard shows the key large, easy to read aloud, with a copy button and
// the time left.
func (sv *sessionView) keyCard() fyne.CanvasObject {
	s := sv.s
	key := canvas.NewText(s.Key, nil)
	key.TextSize = 38 // the 17 characters of a key fit the card's width
	key.TextStyle = fyne.TextStyle{Monospace: true}
	key.Alignment = fyne.TextAlignCenter
	keyText := desktopui.Themed(key, func() { key.Color = theme.Color(theme.ColorNameForeground) })
	copyBtn := widget.NewButtonWithIcon("Copy key", theme.ContentCopyIcon(), func() { sv.m.w.act.Copy(s.Key) })
	copyBtn.Importance = widget.HighImportance
	buttons := container.NewHBox(copyBtn)
	// A customer told the key was used (somebody else joined with it), or
	// who lost it, gets another one at once: the old one dies with it.
	if sv.m.w.act.NewKey != nil {
		buttons.Add(widget.NewButtonWithIcon("New key", theme.ViewRefreshIcon(), func() { sv.m.w.act.NewKey(s.ID) }))
	}
	sv.keyLeft = desktopui.Wrapped("")
	sv.tick()
	objs := []fyne.CanvasObject{
		desktopui.Heading("Give this key to your customer"),
		container.NewCenter(keyText),
		desktopui.Wrapped("Read aloud: " + aloud(s.Key)),
		container.NewCenter(buttons),
		sv.keyLeft,
	}
	if s.JoinHint != "" {
		hint := widget.NewLabel(s.JoinHint)
		hint.TextStyle = fyne.TextStyle{Monospace: true}
		hint.Wrapping = fyne.TextWrapBreak
		copyHint := widget.NewButtonWithIcon("Copy command", theme.ContentCopyIcon(), func() { sv.m.w.act.Copy(s.JoinHint) })
		who := "The relay runs on this computer. A customer on your network starts the client like this:"
		if s.HintHereOnly {
			who = "The relay runs on this computer and listens only to it. A customer on this computer starts the client like this:"
		}
		objs = append(objs, widget.NewSeparator(), desktopui.Wrapped(who), hint, container.NewCenter(copyHint))
	}
	return desktopui.Card(objs...)
}

// burnedCard says the key was used up without pairing, and offers a new
// key for the session in one click.
func (sv *sessionView) burnedCard() fyne.CanvasObject {
	why := sv.s.Reason
	if why == "" {
		why = "someone used this session's key without pairing with it"
	}
	objs := []fyne.CanvasObject{
		desktopui.Heading("This key was used up"),
		desktopui.Wrapped(desktopui.Sentence(why)),
		desktopui.Wrapped("Nobody can join with it any more. Give your customer a new key: the session stays the same."),
	}
	if sv.m.w.act.NewKey != nil {
		newKey := widget.NewButtonWithIcon("New key", theme.ViewRefreshIcon(), func() { sv.m.w.act.NewKey(sv.s.ID) })
		newKey.Importance = widget.HighImportance
		objs = append(objs, container.NewCenter(newKey))
	}
	return desktopui.Card(objs...)
}

// aloud spells a key in groups a person can read over the phone.
// The key comes in its groups (protocol.KeyGroups): each digit is said on
// its own, and the groups are set apart.
func aloud(key string) string {
	var parts []string
	for _, group := range strings.Split(key, "-") {
		parts = append(parts, strings.Join(strings.Split(group, ""), " "))
	}
	return strings.Join(parts, "  –  ")
}

func (sv *sessionView) tick() {
	if sv.keyLeft == nil {
		return
	}
	left := sv.s.Expires.Sub(sv.m.w.Now())
	text := "The key expires in " + desktopui.Countdown(left) + " if nobody uses it."
	if left <= 0 {
		text = "The key has expired."
	}
	if sv.keyLeft.Text != text {
		sv.keyLeft.SetText(text)
	}
}

// customerCard shows who the customer is and how they are connected.
func (sv *sessionView) customerCard() fyne.CanvasObject {
	s := sv.s
	user, computer, _ := strings.Cut(s.Customer, "@")
	name := desktopui.Heading(user)
	var lines []fyne.CanvasObject
	lines = append(lines, name)
	if computer != "" {
		lines = append(lines, desktopui.Wrapped("on "+computer))
	}
	sv.conn = desktopui.Wrapped(sv.connText())
	if !s.Online {
		sv.conn.Importance = widget.WarningImportance
	}
	lines = append(lines, sv.conn)
	var perms []fyne.CanvasObject
	for _, k := range sv.m.w.asks() {
		st := sv.perms[k.kind]
		if st == "" {
			st = "not asked"
		}
		row := container.NewBorder(nil, nil, widget.NewLabel(k.label), quietRight(permWords(st)))
		perms = append(perms, row)
	}
	if len(perms) > 0 {
		lines = append(lines, widget.NewSeparator(), section("Access", perms...))
	}
	if sv.screenNote != "" {
		note := desktopui.Wrapped(sv.screenNote)
		note.Importance = widget.WarningImportance
		lines = append(lines, note)
	}
	return desktopui.Card(lines...)
}

// connText says how the customer is connected.
func (sv *sessionView) connText() string {
	s := sv.s
	if s.Online {
		how := "Direct connection"
		if s.Path == "relayed" {
			how = "Through the relay"
		}
		return fmt.Sprintf("%s · %s round trip · end-to-end encrypted", how, roundTrip(s.RTT))
	}
	if s.Reason != "" {
		return "Offline: " + s.Reason + ". Messages you write are sent when the customer is back."
	}
	return "Offline"
}

func quietRight(text string) *widget.Label {
	l := quiet(text)
	l.Alignment = fyne.TextAlignTrailing
	return l
}

// permWords says a permission state in words.
func permWords(state string) string {
	switch state {
	case "requested":
		return "asked, waiting for an answer…"
	case "allowed":
		return "allowed"
	case "denied":
		return "denied by the customer"
	case "timeout":
		return "not answered in time"
	case "disconnected":
		return "the customer left before answering"
	case "revoked":
		return "taken back by the customer"
	case "revoked_disconnected":
		return "ended: the connection was lost"
	case "revoked_ended":
		return "ended with the session"
	case "ended":
		return "ended with the session"
	case "unsupported":
		return "the customer's app cannot do this"
	case "needs_screen":
		return "needs the screen first"
	}
	return state
}

func roundTrip(d time.Duration) string {
	if d <= 0 {
		return "– ms"
	}
	if d < time.Millisecond {
		return "< 1 ms"
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

func (sv *sessionView) endedCard() fyne.CanvasObject {
	reason := sv.s.Reason
	if reason == "" {
		reason = "The session has ended."
	}
	return desktopui.Card(
		desktopui.Heading("This session has ended"),
		desktopui.Wrapped(desktopui.Sentence(reason)),
		desktopui.Wrapped("Its chat stays here for reference."),
	)
}

// arrange lays out the work area and the chat as shown and pinned: pinned,
// the chat has its own column; unpinned, it floats over the right of the
// work area and closes when the agent leaves the tab.
func (sv *sessionView) arrange() {
	var obj fyne.CanvasObject = sv.work
	if sv.chatShown {
		if sv.pinned {
			split := container.NewHSplit(sv.work, container.NewPadded(sv.chat.Object()))
			split.Offset = 0.55
			obj = split
		} else {
			bg := canvas.NewRectangle(color.Transparent)
			bg.SetMinSize(fyne.NewSize(360, 0))
			bg.StrokeWidth = 1
			paint := func() {
				bg.FillColor = theme.Color(theme.ColorNameOverlayBackground)
				bg.StrokeColor = theme.Color(theme.ColorNameSeparator)
			}
			// A drawer at the right, beside the work, never over it: a
			// float over the work hid the session card and the file
			// buttons. It closes when the agent leaves the tab.
			drawer := container.NewStack(desktopui.Themed(bg, paint), container.NewPadded(sv.chat.Object()))
			obj = container.NewBorder(nil, nil, nil, drawer, sv.work)
		}
	}
	sv.area.Objects = []fyne.CanvasObject{obj}
	sv.area.Refresh()
	if sv.pinned {
		sv.pinBtn.SetText("Unpin chat")
	} else {
		sv.pinBtn.SetText("Pin chat")
	}
	if sv.chatShown {
		sv.pinBtn.Enable()
	} else {
		sv.pinBtn.Disable()
	}
	sv.refreshChatButton()
}

func (sv *sessionView) refreshChatButton() {
	text := "Hide chat"
	if !sv.chatShown {
		text = "Show chat"
		if sv.unread > 0 {
			text = fmt.Sprintf("Show chat (%d)", sv.unread)
		}
	}
	if sv.chatBtn.Text != text {
		sv.chatBtn.SetText(text)
	}
	if !sv.chatShown && sv.unread > 0 {
		sv.chatBtn.Importance = widget.HighImportance
	} else {
		sv.chatBtn.Importance = widget.LowImportance
	}
	sv.chatBtn.Refresh()
}

func (sv *sessionView) setChatShown(shown bool) {
	if sv.chatShown == shown {
		return
	}
	sv.chatShown = shown
	sv.arrange()
	if shown && sv.m.current == sv {
		sv.m.markViewed()
		sv.m.w.win.Canvas().Focus(sv.chat.Input)
	}
}

func (sv *sessionView) setPinned(pinned bool) {
	sv.pinned = pinned
	sv.arrange()
}

func (sv *sessionView) askMenu() {
	var items []*fyne.MenuItem
	for _, k := range sv.m.w.asks() {
		switch {
		case k.kind == "control" && sv.perms["screen"] != "allowed":
			continue // control needs the screen: asked without, it is no
		case k.kind == "screen" && sv.perms["screen"] == "allowed":
			items = append(items, fyne.NewMenuItem(k.label, sv.startScreen)) // allowed already
			continue
		}
		items = append(items, fyne.NewMenuItem(k.label, func() { sv.m.w.act.Ask(sv.s.ID, k.kind) }))
	}
	c := sv.m.w.win.Canvas()
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(sv.askBtn).Add(fyne.NewPos(0, sv.askBtn.Size().Height))
	widget.ShowPopUpMenuAtPosition(fyne.NewMenu("", items...), c, pos)
}

func (sv *sessionView) confirmEnd() {
	who := sv.s.Customer
	msg := "The key will stop working and nobody can join this session."
	if who != "" {
		msg = fmt.Sprintf("%s will be disconnected and the session closed for everybody.", who)
	}
	sv.m.w.dialogs.ConfirmEnd("End this session?", msg, "End session", func() { sv.m.w.act.End(sv.s.ID) })
}
