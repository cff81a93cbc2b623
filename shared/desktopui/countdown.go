package desktopui

import (
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// InviteCountdown shows how long an invitation to send files has left: the
// time in words over a bar that shrinks and turns from green to yellow to
// red as the end nears. Tick updates it.
type InviteCountdown struct {
	widget.BaseWidget
	Now func() time.Time // the clock; tests pin it

	what        string // "You may send files" / "The customer may send files"
	from, until time.Time
	label       *widget.Label
	track, fill *canvas.Rectangle
}

// NewInviteCountdown makes a countdown; what says what the invitation
// allows ("You may send files").
func NewInviteCountdown(what string) *InviteCountdown {
	c := &InviteCountdown{Now: time.Now, what: what}
	c.label = widget.NewLabel("")
	c.label.Truncation = fyne.TextTruncateEllipsis
	c.track = canvas.NewRectangle(color.Transparent)
	c.fill = canvas.NewRectangle(color.Transparent)
	c.track.CornerRadius, c.fill.CornerRadius = 3, 3
	c.ExtendBaseWidget(c)
	return c
}

// Set starts (or restarts) the countdown for an invitation given at from
// that expires at until. Whoever shows the countdown shows or hides it.
func (c *InviteCountdown) Set(from, until time.Time) {
	c.from, c.until = from, until
	c.Tick()
}

// Active says whether the invitation still runs.
func (c *InviteCountdown) Active() bool { return !c.until.IsZero() && c.Now().Before(c.until) }

// Tick brings the time left up to date.
func (c *InviteCountdown) Tick() {
	if c.until.IsZero() {
		return
	}
	text := c.what + " for " + Countdown(c.until.Sub(c.Now())) + "."
	if !c.Active() {
		text = "The invitation to send files has expired."
	}
	if c.label.Text != text {
		c.label.SetText(text)
	}
	c.Refresh()
}

// Left is the share of the invitation's time still to run, 0 to 1.
func (c *InviteCountdown) Left() float64 {
	total := c.until.Sub(c.from)
	if total <= 0 {
		return 0
	}
	return max(0, min(1, float64(c.until.Sub(c.Now()))/float64(total)))
}

// Colour is the bar's colour for the time left: green, then yellow under
// half, red under a fifth.
func (c *InviteCountdown) Colour() fyne.ThemeColorName {
	switch left := c.Left(); {
	case left > 0.5:
		return theme.ColorNameSuccess
	case left > 0.2:
		return theme.ColorNameWarning
	}
	return theme.ColorNameError
}

// CreateRenderer is part of fyne.Widget.
func (c *InviteCountdown) CreateRenderer() fyne.WidgetRenderer { return &countdownRenderer{c} }

type countdownRenderer struct{ c *InviteCountdown }

const barHeight = 6

func (r *countdownRenderer) Layout(size fyne.Size) {
	lh := r.c.label.MinSize().Height
	r.c.label.Resize(fyne.NewSize(size.Width, lh))
	r.c.label.Move(fyne.NewPos(0, 0))
	p := theme.Padding()
	w := max(0, size.Width-2*p)
	r.c.track.Move(fyne.NewPos(p, lh))
	r.c.track.Resize(fyne.NewSize(w, barHeight))
	r.c.fill.Move(fyne.NewPos(p, lh))
	fw := w * float32(r.c.Left())
	r.c.fill.Resize(fyne.NewSize(fw, barHeight))
	// A sliver narrower than its rounded corners is not drawn (Fyne's
	// software painter cannot).
	r.c.fill.Hidden = fw < 2*r.c.fill.CornerRadius
}

func (r *countdownRenderer) MinSize() fyne.Size {
	m := r.c.label.MinSize()
	return fyne.NewSize(m.Width, m.Height+barHeight+theme.Padding())
}

func (r *countdownRenderer) Refresh() {
	r.c.track.FillColor = theme.Color(theme.ColorNameInputBackground)
	r.c.fill.FillColor = theme.Color(r.c.Colour())
	r.Layout(r.c.Size())
	r.c.track.Refresh()
	r.c.fill.Refresh()
	r.c.label.Refresh()
}

func (r *countdownRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.c.label, r.c.track, r.c.fill}
}

func (r *countdownRenderer) Destroy() {}
