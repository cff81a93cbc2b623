package desktopui

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
)

func writePNG(t *testing.T, path string, w, h int, c color.Color) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func photo(path string) File {
	info, _ := os.Stat(path)
	return File{ID: "1", Name: filepath.Base(path), Dir: "in", State: "done", Path: path, ContentType: "image/png", Size: info.Size()}
}

// A picture is kept no bigger than it is shown, and decoded once. A big
// one is decoded aside: the window does not wait for it.
func TestPictureScaledDownAndKept(t *testing.T) {
	ready := make(chan string, 1)
	hookPictureReady = func(path string) { ready <- path }
	t.Cleanup(func() { hookPictureReady = nil })
	path := filepath.Join(t.TempDir(), "big.png")
	writePNG(t, path, 3000, 2000, color.NRGBA{200, 30, 30, 255})
	c := picture(photo(path), fyne.NewSize(200, 140), image.Pt(400, 280))
	if c == nil {
		t.Fatal("no picture")
	}
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the picture was not decoded")
	}
	if c.Image == nil {
		t.Fatal("the picture decoded aside is not shown")
	}
	if got := c.Image.Bounds().Size(); got != image.Pt(400, 266) {
		t.Fatalf("decoded to %v, want 400x266", got)
	}
	if c.MinSize() != fyne.NewSize(200, 140) {
		t.Fatalf("min size %v", c.MinSize())
	}
	if again := picture(photo(path), fyne.NewSize(200, 140), image.Pt(400, 280)); again.Image != c.Image {
		t.Fatal("decoded a second time")
	}
	// A changed file is decoded again; a small picture at once.
	writePNG(t, path, 30, 20, color.NRGBA{30, 30, 200, 255})
	os.Chtimes(path, time.Now().Add(time.Minute), time.Now().Add(time.Minute))
	if changed := picture(photo(path), fyne.NewSize(200, 140), image.Pt(400, 280)); changed.Image == nil || changed.Image.Bounds().Size() != image.Pt(30, 20) {
		t.Fatal("the changed file is not shown at once at its new size")
	}
	if len(ready) > 0 {
		t.Fatal("a small picture was decoded aside")
	}
}

// Asked for again while it is being decoded, a picture is decoded once:
// both get the same one.
func TestPictureDecodedOnceWhileWanted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.png")
	writePNG(t, path, 3000, 2000, color.NRGBA{20, 130, 30, 255})
	got := make(chan image.Image, 2)
	for range 2 {
		go func() {
			img, err := loadPicture(path, image.Pt(400, 280))
			if err != nil {
				t.Error(err)
			}
			got <- img
		}()
	}
	a, b := <-got, <-got
	if a == nil || a != b {
		t.Fatal("two decodings of one picture")
	}
}

// A small file that claims a huge picture is not decoded: that would take
// gigabytes (a hostile peer's file must not bring the window down).
func TestPictureClaimingHugeSizeNotDecoded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bomb.png")
	writePNG(t, path, 1, 1, color.Black)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// IHDR follows the 8-byte signature: length, "IHDR", width, height, ...
	binary.BigEndian.PutUint32(data[16:], 60000)
	binary.BigEndian.PutUint32(data[20:], 60000)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err != nil || cfg.Width != 60000 {
		t.Fatalf("the test file does not claim 60000 pixels: %v %v", cfg, err)
	}
	if _, err := loadPicture(path, image.Pt(400, 280)); err == nil || !strings.Contains(err.Error(), "60000 × 60000 pixels is too big") {
		t.Fatalf("a 60000 x 60000 picture: %v", err)
	}
	if c := picture(photo(path), fyne.NewSize(200, 140), image.Pt(400, 280)); c != nil {
		t.Fatal("a 60000 x 60000 picture is shown")
	}
}

// A file named like a picture that is not one shows no picture (the chat
// then shows a link, the viewer a note).
func TestPictureThatIsNotOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.png")
	if err := os.WriteFile(path, []byte("not a picture"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c := picture(photo(path), fyne.NewSize(200, 140), image.Pt(400, 280)); c != nil {
		t.Fatal("text shown as a picture")
	}
}
