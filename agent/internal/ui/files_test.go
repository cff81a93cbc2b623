package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui"
)

func TestCustomerOffersAFile(t *testing.T) {
	w, win, r := signedIn(t)
	w.PutSession(active("a", "bob@laptop"))
	b := active("b", "carol@desk")
	b.Created = t0.Add(time.Minute)
	w.PutSession(b)
	w.OpenSession("a")
	w.OpenSession("b")

	// An offer in the session behind: asked, counted, notified.
	f := File{ID: "f1", Name: "screenshot.png", Peer: "bob@laptop", Dir: "in", State: "offered", Size: 2_400_000, ContentType: "image/png", At: t0}
	w.PutFile("a", f)
	looks(t, "file_offer.xml", win)
	if w.Unread("a") != 1 || len(r.notes) != 1 || r.notes[0][0] != "bob@laptop wants to send you files" {
		t.Fatalf("unread %d, notes %q", w.Unread("a"), r.notes)
	}
	test.Tap(button(t, overlay(t, win), "Accept this file"))
	if len(r.answers) != 1 || r.answers[0] != [2]string{"f1", "accept"} {
		t.Fatalf("answers %q", r.answers)
	}
	f.State, f.Done, f.Path = "done", f.Size, "/home/alice/Downloads/Porthole/Files from bob/screenshot.png"
	w.PutFile("a", f)
	w.OpenSession("a")
	looks(t, "session_files.xml", win)
	test.Tap(button(t, win.Content(), "Save as…"))
	if !dialogUp(win) {
		t.Fatal("Save as… did not ask where")
	}
	escape(win)
}

// The files a customer sent are browsed in a window of their own: back,
// forward and pause, as the customer's window does.
func TestViewReceivedFiles(t *testing.T) {
	w, win, r := signedIn(t)
	w.PutSession(active("a", "bob@laptop"))
	w.OpenSession("a")
	view := button(t, win.Content(), "View received")
	if !view.Disabled() {
		t.Fatal("View received works before anything arrived")
	}
	photo := "../../../shared/desktopui/testdata/photo.png"
	w.PutFile("a", File{ID: "f1", Name: "photo.png", Peer: "bob@laptop", Dir: "in", State: "done", Size: 1234, Path: photo, ContentType: "image/png", At: t0})
	w.PutFile("a", File{ID: "f2", Name: "report.pdf", Peer: "bob@laptop", Dir: "out", State: "done", Size: 99, Path: "/tmp/report.pdf", At: t0})
	if view.Disabled() {
		t.Fatal("View received stays off after a file arrived")
	}
	test.Tap(view)
	wins := fyne.CurrentApp().Driver().AllWindows()
	var viewer fyne.Window
	for _, x := range wins {
		if x.Title() == "Files from bob@laptop" {
			viewer = x
		}
	}
	if viewer == nil {
		t.Fatal("no window of received files")
	}
	find(t, viewer.Content(), func(l *widget.Label) bool { return l.Text == "1 of 1" })
	test.Tap(button(t, viewer.Content(), "Open"))
	if len(r.opened) != 1 || r.opened[0] != photo {
		t.Fatalf("opened %q", r.opened)
	}
	// Closed by the person, it only hides, and comes back as it was;
	// signing out closes it.
	viewer.Hide()
	test.Tap(view)
	if w.main.byID["a"].files.viewWin != viewer {
		t.Fatal("a new window instead of the one hidden")
	}
	w.ShowBusy("Signing in again")
	for _, x := range fyne.CurrentApp().Driver().AllWindows() {
		if x.Title() == "Files from bob@laptop" {
			t.Fatal("the window of received files outlived signing out")
		}
	}
}

func TestRequestFilesAndCountdown(t *testing.T) {
	w, win, r := signedIn(t)
	w.SetFilePolicy(FilePolicy{Enabled: true, InvitationRequired: true})
	w.PutSession(active("a", "bob@laptop"))
	w.OpenSession("a")
	test.Tap(button(t, win.Content(), "Request files"))
	if len(r.requests) != 1 || r.requests[0] != "a" {
		t.Fatalf("requests %q", r.requests)
	}
	w.SetInvitation("a", t0, t0.Add(10*time.Minute))
	find(t, win.Content(), func(l *widget.Label) bool { return l.Text == "The customer may send files for 9 min." })
	button(t, win.Content(), "Request again")
	looks(t, "files_invited.xml", win)
	w.Now = func() time.Time { return t0.Add(9 * time.Minute) }
	w.Tick()
	c := find(t, win.Content(), func(*desktopui.InviteCountdown) bool { return true })
	if c.Colour() != "error" {
		t.Fatalf("a minute before the end the bar is %s", c.Colour())
	}
}

// "Request files" is the one way to ask for files, always there: without
// an invitation needed it asks without a countdown; with no files taken
// from customers at all it is off.
func TestRequestFilesWithoutInvitations(t *testing.T) {
	w, win, r := signedIn(t)
	w.SetFilePolicy(FilePolicy{Enabled: true})
	w.PutSession(active("a", "bob@laptop"))
	w.OpenSession("a")
	b := button(t, win.Content(), "Request files")
	if !b.Visible() || b.Disabled() {
		t.Fatal("Request files is not offered when files are welcome without an invitation")
	}
	test.Tap(b)
	if len(r.requests) != 1 {
		t.Fatalf("requests %q", r.requests)
	}
	w.SetInvitation("a", t0, t0.Add(10*time.Minute))
	find(t, win.Content(), func(l *widget.Label) bool { return l.Text == "You asked the customer for files." && l.Visible() })
	if w.main.byID["a"].files.invite.Visible() {
		t.Fatal("a countdown for an invitation nobody needs")
	}
	w.SetFilePolicy(FilePolicy{})
	if !button(t, win.Content(), "Request again").Disabled() {
		t.Fatal("Request files is on while the relay takes no files from customers")
	}
}

func TestDroppedFilesGoToTheSessionInFront(t *testing.T) {
	w, win, r := signedIn(t)
	w.PutSession(active("a", "bob@laptop"))
	w.OpenSession("a")
	w.dropped(fyne.NewPos(10, 10), []fyne.URI{storage.NewFileURI("/tmp/report.pdf"), storage.NewFileURI("/tmp/logs")})
	if len(r.files) != 2 || r.files[0] != [2]string{"a", "/tmp/report.pdf"} || r.files[1][1] != "/tmp/logs" {
		t.Fatalf("sent %q", r.files)
	}
	ended := active("a", "bob@laptop")
	ended.State = Ended
	w.PutSession(ended)
	w.dropped(fyne.NewPos(10, 10), []fyne.URI{storage.NewFileURI("/tmp/x")})
	if len(r.files) != 2 || !dialogUp(win) {
		t.Fatal("files dropped on an ended session were sent, or nothing said why not")
	}
}

// After a sign-in the chat shows old files among the lines, in time order.
func TestLoadedFilesTakeTheirPlaceInTheChat(t *testing.T) {
	w, win, r := signedIn(t)
	r.history["a"] = []Message{
		{ID: "1", From: "bob@laptop", Text: "before the file", At: t0},
		{ID: "2", From: "bob@laptop", Text: "after the file", At: t0.Add(2 * time.Minute)},
	}
	w.PutSession(active("a", "bob@laptop"))
	w.OpenSession("a")
	w.LoadFiles("a", []File{{ID: "f", Name: "notes.txt", Peer: "bob@laptop", Dir: "in", State: "done", Size: 9, Path: "/x/notes.txt", At: t0.Add(time.Minute)}})
	if w.Unread("a") != 0 {
		t.Fatal("an old file counted as new")
	}
	order := w.main.byID["a"].chat.Entries()
	want := []string{"before the file", "notes.txt (9 B)", "after the file"}
	if strings.Join(order, "|") != strings.Join(want, "|") {
		t.Fatalf("chat shows %q, want %q", order, want)
	}
	_ = win
}
