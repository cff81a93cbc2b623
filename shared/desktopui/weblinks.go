package desktopui

import (
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/weblink"
)

// linkSVG is two chain links, the sign for a web link. Filled shapes
// (rings), as the theme colours fills.
const linkSVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="24" height="24">` +
	`<path fill="#000000" fill-rule="evenodd" transform="rotate(-45 12 12)" ` +
	`d="M5 7.5h5a4.5 4.5 0 0 1 0 9H5a4.5 4.5 0 0 1 0-9zM5 9.7a2.3 2.3 0 0 0 0 4.6h5a2.3 2.3 0 0 0 0-4.6z"/>` +
	`<path fill="#000000" fill-rule="evenodd" transform="rotate(-45 12 12)" ` +
	`d="M14 7.5h5a4.5 4.5 0 0 1 0 9h-5a4.5 4.5 0 0 1 0-9zM14 9.7a2.3 2.3 0 0 0 0 4.6h5a2.3 2.3 0 0 0 0-4.6z"/></svg>`

// LinkIcon is a chain link in the theme's foreground colour.
var LinkIcon = theme.NewThemedResource(fyne.NewStaticResource("link.svg", []byte(linkSVG)))

// LinkEntry is one shared link to show.
type LinkEntry struct {
	ID      string
	Dir     string // weblink.In or weblink.Out
	Peer    string // the other side
	Display string // the address as people read it (the host in Unicode)
	URL     string // what is opened (the host in ASCII)
	State   string // weblink.Offered, Opened, Refused
	Why     string // refused: why
	Shown   bool   // opened, but no browser took it: to copy
	At      time.Time
}

// FromLink is the entry of a link of the links service.
func FromLink(k weblink.Link) LinkEntry {
	e := LinkEntry{ID: k.ID, Dir: k.Dir, Peer: k.Peer, Display: k.URL, URL: k.URL, State: k.State, Why: k.Why, Shown: k.Shown, At: k.Offered}
	if a, ok := k.Address(); ok {
		e.Display = a.Display
	}
	return e
}

// LinkActions are what a link's entry in the chat can do.
type LinkActions struct {
	Answer func(id string)  // put an offer left for later to the person again
	Copy   func(url string) // to the clipboard
}

// LinkStatus says in a sentence where a link stands.
func LinkStatus(l LinkEntry) string {
	in := l.Dir == weblink.In
	who := peerOr(l.Peer)
	switch l.State {
	case weblink.Offered:
		if in {
			return "Waiting for your answer."
		}
		return Sentence("waiting for " + who + "'s answer.")
	case weblink.Opened:
		switch {
		case in && l.Shown:
			return "No browser could open it here: copy it."
		case in:
			return "Opened in your browser."
		}
		return Sentence(who + " opened it.")
	}
	why, detail, _ := strings.Cut(l.Why, ": ")
	switch why {
	case weblink.NotNow:
		if in {
			return "Not opened (not now)."
		}
		return Sentence(who + " did not open it (not now).")
	case weblink.Never:
		if in {
			return Sentence("not opened: links from " + who + " are never opened.")
		}
		return Sentence(who + " does not open your links.")
	case weblink.WhyReceptionOff:
		if in {
			return "Not opened: receiving files and links is turned off."
		}
		return Sentence(who + " does not receive links.")
	case weblink.WhyBusy:
		if in {
			return "Refused: too many links are waiting for your answer."
		}
		return Sentence(who + " has too many of your links waiting for an answer.")
	case weblink.WhyEnded:
		return "The session ended before an answer."
	case "bad_link":
		if in {
			return Sentence("refused, not a link that is opened: " + detail)
		}
		return Sentence(who + "'s app refused it: " + detail)
	}
	if l.Why == "" {
		return "Not opened."
	}
	return Sentence("not opened: " + l.Why)
}

// PutLink records a link sent or received in the conversation, or brings
// its entry up to date: the whole address, where it stands, and what can
// be done with it (answer an offer left for later, copy one no browser
// took).
func (c *Chat) PutLink(l LinkEntry, act LinkActions) {
	body := c.links[l.ID]
	if body == nil {
		who := l.Peer
		if l.Dir != weblink.In {
			who = "You"
		}
		body = c.newEntry("link:"+l.ID, who, l.At)
		c.links[l.ID] = body
	}
	body.Objects = linkEntry(l, act)
	body.Refresh()
	c.messages.Refresh()
}

// linkEntry is what the chat shows of a link.
func linkEntry(l LinkEntry, act LinkActions) []fyne.CanvasObject {
	what := "Link for " + peerOr(l.Peer) + ": "
	if l.Dir == weblink.In {
		what = "Link from " + peerOr(l.Peer) + ": "
	}
	addr := widget.NewLabelWithStyle(what+l.Display, fyne.TextAlignLeading, fyne.TextStyle{})
	addr.Wrapping = fyne.TextWrapBreak // an address has no spaces to wrap at
	objs := []fyne.CanvasObject{addr, quietLabel(LinkStatus(l))}
	var btn *widget.Button
	switch {
	case l.Dir == weblink.In && l.State == weblink.Offered && act.Answer != nil:
		btn = widget.NewButtonWithIcon("Answer…", LinkIcon, func() { act.Answer(l.ID) })
	case l.Dir == weblink.In && l.State == weblink.Opened && l.Shown && act.Copy != nil:
		btn = widget.NewButtonWithIcon("Copy link", theme.ContentCopyIcon(), func() { act.Copy(l.URL) })
	}
	if btn != nil {
		objs = append(objs, container.NewHBox(btn))
	}
	return objs
}

// loneLink says whether a chat line is only a web link.
func loneLink(text string) bool {
	if strings.ContainsAny(text, " \t\r\n") {
		return false
	}
	_, err := weblink.Check(text)
	return err == nil
}

// SendAsLink asks whether a chat line that is only a web link goes as a
// link (asLink) or as chat text (asText). Cancel does neither.
func (d *Dialogs) SendAsLink(url string, asLink, asText func()) {
	var dlg interface{ Hide() }
	link := d.Button("Send as link", LinkIcon, func() { dlg.Hide(); asLink() })
	link.Importance = widget.HighImportance
	text := d.Button("Send as text", theme.MailSendIcon(), func() { dlg.Hide(); asText() })
	addr := widget.NewLabelWithStyle(url, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	addr.Wrapping = fyne.TextWrapBreak
	note := Wrapped("As a link, the other side sees the whole address and chooses whether to open it in their browser.")
	note.Alignment = fyne.TextAlignLeading
	dlg = d.Custom("Send as a link?", "Cancel", Column(460, container.NewVBox(addr, note, link, text)))
}

// addressLines say what a person should read of an address before
// opening it: its host in punycode when international, and a warning
// when a host label mixes writing systems.
func addressLines(a weblink.Address) []fyne.CanvasObject {
	var out []fyne.CanvasObject
	if a.International() {
		out = append(out, quietLabel("Host in punycode: "+a.HostASCII))
	}
	if a.Mixed() {
		warn := ErrorText("The host name mixes " + strings.Join(a.Scripts, " and ") + " letters: it may imitate another site.")
		warn.Alignment = fyne.TextAlignLeading
		out = append(out, warn)
	}
	return out
}

// SendLink asks for a link to send to someone (to) and gives it to send;
// the address is checked as it is typed, and shown as the other side will
// read it. An error from send (a link Check refuses) is shown, and the
// dialog stays; what goes wrong later, on the way, the caller reports.
func (d *Dialogs) SendLink(to string, send func(url string) error) {
	entry := &linkEntryField{d: d}
	entry.ExtendBaseWidget(entry)
	entry.SetPlaceHolder("https://…")
	// The preview keeps its height whatever it says, so the dialog does
	// not need to change size as the person types.
	addr := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	addr.Truncation = fyne.TextTruncateEllipsis // the whole address is in the field above
	detail := Wrapped("")
	detail.Alignment = fyne.TextAlignLeading
	detail.Importance = widget.LowImportance
	warning := Wrapped("")
	warning.Alignment = fyne.TextAlignLeading
	warning.Importance = widget.DangerImportance
	var dlg dialog.Dialog
	var sendBtn *Button
	check := func(text string) (weblink.Address, bool) {
		text = strings.TrimSpace(text)
		a, err := weblink.Check(text)
		addr.SetText("")
		detail.SetText("")
		warning.SetText("")
		switch {
		case text == "":
		case err != nil:
			warning.SetText(Sentence(err.Error()))
		default:
			addr.SetText(a.Display)
			if a.International() {
				detail.SetText("Host in punycode: " + a.HostASCII)
			}
			if a.Mixed() {
				warning.SetText("The host name mixes " + strings.Join(a.Scripts, " and ") + " letters: it may imitate another site.")
			}
		}
		return a, err == nil
	}
	lineH := addr.MinSize().Height
	preview := container.New(&fixedHeight{h: 4 * lineH}, container.NewVBox(addr, detail, warning))
	submit := func() {
		a, ok := check(entry.Text)
		if !ok {
			return
		}
		if err := send(a.URL); err != nil {
			warning.SetText(Sentence(err.Error()))
			return
		}
		dlg.Hide()
	}
	sendBtn = d.Button("Send link", LinkIcon, submit)
	sendBtn.Importance = widget.HighImportance
	sendBtn.Disable()
	entry.OnChanged = func(text string) {
		if _, ok := check(text); ok {
			sendBtn.Enable()
		} else {
			sendBtn.Disable()
		}
	}
	entry.OnSubmitted = func(string) { submit() }
	note := Wrapped("Only http and https links are sent; " + to + " sees the whole address and chooses whether to open it.")
	note.Alignment = fyne.TextAlignLeading
	note.Importance = widget.LowImportance
	dlg = d.Custom("Send a link to "+to, "Cancel", Column(460, container.NewVBox(entry, preview, note, sendBtn)))
	d.win.Canvas().Focus(entry)
}

// fixedHeight lays its one object out at a fixed height (it may say
// less; it must not say more).
type fixedHeight struct{ h float32 }

func (l *fixedHeight) MinSize(objs []fyne.CanvasObject) fyne.Size {
	return fyne.NewSize(objs[0].MinSize().Width, l.h)
}

func (l *fixedHeight) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	objs[0].Move(fyne.NewPos(0, 0))
	objs[0].Resize(fyne.NewSize(size.Width, max(l.h, objs[0].MinSize().Height)))
}

// linkEntryField is the address field of SendLink: Escape in it closes
// the dialog, as it does on the dialog's buttons.
type linkEntryField struct {
	widget.Entry
	d *Dialogs
}

// TypedKey closes the dialog in front on Escape, and types otherwise.
func (e *linkEntryField) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyEscape {
		e.d.Escape()
		return
	}
	e.Entry.TypedKey(ev)
}

// longAddress is the length past which an offered address scrolls in its
// dialog (about six lines).
const longAddress = 360

// LinkOfferDialog is an open question about an offered link.
type LinkOfferDialog struct {
	hide   func()
	closed bool
}

// LinkOffer asks about a link someone (from) offers: open it, always open
// links from them, not now, never. The whole address is shown first, an
// international host also in punycode, with a warning when it mixes
// writing systems. Closing the dialog ("Decide later") leaves the offer
// open in the chat.
func (d *Dialogs) LinkOffer(from string, a weblink.Address, answer func(decision string)) *LinkOfferDialog {
	o := &LinkOfferDialog{}
	choose := func(decision string) func() {
		return func() {
			o.hide()
			answer(decision)
		}
	}
	open := d.Button("Open link", LinkIcon, choose(weblink.Open))
	if !a.Mixed() { // a look-alike address is not the obvious choice
		open.Importance = widget.HighImportance
	}
	always := d.Button("Always open links from "+from, theme.ConfirmIcon(), choose(weblink.Always))
	later := d.Button("Not now", theme.CancelIcon(), choose(weblink.NotNow))
	never := d.Button("Never open links from "+from, theme.CancelIcon(), choose(weblink.Never))
	never.Importance = widget.DangerImportance
	addr := widget.NewLabelWithStyle(a.Display, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	addr.Wrapping = fyne.TextWrapBreak
	note := Wrapped("It opens in your web browser. What happens to links from " + from + " can be changed later, in the receiving settings.")
	note.Alignment = fyne.TextAlignLeading
	note.Importance = widget.LowImportance
	var shown fyne.CanvasObject = addr
	if len(a.Display) > longAddress { // a long address scrolls: the answers stay on the screen
		scroll := container.NewVScroll(addr)
		scroll.SetMinSize(fyne.NewSize(0, 160))
		shown = scroll
	}
	rows := append([]fyne.CanvasObject{shown}, addressLines(a)...)
	rows = append(rows, note, open, always, later, never)
	dlg := d.Custom(from+" sends you a link", "Decide later", Column(460, container.NewVBox(rows...)))
	dlg.SetOnClosed(func() { o.closed = true })
	o.hide = dlg.Hide
	return o
}

// Closed says whether the dialog is gone (answered, or left for later).
func (o *LinkOfferDialog) Closed() bool { return o.closed }

// Close takes the question away (it was answered elsewhere).
func (o *LinkOfferDialog) Close() { o.hide() }
