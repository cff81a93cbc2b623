package desktopui_test

import (
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/desktopui/uitest"
	"github.com/porthole-dev/porthole/shared/transfer"
)

var t0 = time.Date(2026, 11, 21, 14, 0, 0, 0, time.UTC)

func window(t *testing.T, content fyne.CanvasObject, w, h float32) fyne.Window {
	t.Helper()
	test.NewTempApp(t)
	win := test.NewTempWindow(t, content)
	win.Resize(fyne.NewSize(w, h))
	return win
}

// looks checks the window against a golden markup file in testdata/ and,
// with PORTHOLE_UI_SHOTS set, saves a picture of it there.
func looks(t *testing.T, golden string, win fyne.Window) {
	t.Helper()
	test.AssertRendersToMarkup(t, golden, win.Canvas())
	if dir := os.Getenv("PORTHOLE_UI_SHOTS"); dir != "" {
		f, err := os.Create(filepath.Join(dir, "desktopui-"+golden[:len(golden)-4]+".png"))
		if err == nil {
			png.Encode(f, win.Canvas().Capture())
			f.Close()
		}
	}
}

func testdata(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFileStatus(t *testing.T) {
	in := desktopui.File{Name: "logs/report.pdf", Peer: "alice", Dir: "in", Size: 12_500_000}
	out := in
	out.Dir, out.Peer = "out", "bob"
	with := func(f desktopui.File, state string, done int64, why string) desktopui.File {
		f.State, f.Done, f.Why = state, done, why
		return f
	}
	moving := with(in, "sending", 5_625_000, "")
	moving.Rate, moving.Left = 2_500_000, 3*time.Second
	for _, tt := range []struct {
		f    desktopui.File
		want string
	}{
		{with(in, "offered", 0, ""), "alice offers report.pdf (12 MB). Accept or refuse it."},
		{moving, "Transferring report.pdf from alice, 45% of 12 MB received · 2.5 MB/s · 3 s left"},
		{with(in, "waiting", 6_250_000, ""), "Paused at 50% of 12 MB: continues when alice is connected again."},
		{with(in, "done", 12_500_000, ""), "Received from alice · 12 MB"},
		{with(in, "refused", 0, "refused: receiving files is turned off"), "Refused. Refused: receiving files is turned off."},
		{with(in, "failed", 0, "the disk is full"), "Not received. The disk is full."},
		{with(out, "offered", 0, ""), "Offered to bob (12 MB); waiting for their answer."},
		{with(out, "sending", 12_500_000/4, ""), "Sending report.pdf to bob, 25% of 12 MB sent"},
		{with(out, "refused", 0, "not allowed: files of type .exe"), "Refused. Not allowed: files of type .exe."},
		{with(out, "cancelled", 0, "stopped by the receiver"), "Stopped. Stopped by the receiver."},
	} {
		if got := desktopui.FileStatus(tt.f); got != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.f.Dir, tt.f.State, got, tt.want)
		}
	}
	if got := desktopui.Size(999); got != "999 B" {
		t.Errorf("Size(999) = %q", got)
	}
	if got := desktopui.Size(1_500_000_000); got != "1.5 GB" {
		t.Errorf("Size(1.5e9) = %q", got)
	}
}

type fileRecorder struct {
	answers  [][2]string
	cancels  []string
	opened   []string
	revealed []string
	saved    []string
	sends    int
}

func (r *fileRecorder) actions(folder string) desktopui.FileActions {
	return desktopui.FileActions{
		SendFiles:  func() { r.sends++ },
		SendFolder: func() { r.sends++ },
		Answer:     func(id, d string) { r.answers = append(r.answers, [2]string{id, d}) },
		Cancel:     func(id string) { r.cancels = append(r.cancels, id) },
		Open:       func(p string) { r.opened = append(r.opened, p) },
		Reveal:     func(p string) { r.revealed = append(r.revealed, p) },
		Save:       func(f desktopui.File) { r.saved = append(r.saved, f.ID) },
		Folder:     func() string { return folder },
	}
}

func TestFilesPanel(t *testing.T) {
	r := &fileRecorder{}
	p := desktopui.NewFilesPanel(r.actions("/downloads/Support with alice"), "No files yet. Drop files here to send them.")
	win := window(t, p.Object(), 640, 560)
	looks(t, "files_empty.xml", win)

	photo := testdata(t, "photo.png")
	p.Put(desktopui.File{ID: "1", Name: "photo.png", Peer: "alice", Dir: "in", State: "offered", Size: 1234, ContentType: "image/png"})
	p.Put(desktopui.File{ID: "2", Name: "setup.log", Peer: "alice", Dir: "in", State: "sending", Size: 8_000_000, Done: 2_000_000, Rate: 1_000_000, Left: 6 * time.Second})
	p.Put(desktopui.File{ID: "3", Name: "done.png", Peer: "alice", Dir: "in", State: "done", Size: 1234, Path: photo, ContentType: "image/png"})
	p.Put(desktopui.File{ID: "4", Name: "tool.exe", Peer: "alice", Dir: "out", State: "refused", Size: 4_000_000, Why: "not allowed: files of type .exe"})
	looks(t, "files_list.xml", win)

	// A double click accepts an offer.
	row := uitest.Find(t, p.Object(), func(o fyne.CanvasObject) bool {
		_, ok := o.(fyne.DoubleTappable)
		return ok
	}).(fyne.DoubleTappable)
	test.DoubleTap(row)
	if len(r.answers) != 1 || r.answers[0] != [2]string{"1", "accept"} {
		t.Fatalf("answers %q", r.answers)
	}
	test.Tap(uitest.Button(t, p.Object(), "Refuse"))
	test.Tap(uitest.Button(t, p.Object(), "Stop"))
	test.Tap(uitest.Button(t, p.Object(), "Open"))
	test.Tap(uitest.Button(t, p.Object(), "Save as…"))
	test.Tap(uitest.Button(t, p.Object(), "Open folder"))
	if r.answers[1] != [2]string{"1", "refuse"} || len(r.cancels) != 1 || r.cancels[0] != "2" ||
		len(r.opened) != 1 || r.opened[0] != photo || len(r.saved) != 1 || r.revealed[0] != "/downloads/Support with alice" {
		t.Fatalf("answers %q, cancels %q, opened %q, saved %q, revealed %q", r.answers, r.cancels, r.opened, r.saved, r.revealed)
	}

	// Progress moves in place.
	p.Put(desktopui.File{ID: "2", Name: "setup.log", Peer: "alice", Dir: "in", State: "sending", Size: 8_000_000, Done: 6_000_000})
	uitest.Find(t, p.Object(), func(l *widget.Label) bool {
		return l.Text == "Transferring setup.log from alice, 75% of 8.0 MB received"
	})
	if p.Len() != 4 {
		t.Fatalf("%d rows", p.Len())
	}
}

func TestOfferDialog(t *testing.T) {
	test.NewTempApp(t)
	win := test.NewTempWindow(t, widget.NewLabel("behind"))
	win.Resize(fyne.NewSize(800, 600))
	d := desktopui.NewDialogs(win)
	var got []string
	var answered []desktopui.File
	rec := func(fs []desktopui.File, dec string) { got, answered = append(got, dec), fs }
	offer := desktopui.File{ID: "1", Name: "invoice.pdf", Peer: "alice", Dir: "in", State: "offered", Size: 250_000, ContentType: "application/pdf"}
	d.Offer([]desktopui.File{offer}, rec)
	looks(t, "offer.xml", win)
	test.Tap(uitest.Button(t, win.Canvas().Overlays().Top(), "Accept all future files from alice"))
	if len(got) != 1 || got[0] != "accept_all" || d.Open() != 0 {
		t.Fatalf("answers %q, %d dialogs open", got, d.Open())
	}

	// A folder is one question, whatever arrives while it is asked.
	files := []desktopui.File{offer, offer, offer}
	files[0].Name, files[1].Name, files[2].Name = "logs/a.txt", "logs/b.txt", "logs/deep/c.txt"
	for i := range files {
		files[i].Group, files[i].ID = "g", string(rune('a'+i))
	}
	o := d.Offer(files[:2], rec)
	o.Add(files[2])
	looks(t, "offer_folder.xml", win)
	test.Tap(uitest.Button(t, win.Canvas().Overlays().Top(), "Refuse these files"))
	if len(answered) != 3 || got[1] != "refuse" {
		t.Fatalf("answered %d files with %q", len(answered), got)
	}
	// Escape leaves it for later.
	d.Offer(files, rec)
	win.Canvas().FocusNext()
	uitest.Press(win.Canvas(), fyne.KeyEscape)
	if len(got) != 2 || d.Open() != 0 {
		t.Fatalf("Escape answered %q or left %d dialogs", got, d.Open())
	}
}

func TestViewerPause(t *testing.T) {
	var opened []string
	v := desktopui.NewViewer(func(p string) { opened = append(opened, p) })
	win := window(t, v.Object(), 640, 480)
	photo, notes := testdata(t, "photo.png"), testdata(t, "notes.txt")
	v.Add(desktopui.File{ID: "1", Name: "photo.png", Dir: "in", State: "done", Path: photo, ContentType: "image/png", Size: 1})
	looks(t, "viewer_image.xml", win)
	v.Add(desktopui.File{ID: "2", Name: "notes.txt", Dir: "in", State: "done", Path: notes, ContentType: "text/plain; charset=utf-8", Size: 1})
	looks(t, "viewer_text.xml", win)

	test.Tap(uitest.Button(t, v.Object(), "Back"))
	test.Tap(uitest.Button(t, v.Object(), "Pause"))
	v.Add(desktopui.File{ID: "3", Name: "more.bin", Dir: "in", State: "done", Path: notes, Size: 1})
	if cur, _ := v.Current(); cur.ID != "1" {
		t.Fatalf("paused, yet showing %s", cur.ID)
	}
	uitest.Find(t, v.Object(), func(l *widget.Label) bool { return l.Text == "1 of 3 · 2 new" })
	looks(t, "viewer_paused.xml", win)
	test.Tap(uitest.Button(t, v.Object(), "Forward"))
	test.Tap(uitest.Button(t, v.Object(), "Forward"))
	if cur, _ := v.Current(); cur.ID != "3" {
		t.Fatalf("Forward reached %s", cur.ID)
	}
	test.Tap(uitest.Button(t, v.Object(), "Open"))
	if len(opened) != 1 || opened[0] != notes {
		t.Fatalf("opened %q", opened)
	}
	test.Tap(uitest.Button(t, v.Object(), "Paused"))
	v.Add(desktopui.File{ID: "4", Name: "last.txt", Dir: "in", State: "done", Path: notes, Size: 1})
	if cur, _ := v.Current(); cur.ID != "4" {
		t.Fatalf("unpaused, a new file is not shown (%s)", cur.ID)
	}
}

func TestFileSettings(t *testing.T) {
	test.NewTempApp(t)
	win := test.NewTempWindow(t, widget.NewLabel("behind"))
	win.Resize(fyne.NewSize(800, 600))
	d := desktopui.NewDialogs(win)
	receiving := true
	trust := map[string]string{"alice": "accept_all", "mallory": "blocked"}
	links := map[string]string{"mallory": "never", "dave": "always_open"}
	d.FileSettings(receiving, map[string]string{"alice": "accept_all", "mallory": "blocked", "carol": ""},
		map[string]string{"mallory": "never", "dave": "always_open"},
		func(on bool) { receiving = on },
		func(s, dec string) { trust[s] = dec },
		func(s, dec string) { links[s] = dec })
	looks(t, "file_settings.xml", win)
	top := win.Canvas().Overlays().Top()
	test.Tap(uitest.Find(t, top, func(c *desktopui.Check) bool { return c.Text == "Receive files and links" }))
	if receiving {
		t.Fatal("the switch did not turn receiving off")
	}
	sel := uitest.Find(t, top, func(s *desktopui.Select) bool { return s.Selected == "Blocked" })
	sel.SetSelected("Ask each time")
	if trust["mallory"] != "" || links["mallory"] != "never" {
		t.Fatalf("trust %q, links %q", trust, links)
	}
	// A sender of links only has both rows; the links' choice is theirs.
	sel = uitest.Find(t, top, func(s *desktopui.Select) bool { return s.Selected == "Always open" })
	sel.SetSelected("Never open")
	if links["dave"] != "never" || trust["dave"] != "" {
		t.Fatalf("trust %q, links %q", trust, links)
	}
	uitest.Press(win.Canvas(), fyne.KeyEscape)
	if d.Open() != 0 {
		t.Fatal("Escape left the settings open")
	}
}

func TestInviteCountdownColours(t *testing.T) {
	test.NewTempApp(t)
	c := desktopui.NewInviteCountdown("You may send files")
	now := t0
	c.Now = func() time.Time { return now }
	win := window(t, container.NewVBox(c), 400, 120)
	c.Set(t0, t0.Add(10*time.Minute))
	looks(t, "countdown.xml", win)
	for _, tt := range []struct {
		at   time.Duration
		want fyne.ThemeColorName
		text string
	}{
		{0, theme.ColorNameSuccess, "You may send files for 10 min."},
		{6 * time.Minute, theme.ColorNameWarning, "You may send files for 4 min."},
		{9 * time.Minute, theme.ColorNameError, "You may send files for 60 s."},
		{11 * time.Minute, theme.ColorNameError, "The invitation to send files has expired."},
	} {
		now = t0.Add(tt.at)
		c.Tick()
		if c.Colour() != tt.want {
			t.Errorf("at %v: colour %s, want %s", tt.at, c.Colour(), tt.want)
		}
		uitest.Find(t, c, func(l *widget.Label) bool { return l.Text == tt.text })
	}
	if c.Active() {
		t.Fatal("active after expiry")
	}
}

func TestChatRecordsFiles(t *testing.T) {
	c := desktopui.NewChat(func(string) {}, "")
	c.Zone = time.UTC
	picks := 0
	c.SetAttach(func() { picks++ })
	win := window(t, c.Object(), 480, 560)
	var opened []string
	open := func(p string) { opened = append(opened, p) }
	c.Add(desktopui.Message{ID: "m1", From: "alice", Text: "Here is the picture.", At: t0})
	f := desktopui.File{ID: "1", Name: "photo.png", Peer: "alice", Dir: "in", State: "sending", Size: 1234, Done: 600, ContentType: "image/png", At: t0}
	c.PutFile(f, open)
	f.State, f.Done, f.Path = "done", 1234, testdata(t, "photo.png")
	c.PutFile(f, open)
	c.PutFile(desktopui.File{ID: "2", Name: "notes.txt", Peer: "bob", Dir: "out", State: "done", Size: 90, Path: testdata(t, "notes.txt"), At: t0}, open)
	looks(t, "chat_files.xml", win)
	test.Tap(uitest.Find(t, c.Object(), func(o fyne.CanvasObject) bool {
		_, ok := o.(fyne.Tappable)
		_, isBtn := o.(*widget.Button)
		_, isEntry := o.(*widget.Entry)
		return ok && !isBtn && !isEntry
	}).(fyne.Tappable))
	test.Tap(uitest.Button(t, c.Object(), "notes.txt (90 B)"))
	if len(opened) != 2 {
		t.Fatalf("opened %q", opened)
	}
	test.Tap(uitest.Find(t, c.Object(), func(b *widget.Button) bool { return b.Icon == desktopui.PaperclipIcon }))
	if picks != 1 {
		t.Fatal("the paperclip did not ask for files")
	}
}

func TestSkippedText(t *testing.T) {
	ev := transfer.Event{Kind: transfer.EventSkipped, Folder: "/home/alice/logs", Count: 12}
	for i := range 11 {
		ev.Skipped = append(ev.Skipped, transfer.Skipped{Name: fmt.Sprintf("logs/l%d", i), Why: "a symbolic link; links are not followed"})
	}
	got := desktopui.SkippedText(ev)
	if !strings.HasPrefix(got, "12 things in logs were not sent:\n• logs/l0: a symbolic link") || !strings.HasSuffix(got, "…and 2 more.") || strings.Contains(got, "l10") {
		t.Fatalf("text %q", got)
	}
	one := desktopui.SkippedText(transfer.Event{Folder: "/x/y", Count: 1, Skipped: []transfer.Skipped{{Name: "y/z", Why: "w"}}})
	if one != "1 thing in y was not sent:\n• y/z: w" {
		t.Fatalf("text %q", one)
	}
}
