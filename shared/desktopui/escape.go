package desktopui

import (
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Dialogs shows a window's dialogs so that Escape closes the one in front,
// as it does everywhere else on the desktop (Fyne's dialogs do not listen
// for it). Closing with Escape is the same as the dialog's dismiss button:
// "No", "Cancel", "Close" or "Deny".
//
// Fyne gives a key to the focused widget, and to the canvas only when
// nothing has the focus. A dialog's own buttons and checks therefore come
// from Dialogs (Button, Check), which pass Escape on; a dialog made here
// has nothing else that can take the focus.
type Dialogs struct {
	win  fyne.Window
	open []dialog.Dialog
}

// NewDialogs takes over the window canvas's typed-key handler for Escape.
func NewDialogs(win fyne.Window) *Dialogs {
	d := &Dialogs{win: win}
	win.Canvas().SetOnTypedKey(func(ev *fyne.KeyEvent) {
		if ev.Name == fyne.KeyEscape {
			d.Escape()
		}
	})
	return d
}

// Show shows dlg and keeps track of it until it closes.
func (d *Dialogs) Show(dlg dialog.Dialog) {
	d.open = append(d.open, dlg)
	dlg.SetOnClosed(func() {
		if i := slices.Index(d.open, dlg); i >= 0 {
			d.open = slices.Delete(d.open, i, i+1)
		}
	})
	dlg.Show()
}

// Escape closes the dialog in front, if any; it reports whether there was one.
func (d *Dialogs) Escape() bool {
	if len(d.open) == 0 {
		return false
	}
	d.open[len(d.open)-1].Hide()
	return true
}

// CloseAll closes every open dialog, front first, as if the person pressed
// Escape on each: a dialog about one screen must not outlive it.
func (d *Dialogs) CloseAll() {
	for d.Escape() {
	}
}

// Open is how many dialogs are open.
func (d *Dialogs) Open() int { return len(d.open) }

// Information shows a message with an OK button.
func (d *Dialogs) Information(title, message string) {
	var dlg *dialog.CustomDialog
	ok := d.Button("OK", nil, func() { dlg.Hide() })
	dlg = dialog.NewCustomWithoutButtons(title, Column(380, Wrapped(message)), d.win)
	dlg.SetIcon(theme.InfoIcon())
	dlg.SetButtons([]fyne.CanvasObject{ok})
	d.Show(dlg)
}

// Confirm asks a yes/no question; yes runs only when the person says yes.
func (d *Dialogs) Confirm(title, message, yesLabel string, yes func()) {
	d.confirm(title, message, yesLabel, theme.ConfirmIcon(), widget.HighImportance, yes)
}

// ConfirmEnd is Confirm for ending something for good (a session): its yes
// looks like the red button that asked, with the same icon.
func (d *Dialogs) ConfirmEnd(title, message, yesLabel string, yes func()) {
	d.confirm(title, message, yesLabel, theme.LogoutIcon(), widget.DangerImportance, yes)
}

func (d *Dialogs) confirm(title, message, yesLabel string, icon fyne.Resource, importance widget.Importance, yes func()) {
	var dlg *dialog.CustomDialog
	cancel := d.Button("Cancel", theme.CancelIcon(), func() { dlg.Hide() })
	ok := d.Button(yesLabel, icon, func() {
		dlg.Hide()
		yes()
	})
	ok.Importance = importance
	dlg = dialog.NewCustomWithoutButtons(title, Column(380, Wrapped(message)), d.win)
	dlg.SetIcon(theme.QuestionIcon())
	dlg.SetButtons([]fyne.CanvasObject{cancel, ok})
	d.Show(dlg)
}

// Custom shows content with one button, dismiss, that closes the dialog.
// Any focusable widget in content should come from Button or Check.
func (d *Dialogs) Custom(title, dismiss string, content fyne.CanvasObject) dialog.Dialog {
	var dlg *dialog.CustomDialog
	closeBtn := d.Button(dismiss, nil, func() { dlg.Hide() })
	dlg = dialog.NewCustomWithoutButtons(title, content, d.win)
	dlg.SetButtons([]fyne.CanvasObject{closeBtn})
	d.Show(dlg)
	return dlg
}

// Button is a button for a dialog: Escape pressed while it has the focus
// closes the dialog in front.
type Button struct {
	widget.Button
	d *Dialogs
}

// Button makes a dialog button.
func (d *Dialogs) Button(label string, icon fyne.Resource, tapped func()) *Button {
	b := &Button{d: d}
	b.Text, b.Icon, b.OnTapped = label, icon, tapped
	b.ExtendBaseWidget(b)
	return b
}

// TypedKey passes Escape to the dialogs and everything else to the button.
func (b *Button) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyEscape {
		b.d.Escape()
		return
	}
	b.Button.TypedKey(ev)
}

// Check is a check box for a dialog: Escape pressed while it has the focus
// closes the dialog in front.
type Check struct {
	widget.Check
	d *Dialogs
}

// Check makes a dialog check box.
func (d *Dialogs) Check(label string, changed func(bool)) *Check {
	c := &Check{d: d}
	c.Text, c.OnChanged = label, changed
	c.ExtendBaseWidget(c)
	return c
}

// TypedKey passes Escape to the dialogs and everything else to the check.
func (c *Check) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyEscape {
		c.d.Escape()
		return
	}
	c.Check.TypedKey(ev)
}

// Select is a drop-down for a dialog: Escape pressed while it has the focus
// closes the dialog in front.
type Select struct {
	widget.Select
	d *Dialogs
}

// Select makes a dialog drop-down.
func (d *Dialogs) Select(options []string, changed func(string)) *Select {
	s := &Select{d: d}
	s.Options, s.OnChanged = options, changed
	s.ExtendBaseWidget(s)
	return s
}

// TypedKey passes Escape to the dialogs and everything else to the select.
func (s *Select) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyEscape {
		s.d.Escape()
		return
	}
	s.Select.TypedKey(ev)
}
