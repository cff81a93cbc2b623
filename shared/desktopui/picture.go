package desktopui

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // pictures people send
	_ "image/jpeg"
	_ "image/png"
	"os"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"golang.org/x/image/draw"
)

// Pictures the windows show of received and sent files are decoded here
// once, made no bigger than they are shown, and kept for a while. A
// canvas.Image made from a file or a resource would decode the whole
// picture again on every resize, on the window's goroutine, and keep it at
// full size: a chat with a few phone photos would hold hundreds of MB.

const (
	// maxPicture is the largest file shown as a picture.
	maxPicture = 8 << 20
	// maxPixels is the most pixels a picture may have to be decoded: a
	// small file can claim a huge picture (a PNG of 8 MB can say 60,000 ×
	// 60,000), and decoding it would take gigabytes.
	maxPixels = 50_000_000
	// keptPictures is how many decoded pictures are kept.
	keptPictures = 48
)

// picture is f as an image shown at least show big, decoded to fit within
// sharp pixels; nil when f is not a picture this can show.
func picture(f File, show fyne.Size, sharp image.Point) *canvas.Image {
	if !f.IsImage() || f.Path == "" || f.Size > maxPicture {
		return nil
	}
	img, err := loadPicture(f.Path, sharp)
	if err != nil {
		return nil
	}
	c := canvas.NewImageFromImage(img)
	c.FillMode = canvas.ImageFillContain
	c.SetMinSize(show)
	return c
}

type pictureKey struct {
	path  string
	size  int64
	mod   time.Time
	sharp image.Point
}

var pictures struct {
	sync.Mutex
	kept  map[pictureKey]image.Image
	order []pictureKey // oldest first
}

// loadPicture decodes the picture at path to fit within sharp, or takes it
// from the ones kept.
func loadPicture(path string, sharp image.Point) (image.Image, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if info.Size() > maxPicture {
		return nil, errors.New("too big to show")
	}
	key := pictureKey{path, info.Size(), info.ModTime(), sharp}
	pictures.Lock()
	img, ok := pictures.kept[key]
	pictures.Unlock()
	if ok {
		return img, nil
	}
	r := bufio.NewReader(fh)
	cfg, _, err := image.DecodeConfig(r)
	if err != nil {
		return nil, err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, fmt.Errorf("a picture of %d × %d pixels is too big to show", cfg.Width, cfg.Height)
	}
	if _, err := fh.Seek(0, 0); err != nil {
		return nil, err
	}
	r.Reset(fh)
	src, _, err := image.Decode(r)
	if err != nil {
		return nil, err
	}
	img = fit(src, sharp)
	pictures.Lock()
	defer pictures.Unlock()
	if pictures.kept == nil {
		pictures.kept = map[pictureKey]image.Image{}
	}
	if _, ok := pictures.kept[key]; !ok {
		pictures.kept[key] = img
		pictures.order = append(pictures.order, key)
		for len(pictures.order) > keptPictures {
			delete(pictures.kept, pictures.order[0])
			pictures.order = pictures.order[1:]
		}
	}
	return img, nil
}

// fit is src scaled down, keeping its shape, to fit within box; src itself
// when it fits already.
func fit(src image.Image, box image.Point) image.Image {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= box.X && h <= box.Y {
		return src
	}
	// The smaller of the two scales, in integers: w*box.Y vs h*box.X.
	if int64(w)*int64(box.Y) > int64(h)*int64(box.X) {
		w, h = box.X, max(1, int(int64(h)*int64(box.X)/int64(w)))
	} else {
		w, h = max(1, int(int64(w)*int64(box.Y)/int64(h))), box.Y
	}
	// ApproxBiLinear costs a few milliseconds for a phone photo where the
	// kernel scalers take half a second; it is as sharp as the GPU's own
	// scaling of a full-size picture, which the windows showed before.
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	return dst
}
