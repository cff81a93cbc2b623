package desktopui

import (
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
)

// Dialogs shows a window's dialogs so that Escape closes the one in front,
// as it does everywhere else on the desktop (Fyne's dialogs do not listen
// for it). Closing with Escape is the same as the dialog's dismiss button:
// "No", "Cancel" or "Deny".
type Dialogs struct {
	win  fyne.Window
	open []dialog.Dialog
}

// NewDialogs takes over the window canvas's typed-key handler for Escape.
// While a dialog is up nothing behind it has the keyboard focus, so the key
// reaches the canvas.
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

// Confirm asks a yes/no question; yes runs only when the person says yes.
func (d *Dialogs) Confirm(title, message, yesLabel string, yes func()) {
	c := dialog.NewConfirm(title, message, func(ok bool) {
		if ok {
			yes()
		}
	}, d.win)
	c.SetConfirmText(yesLabel)
	c.SetDismissText("Cancel")
	d.Show(c)
}
