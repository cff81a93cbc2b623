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

// inlinePixels is the most pixels a picture may have to be decoded on the
// window's goroutine when it is first shown, which takes a few
// milliseconds. A bigger one (a phone photo takes about 0.2 s) is decoded
// aside and appears when it is ready.
const inlinePixels = 2_000_000

// hookPictureReady, in tests, hears that a picture decoded aside is done.
var hookPictureReady func(path string)

// picture is f as an image shown at least show big, decoded to fit within
// sharp pixels; nil when f is not a picture this can show.
func picture(f File, show fyne.Size, sharp image.Point) *canvas.Image {
	if !f.IsImage() || f.Path == "" || f.Size > maxPicture {
		return nil
	}
	img, pixels, err := probePicture(f.Path, sharp)
	if err != nil {
		return nil
	}
	if img == nil && pixels <= inlinePixels {
		if img, err = loadPicture(f.Path, sharp); err != nil {
			return nil
		}
	}
	c := canvas.NewImageFromImage(img) // empty until decoded aside
	c.FillMode = canvas.ImageFillContain
	c.SetMinSize(show)
	if img == nil {
		go func() {
			if img, err := loadPicture(f.Path, sharp); err == nil {
				fyne.Do(func() {
					c.Image = img
					c.Refresh()
				})
			}
			if hookPictureReady != nil {
				hookPictureReady(f.Path)
			}
		}()
	}
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
	kept    map[pictureKey]image.Image
	order   []pictureKey // oldest first
	loading map[pictureKey]*loading
}

// loading is a picture being decoded: who wants it too waits for it.
type loading struct {
	done chan struct{}
	img  image.Image
	err  error
}

// openPicture opens the picture at path: its key among the pictures kept,
// the picture itself when it is kept, else the file with its header read
// and the pixels it claims checked. The caller closes the file.
func openPicture(path string, sharp image.Point) (pictureKey, image.Image, *os.File, image.Config, error) {
	var key pictureKey
	var cfg image.Config
	fh, err := os.Open(path)
	if err != nil {
		return key, nil, nil, cfg, err
	}
	info, err := fh.Stat()
	if err == nil && info.Size() > maxPicture {
		err = errors.New("too big to show")
	}
	if err == nil {
		key = pictureKey{path, info.Size(), info.ModTime(), sharp}
		pictures.Lock()
		img, ok := pictures.kept[key]
		pictures.Unlock()
		if ok {
			fh.Close()
			return key, img, nil, cfg, nil
		}
		cfg, _, err = image.DecodeConfig(bufio.NewReader(fh))
	}
	if err == nil && (cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels) {
		err = fmt.Errorf("a picture of %d × %d pixels is too big to show", cfg.Width, cfg.Height)
	}
	if err != nil {
		fh.Close()
		return key, nil, nil, cfg, err
	}
	return key, nil, fh, cfg, nil
}

// probePicture gives the picture at path fitted within sharp when it is
// kept, else the pixels it has (from its header).
func probePicture(path string, sharp image.Point) (image.Image, int64, error) {
	_, img, fh, cfg, err := openPicture(path, sharp)
	if fh != nil {
		fh.Close()
	}
	return img, int64(cfg.Width) * int64(cfg.Height), err
}

// loadPicture decodes the picture at path to fit within sharp, or takes it
// from the ones kept, or waits for the decoding of it under way.
func loadPicture(path string, sharp image.Point) (image.Image, error) {
	key, img, fh, _, err := openPicture(path, sharp)
	if err != nil || img != nil {
		return img, err
	}
	defer fh.Close()
	pictures.Lock()
	if l := pictures.loading[key]; l != nil {
		pictures.Unlock()
		<-l.done
		return l.img, l.err
	}
	if pictures.loading == nil {
		pictures.loading = map[pictureKey]*loading{}
	}
	l := &loading{done: make(chan struct{})}
	pictures.loading[key] = l
	pictures.Unlock()

	if _, err := fh.Seek(0, 0); err != nil {
		l.err = err
	} else if src, _, err := image.Decode(bufio.NewReader(fh)); err != nil {
		l.err = err
	} else {
		l.img = fit(src, sharp)
	}
	pictures.Lock()
	defer pictures.Unlock()
	delete(pictures.loading, key)
	close(l.done)
	if l.err != nil {
		return nil, l.err
	}
	if pictures.kept == nil {
		pictures.kept = map[pictureKey]image.Image{}
	}
	if _, ok := pictures.kept[key]; !ok {
		pictures.kept[key] = l.img
		pictures.order = append(pictures.order, key)
		for len(pictures.order) > keptPictures {
			delete(pictures.kept, pictures.order[0])
			pictures.order = pictures.order[1:]
		}
	}
	return l.img, nil
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
