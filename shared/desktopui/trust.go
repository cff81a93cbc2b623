package desktopui

import (
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// Trust choices, as the settings show them, and their decisions.
var trustChoices = []struct{ label, decision string }{
	{"Ask each time", ""},
	{"Accept all files", "accept_all"},
	{"Refuse always", "refuse_always"},
	{"Blocked", "blocked"},
}

func trustLabel(decision string) string {
	for _, c := range trustChoices {
		if c.decision == decision {
			return c.label
		}
	}
	return trustChoices[0].label
}

func trustDecision(label string) string {
	for _, c := range trustChoices {
		if c.label == label {
			return c.decision
		}
	}
	return ""
}

// FileSettings shows the receiving settings: the "receive files" switch,
// and for each sender what happens to their files (ask, accept all,
// refuse always, blocked). Changes apply at once.
func (d *Dialogs) FileSettings(receiving bool, trusts map[string]string, setReceiving func(bool), setTrust func(sender, decision string)) {
	receive := d.Check("Receive files", nil)
	receive.SetChecked(receiving) // before OnChanged: showing the setting is not changing it
	receive.OnChanged = setReceiving
	help := Wrapped("When this is off, every file offered to you is refused, and the sender is told that you do not receive files.")
	help.Alignment = fyne.TextAlignLeading
	help.Importance = widget.LowImportance
	senders := make([]string, 0, len(trusts))
	for s := range trusts {
		senders = append(senders, s)
	}
	slices.Sort(senders)
	rows := []fyne.CanvasObject{receive, help, widget.NewSeparator()}
	if len(senders) == 0 {
		none := Wrapped("Senders appear here once they have sent you a file.")
		none.Alignment = fyne.TextAlignLeading
		rows = append(rows, none)
	}
	var labels []string
	for _, c := range trustChoices {
		labels = append(labels, c.label)
	}
	for _, s := range senders {
		sel := d.Select(labels, nil)
		sel.SetSelected(trustLabel(trusts[s]))
		sel.OnChanged = func(label string) { setTrust(s, trustDecision(label)) }
		name := widget.NewLabel("Files from " + s)
		name.Truncation = fyne.TextTruncateEllipsis
		wide := container.NewGridWrap(fyne.NewSize(200, sel.MinSize().Height), sel) // room for the longest choice
		rows = append(rows, container.NewBorder(nil, nil, nil, wide, name))
	}
	d.Custom("Receiving files", "Close", Column(460, container.NewVBox(rows...)))
}
