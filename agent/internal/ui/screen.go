package ui

import (
	"fmt"
	"image"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// ScreenActions are what the remote screen asks the console to do (nil
// StartScreen: the window never shows a screen, and does not ask for one).
type ScreenActions struct {
	StartScreen   func(session string, monitor int)
	StopScreen    func(session string)
	SelectMonitor func(session string, monitor int)
	Input         func(session string, events []*pb.InputEvent)
	// SaveScreenshot saves a still of the screen and says where.
	SaveScreenshot func(session string, img image.Image) (string, error)
}

// Monitor is one of the customer's monitors.
type Monitor struct {
	Index         int
	Width, Height int
	Primary       bool
}

func (m Monitor) label() string {
	s := fmt.Sprintf("Monitor %d · %d × %d", m.Index+1, m.Width, m.Height)
	if m.Primary {
		s += " (main)"
	}
	return s
}

// screens are the remote screens by session, for the console's
// goroutines, which hand them frames.
type screens struct {
	mu sync.Mutex
	m  map[string]*desktopui.RemoteScreen
}

// RemoteScreen is the session's remote screen view while it is shown, or
// nil; the console's goroutines call its Update and SetCursor.
func (w *Window) RemoteScreen(session string) *desktopui.RemoteScreen {
	w.screens.mu.Lock()
	defer w.screens.mu.Unlock()
	return w.screens.m[session]
}

func (w *Window) setRemoteScreen(session string, rs *desktopui.RemoteScreen) {
	w.screens.mu.Lock()
	defer w.screens.mu.Unlock()
	if w.screens.m == nil {
		w.screens.m = map[string]*desktopui.RemoteScreen{}
	}
	if rs == nil {
		delete(w.screens.m, session)
	} else {
		w.screens.m[session] = rs
	}
}

// screenPane is a session's remote screen: the picture, and a bar to
// fit it, pick the monitor, read how it goes, ask for and use control,
// send the keys this computer keeps, save a still, and stop.
type screenPane struct {
	sv       *sessionView
	rs       *desktopui.RemoteScreen
	obj      fyne.CanvasObject
	fitBtn   *widget.Button
	mon      *widget.Select
	readout  *widget.Label
	ctlBtn   *widget.Button
	keysBtn  *widget.Button
	row      *fyne.Container // the bar's first row, with the monitor picker
	monitors []Monitor
	paused   bool // control granted, and turned off here
}

func newScreenPane(sv *sessionView) *screenPane {
	p := &screenPane{sv: sv, rs: desktopui.NewRemoteScreen()}
	id := sv.s.ID
	act := sv.m.w.ScreenAct
	p.rs.OnInput = func(evs []*pb.InputEvent) {
		if act.Input != nil {
			act.Input(id, evs)
		}
	}
	p.fitBtn = toolbarButton("100 %", theme.ZoomInIcon(), p.toggleFit)
	p.mon = widget.NewSelect(nil, func(label string) {
		for _, m := range p.monitors {
			if m.label() == label && act.SelectMonitor != nil {
				p.rs.SetMonitor(m.Index)
				act.SelectMonitor(id, m.Index)
			}
		}
	})
	p.mon.Hide()
	p.readout = quiet("Waiting for the picture…")
	p.readout.Truncation = fyne.TextTruncateEllipsis
	p.ctlBtn = widget.NewButtonWithIcon("Request control", theme.MoreHorizontalIcon(), p.controlTapped)
	p.keysBtn = toolbarButton("Keys", theme.MenuIcon(), p.keysMenu)
	shot := toolbarButton("Screenshot", theme.DocumentSaveIcon(), p.screenshot)
	stop := toolbarButton("Stop viewing", theme.MediaStopIcon(), func() {
		if act.StopScreen != nil {
			act.StopScreen(id)
		}
	})
	// Two rows, so that the bar fits beside the chat: what acts on the
	// screen, then how it goes and what ends it.
	p.row = container.NewBorder(nil, nil, container.NewHBox(p.ctlBtn, p.keysBtn, p.fitBtn), nil, p.mon)
	bar := container.NewVBox(
		p.row,
		container.NewBorder(nil, nil, nil, container.NewHBox(shot, stop), p.readout))
	p.obj = container.NewBorder(container.NewVBox(bar, widget.NewSeparator()), nil, nil, nil, desktopui.NewRemoteView(p.rs))
	p.refreshControl()
	return p
}

func (p *screenPane) toggleFit() {
	fit := !p.rs.Fit()
	p.rs.SetFit(fit)
	if fit {
		p.fitBtn.SetText("100 %")
		p.fitBtn.SetIcon(theme.ZoomInIcon())
	} else {
		p.fitBtn.SetText("Fit")
		p.fitBtn.SetIcon(theme.ZoomFitIcon())
	}
}

// refreshControl shows the control button for the control grant's state.
func (p *screenPane) refreshControl() {
	st := p.sv.perms["control"]
	granted := st == "allowed"
	p.rs.SetControl(granted && !p.paused)
	switch {
	case granted && !p.paused:
		p.ctlBtn.SetText("Controlling · pause")
		p.ctlBtn.Importance = widget.HighImportance
		p.ctlBtn.Enable()
	case granted:
		p.ctlBtn.SetText("Take control")
		p.ctlBtn.Importance = widget.MediumImportance
		p.ctlBtn.Enable()
	case st == "requested":
		p.ctlBtn.SetText("Asking for control…")
		p.ctlBtn.Importance = widget.MediumImportance
		p.ctlBtn.Disable()
	default:
		p.ctlBtn.SetText("Request control")
		p.ctlBtn.Importance = widget.MediumImportance
		p.ctlBtn.Enable()
	}
	p.ctlBtn.Refresh()
	if granted && !p.paused {
		p.keysBtn.Enable()
	} else {
		p.keysBtn.Disable()
	}
}

func (p *screenPane) controlTapped() {
	if p.sv.perms["control"] == "allowed" {
		p.paused = !p.paused
		p.refreshControl()
		return
	}
	p.sv.m.w.act.Ask(p.sv.s.ID, "control")
}

// keysMenu offers the keys this computer keeps for itself.
func (p *screenPane) keysMenu() {
	var items []*fyne.MenuItem
	for _, k := range desktopui.SystemKeys() {
		evs := k.Events
		items = append(items, fyne.NewMenuItem(k.Label, func() {
			if act := p.sv.m.w.ScreenAct; act.Input != nil {
				act.Input(p.sv.s.ID, evs)
			}
		}))
	}
	c := p.sv.m.w.win.Canvas()
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(p.keysBtn).Add(fyne.NewPos(0, p.keysBtn.Size().Height))
	widget.ShowPopUpMenuAtPosition(fyne.NewMenu("", items...), c, pos)
}

func (p *screenPane) screenshot() {
	w := p.sv.m.w
	img := p.rs.Picture()
	if img == nil || w.ScreenAct.SaveScreenshot == nil {
		return
	}
	path, err := w.ScreenAct.SaveScreenshot(p.sv.s.ID, img)
	if err != nil {
		w.dialogs.Information("The screenshot was not saved", desktopui.Sentence(err.Error()))
		return
	}
	w.dialogs.Information("Screenshot saved", path)
}

// startScreen shows the session's screen once the customer allowed it.
func (sv *sessionView) startScreen() {
	act := sv.m.w.ScreenAct
	if sv.scr != nil || act.StartScreen == nil {
		return
	}
	sv.scr = newScreenPane(sv)
	sv.screenNote = ""
	sv.m.w.setRemoteScreen(sv.s.ID, sv.scr.rs)
	sv.refreshWork()
	act.StartScreen(sv.s.ID, 0)
}

// ScreenStarted says the session's screen is coming: the customer's
// monitors and the one shown.
func (w *Window) ScreenStarted(session string, monitors []Monitor, current int) {
	sv := w.view(session)
	if sv == nil || sv.scr == nil {
		return
	}
	p := sv.scr
	p.monitors = monitors
	p.rs.SetMonitor(current)
	var labels []string
	for _, m := range monitors {
		labels = append(labels, m.label())
	}
	p.mon.Options = labels
	if current < len(labels) {
		p.mon.Selected = labels[current]
	}
	p.mon.Refresh()
	if current < len(monitors) && sv.scr.readout.Text == "Waiting for the picture…" {
		m := monitors[current]
		p.readout.SetText(fmt.Sprintf("%d × %d", m.Width, m.Height))
	}
	if len(monitors) > 1 {
		p.mon.Show()
	} else {
		p.mon.Hide()
	}
	p.row.Refresh() // laid out again with the picker shown or not
}

// ScreenStats shows how the screen comes: updates a second, bytes a
// second, the round trip.
func (w *Window) ScreenStats(session string, fps float64, bytesPerSec int64, rtt time.Duration) {
	sv := w.view(session)
	if sv == nil || sv.scr == nil {
		return
	}
	text := fmt.Sprintf("%.0f fps · %s/s · %s round trip", fps, sizeText(bytesPerSec), roundTrip(rtt))
	if sv.scr.readout.Text != text {
		sv.scr.readout.SetText(text)
	}
}

// sizeText says a byte count the short way.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// ScreenStopped takes the screen away, saying why on the session's card.
func (w *Window) ScreenStopped(session, by, why string) {
	sv := w.view(session)
	if sv == nil || sv.scr == nil {
		return
	}
	sv.scr.rs.SetControl(false) // lets go of held keys
	sv.scr = nil
	w.setRemoteScreen(session, nil)
	switch {
	case by == "agent":
		sv.screenNote = ""
	case by == "customer" && why == "revoked":
		sv.screenNote = "The customer stopped sharing the screen."
	case strings.HasPrefix(why, "unavailable"):
		sv.screenNote = "The customer's screen cannot be shared: " + strings.TrimPrefix(strings.TrimPrefix(why, "unavailable"), ": ")
	default:
		sv.screenNote = "The screen stopped: " + why
	}
	sv.refreshWork()
}

// view is the session's view, or nil.
func (w *Window) view(session string) *sessionView {
	if w.main == nil {
		return nil
	}
	return w.main.byID[session]
}
