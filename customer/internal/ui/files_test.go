package ui

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/desktopui/uitest"
)

var t0 = time.Date(2026, 11, 21, 14, 0, 0, 0, time.UTC)

func picture(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../../shared/desktopui/testdata/photo.png")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func filesTab(t *testing.T, win fyne.Window) *container.AppTabs {
	t.Helper()
	return uitest.Find(t, win.Content(), func(*container.AppTabs) bool { return true })
}

func TestFileOfferedAcceptedReceived(t *testing.T) {
	w, win, r := newWindow(t)
	win.Resize(fyne.NewSize(880, 640))
	w.ShowConnected("Alice", "direct", []Message{{ID: "1", From: "Alice", Text: "I am sending you the new driver.", At: t0}})
	f := File{ID: "f1", Name: "photo.png", Peer: "Alice", Dir: "in", State: "offered", Size: 9000, ContentType: "image/png", At: t0.Add(time.Minute)}
	w.PutFile(f)
	looks(t, "file_offer.xml", win)
	test.Tap(uitest.Button(t, win.Canvas().Overlays().Top(), "Accept this file"))
	if len(r.answers) != 1 || r.answers[0] != [2]string{"f1", "accept"} {
		t.Fatalf("answers %q", r.answers)
	}
	f.State, f.Done, f.Rate = "sending", 4500, 9000
	w.PutFile(f)
	uitest.Find(t, win.Content(), func(l *widget.Label) bool {
		return l.Text == "Transferring photo.png from Alice, 50% of 9.0 KB received · 9.0 KB/s"
	})
	f.State, f.Done, f.Path = "done", 9000, picture(t)
	w.PutFile(f)
	tabs := filesTab(t, win)
	if tabs.Items[1].Text != "Files (1)" { // offered, then received: one file
		t.Fatalf("files tab says %q", tabs.Items[1].Text)
	}
	tabs.SelectIndex(1)
	if tabs.Items[1].Text != "Files" {
		t.Fatal("looking at the files did not clear the count")
	}
	looks(t, "files_tab.xml", win)
}

func TestFolderOfferIsOneQuestion(t *testing.T) {
	w, win, r := newWindow(t)
	w.ShowConnected("Alice", "direct", nil)
	for i, name := range []string{"logs/a.txt", "logs/b.txt", "logs/c/d.txt"} {
		w.PutFile(File{ID: string(rune('a' + i)), Name: name, Group: "g1", Peer: "Alice", Dir: "in", State: "offered", Size: 100})
	}
	if n := len(win.Canvas().Overlays().List()); n != 1 {
		t.Fatalf("%d dialogs for one folder", n)
	}
	test.Tap(uitest.Button(t, win.Canvas().Overlays().Top(), "Refuse always from Alice"))
	if len(r.answers) != 3 || r.answers[2] != [2]string{"c", "refuse_always"} {
		t.Fatalf("answers %q", r.answers)
	}
}

func TestSendingFollowsThePolicy(t *testing.T) {
	w, win, r := newWindow(t)
	w.ShowConnected("Alice", "direct", nil)
	w.SetSending(false, "Not allowed: sending files without an invitation (ask the agent to request files).")
	w.sendPaths([]string{"/tmp/x.pdf"})
	if len(r.files) != 0 {
		t.Fatal("sent files the agent does not accept")
	}
	uitest.Find(t, win.Canvas().Overlays().Top(), func(l *widget.Label) bool {
		return l.Text == "Not allowed: sending files without an invitation (ask the agent to request files)."
	})
	uitest.Press(win.Canvas(), fyne.KeyEscape)
	w.SetSending(true, "")
	w.SetInvitation(t0, time.Now().Add(5*time.Minute), true)
	w.sendPaths([]string{storage.NewFileURI("/tmp/x.pdf").Path()})
	if len(r.files) != 1 || r.files[0][0] != "/tmp/x.pdf" {
		t.Fatalf("sent %q", r.files)
	}
	test.Tap(uitest.Find(t, win.Content(), func(b *widget.Button) bool { return b.Icon == desktopui.PaperclipIcon }))
}

func TestKeepOrDeleteAtTheEnd(t *testing.T) {
	for _, keep := range []bool{true, false} {
		w, win, r := newWindow(t)
		w.ShowConnected("Alice", "direct", nil)
		w.PutFile(File{ID: "f1", Name: "a.txt", Peer: "Alice", Dir: "in", State: "done", Size: 10, Path: "/x/a.txt"})
		w.ShowEnded("Alice ended the session.")
		label := "Delete them"
		if keep {
			label = "Keep them"
			looks(t, "keep_files.xml", win)
		}
		test.Tap(uitest.Button(t, win.Canvas().Overlays().Top(), label))
		if len(r.kept) != 1 || r.kept[0] != keep {
			t.Fatalf("kept %v", r.kept)
		}
	}
}

func TestReceivingSettings(t *testing.T) {
	w, win, r := newWindow(t)
	r.recv = true
	w.ShowConnected("Alice", "direct", nil)
	w.PutFile(File{ID: "f1", Name: "a.txt", Peer: "Alice", Dir: "in", State: "done", Size: 10})
	filesTab(t, win).SelectIndex(1)
	test.Tap(uitest.Button(t, win.Content(), "Receiving…"))
	sel := uitest.Find(t, win.Canvas().Overlays().Top(), func(s *desktopui.Select) bool { return true })
	sel.SetSelected("Blocked")
	if r.trust["Alice"] != "blocked" {
		t.Fatalf("trust %q", r.trust)
	}
}

// A received file with no preview, selected in the Files tab, fits the
// window at 1280 × 800: its note wraps in the preview's width (it was laid
// out a letter a line, and the window grew past the screen).
func TestNoPreviewFitsTheScreen(t *testing.T) {
	w, win, _ := newWindow(t)
	win.Resize(fyne.NewSize(1280, 800))
	w.ShowConnected("Alice", "direct", nil)
	path := filepath.Join(t.TempDir(), "setup.bin")
	if err := os.WriteFile(path, []byte{0, 1, 2, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	w.PutFile(File{ID: "f1", Name: "setup.bin", Peer: "Alice", Dir: "in", State: "done", Size: 4, Done: 4, ContentType: "application/octet-stream", Path: path, At: t0})
	tabs := filesTab(t, win)
	if tabs.Items[1].Text != "Files (1)" {
		t.Fatalf("one new file: the tab says %q", tabs.Items[1].Text)
	}
	tabs.SelectIndex(1)
	if min := win.Content().MinSize(); min.Width > 1280 || min.Height > 800 {
		t.Fatalf("the window needs %v, more than the 1280 × 800 screen", min)
	}
	looks(t, "files_no_preview.xml", win)
}

// The agent's request for files shows where the customer is looking: above
// the chat, with a send button and, when the policy needs an invitation,
// its countdown; it goes when the invitation runs out.
func TestInvitationShowsAboveTheChat(t *testing.T) {
	w, win, r := newWindow(t)
	win.Resize(fyne.NewSize(880, 640))
	w.ShowConnected("Alice", "direct", nil)
	w.SetSending(true, "")
	now := t0
	w.files.askCount.Now = func() time.Time { return now }
	w.SetInvitation(t0, t0.Add(10*time.Minute), true)
	uitest.Find(t, win.Content(), func(l *widget.Label) bool { return l.Text == "Alice asks you for files." })
	uitest.Find(t, win.Content(), func(l *widget.Label) bool { return l.Text == "You may send files for 10 min." })
	looks(t, "invited_chat.xml", win)
	test.Tap(uitest.Button(t, win.Content(), "Send files…"))
	if !dialogShown(win) {
		t.Fatal("Send files… above the chat opened no file picker")
	}
	_ = r
	now = t0.Add(11 * time.Minute)
	w.Tick()
	if w.files.askBar.Visible() {
		t.Fatal("an invitation that ran out still shows above the chat")
	}
	// Without a countdown: the request alone.
	w.SetInvitation(t0, t0.Add(10*time.Minute), false)
	if !w.files.askBar.Visible() || w.files.askCount.Visible() {
		t.Fatal("a request for files without an invitation policy: shown wrongly")
	}
}

func dialogShown(win fyne.Window) bool { return len(win.Canvas().Overlays().List()) > 0 }
