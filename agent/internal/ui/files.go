package ui

import (
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

// FilePolicy is what the relay lets customers send, as far as the window
// needs it.
type FilePolicy struct {
	Enabled            bool // customers may send files at all
	InvitationRequired bool // only after "Request files"
}

// sessionFiles is a session's files and their widgets.
type sessionFiles struct {
	all     map[string]File
	panel   *desktopui.FilesPanel
	request *widget.Button
	invite  *desktopui.InviteCountdown
	head    *fyne.Container
	box     *fyne.Container
	offers  map[string]*desktopui.OfferDialog // open questions, by group or file id
	// The files the customer sent, browsed (back, forward, pause) in a
	// window of their own: the session screen has no room for a preview.
	viewer  *desktopui.Viewer
	view    *widget.Button // opens it, once a file arrived
	viewWin fyne.Window
	policy  FilePolicy
	online  bool          // the customer is connected to an active session
	asked   *widget.Label // "You asked the customer for files", when no countdown applies
}

func newSessionFiles(sv *sessionView) *sessionFiles {
	w := sv.m.w
	id := sv.s.ID
	f := &sessionFiles{all: map[string]File{}, offers: map[string]*desktopui.OfferDialog{}}
	f.panel = desktopui.NewFilesPanel(desktopui.FileActions{
		SendFiles:  func() { w.pickFiles(id, false) },
		SendFolder: func() { w.pickFiles(id, true) },
		Answer:     w.answerFile,
		Cancel:     w.act.CancelFile,
		Open:       w.act.Open,
		Reveal:     w.act.Open,
		Save:       w.saveFile,
		Folder: func() string {
			if w.act.Folder == nil {
				return ""
			}
			return w.act.Folder(id)
		},
	}, "No files yet. Drop files on this window to send them to the customer.")
	f.request = widget.NewButtonWithIcon("Request files", theme.DownloadIcon(), func() {
		if w.act.RequestFiles != nil {
			w.act.RequestFiles(id)
		}
	})
	f.invite = desktopui.NewInviteCountdown("The customer may send files")
	f.invite.Now = func() time.Time { return w.Now() }
	f.invite.Hide()
	f.asked = quiet("You asked the customer for files.")
	f.asked.Hide()
	settings := toolbarButton("Receiving…", theme.SettingsIcon(), w.showFileSettings)
	f.viewer = desktopui.NewViewer(w.act.Open)
	f.view = toolbarButton("View received", theme.VisibilityIcon(), func() { w.showReceived(sv) })
	f.view.Disable()
	f.head = container.NewVBox(container.NewBorder(nil, nil, bold("Files"), container.NewHBox(f.view, f.request, settings)), f.invite, f.asked)
	f.box = container.NewBorder(f.head, nil, nil, nil, f.panel.Object())
	f.applyPolicy(w.policy)
	return f
}

// applyPolicy sets up "Request files", the one way to ask a customer for
// files: always there, and off only when the relay takes no files from
// customers at all. With a policy that needs an invitation, asking starts
// one, with its countdown.
func (f *sessionFiles) applyPolicy(p FilePolicy) {
	f.policy = p
	f.applyRequest()
}

// setOnline says whether the customer is connected (asking needs them).
func (f *sessionFiles) setOnline(on bool) {
	f.online = on
	if !on {
		f.asked.Hide() // a request asked of a connection that is gone
	}
	f.applyRequest()
}

func (f *sessionFiles) applyRequest() {
	if f.policy.Enabled && f.online {
		f.request.Enable()
	} else {
		f.request.Disable()
	}
}

// SetFilePolicy says what customers may send (from the relay, at sign-in).
func (w *Window) SetFilePolicy(p FilePolicy) {
	w.policy = p
	if w.main == nil {
		return
	}
	for _, sv := range w.main.order {
		sv.files.applyPolicy(p)
	}
}

// PutFile shows a file of a session, new or changed: in the session's
// files, in its chat, and as a question when the customer offers one.
func (w *Window) PutFile(session string, f File) { w.putFile(session, f, true) }

// LoadFiles shows a session's files as they were when the console started:
// open offers are asked, but nothing counts as new.
func (w *Window) LoadFiles(session string, files []File) {
	for _, f := range files {
		w.putFile(session, f, false)
	}
	// The chat had the history first; in time order, files go between.
	if sv := w.sessionView(session); sv != nil && w.act.History != nil {
		shown := make([]File, 0, len(sv.files.all))
		for _, f := range sv.files.all {
			shown = append(shown, f)
		}
		links := make([]Link, 0, len(sv.links))
		for _, l := range sv.links {
			links = append(links, l)
		}
		sv.chat.ShowAll(w.act.History(session), shown, links, w.act.Open, w.linkActions(sv))
	}
}

func (w *Window) sessionView(id string) *sessionView {
	if w.main == nil {
		return nil
	}
	return w.main.byID[id]
}

func (w *Window) putFile(session string, f File, live bool) {
	m := w.main
	if m == nil || m.byID[session] == nil {
		return
	}
	sv := m.byID[session]
	old, known := sv.files.all[f.ID]
	if f.At.IsZero() {
		f.At = old.At
		if !known {
			f.At = w.Now()
		}
	}
	sv.files.all[f.ID] = f
	sv.files.panel.Put(f)
	sv.chat.PutFile(f, w.act.Open)
	if !f.Incoming() {
		return
	}
	key := offerKey(f)
	if known && old.State == "offered" && f.State != "offered" {
		if o := sv.files.offers[key]; o != nil { // answered elsewhere, or stopped
			o.Remove(f.ID)
		}
	}
	newOffer := f.State == "offered" && (!known || old.State != "offered")
	arrived := f.State == "done" && (!known || old.State != "done")
	if arrived {
		sv.files.viewer.Add(f)
		sv.files.view.Enable()
	}
	asked := false
	if newOffer {
		asked = w.askFile(sv, f)
	}
	if !live || !(asked || arrived) {
		return // a folder's further files are part of the question already
	}
	if w.foreground && m.current == sv {
		return
	}
	sv.unread++
	m.refresh()
	if w.prefs.Notify && asked {
		w.act.Notify(f.Peer+" wants to send you files", f.Name+" ("+desktopui.Size(f.Size)+")")
	}
}

// showReceived shows the window that browses the files a session's
// customer sent.
func (w *Window) showReceived(sv *sessionView) {
	f := sv.files
	if f.viewWin == nil {
		who := sv.s.Customer
		if who == "" {
			who = "the customer"
		}
		f.viewWin = fyne.CurrentApp().NewWindow("Files from " + who)
		f.viewWin.SetIcon(Icon)
		f.viewWin.SetContent(f.viewer.Object())
		f.viewWin.Resize(fyne.NewSize(720, 560))
		f.viewWin.SetCloseIntercept(f.viewWin.Hide) // it keeps its place
	}
	f.viewWin.Show()
	f.viewWin.RequestFocus()
}

// closeViewers closes the windows of received files (signing out).
func (m *mainView) closeViewers() {
	for _, sv := range m.byID {
		if sv.files.viewWin != nil {
			sv.files.viewWin.Close()
			sv.files.viewWin = nil
		}
	}
}

func offerKey(f File) string {
	if f.Group != "" {
		return f.Group
	}
	return f.ID
}

// askFile puts a customer's offer to the agent, one question per folder;
// it reports whether it opened a new question.
func (w *Window) askFile(sv *sessionView, f File) bool {
	key := offerKey(f)
	if o := sv.files.offers[key]; o != nil && !o.Closed() {
		o.Add(f)
		return false
	}
	sv.files.offers[key] = w.dialogs.Offer([]File{f}, func(files []File, decision string) {
		delete(sv.files.offers, key)
		for _, x := range files {
			w.answerFile(x.ID, decision)
		}
	})
	return true
}

func (w *Window) answerFile(id, decision string) {
	if w.act.AnswerFile != nil {
		w.act.AnswerFile(id, decision)
	}
}

// SetInvitation shows that the agent asked a session's customer for files
// (at from): when the policy needs an invitation, with a countdown to
// until.
func (w *Window) SetInvitation(session string, from, until time.Time) {
	if w.main == nil || w.main.byID[session] == nil {
		return
	}
	f := w.main.byID[session].files
	if f.policy.InvitationRequired {
		f.invite.Set(from, until)
		f.invite.Show()
	} else {
		f.asked.Show() // files are welcome anyway: no countdown to show
	}
	f.request.SetText("Request again")
	f.box.Refresh() // lay the countdown out now that it shows
}

// tickFiles moves the invitation countdowns on.
func (sv *sessionView) tickFiles() {
	if sv.files.invite.Visible() {
		sv.files.invite.Tick()
	}
}

// pickFiles lets the agent choose a file (or folder) to send in a session.
func (w *Window) pickFiles(session string, folder bool) {
	send := func(path string) {
		if w.act.SendFiles != nil {
			w.act.SendFiles(session, []string{path})
		}
	}
	var d dialog.Dialog
	if folder {
		d = dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
			if err == nil && u != nil {
				send(u.Path())
			}
		}, w.win)
	} else {
		d = dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
			if err == nil && r != nil {
				path := r.URI().Path()
				r.Close()
				send(path)
			}
		}, w.win)
	}
	w.dialogs.Show(d)
	d.Resize(fyne.NewSize(860, 560))
}

// saveFile saves a copy of a file the customer sent in a folder the agent
// chooses (under its name, numbered if the folder has one). A folder, not
// a save dialog: Fyne's save dialog empties the file it is given before
// the copy starts, which could be the received file itself.
func (w *Window) saveFile(f File) {
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil {
			w.ShowError("File not saved", err.Error())
			return
		}
		if u != nil && w.act.SaveAs != nil {
			w.act.SaveAs(f.Path, u.Path())
		}
	}, w.win)
	w.dialogs.Show(d)
	d.Resize(fyne.NewSize(860, 560))
}

// dropped sends files dropped on the window to the session in front.
func (w *Window) dropped(_ fyne.Position, uris []fyne.URI) {
	m := w.main
	if m == nil || m.current == nil || w.act.SendFiles == nil {
		return
	}
	if m.current.s.State == Ended {
		w.ShowError("Files not sent", "This session has ended.")
		return
	}
	var paths []string
	for _, u := range uris {
		if u.Scheme() == "file" {
			paths = append(paths, u.Path())
		}
	}
	if len(paths) > 0 {
		w.act.SendFiles(m.current.s.ID, paths)
	}
}

func (w *Window) showFileSettings() {
	if w.act.Receiving == nil {
		return
	}
	on, trusts, linkTrusts := w.act.Receiving()
	if w.main != nil {
		for _, sv := range w.main.order { // everyone who sent files or links can be set
			for _, f := range sv.files.all {
				if _, ok := trusts[f.Peer]; f.Incoming() && f.Peer != "" && !ok {
					trusts[f.Peer] = ""
				}
			}
			for _, l := range sv.links {
				if _, ok := linkTrusts[l.Peer]; l.Dir == "in" && l.Peer != "" && !ok {
					linkTrusts[l.Peer] = ""
				}
			}
		}
	}
	setLinkTrust := w.act.SetLinkTrust
	if setLinkTrust == nil {
		setLinkTrust = func(string, string) {}
	}
	w.dialogs.FileSettings(on, trusts, linkTrusts, w.act.SetReceiving, w.act.SetTrust, setLinkTrust)
}
