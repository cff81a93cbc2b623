package ui

import (
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui"
)

// File is one file transfer to show.
type File = desktopui.File

// filesState is the session's files as the window shows them: every file
// it was told of (kept across a reconnect, which rebuilds the screen), and
// the widgets of the session screen while it is up.
type filesState struct {
	all    map[string]File
	order  []string
	sendOK bool   // the agent accepts files now
	why    string // why not, when not
	from   time.Time
	until  time.Time // the invitation's end, if one was given

	panel  *desktopui.FilesPanel
	viewer *desktopui.Viewer
	tabs   *container.AppTabs
	tab    *container.TabItem
	invite *desktopui.InviteCountdown
	bar    *fyne.Container
	// The invitation where the customer looks: above the chat, with its
	// countdown (when the agent's policy needs one) and a send button.
	askBar    *fyne.Container
	askText   *widget.Label
	askCount  *desktopui.InviteCountdown
	countdown bool                              // the invitation has a countdown
	unseen    map[string]bool                   // files that came in while the tab was not shown, by id
	offers    map[string]*desktopui.OfferDialog // open offer questions, by group (or file id)
}

func (s *filesState) leave(win fyne.Window) {
	s.panel, s.viewer, s.tabs, s.tab, s.invite, s.bar = nil, nil, nil, nil, nil, nil
	s.askBar, s.askText, s.askCount = nil, nil, nil
	s.offers = nil // leaveSession closed their dialogs
	win.SetOnDropped(nil)
}

// showHistory fills the chat with the history and the files so far, in
// time order.
func (w *Window) showHistory(history []Message) {
	files := make([]File, 0, len(w.files.order))
	for _, id := range w.files.order {
		files = append(files, w.files.all[id])
	}
	w.chat.ShowAll(history, files, w.shownLinks(), w.open, w.linkActions())
	w.askNewLinks()
}

func (w *Window) open(path string) {
	if w.act.Open != nil {
		w.act.Open(path)
	}
}

// sessionTabs is the session screen's body: the chat, and the files with a
// viewer for what arrived.
func (w *Window) sessionTabs() fyne.CanvasObject {
	s := &w.files
	s.panel = desktopui.NewFilesPanel(desktopui.FileActions{
		SendFiles: w.pickFiles, SendFolder: w.pickFolder, Answer: w.answer, Cancel: w.act.CancelFile,
		Open: w.act.Open, Reveal: w.act.Open, Folder: w.folder,
	}, "No files yet. Files the agent sends you appear here; you decide whether to accept each one.")
	s.viewer = desktopui.NewViewer(w.open)
	s.invite = desktopui.NewInviteCountdown("You may send files")
	s.invite.Hide()
	settings := widget.NewButtonWithIcon("Receiving…", theme.SettingsIcon(), w.showFileSettings)
	settings.Importance = widget.LowImportance
	s.bar = container.NewBorder(nil, nil, nil, settings, s.invite)
	bar := s.bar
	split := container.NewHSplit(s.panel.Object(), s.viewer.Object())
	split.Offset = 0.55
	s.askText = widget.NewLabel("")
	s.askText.Wrapping = fyne.TextWrapWord
	s.askText.TextStyle = fyne.TextStyle{Bold: true}
	s.askCount = desktopui.NewInviteCountdown("You may send files")
	send := widget.NewButtonWithIcon("Send files…", theme.UploadIcon(), w.pickFiles)
	send.Importance = widget.HighImportance
	s.askBar = container.NewVBox(container.NewBorder(nil, nil, nil, container.NewCenter(send), s.askText), s.askCount, widget.NewSeparator())
	s.askBar.Hide()
	chatTab := container.NewTabItemWithIcon("Chat", theme.MailComposeIcon(), container.NewBorder(s.askBar, nil, nil, nil, w.chat.Object()))
	s.tab = container.NewTabItemWithIcon("Files", theme.FolderIcon(), container.NewBorder(bar, nil, nil, nil, split))
	s.tabs = container.NewAppTabs(chatTab, s.tab)
	s.tabs.OnSelected = func(t *container.TabItem) {
		if t == s.tab {
			clear(s.unseen)
			w.refreshFilesTab()
		}
	}
	if s.offers == nil { // a reconnect rebuilds the screen; open questions stay
		s.offers = map[string]*desktopui.OfferDialog{}
	}
	for _, id := range s.order {
		f := s.all[id]
		s.panel.Put(f)
		if f.Incoming() && f.State == "done" {
			s.viewer.Add(f)
		}
	}
	w.applySending()
	if !s.until.IsZero() && time.Now().Before(s.until) { // one that ran out is not shown again
		w.SetInvitation(s.from, s.until, s.countdown)
	}
	w.win.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) {
		var paths []string
		for _, u := range uris {
			if u.Scheme() == "file" {
				paths = append(paths, u.Path())
			}
		}
		w.sendPaths(paths)
	})
	return s.tabs
}

func (w *Window) folder() string {
	if w.act.Folder == nil {
		return ""
	}
	return w.act.Folder()
}

func (w *Window) refreshFilesTab() {
	s := &w.files
	if s.tab == nil {
		return
	}
	text := "Files"
	if len(s.unseen) > 0 {
		text = fmt.Sprintf("Files (%d)", len(s.unseen))
	}
	if s.tab.Text != text {
		s.tab.Text = text
		s.tabs.Refresh()
	}
}

// PutFile shows a file, new or changed: in the files panel, in the chat,
// in the viewer once it arrived, and as a question when it is offered.
func (w *Window) PutFile(f File) {
	s := &w.files
	if s.all == nil {
		s.all = map[string]File{}
	}
	old, known := s.all[f.ID]
	if !known {
		s.order = append(s.order, f.ID)
		if f.At.IsZero() {
			f.At = time.Now()
		}
	} else if f.At.IsZero() {
		f.At = old.At
	}
	s.all[f.ID] = f
	if s.panel == nil {
		return // not on the session screen; shown when it is back
	}
	s.panel.Put(f)
	if w.chat != nil {
		w.chat.PutFile(f, w.open)
	}
	arrived := f.Incoming() && f.State == "done" && (!known || old.State != "done")
	if arrived {
		s.viewer.Add(f)
	}
	if (arrived || (f.Incoming() && f.State == "offered" && !known)) && s.tabs.Selected() != s.tab {
		if s.unseen == nil {
			s.unseen = map[string]bool{}
		}
		s.unseen[f.ID] = true // offered, then arrived: still one file
		w.refreshFilesTab()
	}
	if f.Incoming() && f.State == "offered" && (!known || old.State != "offered") {
		w.ask(f)
	}
	if f.Incoming() && known && old.State == "offered" && f.State != "offered" {
		if o := s.offers[offerKey(f)]; o != nil { // answered elsewhere, or stopped
			o.Remove(f.ID)
		}
	}
}

func offerKey(f File) string {
	if f.Group != "" {
		return f.Group
	}
	return f.ID
}

// ask puts an offer to the person: one question for a folder's files.
func (w *Window) ask(f File) {
	s := &w.files
	key := offerKey(f)
	if o := s.offers[key]; o != nil && !o.Closed() {
		o.Add(f)
		return
	}
	s.offers[key] = w.dialogs.Offer([]File{f}, func(files []File, decision string) {
		delete(s.offers, key)
		for _, x := range files {
			w.answer(x.ID, decision)
		}
	})
}

func (w *Window) answer(id, decision string) {
	if w.act.AnswerFile != nil {
		w.act.AnswerFile(id, decision)
	}
}

// SetSending says whether the agent accepts files from the customer now,
// and if not, why (shown when the customer tries).
func (w *Window) SetSending(ok bool, why string) {
	w.files.sendOK, w.files.why = ok, why
	w.applySending()
}

func (w *Window) applySending() {
	s := &w.files
	if s.panel == nil {
		return
	}
	s.panel.SetSending(s.sendOK)
	if s.sendOK && w.chat != nil {
		w.chat.SetAttach(w.pickFiles)
	} else if w.chat != nil {
		w.chat.SetAttach(nil)
	}
}

// SetInvitation shows that the agent asked for files (at from, until
// until): above the chat, where the customer is looking, with a send
// button, and in the Files tab. countdown says the agent's policy needs the
// invitation: then both show the time left, and the invitation goes when
// it runs out.
func (w *Window) SetInvitation(from, until time.Time, countdown bool) {
	s := &w.files
	s.from, s.until, s.countdown = from, until, countdown
	if s.invite == nil {
		return
	}
	s.askText.SetText(w.agent + " asks you for files.")
	if countdown {
		s.invite.Set(from, until)
		s.invite.Show()
		s.askCount.Set(from, until)
		s.askCount.Show()
	} else {
		s.invite.Hide()
		s.askCount.Hide()
	}
	s.askBar.Show()
	s.tabs.Refresh()
	s.tab.Content.Refresh() // lay the countdown out now that it shows
}

// Tick moves the invitation countdowns on; the bridge calls it every
// second. Above the chat, an invitation that has run out goes.
func (w *Window) Tick() {
	s := &w.files
	if s.invite != nil && s.invite.Visible() {
		s.invite.Tick()
	}
	if s.askBar != nil && s.askBar.Visible() {
		s.askCount.Tick()
		if !s.askCount.Now().Before(s.until) {
			s.askBar.Hide()
		}
	}
}

func (w *Window) sendPaths(paths []string) {
	if len(paths) == 0 || w.act.SendFiles == nil {
		return
	}
	if !w.files.sendOK {
		why := w.files.why
		if why == "" {
			why = "The agent does not accept files right now."
		}
		w.dialogs.Information("Files not sent", why)
		return
	}
	w.act.SendFiles(paths)
}

func (w *Window) pickFiles() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		path := r.URI().Path()
		r.Close()
		w.sendPaths([]string{path})
	}, w.win)
	w.dialogs.Show(d)
	d.Resize(fyne.NewSize(760, 520))
}

func (w *Window) pickFolder() {
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil || u == nil {
			return
		}
		w.sendPaths([]string{u.Path()})
	}, w.win)
	w.dialogs.Show(d)
	d.Resize(fyne.NewSize(760, 520))
}

func (w *Window) showFileSettings() {
	if w.act.Receiving == nil {
		return
	}
	on, trusts, linkTrusts := w.act.Receiving()
	for _, id := range w.files.order { // everyone who sent files or links can be set
		if f := w.files.all[id]; f.Incoming() && f.Peer != "" {
			if _, ok := trusts[f.Peer]; !ok {
				trusts[f.Peer] = ""
			}
		}
	}
	for _, l := range w.shownLinks() {
		if _, ok := linkTrusts[l.Peer]; l.Dir == "in" && l.Peer != "" && !ok {
			linkTrusts[l.Peer] = ""
		}
	}
	setLinkTrust := w.act.SetLinkTrust
	if setLinkTrust == nil {
		setLinkTrust = func(string, string) {}
	}
	w.dialogs.FileSettings(on, trusts, linkTrusts, w.act.SetReceiving, w.act.SetTrust, setLinkTrust)
}

// askKeepFiles asks, at the end of a session, whether to keep the files
// that arrived in it.
func (w *Window) askKeepFiles() {
	n := 0
	for _, id := range w.files.order {
		if f := w.files.all[id]; f.Incoming() && f.State == "done" && !f.Deduped {
			n++
		}
	}
	if n == 0 || w.act.KeepFiles == nil {
		return
	}
	what := "the file"
	if n > 1 {
		what = fmt.Sprintf("the %d files", n)
	}
	var dlg *dialog.CustomDialog
	keep := w.dialogs.Button("Keep them", theme.ConfirmIcon(), func() {
		dlg.Hide()
		w.act.KeepFiles(true)
	})
	keep.Importance = widget.HighImportance
	del := w.dialogs.Button("Delete them", theme.DeleteIcon(), func() {
		dlg.Hide()
		w.act.KeepFiles(false)
	})
	del.Importance = widget.DangerImportance
	msg := desktopui.Wrapped(fmt.Sprintf("Keep %s you received in this session? They are in %s.", what, w.folder()))
	dlg = dialog.NewCustomWithoutButtons("Files from this session", desktopui.Column(420, msg), w.win)
	dlg.SetButtons([]fyne.CanvasObject{del, keep})
	w.dialogs.Show(dlg) // Escape keeps them: nothing is deleted unasked
}
