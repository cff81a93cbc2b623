package desktopui_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/desktopui/uitest"
	"github.com/porthole-dev/porthole/shared/weblink"
)

// Send as a link: each button does its one thing; Cancel does neither.
func TestSendAsLinkDialog(t *testing.T) {
	for _, tt := range []struct{ button, want string }{
		{"Send as link", "link"},
		{"Send as text", "text"},
		{"Cancel", ""},
	} {
		test.NewTempApp(t)
		win := test.NewTempWindow(t, widget.NewLabel("behind"))
		win.Resize(fyne.NewSize(800, 600))
		d := desktopui.NewDialogs(win)
		got := ""
		d.SendAsLink("https://example.com/help", func() { got += "link" }, func() { got += "text" })
		if tt.want == "link" {
			looks(t, "send_as_link.xml", win)
		}
		test.Tap(uitest.Button(t, win.Canvas().Overlays().Top(), tt.button))
		if got != tt.want || d.Open() != 0 {
			t.Fatalf("%s: did %q, open %d", tt.button, got, d.Open())
		}
	}
}

// The link button is hidden until SetLink, and asks for a link.
func TestChatLinkButton(t *testing.T) {
	c := desktopui.NewChat(func(string) {}, "")
	window(t, c.Object(), 400, 300)
	isLink := func(b *widget.Button) bool { return b.Icon == desktopui.LinkIcon }
	asked := 0
	c.SetLink(func() { asked++ })
	btn := uitest.Find(t, c.Object(), isLink) // Find sees only what is visible
	test.Tap(btn)
	if asked != 1 {
		t.Fatalf("asked %d", asked)
	}
	c.SetLink(nil)
	if btn.Visible() {
		t.Fatal("SetLink(nil) left the button")
	}
	c2 := desktopui.NewChat(func(string) {}, "")
	window(t, c2.Object(), 400, 300)
	c2.SetAttach(func() {})
	uitest.Find(t, c2.Object(), func(b *widget.Button) bool { return b.Icon == desktopui.PaperclipIcon })
	if b := findHidden(c2.Object(), isLink); b == nil || b.Visible() {
		t.Fatal("the link button shows before SetLink")
	}
}

// findHidden finds a button under root, shown or not.
func findHidden(root fyne.CanvasObject, match func(*widget.Button) bool) *widget.Button {
	switch o := root.(type) {
	case *widget.Button:
		if match(o) {
			return o
		}
	case *fyne.Container:
		for _, child := range o.Objects {
			if b := findHidden(child, match); b != nil {
				return b
			}
		}
	case fyne.Widget:
		for _, child := range test.WidgetRenderer(o).Objects() {
			if b := findHidden(child, match); b != nil {
				return b
			}
		}
	}
	return nil
}

// ShowAll keeps time order across lines, files and links.
func TestChatShowAllOrdersLinks(t *testing.T) {
	c := desktopui.NewChat(func(string) {}, "")
	c.Zone = time.UTC
	window(t, c.Object(), 400, 400)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	c.ShowAll(
		[]desktopui.Message{{ID: "m1", From: "alice", Text: "first", At: at(0)}, {ID: "m2", From: "alice", Text: "last", At: at(3)}},
		[]desktopui.File{{ID: "f1", Name: "a.txt", Peer: "alice", Dir: "in", State: "refused", Size: 3, At: at(2)}},
		[]desktopui.LinkEntry{{ID: "l1", Dir: weblink.Out, Peer: "alice", Display: "https://example.com/", URL: "https://example.com/", State: weblink.Opened, At: at(1)}},
		func(string) {}, desktopui.LinkActions{})
	got := c.Entries()
	if len(got) != 4 || got[0] != "first" || got[1] != "Link for alice: https://example.com/" || got[2] != "a.txt (3 B)" || got[3] != "last" {
		t.Fatalf("entries %q", got)
	}
}

// Many senders scroll: the settings stay within a 600 px high window.
func TestFileSettingsManySenders(t *testing.T) {
	test.NewTempApp(t)
	win := test.NewTempWindow(t, widget.NewLabel("behind"))
	win.Resize(fyne.NewSize(800, 600))
	d := desktopui.NewDialogs(win)
	trusts, links := map[string]string{}, map[string]string{}
	for i := range 12 {
		trusts[fmt.Sprintf("sender%02d", i)] = "accept_all"
		links[fmt.Sprintf("other%02d", i)] = weblink.Never
	}
	d.FileSettings(true, trusts, links, func(bool) {}, func(string, string) {}, func(string, string) {})
	looks(t, "file_settings_many.xml", win)
	if h := win.Canvas().Overlays().Top().MinSize().Height; h > 600 {
		t.Fatalf("the settings need %v px of height", h)
	}
}

// A long address without a look-alike: Open link is the obvious choice,
// and the address wraps within the column.
func TestLinkOfferLongAddress(t *testing.T) {
	a, err := weblink.Check("https://example.com/" + strings.Repeat("segment/", 40))
	if err != nil {
		t.Fatal(err)
	}
	test.NewTempApp(t)
	win := test.NewTempWindow(t, widget.NewLabel("behind"))
	win.Resize(fyne.NewSize(800, 600))
	d := desktopui.NewDialogs(win)
	d.LinkOffer("alice", a, func(string) {})
	looks(t, "link_offer_long.xml", win)
	top := win.Canvas().Overlays().Top()
	if open := uitest.Button(t, top, "Open link"); open.Importance != widget.HighImportance {
		t.Fatalf("Open link importance %v", open.Importance)
	}
	if sz := top.MinSize(); sz.Width > 800 || sz.Height > 600 {
		t.Fatalf("the dialog needs %v", sz)
	}
}
