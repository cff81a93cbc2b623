package ui

import (
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui"
)

// showSettings shows the relay, the account and the notification
// preferences. Preferences apply as they are changed; the relay and the
// account change by signing out to the sign-in screen.
func (w *Window) showSettings(agent, relay string) {
	var d dialog.Dialog
	notify := w.dialogs.Check("Notify me of messages in sessions that are not in front", nil)
	preview := w.dialogs.Check("Show the message text in notifications", nil)
	notify.SetChecked(w.prefs.Notify)
	preview.SetChecked(w.prefs.NotifyPreview)
	changed := func(bool) {
		if notify.Checked {
			preview.Enable()
		} else {
			preview.Disable()
		}
		p := Prefs{Notify: notify.Checked, NotifyPreview: preview.Checked}
		if p != w.prefs {
			w.prefs = p
			w.act.Settings(p)
		}
	}
	notify.OnChanged = changed
	preview.OnChanged = changed
	changed(false)
	signOut := w.dialogs.Button("Sign out", theme.LogoutIcon(), func() {
		d.Hide()
		w.act.SignOut()
	})
	content := container.NewVBox(
		section("Relay", quiet(relay), widget.NewLabel("To use another relay, sign out and choose it when you sign in.")),
		widget.NewSeparator(),
		section("Account", widget.NewLabel("Signed in as "+agent), container.NewHBox(signOut)),
		widget.NewSeparator(),
		section("Notifications", notify, preview),
	)
	d = w.dialogs.Custom("Settings", "Close", desktopui.Column(480, content))
}
