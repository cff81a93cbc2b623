package desktopui

import (
	"image"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Message is one chat line to show.
type Message struct {
	ID       string
	From     string
	Text     string
	At       time.Time
	Outgoing bool
}

// Chat is a chat panel: the conversation so far, newest at the bottom, and
// a line to write in that sends on Enter. A line whose ID was shown already
// is not shown again (history and live events overlap around a reconnect).
type Chat struct {
	// Zone is the time zone times are shown in; tests pin it.
	Zone  *time.Location
	Input *widget.Entry

	send     func(string)
	sendBtn  *widget.Button
	attach   *widget.Button // the paperclip: send files
	link     *widget.Button // send a link
	lone     func(text string)
	messages *fyne.Container
	scroll   *container.Scroll
	empty    *widget.Label
	shown    map[string]bool
	files    map[string]*fyne.Container // file entries' bodies, by file id
	links    map[string]*fyne.Container // link entries' bodies, by link id
	obj      fyne.CanvasObject
}

// NewChat makes a chat panel; send gets each line the person writes
// (trimmed, never empty). emptyText is shown until the first line.
func NewChat(send func(text string), emptyText string) *Chat {
	c := &Chat{Zone: time.Local, send: send, shown: map[string]bool{}, files: map[string]*fyne.Container{}, links: map[string]*fyne.Container{}}
	c.messages = container.New(&lines{})
	if emptyText != "" {
		c.empty = widget.NewLabel(emptyText)
		c.empty.Importance = widget.LowImportance
		c.empty.Wrapping = fyne.TextWrapWord
		c.messages.Add(c.empty)
	}
	c.scroll = container.NewVScroll(c.messages)
	c.Input = widget.NewEntry()
	c.Input.SetPlaceHolder("Write a message…")
	c.Input.OnSubmitted = func(string) { c.submit() }
	c.sendBtn = widget.NewButtonWithIcon("Send", theme.MailSendIcon(), c.submit)
	c.sendBtn.Importance = widget.HighImportance
	c.attach = widget.NewButtonWithIcon("", PaperclipIcon, nil)
	c.attach.Hide()
	c.link = widget.NewButtonWithIcon("", LinkIcon, nil)
	c.link.Hide()
	compose := container.NewBorder(nil, nil, container.NewHBox(c.attach, c.link), c.sendBtn, c.Input)
	c.obj = container.NewBorder(nil, compose, nil, nil, c.scroll)
	return c
}

func (c *Chat) submit() {
	text := strings.TrimSpace(c.Input.Text)
	if text == "" || c.Input.Disabled() {
		return
	}
	if c.lone != nil && loneLink(text) {
		c.Input.SetText("")
		c.lone(text)
		return
	}
	c.send(text)
	c.Input.SetText("")
}

// SetLink shows the link button beside the paperclip, which calls send
// (to ask for a link to send), or hides it (nil).
func (c *Chat) SetLink(send func()) {
	c.link.OnTapped = send
	if send == nil {
		c.link.Hide()
	} else {
		c.link.Show()
	}
}

// SetLoneLink makes a line that is only a web link go to f instead of
// the chat (to offer sending it as a link); nil: every line is chat.
func (c *Chat) SetLoneLink(f func(text string)) { c.lone = f }

// SetAttach shows the paperclip, which calls pick (to choose files to
// send), or hides it (nil).
func (c *Chat) SetAttach(pick func()) {
	c.attach.OnTapped = pick
	if pick == nil {
		c.attach.Hide()
	} else {
		c.attach.Show()
	}
}

// Object is the panel to put on screen.
func (c *Chat) Object() fyne.CanvasObject { return c.obj }

// SetWritable enables or disables writing; placeholder says why not.
func (c *Chat) SetWritable(ok bool, placeholder string) {
	c.Input.SetPlaceHolder(placeholder)
	if ok {
		c.Input.Enable()
		c.sendBtn.Enable()
	} else {
		c.Input.Disable()
		c.sendBtn.Disable()
	}
}

// Add appends a line and scrolls to it; it reports whether the line is new.
func (c *Chat) Add(m Message) bool {
	if m.ID != "" && c.shown[m.ID] {
		return false
	}
	c.shown[m.ID] = true
	if c.empty != nil {
		c.messages.Remove(c.empty)
		c.empty = nil
	}
	who := m.From
	if m.Outgoing {
		who = "You"
	}
	head := widget.NewLabel(who + " · " + m.At.In(c.Zone).Format("15:04"))
	head.TextStyle = fyne.TextStyle{Bold: true}
	head.Importance = widget.LowImportance
	body := widget.NewLabel(m.Text)
	body.Wrapping = fyne.TextWrapWord
	c.messages.Add(container.NewVBox(head, body))
	c.ScrollToBottom()
	return true
}

// ShowAll shows a conversation's history, its files and its links in
// time order, instead of what the panel showed (files and links come from
// other stores than the lines: appended, old ones would follow newer
// lines).
func (c *Chat) ShowAll(history []Message, files []File, links []LinkEntry, open func(path string), act LinkActions) {
	type entry struct {
		at  time.Time
		msg *Message
		f   *File
		l   *LinkEntry
	}
	var entries []entry
	for i := range history {
		entries = append(entries, entry{at: history[i].At, msg: &history[i]})
	}
	for i := range files {
		entries = append(entries, entry{at: files[i].At, f: &files[i]})
	}
	for i := range links {
		entries = append(entries, entry{at: links[i].At, l: &links[i]})
	}
	if len(entries) == 0 {
		return
	}
	slices.SortStableFunc(entries, func(a, b entry) int { return a.at.Compare(b.at) })
	c.messages.Objects = nil
	c.empty = nil
	c.shown, c.files, c.links = map[string]bool{}, map[string]*fyne.Container{}, map[string]*fyne.Container{}
	for _, e := range entries {
		switch {
		case e.msg != nil:
			c.Add(*e.msg)
		case e.f != nil:
			c.PutFile(*e.f, open)
		default:
			c.PutLink(*e.l, act)
		}
	}
	c.messages.Refresh()
}

// PutFile records a file sent or received in the conversation, or brings
// its entry up to date: a picture that arrived shows as a thumbnail, any
// other file as a link; a tap opens it (open gets its path).
func (c *Chat) PutFile(f File, open func(path string)) {
	body := c.files[f.ID]
	if body == nil {
		who := f.Peer
		if !f.Incoming() {
			who = "You"
		}
		body = c.newEntry("file:"+f.ID, who, f.At)
		c.files[f.ID] = body
	}
	body.Objects = fileEntry(f, open)
	body.Refresh()
	c.messages.Refresh()
}

// newEntry adds an entry (a file's, a link's) under a head like a line's
// and scrolls to it; it returns the entry's body to fill.
func (c *Chat) newEntry(key, who string, at time.Time) *fyne.Container {
	c.shown[key] = true
	if c.empty != nil {
		c.messages.Remove(c.empty)
		c.empty = nil
	}
	head := widget.NewLabel(who + " · " + at.In(c.Zone).Format("15:04"))
	head.TextStyle = fyne.TextStyle{Bold: true}
	head.Importance = widget.LowImportance
	body := container.NewVBox()
	c.messages.Add(container.NewVBox(head, body))
	c.ScrollToBottom()
	return body
}

// fileEntry is what the chat shows of a file.
func fileEntry(f File, open func(path string)) []fyne.CanvasObject {
	name := filepath.Base(f.Name)
	if f.State == "done" && f.Path != "" {
		if img := picture(f, fyne.NewSize(200, 140), image.Pt(400, 280)); img != nil {
			return []fyne.CanvasObject{container.NewHBox(newTapImage(img, func() { open(f.Path) })), quietLabel(name + " · " + Size(f.Size))}
		}
		link := widget.NewButtonWithIcon(name+" ("+Size(f.Size)+")", theme.FileIcon(), func() { open(f.Path) })
		link.Importance = widget.LowImportance
		link.Alignment = widget.ButtonAlignLeading
		return []fyne.CanvasObject{link}
	}
	l := widget.NewLabel(name + " (" + Size(f.Size) + ")")
	l.Wrapping = fyne.TextWrapWord
	return []fyne.CanvasObject{l, quietLabel(FileStatus(f))}
}

func quietLabel(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Importance = widget.LowImportance
	l.Wrapping = fyne.TextWrapWord
	return l
}

// tapImage is a picture that opens on a tap.
type tapImage struct {
	widget.BaseWidget
	img *canvas.Image
	tap func()
}

func newTapImage(img *canvas.Image, tap func()) *tapImage {
	t := &tapImage{img: img, tap: tap}
	t.ExtendBaseWidget(t)
	return t
}

func (t *tapImage) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(t.img) }

// Tapped opens the picture.
func (t *tapImage) Tapped(*fyne.PointEvent) { t.tap() }

// Cursor shows that the picture can be clicked.
func (t *tapImage) Cursor() desktop.Cursor { return desktop.PointerCursor }

// ScrollToBottom shows the newest line.
// It scrolls now and once more after the window has laid out what was just
// added (a new line's height is only final then).
func (c *Chat) ScrollToBottom() {
	c.scroll.ScrollToBottom()
	fyne.Do(c.scroll.ScrollToBottom)
}

// Len is the number of lines shown.
func (c *Chat) Len() int { return len(c.shown) }

// lines stacks chat lines at the panel's width. A VBox asks wrapped labels
// for their height before they know their width, which leaves tall gaps
// under short lines; lines gives each line the width first.
type lines struct{ width float32 }

func (l *lines) height(o fyne.CanvasObject) float32 {
	if l.width > 0 && o.Size().Width != l.width {
		o.Resize(fyne.NewSize(l.width, o.MinSize().Height))
	}
	return o.MinSize().Height
}

func (l *lines) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	l.width = size.Width
	y := float32(0)
	for _, o := range objs {
		if !o.Visible() {
			continue
		}
		h := l.height(o)
		o.Move(fyne.NewPos(0, y))
		o.Resize(fyne.NewSize(size.Width, h))
		y += h + theme.Padding()
	}
}

func (l *lines) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var w, h float32
	n := 0
	for _, o := range objs {
		if !o.Visible() {
			continue
		}
		w = max(w, o.MinSize().Width)
		h += l.height(o)
		n++
	}
	if n > 1 {
		h += float32(n-1) * theme.Padding()
	}
	return fyne.NewSize(w, h)
}

// Entries says what each entry of the panel shows, top to bottom: a line's
// text, a file's name and size, or a link's words (screen readers and
// tests read it).
func (c *Chat) Entries() []string {
	var out []string
	for _, o := range c.messages.Objects {
		box, ok := o.(*fyne.Container)
		if !ok || len(box.Objects) < 2 {
			continue
		}
		switch body := box.Objects[1].(type) {
		case *widget.Label:
			out = append(out, body.Text)
		case *fyne.Container:
			if len(body.Objects) == 0 {
				continue
			}
			switch first := body.Objects[0].(type) {
			case *widget.Button:
				out = append(out, first.Text)
			case *widget.Label:
				out = append(out, first.Text)
			default: // a picture; its caption follows
				if len(body.Objects) > 1 {
					if l, ok := body.Objects[1].(*widget.Label); ok {
						out = append(out, l.Text)
					}
				}
			}
		}
	}
	return out
}
