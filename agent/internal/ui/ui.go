// Package ui is the agent console's window, as Fyne widgets: the sign-in
// and setup screen, the main window (sessions list beside session tabs),
// each session's view with its chat panel, and settings. It renders what
// the console logic reports and forwards what the agent does (Actions); it
// does not import fyne.io/fyne/v2/app, so it is tested headlessly. Every
// method runs on Fyne's goroutine (the desktop bridge calls them through
// fyne.Do).
package ui

//go:generate cp ../../../assets/porthole-agent.svg icon.svg

import (
	_ "embed"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui"
)

//go:embed icon.svg
var iconSVG []byte

// Icon is the agent console's icon.
var Icon = fyne.NewStaticResource("porthole-agent.svg", iconSVG)

// Title is the window title.
const Title = "Porthole Console"

// Actions are what the window asks the console to do.
type Actions struct {
	SignIn     func(SignIn)
	NewSession func()
	NewKey     func(session string) // a fresh key for a session not paired (its key was used up, or is to be replaced)
	Send       func(session, text string)
	End        func(session string) // end for everybody (after confirmation)
	Ask        func(session, kind string)
	History    func(session string) []Message
	Settings   func(Prefs) // the agent changed a preference
	SignOut    func()
	Notify     func(title, body string)
	Copy       func(text string)

	// Files (files.go). Nil actions have no button.
	SendFiles    func(session string, paths []string) // picked or dropped
	AnswerFile   func(id, decision string)            // accept, accept_all, refuse, refuse_always
	CancelFile   func(id string)
	RequestFiles func(session string)        // invite the customer to send files
	Open         func(path string)           // a file with its program, a folder in the file manager
	SaveAs       func(src, folder string)    // copy a received file into a folder the agent chose
	Folder       func(session string) string // the session's download folder ("" while none)
	// Receiving gives the receiving settings: on, and each sender's
	// remembered decisions for files and for links.
	Receiving    func() (on bool, files, links map[string]string)
	SetReceiving func(on bool)
	SetTrust     func(sender, decision string)

	// Links (links.go). Nil SendLink: no link button.
	SendLink     func(session, url string)
	AnswerLink   func(id, decision string) // open, not_now, always_open, never
	SetLinkTrust func(sender, decision string)
}

// Message is one chat line to show.
type Message = desktopui.Message

// Prefs are the agent's preferences shown in settings.
type Prefs struct {
	Notify        bool // a desktop notification for a message not in front
	NotifyPreview bool // with the message's text
}

// Window is the console window's content.
type Window struct {
	win     fyne.Window
	act     Actions
	dialogs *desktopui.Dialogs
	// Zone is the time zone times are shown in; Now is the clock. Tests
	// pin both.
	Zone *time.Location
	Now  func() time.Time
	// Requestable are the kinds of access the agent may ask a customer for
	// (console.Requestable): the "Ask for access" menu and the session's
	// Access card show only these, and neither shows while there are none.
	Requestable []string
	// ScreenAct are the remote screen's actions (screen.go).
	ScreenAct ScreenActions

	screens screens // the remote screens shown, for the console's goroutines

	busy *widget.ProgressBarInfinite // while signing in

	main       *mainView // while signed in
	foreground bool
	prefs      Prefs
	policy     FilePolicy
}

// New makes the window's content controller.
func New(win fyne.Window, act Actions) *Window {
	win.SetTitle(Title)
	win.SetIcon(Icon)
	return &Window{win: win, act: act, dialogs: desktopui.NewDialogs(win), Zone: time.Local, Now: time.Now, foreground: true, prefs: Prefs{Notify: true}}
}

// SetPrefs sets the preferences the window shows and follows.
func (w *Window) SetPrefs(p Prefs) { w.prefs = p }

// SetForeground says whether the window is in front of the agent; a
// message counts as read only when it is.
func (w *Window) SetForeground(fg bool) {
	w.foreground = fg
	if fg && w.main != nil {
		w.main.markViewed()
	}
}

// ShowError shows a problem the agent should know about.
func (w *Window) ShowError(title, msg string) {
	w.dialogs.Information(title, msg)
}

// ShowBusy shows progress while signing in; step says what is happening.
func (w *Window) ShowBusy(step string) {
	w.leaveScreen()
	w.win.SetTitle(Title)
	w.busy = widget.NewProgressBarInfinite()
	w.win.SetContent(desktopui.Card(
		desktopui.Logo(Icon, 96),
		desktopui.Heading("Signing in"),
		desktopui.Wrapped(step),
		w.busy,
	))
}

// leaveScreen closes what belongs to the screen that is going away: its
// dialogs and the main view.
func (w *Window) leaveScreen() {
	if w.busy != nil {
		// Its animation runs until stopped, gone from the window or not:
		// the window would be drawn 60 times a second for nothing.
		w.busy.Stop()
		w.busy = nil
	}
	w.dialogs.CloseAll()
	if w.main != nil {
		w.main.closeViewers()
	}
	w.main = nil
	w.win.SetOnDropped(nil)
}

// toolbarButton is a low-key button for a bar.
func toolbarButton(label string, icon fyne.Resource, tapped func()) *widget.Button {
	b := widget.NewButtonWithIcon(label, icon, tapped)
	b.Importance = widget.LowImportance
	return b
}

// bold is a bold label.
func bold(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.TextStyle = fyne.TextStyle{Bold: true}
	return l
}

// quiet is a label in the low-importance colour.
func quiet(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Importance = widget.LowImportance
	return l
}

// truncated makes a label end in an ellipsis when it does not fit.
func truncated(l *widget.Label) *widget.Label {
	l.Truncation = fyne.TextTruncateEllipsis
	return l
}

// section is a titled group inside a view.
func section(title string, objs ...fyne.CanvasObject) fyne.CanvasObject {
	h := widget.NewLabel(title)
	h.TextStyle = fyne.TextStyle{Bold: true}
	h.SizeName = theme.SizeNameSubHeadingText
	return container.NewVBox(append([]fyne.CanvasObject{h}, objs...)...)
}
