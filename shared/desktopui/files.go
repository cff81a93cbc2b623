package desktopui

import (
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/transfer"
)

// File is one file transfer as a window shows it (from package transfer,
// through the app's bridge).
type File struct {
	ID          string
	Name        string // relative, "/"-separated
	Peer        string // who sends it (In) or gets it (Out)
	Dir         string // "in" or "out"
	State       string // transfer states: offered, accepted, sending, waiting, done, refused, failed, cancelled
	Why         string
	Path        string // In, done: the received file; Out: the file sent
	ContentType string
	Group       string
	Size, Done  int64
	Rate        float64       // bytes per second while moving
	Left        time.Duration // estimated, while moving
	At          time.Time
	Deduped     bool
}

// Incoming says whether this side receives f.
func (f File) Incoming() bool { return f.Dir == "in" }

// Final says whether nothing more happens to f.
func (f File) Final() bool {
	switch f.State {
	case "done", "refused", "failed", "cancelled":
		return true
	}
	return false
}

// IsImage says whether f can be shown as a picture.
func (f File) IsImage() bool {
	if strings.HasPrefix(f.ContentType, "image/") && !strings.Contains(f.ContentType, "svg") {
		return true
	}
	switch strings.ToLower(filepath.Ext(f.Name)) {
	case ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp":
		return true
	}
	return false
}

// IsText says whether f can be shown as text.
func (f File) IsText() bool {
	ct := f.ContentType
	if strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") || strings.Contains(ct, "xml") {
		return true
	}
	switch strings.ToLower(filepath.Ext(f.Name)) {
	case ".txt", ".log", ".md", ".csv", ".json", ".xml", ".ini", ".conf", ".yaml", ".yml":
		return true
	}
	return false
}

// Size says a number of bytes for a person: "512 B", "4.0 KB", "25 MB".
func Size(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n), ""
	for _, s := range []string{"KB", "MB", "GB", "TB"} {
		v /= unit
		u = s
		if v < unit {
			break
		}
	}
	if v < 10 {
		return fmt.Sprintf("%.1f %s", v, u)
	}
	return fmt.Sprintf("%.0f %s", v, u)
}

// percent is how much of f has moved, 0 to 100.
func percent(f File) int {
	if f.Size <= 0 {
		return 100
	}
	return int(f.Done * 100 / f.Size)
}

// FileStatus says where a file is, in the words a person reads: for one
// arriving, "Transferring NAME from SENDER, x% of y MB received".
func FileStatus(f File) string {
	name := filepath.Base(f.Name)
	size := Size(f.Size)
	pace := ""
	if f.Rate > 0 {
		pace = " · " + Size(int64(f.Rate)) + "/s"
		if f.Left > 0 {
			pace += " · " + Countdown(f.Left) + " left"
		}
	}
	why := Sentence(f.Why)
	if f.Incoming() {
		switch f.State {
		case "offered":
			return fmt.Sprintf("%s offers %s (%s). Accept or refuse it.", f.Peer, name, size)
		case "accepted":
			return fmt.Sprintf("Accepted; %s from %s starts in a moment.", name, f.Peer)
		case "sending":
			return fmt.Sprintf("Transferring %s from %s, %d%% of %s received%s", name, f.Peer, percent(f), size, pace)
		case "waiting":
			return fmt.Sprintf("Paused at %d%% of %s: continues when %s is connected again.", percent(f), size, f.Peer)
		case "done":
			if f.Deduped {
				return fmt.Sprintf("From %s · %s · you had this file already; it was not sent again.", f.Peer, size)
			}
			return fmt.Sprintf("Received from %s · %s", f.Peer, size)
		case "refused":
			return "Refused. " + why
		case "failed":
			return "Not received. " + why
		case "cancelled":
			return "Stopped. " + why
		}
		return f.State
	}
	switch f.State {
	case "offered":
		return fmt.Sprintf("Offered to %s (%s); waiting for their answer.", peerOr(f.Peer), size)
	case "accepted", "sending":
		return fmt.Sprintf("Sending %s to %s, %d%% of %s sent%s", name, peerOr(f.Peer), percent(f), size, pace)
	case "waiting":
		return fmt.Sprintf("Paused at %d%% of %s: continues when %s is connected again.", percent(f), size, peerOr(f.Peer))
	case "done":
		if f.Deduped {
			return fmt.Sprintf("Sent · %s · %s had it already; no bytes were sent again.", size, peerOr(f.Peer))
		}
		return fmt.Sprintf("Sent to %s · %s", peerOr(f.Peer), size)
	case "refused":
		return "Refused. " + why
	case "failed":
		return "Not sent. " + why
	case "cancelled":
		return "Stopped. " + why
	}
	return f.State
}

func peerOr(p string) string {
	if p == "" {
		return "the other side"
	}
	return p
}

// Sentence makes a reason from the logic ("the agent ended the session")
// read as a sentence: a capital first, a full stop last.
func Sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, ")") {
		s += "."
	}
	return s
}

// FileActions are what the files panel asks the app to do. A nil action
// has no button.
type FileActions struct {
	SendFiles  func()                    // pick files to send
	SendFolder func()                    // pick a folder to send
	Answer     func(id, decision string) // accept, accept_all, refuse, refuse_always
	Cancel     func(id string)
	Open       func(path string) // with its default program
	Reveal     func(path string) // show the file or folder in the file manager
	Save       func(f File)      // save a received file elsewhere
	Folder     func() string     // the session's download folder, "" while none
}

// FilesPanel lists a session's files, newest at the bottom, with what can
// be done with each: answer an offer (a double click accepts), stop one
// that moves, open or show one that arrived.
type FilesPanel struct {
	act      FileActions
	rows     map[string]*fileRow
	list     *fyne.Container
	empty    *widget.Label
	openDir  *widget.Button
	sendBtns []*widget.Button
	obj      fyne.CanvasObject
}

// NewFilesPanel makes an empty files panel.
func NewFilesPanel(act FileActions, emptyText string) *FilesPanel {
	p := &FilesPanel{act: act, rows: map[string]*fileRow{}}
	p.empty = widget.NewLabel(emptyText)
	p.empty.Importance = widget.LowImportance
	p.empty.Wrapping = fyne.TextWrapWord
	p.list = container.New(&lines{}, p.empty)
	var bar []fyne.CanvasObject
	if act.SendFiles != nil {
		b := widget.NewButtonWithIcon("Send files…", theme.UploadIcon(), act.SendFiles)
		p.sendBtns = append(p.sendBtns, b)
		bar = append(bar, b)
	}
	if act.SendFolder != nil {
		b := widget.NewButtonWithIcon("Send a folder…", theme.FolderIcon(), act.SendFolder)
		p.sendBtns = append(p.sendBtns, b)
		bar = append(bar, b)
	}
	if act.Reveal != nil && act.Folder != nil {
		p.openDir = widget.NewButtonWithIcon("Open folder", theme.FolderOpenIcon(), func() {
			if f := act.Folder(); f != "" {
				act.Reveal(f)
			}
		})
		p.openDir.Importance = widget.LowImportance
		bar = append(bar, layout.NewSpacer(), p.openDir)
	}
	p.refreshFolder()
	top := container.NewHBox(bar...)
	p.obj = container.NewBorder(top, nil, nil, nil, container.NewVScroll(p.list))
	return p
}

// Object is the panel to put on screen.
func (p *FilesPanel) Object() fyne.CanvasObject { return p.obj }

// SetSending enables or disables the send buttons.
func (p *FilesPanel) SetSending(ok bool) {
	for _, b := range p.sendBtns {
		if ok {
			b.Enable()
		} else {
			b.Disable()
		}
	}
}

func (p *FilesPanel) refreshFolder() {
	if p.openDir == nil {
		return
	}
	if p.act.Folder() == "" {
		p.openDir.Disable()
	} else {
		p.openDir.Enable()
	}
}

// Put shows a file, new or changed.
func (p *FilesPanel) Put(f File) {
	r := p.rows[f.ID]
	if r == nil {
		if p.empty != nil {
			p.list.Remove(p.empty)
			p.empty = nil
		}
		r = newFileRow(p)
		p.rows[f.ID] = r
		p.list.Add(r)
	}
	r.set(f)
	p.refreshFolder()
	p.list.Refresh()
}

// Len is the number of files shown.
func (p *FilesPanel) Len() int { return len(p.rows) }

// fileRow is one file in the panel.
type fileRow struct {
	widget.BaseWidget
	p       *FilesPanel
	f       File
	icon    *widget.Icon
	name    *widget.Label
	status  *widget.Label
	bar     *widget.ProgressBar
	buttons *fyne.Container
	box     fyne.CanvasObject
}

func newFileRow(p *FilesPanel) *fileRow {
	r := &fileRow{p: p}
	r.icon = widget.NewIcon(theme.FileIcon())
	r.name = widget.NewLabel("")
	r.name.TextStyle = fyne.TextStyle{Bold: true}
	r.name.Truncation = fyne.TextTruncateEllipsis
	r.status = widget.NewLabel("")
	r.status.Wrapping = fyne.TextWrapWord
	r.status.Importance = widget.LowImportance
	r.bar = widget.NewProgressBar()
	r.buttons = container.NewHBox()
	text := container.New(layout.NewCustomPaddedVBoxLayout(-theme.Padding()), r.name, r.status, r.bar)
	r.box = container.NewBorder(nil, widget.NewSeparator(), container.NewCenter(r.icon), container.NewCenter(r.buttons), text)
	r.ExtendBaseWidget(r)
	return r
}

func (r *fileRow) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(r.box) }

// DoubleTapped accepts an offer (as in the messenger the product follows).
func (r *fileRow) DoubleTapped(*fyne.PointEvent) {
	if r.f.Incoming() && r.f.State == "offered" && r.p.act.Answer != nil {
		r.p.act.Answer(r.f.ID, "accept")
	}
}

func (r *fileRow) set(f File) {
	old := r.f
	r.f = f
	r.name.SetText(f.Name)
	r.status.SetText(FileStatus(f))
	switch {
	case f.IsImage():
		r.icon.SetResource(theme.FileImageIcon())
	case f.IsText():
		r.icon.SetResource(theme.FileTextIcon())
	default:
		r.icon.SetResource(theme.FileIcon())
	}
	switch f.State {
	case "failed", "refused":
		r.status.Importance = widget.DangerImportance
	case "waiting":
		r.status.Importance = widget.WarningImportance
	default:
		r.status.Importance = widget.LowImportance
	}
	r.status.Refresh()
	if f.State == "sending" || f.State == "waiting" || f.State == "accepted" {
		r.bar.SetValue(float64(percent(f)) / 100)
		r.bar.Show()
	} else {
		r.bar.Hide()
	}
	if old.State != f.State || old.Path != f.Path {
		r.buttons.Objects = r.actions()
		r.buttons.Refresh()
	}
}

// actions are the buttons for the file's state.
func (r *fileRow) actions() []fyne.CanvasObject {
	f, act := r.f, r.p.act
	var out []fyne.CanvasObject
	add := func(label string, icon fyne.Resource, imp widget.Importance, do func()) {
		b := widget.NewButtonWithIcon(label, icon, do)
		b.Importance = imp
		out = append(out, b)
	}
	switch {
	case f.Incoming() && f.State == "offered" && act.Answer != nil:
		add("Accept", theme.ConfirmIcon(), widget.HighImportance, func() { act.Answer(f.ID, "accept") })
		add("Refuse", theme.CancelIcon(), widget.MediumImportance, func() { act.Answer(f.ID, "refuse") })
	case !f.Final() && act.Cancel != nil:
		add("Stop", theme.MediaStopIcon(), widget.MediumImportance, func() { act.Cancel(f.ID) })
	case f.State == "done" && f.Path != "":
		if act.Open != nil {
			add("Open", theme.MediaPlayIcon(), widget.MediumImportance, func() { act.Open(f.Path) })
		}
		if act.Reveal != nil {
			add("", theme.FolderOpenIcon(), widget.LowImportance, func() { act.Reveal(f.Path) })
		}
		if f.Incoming() && act.Save != nil {
			add("Save as…", theme.DocumentSaveIcon(), widget.LowImportance, func() { act.Save(f) })
		}
	}
	return out
}

// OfferDialog is an open question about offered files.
type OfferDialog struct {
	files   []File
	details *widget.Label
	hide    func()
	closed  bool
}

// Offer asks about an offered file, or a folder of them (files that share a
// Group): accept this, accept all future files from the sender, refuse
// this, refuse always. answer gets the decision for every file the dialog
// holds when it is answered (Add brings more of a folder in). Closing the
// dialog (Escape, "Decide later") leaves the offers open in the files panel.
func (d *Dialogs) Offer(files []File, answer func(files []File, decision string)) *OfferDialog {
	o := &OfferDialog{files: files}
	f := files[0]
	this, title := "this file", f.Peer+" wants to send you a file"
	if f.Group != "" || len(files) > 1 {
		this, title = "these files", f.Peer+" wants to send you files"
	}
	choose := func(decision string) func() {
		return func() {
			o.hide()
			answer(o.files, decision)
		}
	}
	accept := d.Button("Accept "+this, theme.ConfirmIcon(), choose("accept"))
	accept.Importance = widget.HighImportance
	all := d.Button("Accept all future files from "+f.Peer, theme.ConfirmIcon(), choose("accept_all"))
	refuse := d.Button("Refuse "+this, theme.CancelIcon(), choose("refuse"))
	never := d.Button("Refuse always from "+f.Peer, theme.CancelIcon(), choose("refuse_always"))
	never.Importance = widget.DangerImportance
	o.details = widget.NewLabel("")
	o.details.TextStyle = fyne.TextStyle{Bold: true}
	o.details.Wrapping = fyne.TextWrapWord
	o.describe()
	note := Wrapped("Files go to this session's download folder. What happens to files from " + f.Peer + " can be changed later, in the receiving settings.")
	note.Importance = widget.LowImportance
	body := container.NewVBox(o.details, note, accept, all, refuse, never)
	dlg := d.Custom(title, "Decide later", Column(460, body))
	dlg.SetOnClosed(func() { o.closed = true }) // Fyne keeps the earlier callbacks too
	o.hide = dlg.Hide
	return o
}

// Closed says whether the dialog is gone (answered, or left for later).
func (o *OfferDialog) Closed() bool { return o.closed }

// Remove takes a file out of the question (answered elsewhere, stopped by
// the sender); the dialog closes when none is left.
func (o *OfferDialog) Remove(id string) {
	o.files = slices.DeleteFunc(o.files, func(f File) bool { return f.ID == id })
	if len(o.files) == 0 {
		o.hide()
		return
	}
	o.describe()
}

// Add brings another file of the same folder into the question.
func (o *OfferDialog) Add(f File) {
	o.files = append(o.files, f)
	o.describe()
}

// Files are the offers the dialog holds.
func (o *OfferDialog) Files() []File { return o.files }

func (o *OfferDialog) describe() {
	f := o.files[0]
	if f.Group == "" && len(o.files) == 1 {
		text := fmt.Sprintf("%s · %s", filepath.Base(f.Name), Size(f.Size))
		if f.ContentType != "" {
			text += " · " + strings.SplitN(f.ContentType, ";", 2)[0]
		}
		o.details.SetText(text)
		return
	}
	var total int64
	for _, x := range o.files {
		total += x.Size
	}
	top, _, _ := strings.Cut(f.Name, "/")
	n := "1 file"
	if len(o.files) > 1 {
		n = fmt.Sprintf("%d files", len(o.files))
	}
	o.details.SetText(fmt.Sprintf("The folder %s · %s · %s", top, n, Size(total)))
}

// Viewer pages through received files, with a preview of pictures and
// text. New files are shown as they arrive, unless Pause is down: then the
// current file stays on screen and Forward reaches the new ones.
type Viewer struct {
	open    func(path string)
	files   []File
	at      int // index shown; -1: none
	paused  bool
	title   *widget.Label
	where   *widget.Label
	preview *fyne.Container
	back    *widget.Button
	fwd     *widget.Button
	pause   *widget.Button
	openBtn *widget.Button
	bar     *fyne.Container
	obj     fyne.CanvasObject
}

// NewViewer makes an empty viewer; open opens a file with its program.
func NewViewer(open func(path string)) *Viewer {
	v := &Viewer{open: open, at: -1}
	v.title = widget.NewLabel("No files received yet")
	v.title.TextStyle = fyne.TextStyle{Bold: true}
	v.title.Truncation = fyne.TextTruncateEllipsis
	v.where = widget.NewLabel("")
	v.where.Importance = widget.LowImportance
	v.preview = container.NewStack()
	v.back = widget.NewButtonWithIcon("Back", theme.NavigateBackIcon(), func() { v.show(v.at - 1) })
	v.fwd = widget.NewButtonWithIcon("Forward", theme.NavigateNextIcon(), func() { v.show(v.at + 1) })
	v.pause = widget.NewButtonWithIcon("Pause", theme.MediaPauseIcon(), func() { v.SetPaused(!v.paused) })
	v.openBtn = widget.NewButtonWithIcon("Open", theme.MediaPlayIcon(), func() {
		if v.at >= 0 {
			v.open(v.files[v.at].Path)
		}
	})
	v.bar = container.NewHBox(v.back, v.fwd, v.pause, layout.NewSpacer(), v.where, v.openBtn)
	v.obj = container.NewBorder(container.NewVBox(v.title, v.bar), nil, nil, nil, v.preview)
	v.refresh()
	return v
}

// Object is the viewer to put on screen.
func (v *Viewer) Object() fyne.CanvasObject { return v.obj }

// Add takes a received file; it is shown at once unless paused.
func (v *Viewer) Add(f File) {
	if slices.ContainsFunc(v.files, func(x File) bool { return x.ID == f.ID }) {
		return
	}
	v.files = append(v.files, f)
	if !v.paused || v.at < 0 {
		v.show(len(v.files) - 1)
		return
	}
	v.refresh()
}

// SetPaused holds the current file on screen (true) or goes back to
// showing each new file as it arrives.
func (v *Viewer) SetPaused(p bool) {
	v.paused = p
	if !p && len(v.files) > 0 {
		v.show(len(v.files) - 1)
		return
	}
	v.refresh()
}

// Current is the file shown, if any.
func (v *Viewer) Current() (File, bool) {
	if v.at < 0 {
		return File{}, false
	}
	return v.files[v.at], true
}

func (v *Viewer) show(i int) {
	if i < 0 || i >= len(v.files) {
		return
	}
	v.at = i
	f := v.files[i]
	v.title.SetText(f.Name)
	v.preview.Objects = []fyne.CanvasObject{preview(f)}
	v.preview.Refresh()
	v.refresh()
}

func (v *Viewer) refresh() {
	n := len(v.files)
	if v.at > 0 {
		v.back.Enable()
	} else {
		v.back.Disable()
	}
	if v.at < n-1 {
		v.fwd.Enable()
	} else {
		v.fwd.Disable()
	}
	if v.at >= 0 {
		v.openBtn.Enable()
		text := fmt.Sprintf("%d of %d", v.at+1, n)
		if newer := n - 1 - v.at; v.paused && newer > 0 {
			text += fmt.Sprintf(" · %d new", newer)
		}
		v.where.SetText(text)
	} else {
		v.openBtn.Disable()
		v.where.SetText("")
	}
	if v.paused {
		v.pause.SetText("Paused")
		v.pause.Importance = widget.HighImportance
	} else {
		v.pause.SetText("Pause")
		v.pause.Importance = widget.MediumImportance
	}
	v.pause.Refresh()
	if v.bar != nil {
		v.bar.Refresh() // the counter's width changes
	}
}

// preview shows a file: a picture, the start of a text, or a note.
func preview(f File) fyne.CanvasObject {
	switch {
	case f.Path == "":
	case f.IsImage():
		if img := picture(f, fyne.NewSize(320, 200), image.Pt(1600, 1000)); img != nil {
			return img
		}
	case f.IsText():
		if text, ok := readStart(f.Path, 32<<10); ok {
			l := widget.NewLabel(text)
			l.TextStyle = fyne.TextStyle{Monospace: true}
			l.Wrapping = fyne.TextWrapBreak
			return container.NewVScroll(l)
		}
	}
	note := Wrapped("No preview for this kind of file. Open shows it in its own program.")
	note.Importance = widget.LowImportance
	return container.NewCenter(container.NewVBox(container.NewCenter(widget.NewIcon(theme.FileIcon())), AtWidth(280, note)))
}

// readStart reads up to n bytes of a file as text; ok is false when it
// cannot be read or is not UTF-8.
func readStart(path string, n int) (string, bool) {
	fh, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer fh.Close()
	buf := make([]byte, n)
	k, _ := io.ReadFull(fh, buf)
	buf = buf[:k]
	for len(buf) > 0 && !utf8.Valid(buf) { // a character cut at the end
		buf = buf[:len(buf)-1]
	}
	if len(buf) == 0 && k > 0 {
		return "", false
	}
	text := string(buf)
	if k == n {
		text += "\n…"
	}
	return text, true
}

// SkippedText says what a sent folder held that was not sent (an
// EventSkipped), naming at most ten things.
func SkippedText(ev transfer.Event) string {
	what := "1 thing"
	if ev.Count != 1 {
		what = fmt.Sprintf("%d things", ev.Count)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s in %s %s not sent:", what, filepath.Base(ev.Folder), map[bool]string{true: "was", false: "were"}[ev.Count == 1])
	for i, s := range ev.Skipped {
		if i == 10 {
			break
		}
		fmt.Fprintf(&b, "\n• %s: %s", s.Name, s.Why)
	}
	if more := ev.Count - min(len(ev.Skipped), 10); more > 0 {
		fmt.Fprintf(&b, "\n…and %d more.", more)
	}
	return b.String()
}

// FromTransfer is a transfer as the windows show it; rate and left come
// from the latest progress report.
func FromTransfer(t transfer.Transfer, rate float64, left time.Duration) File {
	f := File{
		ID: t.ID, Name: t.Name, Peer: t.Peer, Dir: t.Dir, State: string(t.State), Why: t.Why,
		ContentType: t.ContentType, Group: t.Group, Size: t.Size, Done: t.Done, At: t.Created,
		Deduped: t.Deduped, Rate: rate, Left: left,
	}
	if t.Dir == transfer.In {
		f.Path = t.Path
	} else {
		f.Path = t.Source
	}
	if f.State != "sending" {
		f.Rate, f.Left = 0, 0
	}
	return f
}
