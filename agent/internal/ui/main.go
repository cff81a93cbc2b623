package ui

import (
	"fmt"
	"image/color"
	"slices"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui"
)

// Session states, as the console logic names them.
const (
	Waiting = "waiting"
	Burned  = "burned" // the key was used up without pairing; the session waits for a new key
	Active  = "active"
	Ended   = "ended"
)

// Session is what the window knows about one session.
type Session struct {
	ID       string
	State    string // Waiting, Burned, Active or Ended
	Customer string // the customer's name ("user@computer"), once joined
	Online   bool   // the customer is connected now
	Path     string // "direct" or "relayed" while online
	RTT      time.Duration
	Key      string // the session key, while waiting
	Expires  time.Time
	Created  time.Time
	Ended    time.Time
	Reason   string // why it ended, why the customer left, or why the key was burned
	// JoinHint is how a customer reaches this console's relay when it runs
	// on this computer (a command line with the key filled in).
	JoinHint string
	// HintHereOnly says the relay on this computer listens on loopback
	// only: the hint is for a customer on this computer, not the network.
	HintHereOnly bool
}

// mainView is the signed-in window: a bar, the sessions list, the tabs.
type mainView struct {
	w         *Window
	relay     *widget.Label
	list      *widget.List
	order     []*sessionView // list order: open sessions newest first, then ended
	byID      map[string]*sessionView
	tabs      *container.DocTabs
	none      fyne.CanvasObject // shown while no tab is open
	current   *sessionView      // the tab in front
	selecting bool              // the list is following the tabs
}

// ShowMain shows the main window for the signed-in agent; relay says where
// the console is connected.
func (w *Window) ShowMain(agent, relay string) {
	w.leaveScreen()
	m := &mainView{w: w, byID: map[string]*sessionView{}}
	w.main = m
	w.win.SetTitle(agent + " – " + Title)
	w.win.SetOnDropped(w.dropped)

	m.relay = quiet(relay)
	newBtn := widget.NewButtonWithIcon("New session", theme.ContentAddIcon(), w.act.NewSession)
	newBtn.Importance = widget.HighImportance
	settings := toolbarButton("Settings", theme.SettingsIcon(), func() { w.showSettings(agent, relay) })
	logo := canvas.NewImageFromResource(Icon)
	logo.FillMode = canvas.ImageFillContain
	logo.SetMinSize(fyne.NewSquareSize(32))
	who := bold(agent)
	bar := container.NewBorder(nil, nil,
		container.NewHBox(logo, bold("Porthole"), who),
		container.NewHBox(m.relay, settings, newBtn), nil)

	m.list = widget.NewList(
		func() int { return len(m.order) },
		newRow,
		func(i widget.ListItemID, o fyne.CanvasObject) { m.order[i].fillRow(o) },
	)
	m.list.OnSelected = func(i widget.ListItemID) {
		if m.selecting || i >= len(m.order) {
			return
		}
		m.open(m.order[i])
	}
	sessionsTitle := bold("Sessions")
	left := container.NewBorder(sessionsTitle, nil, nil, nil, m.list)

	m.tabs = container.NewDocTabs()
	m.tabs.OnSelected = func(t *container.TabItem) { m.selected(m.tabView(t)) }
	m.tabs.OnClosed = func(t *container.TabItem) {
		if sv := m.tabView(t); sv != nil {
			sv.tab = nil
			sv.setChatShown(sv.pinned) // an unpinned chat closes with its tab
		}
		if len(m.tabs.Items) == 0 {
			m.selected(nil)
		} else if m.current == nil || m.current.tab == nil {
			// Fyne does not report the tab that takes the closed one's place.
			m.selected(m.tabView(m.tabs.Selected()))
		}
	}
	startBtn := widget.NewButtonWithIcon("New session", theme.ContentAddIcon(), w.act.NewSession)
	m.none = desktopui.Card(
		desktopui.Logo(Icon, 96),
		desktopui.Heading("No session open"),
		desktopui.Wrapped("Start a new session and give its key to your customer, or pick a session from the list."),
		container.NewCenter(startBtn),
	)
	m.tabs.Hide()
	split := container.NewHSplit(left, container.NewStack(m.none, m.tabs))
	split.Offset = 0.24
	w.win.SetContent(container.NewBorder(
		container.NewVBox(bar, widget.NewSeparator()), nil, nil, nil, split))
}

// SetRelay says how the console's connection to the relay is.
func (w *Window) SetRelay(text string) {
	if w.main != nil {
		w.main.relay.SetText(text)
	}
}

// PutSession adds a session or updates what the window shows of it.
func (w *Window) PutSession(s Session) {
	m := w.main
	if m == nil {
		return
	}
	sv := m.byID[s.ID]
	if sv == nil {
		sv = newSessionView(m, s)
		m.byID[s.ID] = sv
		m.order = append(m.order, sv)
	} else {
		sv.update(s)
	}
	m.sort()
	m.refresh()
}

// OpenSession brings a session's tab to the front, opening it if needed.
func (w *Window) OpenSession(id string) {
	if w.main != nil && w.main.byID[id] != nil {
		w.main.open(w.main.byID[id])
	}
}

// AddMessage shows a chat line in its session. A line the agent has not
// seen counts as unread, and a line for a session not in front also gives
// a desktop notification.
func (w *Window) AddMessage(session string, msg Message) {
	m := w.main
	if m == nil || m.byID[session] == nil {
		return
	}
	sv := m.byID[session]
	if !sv.chat.Add(msg) || msg.Outgoing {
		return
	}
	inFront := w.foreground && m.current == sv
	if inFront && sv.chatShown {
		return
	}
	sv.unread++
	m.refresh()
	if !inFront && w.prefs.Notify {
		body := "New message"
		if w.prefs.NotifyPreview {
			body = msg.Text
		}
		w.act.Notify("Message from "+msg.From, body)
	}
}

// SetPermission shows the state of an access request ("requested",
// "allowed", "denied", "timeout", "disconnected", ...).
func (w *Window) SetPermission(session, kind, state string) {
	if w.main != nil && w.main.byID[session] != nil {
		sv := w.main.byID[session]
		sv.perms[kind] = state
		switch {
		case kind == "screen" && state == "allowed":
			sv.startScreen() // the screen is what was asked for
		case kind == "control" && sv.scr != nil:
			sv.scr.refreshControl()
		}
		sv.refreshWork()
	}
}

// Unread is the number of unread lines in a session.
func (w *Window) Unread(session string) int {
	if w.main == nil || w.main.byID[session] == nil {
		return 0
	}
	return w.main.byID[session].unread
}

// Tick updates what changes with time (key countdowns); the bridge calls
// it every second.
func (w *Window) Tick() {
	if w.main == nil {
		return
	}
	for _, sv := range w.main.order {
		sv.tick()
		sv.tickFiles()
	}
}

func (m *mainView) tabView(t *container.TabItem) *sessionView {
	for _, sv := range m.order {
		if sv.tab == t && t != nil {
			return sv
		}
	}
	return nil
}

func (m *mainView) sort() {
	rank := func(sv *sessionView) int {
		if sv.s.State == Ended {
			return 1
		}
		return 0
	}
	slices.SortStableFunc(m.order, func(a, b *sessionView) int {
		if r := rank(a) - rank(b); r != 0 {
			return r
		}
		return b.s.Created.Compare(a.s.Created)
	})
}

// refresh redraws the list and the tab titles (unread counts, states).
func (m *mainView) refresh() {
	m.list.Refresh()
	for _, sv := range m.order {
		if sv.tab != nil && sv.tab.Text != sv.tabTitle() {
			sv.tab.Text = sv.tabTitle()
			m.tabs.Refresh()
		}
		sv.refreshChatButton()
	}
	m.syncList()
}

// open shows a session's tab, opening it if needed.
func (m *mainView) open(sv *sessionView) {
	if sv.tab == nil {
		sv.tab = container.NewTabItem(sv.tabTitle(), sv.body)
		m.tabs.Append(sv.tab)
		m.tabs.Show()
		m.none.Hide()
	}
	m.tabs.Select(sv.tab)
	m.selected(sv)
}

// selected follows the tab in front.
func (m *mainView) selected(sv *sessionView) {
	if m.current != nil && m.current != sv && !m.current.pinned {
		m.current.setChatShown(false) // an unpinned chat closes when you leave
	}
	m.current = sv
	if sv == nil {
		m.tabs.Hide()
		m.none.Show()
	}
	m.markViewed()
	m.syncList()
	if sv != nil && sv.chatShown {
		m.w.win.Canvas().Focus(sv.chat.Input)
	}
}

// syncList selects the list row of the tab in front.
func (m *mainView) syncList() {
	m.selecting = true
	defer func() { m.selecting = false }()
	if i := slices.Index(m.order, m.current); i >= 0 && m.current != nil {
		m.list.Select(i)
	} else {
		m.list.UnselectAll()
	}
}

// markViewed clears the unread count of the session in front when its
// chat can be seen.
func (m *mainView) markViewed() {
	sv := m.current
	if sv == nil || !m.w.foreground || !sv.chatShown || sv.unread == 0 {
		return
	}
	sv.unread = 0
	m.refresh()
}

// The list row: state icon, name and state, unread badge.
func newRow() fyne.CanvasObject {
	name := truncated(bold(""))
	sub := truncated(quiet(""))
	return container.NewBorder(nil, nil, widget.NewIcon(theme.AccountIcon()), newBadge(),
		container.New(layout.NewCustomPaddedVBoxLayout(-theme.Padding()*2), name, sub))
}

func (sv *sessionView) fillRow(o fyne.CanvasObject) {
	c := o.(*fyne.Container)
	text := c.Objects[0].(*fyne.Container)
	text.Objects[0].(*widget.Label).SetText(sv.title())
	text.Objects[1].(*widget.Label).SetText(sv.stateLine())
	c.Objects[1].(*widget.Icon).SetResource(sv.stateIcon())
	setBadge(c.Objects[2].(*fyne.Container), sv.unread)
}

// newBadge is an unread count: the number on a round mark.
func newBadge() *fyne.Container {
	dot := canvas.NewCircle(color.Transparent)
	n := canvas.NewText("", nil)
	n.TextStyle = fyne.TextStyle{Bold: true}
	n.Alignment = fyne.TextAlignCenter
	n.TextSize = theme.CaptionTextSize()
	size := canvas.NewRectangle(color.Transparent)
	size.SetMinSize(fyne.NewSquareSize(22))
	b := container.NewStack(size, dot, container.NewCenter(n))
	return container.NewCenter(desktopui.Themed(b, func() {
		dot.FillColor = theme.Color(theme.ColorNamePrimary)
		n.Color = theme.Color(theme.ColorNameForegroundOnPrimary)
	}))
}

func setBadge(c *fyne.Container, count int) {
	b := c.Objects[0].(*desktopui.ThemedWidget)
	n := b.Content().(*fyne.Container).Objects[2].(*fyne.Container).Objects[0].(*canvas.Text)
	if count == 0 {
		b.Hide()
		return
	}
	text := strconv.Itoa(count)
	if count > 99 {
		text = "99+"
	}
	n.Text = text
	n.Refresh()
	b.Show()
}

func (sv *sessionView) title() string {
	switch {
	case sv.s.Customer != "":
		return sv.s.Customer
	case sv.s.State == Waiting:
		return "Waiting for a customer"
	case sv.s.State == Burned:
		return "Key used up"
	default:
		return "Session " + sv.s.Created.In(sv.m.w.Zone).Format("15:04")
	}
}

func (sv *sessionView) tabTitle() string {
	t := sv.title()
	if sv.s.State == Waiting {
		t = "Key " + sv.s.Key
	}
	if sv.unread > 0 {
		t += fmt.Sprintf(" (%d)", sv.unread)
	}
	return t
}

func (sv *sessionView) stateLine() string {
	switch sv.s.State {
	case Waiting:
		return "Waiting · key " + sv.s.Key
	case Burned:
		return "Needs a new key"
	case Active:
		if sv.s.Online {
			return "Active · " + sv.s.Path
		}
		return "Active · customer offline"
	}
	at := sv.s.Ended
	if at.IsZero() {
		at = sv.s.Created
	}
	return "Ended " + at.In(sv.m.w.Zone).Format("Jan 2 15:04")
}

func (sv *sessionView) stateIcon() fyne.Resource {
	switch {
	case sv.s.State == Waiting:
		return theme.HistoryIcon()
	case sv.s.State == Burned:
		return theme.WarningIcon()
	case sv.s.State == Active && sv.s.Online:
		return theme.ComputerIcon()
	case sv.s.State == Active:
		return theme.AccountIcon()
	}
	return theme.CheckButtonCheckedIcon()
}
