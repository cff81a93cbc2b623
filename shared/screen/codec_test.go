package screen_test

import (
	"bytes"
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/screen"
)

// office draws a synthetic screen of work: a light page with dark text
// lines, a coloured title bar, and a photo-like patch of noise.
func office(w, h int, seed uint64) *screen.Image {
	img := screen.NewImage(w, h)
	r := rand.New(rand.NewPCG(seed, 1))
	// Which character cells of each text line hold a glyph: text does not
	// repeat from line to line.
	glyphs := make([][]bool, h/24+1)
	for i := range glyphs {
		glyphs[i] = make([]bool, w/7+1)
		for j := range glyphs[i] {
			glyphs[i][j] = r.IntN(5) != 0
		}
	}
	for y := range h {
		for x := range w {
			c := [3]byte{0xf4, 0xf4, 0xf4}
			switch {
			case y < 40:
				c = [3]byte{0x80, 0x40, 0x20}
			case y%24 > 6 && y%24 < 18 && x > 40 && x < w-200 && glyphs[y/24][x/7]:
				if (x*31+y*17)%3 == 0 {
					c = [3]byte{0x20, 0x20, 0x20}
				}
			case x > w-180 && y > 60 && y < 260:
				c = [3]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}
			}
			o := y*img.Stride + x*4
			img.Pix[o], img.Pix[o+1], img.Pix[o+2] = c[0], c[1], c[2]
		}
	}
	return img
}

func equal(t *testing.T, got, want *screen.Image) {
	t.Helper()
	if got == nil || got.W != want.W || got.H != want.H {
		t.Fatalf("picture %v, want %d × %d", got, want.W, want.H)
	}
	for y := range want.H {
		for x := range want.W {
			a, b := got.Pix[y*got.Stride+x*4:][:3], want.Pix[y*want.Stride+x*4:][:3]
			if !bytes.Equal(a, b) {
				t.Fatalf("pixel %d,%d is %v, want %v", x, y, a, b)
			}
		}
	}
}

func TestRoundTripIsExact(t *testing.T) {
	// Sizes that are not multiples of a tile, and an odd width (palette
	// indices across rows, the last byte padded).
	for _, sz := range [][2]int{{1920, 1080}, {333, 201}, {1, 1}, {65, 3}} {
		e, d := screen.NewEncoder(), screen.NewDecoder()
		img := office(sz[0], sz[1], 1)
		msg := e.Encode(img, nil)
		if _, err := d.Decode(msg); err != nil {
			t.Fatalf("%v keyframe: %v", sz, err)
		}
		equal(t, d.Image(), img)
		// Nothing changed: nothing to send.
		if msg := e.Encode(img, nil); msg != nil {
			t.Fatalf("%v: an unchanged picture made %d bytes", sz, len(msg))
		}
	}
}

// Typing: a few glyphs change; only the parts of their tiles around them
// go, and small.
func TestTypingSendsLittle(t *testing.T) {
	e, d := screen.NewEncoder(), screen.NewDecoder()
	img := office(1920, 1080, 1)
	key := e.Encode(img, nil)
	if _, err := d.Decode(key); err != nil {
		t.Fatal(err)
	}
	glyph := image.Rect(300, 500, 309, 514)
	for y := glyph.Min.Y; y < glyph.Max.Y; y++ {
		for x := glyph.Min.X; x < glyph.Max.X; x++ {
			if (x+y)%2 == 0 {
				o := y*img.Stride + x*4
				img.Pix[o], img.Pix[o+1], img.Pix[o+2] = 0x10, 0x10, 0x10
			}
		}
	}
	msg := e.Encode(img, []image.Rectangle{glyph})
	changed, err := d.Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, d.Image(), img)
	var union image.Rectangle
	for _, r := range changed {
		union = union.Union(r)
	}
	t.Logf("a glyph: %d bytes, changed %v", len(msg), changed)
	if len(changed) > 2 || !glyph.In(union) || len(msg) > 150 {
		t.Fatalf("a glyph: %d bytes, changed %v (the keyframe was %d bytes)", len(msg), changed, len(key))
	}
	// A change outside what the encoder was told to look at is not seen;
	// nil looks everywhere.
	o := 900*img.Stride + 900*4
	img.Pix[o] ^= 0xff
	if msg := e.Encode(img, []image.Rectangle{glyph}); msg != nil {
		t.Fatal("looked beyond the changed rectangles")
	}
	msg = e.Encode(img, nil)
	if _, err := d.Decode(msg); err != nil {
		t.Fatal(err)
	}
	equal(t, d.Image(), img)
}

// What a hostile or broken peer sends is refused whole: nothing of it is
// applied.
func TestBadUpdatesChangeNothing(t *testing.T) {
	e, d := screen.NewEncoder(), screen.NewDecoder()
	img := office(200, 130, 2)
	key := e.Encode(img, nil)
	if _, err := d.Decode(key); err != nil {
		t.Fatal(err)
	}
	before := append([]byte(nil), d.Image().Pix...)
	img2 := office(200, 130, 3)
	for y := 0; y < 130; y++ { // a change in every tile
		o := y*img2.Stride + (y%200)*4
		img2.Pix[o] ^= 0x5a
	}
	good := e.Encode(img2, nil)
	for name, msg := range map[string][]byte{
		"empty":               {},
		"other version":       append([]byte{9}, good[1:]...),
		"truncated":           good[:len(good)/2],
		"one byte short":      good[:len(good)-1],
		"a byte more":         append(append([]byte(nil), good...), 0),
		"pixels of no tile":   {1, 5, 200&0x7f | 0x80, 1, 130&0x7f | 0x80, 1, 0, 0, 3, 1, 2, 3},
		"huge":                {1, 5, 0xff, 0x7f, 0xff, 0x7f, 0, 0, 0},
		"tile outside":        {1, 5, 0xc8, 0x01, 0x82, 0x01, 0, 1, 9, 0, 0, 1, 2, 3, 0},
		"same tile twice":     {1, 5, 0xc8, 0x01, 0x82, 0x01, 0, 2, 0, 0, 0, 1, 2, 3, 0, 0, 0, 1, 2, 3, 0},
		"unknown kind":        {1, 5, 0xc8, 0x01, 0x82, 0x01, 0, 1, 0, 0, 7, 0},
		"palette of one":      {1, 5, 0xc8, 0x01, 0x82, 0x01, 0, 1, 0, 0, 1, 1, 1, 2, 3, 0},
		"out of date":         key,
		"needs a keyframe":    {1, 9, 0x10, 0x10, 0, 1, 0, 0, 0, 1, 2, 3, 0},
		"garbage compression": append(append([]byte(nil), good[:len(good)-5]...), 1, 2, 3, 4, 5),
	} {
		if _, err := d.Decode(msg); !errors.Is(err, screen.ErrInvalid) && !errors.Is(err, screen.ErrNeedKey) {
			t.Errorf("%s: %v", name, err)
		}
		if !bytes.Equal(d.Image().Pix, before) {
			t.Fatalf("%s changed the picture", name)
		}
	}
	if _, err := d.Decode(good); err != nil {
		t.Fatalf("the good update after the bad: %v", err)
	}
	equal(t, d.Image(), img2)
}

// A new receiver, or one that lost track, starts from a keyframe.
func TestKeyframes(t *testing.T) {
	e := screen.NewEncoder()
	img := office(300, 200, 4)
	e.Encode(img, nil)
	img.Pix[0] ^= 1
	delta := e.Encode(img, nil)
	if _, err := screen.NewDecoder().Decode(delta); !errors.Is(err, screen.ErrNeedKey) {
		t.Fatalf("a delta to a new viewer: %v", err)
	}
	e.Reset()
	d := screen.NewDecoder()
	if _, err := d.Decode(e.Encode(img, []image.Rectangle{})); err != nil {
		t.Fatalf("the keyframe after Reset: %v", err)
	}
	equal(t, d.Image(), img)
	// A new size is a keyframe too.
	big := office(400, 250, 5)
	if _, err := d.Decode(e.Encode(big, nil)); err != nil {
		t.Fatal(err)
	}
	equal(t, d.Image(), big)
}

func FuzzDecode(f *testing.F) {
	e := screen.NewEncoder()
	img := office(130, 70, 6)
	base := e.Encode(img, nil)
	f.Add(base)
	img.Pix[100] ^= 0xff
	f.Add(e.Encode(img, nil))
	f.Add([]byte{1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 2, 3, 0})
	// Parts of tiles (the picture is 3 × 2 tiles, the last column 2
	// wide, the last row 6 high): a pixel at the picture's corner
	// (solid), 2, 3 and 9 colours (palette indices of 1, 2 and 4 bits),
	// many (raw), their pixels stored; and a part whose pixels compress.
	rnd := rand.New(rand.NewPCG(6, 6))
	for _, c := range []struct {
		r image.Rectangle
		n int
	}{
		{image.Rect(129, 69, 130, 70), 1},
		{image.Rect(60, 10, 70, 15), 2}, // across two tiles
		{image.Rect(128, 64, 130, 70), 3},
		{image.Rect(5, 60, 12, 68), 9},
		{image.Rect(100, 20, 106, 24), 200},
	} {
		cs := make([]uint32, c.n)
		for i := range cs {
			cs[i] = rnd.Uint32() & 0xffffff
		}
		setRect(img, c.r, cs, rnd)
		f.Add(e.Encode(img, []image.Rectangle{c.r}))
	}
	stripes := image.Rect(3, 3, 60, 50)
	for y := stripes.Min.Y; y < stripes.Max.Y; y++ {
		setRect(img, image.Rect(stripes.Min.X, y, stripes.Max.X, y+1), []uint32{uint32(y%3) * 0x404040}, rnd)
	}
	f.Add(e.Encode(img, []image.Rectangle{stripes}))
	// Lossy updates, of a busy area (a tile and a part of one), and a
	// keyframe with it lossy (at a low quality: small seeds fuzz faster).
	e.Quality = 10
	busy := image.Rect(0, 0, 100, 64)
	for i := range 4 {
		photo(img, busy, i)
		if msg := e.Encode(img, []image.Rectangle{busy}); e.Pending() {
			f.Add(msg)
		}
	}
	photo(img, busy, 9)
	e.Reset()
	f.Add(e.Encode(img, nil))
	f.Fuzz(func(t *testing.T, msg []byte) {
		d := screen.NewDecoder()
		d.MaxPixels = 1 << 20
		changed, err := d.Decode(msg)
		if err != nil {
			if d.Image() != nil {
				t.Fatal("a refused update left a picture")
			}
		} else {
			inside(t, d, changed)
		}
		// The same as an update to a picture the decoder has.
		d = screen.NewDecoder()
		d.MaxPixels = 1 << 20
		if _, err := d.Decode(base); err != nil {
			t.Fatal(err)
		}
		before := append([]byte(nil), d.Image().Pix...)
		changed, err = d.Decode(msg)
		if err != nil {
			if !bytes.Equal(d.Image().Pix, before) {
				t.Fatal("a refused update changed the picture")
			}
			return
		}
		inside(t, d, changed)
	})
}

func inside(t *testing.T, d *screen.Decoder, changed []image.Rectangle) {
	for _, r := range changed {
		if !r.In(image.Rect(0, 0, d.Image().W, d.Image().H)) {
			t.Fatalf("changed %v outside the picture", r)
		}
	}
}

// Encoding a 1080p office screen: the first (key) frame, and a frame of
// typing (one glyph), which is what a support session mostly sends.
func BenchmarkEncode1080p(b *testing.B) {
	img := office(1920, 1080, 1)
	b.Run("keyframe", func(b *testing.B) {
		n := 0
		for b.Loop() {
			n = len(screen.NewEncoder().Encode(img, nil))
		}
		b.ReportMetric(float64(n), "bytes/frame")
	})
	b.Run("typing", func(b *testing.B) {
		e := screen.NewEncoder()
		e.Encode(img, nil)
		glyph := image.Rect(300, 500, 309, 514)
		o := 505*img.Stride + 304*4
		n := 0
		for b.Loop() {
			img.Pix[o] ^= 0xff
			n += len(e.Encode(img, []image.Rectangle{glyph}))
		}
		b.ReportMetric(float64(n)/float64(b.N), "bytes/frame")
	})
	// A glyph typed into a terminal's text: it replaces the cursor, which
	// moves on to the next cell (what the screen bench types).
	b.Run("typing-glyph", func(b *testing.B) {
		tm := newTerm(1920, 1080, 1)
		e := screen.NewEncoder()
		e.Encode(tm.img, nil)
		i, n := 0, 0
		for b.Loop() {
			ch := tm.typeAt(i%300, 40+i/300%20, byte('a'+i%26))
			n += len(e.Encode(tm.img, []image.Rectangle{ch}))
			i++
		}
		b.ReportMetric(float64(n)/float64(b.N), "bytes/frame")
	})
	b.Run("scrolling", func(b *testing.B) {
		page := office(1920, 1080+24*64, 8)
		views := make([]*screen.Image, 64)
		for i := range views {
			views[i] = screen.NewImage(1920, 1080)
			copy(views[i].Pix, page.Pix[i*24*page.Stride:][:len(views[i].Pix)])
		}
		e := screen.NewEncoder()
		e.Encode(views[0], nil)
		i, n := 0, 0
		for b.Loop() {
			i = (i + 1) % len(views)
			if i == 0 {
				e.Reset()
			}
			n += len(e.Encode(views[i], nil))
		}
		b.ReportMetric(float64(n)/float64(b.N), "bytes/frame")
	})
	// A 640 × 360 area that changes at every frame, noise (the worst case
	// for both) or photo-like (a video), sent lossless, lossy as JPEGs of
	// rectangles of tiles (what Encoder does), and lossy as a JPEG per
	// tile; decoded too.
	area := image.Rect(200, 300, 840, 660)
	noisy, video := make([]*screen.Image, 8), make([]*screen.Image, 8)
	for i := range noisy {
		noisy[i] = office(1920, 1080, 1)
		noise(noisy[i], area, uint64(i))
		video[i] = office(1920, 1080, 1)
		photo(video[i], area, i)
	}
	for _, c := range []struct {
		name              string
		frames            []*screen.Image
		lossless, perTile bool
	}{
		{"noise-lossless", noisy, true, false},
		{"noise-lossy", noisy, false, false},
		{"noise-lossy-tile-by-tile", noisy, false, true},
		{"video-lossless", video, true, false},
		{"video-lossy", video, false, false},
		{"video-lossy-tile-by-tile", video, false, true},
	} {
		frames := c.frames
		b.Run(c.name, func(b *testing.B) {
			e, d := screen.NewEncoder(), screen.NewDecoder()
			e.Lossless = c.lossless
			e.SetOneTileJPEGs(c.perTile)
			i := 0
			frame := func() (int, time.Duration, time.Duration) {
				i++
				img := frames[i%len(frames)]
				t0 := time.Now()
				msg := e.Encode(img, []image.Rectangle{area})
				t1 := time.Now()
				if _, err := d.Decode(msg); err != nil {
					b.Fatal(err)
				}
				return len(msg), t1.Sub(t0), time.Since(t1)
			}
			for range 8 { // the keyframe, and until the area is busy
				frame()
			}
			var n int
			var enc, dec time.Duration
			for b.Loop() {
				m, te, td := frame()
				n, enc, dec = n+m, enc+te, dec+td
			}
			b.ReportMetric(float64(n)/float64(b.N), "bytes/frame")
			b.ReportMetric(enc.Seconds()*1e3/float64(b.N), "enc-ms/frame")
			b.ReportMetric(dec.Seconds()*1e3/float64(b.N), "dec-ms/frame")
			if p := psnr(d.Image(), frames[i%len(frames)], area); !math.IsInf(p, 1) {
				b.ReportMetric(p, "dB")
			}
		})
	}
}

// Scrolling text goes as one copy and the new lines: much smaller than
// the tiles it moved, and exact.
func TestScrollIsACopy(t *testing.T) {
	page := office(1920, 1080+240, 7) // taller than the screen: scrolled into view
	view := func(top int) *screen.Image {
		img := screen.NewImage(1920, 1080)
		copy(img.Pix, page.Pix[top*page.Stride:][:len(img.Pix)])
		return img
	}
	e, d := screen.NewEncoder(), screen.NewDecoder()
	if _, err := d.Decode(e.Encode(view(0), nil)); err != nil {
		t.Fatal(err)
	}
	plain := screen.NewEncoder()
	plain.Encode(view(0), nil)
	for top := 24; top <= 240; top += 24 { // a line at a time
		img := view(top)
		msg := e.Encode(img, nil)
		if _, err := d.Decode(msg); err != nil {
			t.Fatal(err)
		}
		equal(t, d.Image(), img)
		// The same change without a copy: every tile of moved text again.
		without := len(plain.EncodeTiles(img))
		if top == 24 && len(msg)*3 > without {
			t.Fatalf("a scroll of one line: %d bytes, %d without the copy", len(msg), without)
		}
	}
}

func TestBadCopiesChangeNothing(t *testing.T) {
	e, d := screen.NewEncoder(), screen.NewDecoder()
	img := office(200, 130, 2)
	if _, err := d.Decode(e.Encode(img, nil)); err != nil {
		t.Fatal(err)
	}
	before := append([]byte(nil), d.Image().Pix...)
	for name, msg := range map[string][]byte{
		"copy outside":    {1, 5, 0xc8, 0x01, 0x82, 0x01, 0, 1, 0, 0, 100, 100, 150, 10, 0, 0, 0},
		"copy to outside": {1, 5, 0xc8, 0x01, 0x82, 0x01, 0, 1, 0, 0, 10, 10, 190, 120, 0},
		"empty copy":      {1, 5, 0xc8, 0x01, 0x82, 0x01, 0, 1, 0, 0, 0, 10, 0, 0, 0, 0},
		"copies galore":   {1, 5, 0xc8, 0x01, 0x82, 0x01, 0, 9},
	} {
		if _, err := d.Decode(msg); !errors.Is(err, screen.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
		if !bytes.Equal(d.Image().Pix, before) {
			t.Fatalf("%s changed the picture", name)
		}
	}
}
