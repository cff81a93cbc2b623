package desktopui

import (
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/weblink"
)

// Trust choices, as the settings show them, and their decisions.
var trustChoices = []struct{ label, decision string }{
	{"Ask each time", ""},
	{"Accept all files", "accept_all"},
	{"Refuse always", "refuse_always"},
	{"Blocked", "blocked"},
}

// Link trust choices, as the settings show them, and their decisions.
var linkChoices = []struct{ label, decision string }{
	{"Ask each time", ""},
	{"Always open", weblink.Always},
	{"Never open", weblink.Never},
}

// FileSettings shows the receiving settings: the "receive files and
// links" switch, and for each sender what happens to their files (ask,
// accept all, refuse always, blocked) and to their links (ask, always
// open, never open). Changes apply at once.
func (d *Dialogs) FileSettings(receiving bool, trusts, linkTrusts map[string]string, setReceiving func(bool), setTrust, setLinkTrust func(sender, decision string)) {
	receive := d.Check("Receive files and links", nil)
	receive.SetChecked(receiving) // before OnChanged: showing the setting is not changing it
	receive.OnChanged = setReceiving
	help := Wrapped("When this is off, every file and link offered to you is refused, and the sender is told that you do not receive them.")
	help.Alignment = fyne.TextAlignLeading
	help.Importance = widget.LowImportance
	senders := make([]string, 0, len(trusts)+len(linkTrusts))
	for s := range trusts {
		senders = append(senders, s)
	}
	for s := range linkTrusts {
		senders = append(senders, s)
	}
	slices.Sort(senders)
	senders = slices.Compact(senders)
	rows := []fyne.CanvasObject{receive, help, widget.NewSeparator()}
	if len(senders) == 0 {
		none := Wrapped("Senders appear here once they have sent you a file or a link.")
		none.Alignment = fyne.TextAlignLeading
		rows = append(rows, none)
	}
	var people []fyne.CanvasObject
	for _, s := range senders {
		people = append(people,
			d.trustRow("Files from "+s, trustChoices, trusts[s], func(decision string) { setTrust(s, decision) }),
			d.trustRow("Links from "+s, linkChoices, linkTrusts[s], func(decision string) { setLinkTrust(s, decision) }))
	}
	var list fyne.CanvasObject = container.NewVBox(people...)
	if len(senders) > maxSendersShown { // the rest scrolls: the dialog stays on the screen
		scroll := container.NewVScroll(list)
		scroll.SetMinSize(fyne.NewSize(0, float32(maxSendersShown)*2*(people[0].MinSize().Height+theme.Padding())))
		list = scroll
	}
	d.Custom("Receiving files and links", "Close", Column(460, container.NewVBox(append(rows, list)...)))
}

// maxSendersShown is how many senders the receiving settings show before
// their list scrolls.
const maxSendersShown = 4

// trustRow is one remembered decision to change: a label, and a choice of
// the labels of choices, showing decision.
func (d *Dialogs) trustRow(label string, choices []struct{ label, decision string }, decision string, set func(decision string)) fyne.CanvasObject {
	var labels []string
	selected := choices[0].label
	for _, c := range choices {
		labels = append(labels, c.label)
		if c.decision == decision {
			selected = c.label
		}
	}
	sel := d.Select(labels, nil)
	sel.SetSelected(selected) // before OnChanged: showing the setting is not changing it
	sel.OnChanged = func(l string) {
		for _, c := range choices {
			if c.label == l {
				set(c.decision)
			}
		}
	}
	name := widget.NewLabel(label)
	name.Truncation = fyne.TextTruncateEllipsis
	wide := container.NewGridWrap(fyne.NewSize(200, sel.MinSize().Height), sel) // room for the longest choice
	return container.NewBorder(nil, nil, nil, wide, name)
}
