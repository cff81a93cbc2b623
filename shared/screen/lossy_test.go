package screen_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/porthole-dev/porthole/shared/screen"
)

// photo paints r of img as frame f of a photo-like scene: smooth colour
// gradients that drift from frame to frame, and a little sensor noise.
func photo(img *screen.Image, r image.Rectangle, f int) {
	rnd := rand.New(rand.NewPCG(uint64(f), 2))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			fx, fy := float64(x+3*f), float64(y+2*f)
			c := [3]float64{
				128 + 90*math.Sin(fx/37)*math.Cos(fy/53),
				128 + 80*math.Sin((fx+fy)/61),
				128 + 70*math.Cos(fx/29-fy/41),
			}
			o := y*img.Stride + x*4
			for i := range c {
				img.Pix[o+i] = byte(max(0, min(255, c[i]+float64(rnd.IntN(13)-6))))
			}
		}
	}
}

// noise paints r of img with random pixels.
func noise(img *screen.Image, r image.Rectangle, seed uint64) {
	rnd := rand.New(rand.NewPCG(seed, 3))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[y*img.Stride+r.Min.X*4:][:r.Dx()*4]
		for i := 0; i < len(row); i += 4 {
			v := rnd.Uint32()
			row[i], row[i+1], row[i+2] = byte(v), byte(v>>8), byte(v>>16)
		}
	}
}

// psnr compares r of a and b, in dB (+Inf when they are the same).
func psnr(a, b *screen.Image, r image.Rectangle) float64 {
	var se float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			for i := range 3 {
				d := float64(a.Pix[y*a.Stride+x*4+i]) - float64(b.Pix[y*b.Stride+x*4+i])
				se += d * d
			}
		}
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(3*r.Dx()*r.Dy())))
}

// textPage is office without its patch of noise: text and a title bar.
func textPage(w, h int, seed uint64) *screen.Image {
	img := office(w, h, seed)
	for y := 60; y < min(260, h); y++ {
		for x := max(0, w-180); x < w; x++ {
			o := y*img.Stride + x*4
			img.Pix[o], img.Pix[o+1], img.Pix[o+2] = 0xf4, 0xf4, 0xf4
		}
	}
	return img
}

// equalOutside is equal, but for the tiles that touch r.
func equalOutside(t *testing.T, got, want *screen.Image, r image.Rectangle) {
	t.Helper()
	skip := image.Rect(r.Min.X/screen.TileSize*screen.TileSize, r.Min.Y/screen.TileSize*screen.TileSize,
		(r.Max.X+screen.TileSize-1)/screen.TileSize*screen.TileSize, (r.Max.Y+screen.TileSize-1)/screen.TileSize*screen.TileSize)
	for y := range want.H {
		for x := range want.W {
			if image.Pt(x, y).In(skip) {
				continue
			}
			a, b := got.Pix[y*got.Stride+x*4:][:3], want.Pix[y*want.Stride+x*4:][:3]
			if !bytes.Equal(a, b) {
				t.Fatalf("pixel %d,%d is %v, want %v", x, y, a, b)
			}
		}
	}
}

// A busy photo-like area goes lossy, near the source and smaller than
// lossless; once it settles, the top-off makes the picture exact.
func TestLossyThenTopOff(t *testing.T) {
	img := textPage(640, 400, 1)
	area := image.Rect(100, 80, 420, 330) // not on tile edges
	e, d := screen.NewEncoder(), screen.NewDecoder()
	exact := screen.NewEncoder()
	exact.Lossless = true
	ed := screen.NewDecoder()
	lossyBytes, exactBytes := 0, 0
	for f := range 10 {
		photo(img, area, f)
		msg := e.Encode(img, []image.Rectangle{area})
		if _, err := d.Decode(msg); err != nil {
			t.Fatalf("frame %d: %v", f, err)
		}
		xmsg := exact.Encode(img, []image.Rectangle{area})
		if _, err := ed.Decode(xmsg); err != nil {
			t.Fatalf("frame %d, lossless: %v", f, err)
		}
		equal(t, ed.Image(), img)
		if exact.Pending() {
			t.Fatal("a lossless encoder has tiles pending")
		}
		// The keyframe and the two frames after it are lossless; from the
		// third change in a row on, the area is busy.
		p := psnr(d.Image(), img, area)
		if f < 3 {
			if !math.IsInf(p, 1) || e.Pending() {
				t.Fatalf("frame %d: lossy before the area was busy (%.1f dB)", f, p)
			}
			continue
		}
		if math.IsInf(p, 1) || !e.Pending() {
			t.Fatalf("frame %d: a busy area went lossless", f)
		}
		if p < 30 {
			t.Fatalf("frame %d: %.1f dB", f, p)
		}
		equalOutside(t, d.Image(), img, area)
		lossyBytes += len(msg)
		exactBytes += len(xmsg)
	}
	t.Logf("a %v photo-like area at quality %d: %.1f dB, %d bytes a frame lossy, %d lossless",
		area.Size(), screen.DefaultQuality, psnr(d.Image(), img, area), lossyBytes/7, exactBytes/7)
	if lossyBytes*2 > exactBytes {
		t.Fatalf("lossy %d bytes, lossless %d", lossyBytes, exactBytes)
	}
	// Settled: nothing for three encodes, then the top-off, then nothing.
	for i := range 3 {
		if msg := e.Encode(img, []image.Rectangle{}); msg != nil {
			t.Fatalf("idle encode %d: %d bytes before the area settled", i, len(msg))
		}
		if !e.Pending() {
			t.Fatal("nothing pending before the top-off")
		}
	}
	msg := e.Encode(img, []image.Rectangle{})
	if msg == nil {
		t.Fatal("no top-off")
	}
	if _, err := d.Decode(msg); err != nil {
		t.Fatal(err)
	}
	equal(t, d.Image(), img)
	if e.Pending() {
		t.Fatal("still pending after the top-off")
	}
	for range 4 {
		if msg := e.Encode(img, []image.Rectangle{}); msg != nil {
			t.Fatalf("an idle screen after the top-off: %d bytes", len(msg))
		}
	}
	// Once the area has been still for 8 encodes, one change is not busy:
	// it goes exact.
	photo(img, image.Rect(100, 80, 200, 150), 99)
	if _, err := d.Decode(e.Encode(img, []image.Rectangle{area})); err != nil {
		t.Fatal(err)
	}
	equal(t, d.Image(), img)
}

// Quality is the JPEG's: a higher one is nearer and bigger.
func TestLossyQuality(t *testing.T) {
	area := image.Rect(0, 0, 256, 192)
	run := func(q int) (float64, int) {
		img := textPage(320, 240, 2)
		e, d := screen.NewEncoder(), screen.NewDecoder()
		e.Quality = q
		n := 0
		for f := range 6 {
			photo(img, area, f)
			msg := e.Encode(img, []image.Rectangle{area})
			if _, err := d.Decode(msg); err != nil {
				t.Fatal(err)
			}
			n = len(msg)
		}
		return psnr(d.Image(), img, area), n
	}
	lowP, lowN := run(30)
	highP, highN := run(95)
	if !(lowP < highP && lowN < highN && lowP >= 25) {
		t.Fatalf("quality 30: %.1f dB, %d bytes; 95: %.1f dB, %d bytes", lowP, lowN, highP, highN)
	}
}

// Text goes exact even when it changes at every frame: typing, and
// scrolling sent as tiles.
func TestTextNeverLossy(t *testing.T) {
	t.Run("typing", func(t *testing.T) {
		img := textPage(640, 400, 3)
		e, d := screen.NewEncoder(), screen.NewDecoder()
		for f := range 16 {
			glyph := image.Rect(60+7*f, 100, 67+7*f, 114)
			for y := glyph.Min.Y; y < glyph.Max.Y; y++ {
				for x := glyph.Min.X; x < glyph.Max.X; x++ {
					if (x+y+f)%2 == 0 {
						o := y*img.Stride + x*4
						img.Pix[o], img.Pix[o+1], img.Pix[o+2] = 0x10, 0x10, 0x10
					}
				}
			}
			if _, err := d.Decode(e.Encode(img, []image.Rectangle{glyph})); err != nil {
				t.Fatal(err)
			}
			equal(t, d.Image(), img)
			if e.Pending() {
				t.Fatalf("frame %d: text went lossy", f)
			}
		}
	})
	t.Run("scrolling", func(t *testing.T) {
		page := textPage(640, 400+24*16, 4)
		e, d := screen.NewEncoder(), screen.NewDecoder()
		for f := range 16 {
			img := screen.NewImage(640, 400)
			copy(img.Pix, page.Pix[f*24*page.Stride:][:len(img.Pix)])
			if _, err := d.Decode(e.EncodeTiles(img)); err != nil {
				t.Fatal(err)
			}
			equal(t, d.Image(), img)
			if e.Pending() {
				t.Fatalf("frame %d: text went lossy", f)
			}
		}
	})
}

// A scroll moves what the receiver has, lossy pixels too: those that land
// elsewhere are topped off as well once the screen settles.
func TestLossyScrolledThenTopOff(t *testing.T) {
	page := textPage(640, 400+24*8, 5)
	area := image.Rect(90, 100, 410, 300)
	view := func(top int) *screen.Image {
		img := screen.NewImage(640, 400)
		copy(img.Pix, page.Pix[top*page.Stride:][:len(img.Pix)])
		return img
	}
	e, d := screen.NewEncoder(), screen.NewDecoder()
	for f := range 6 {
		photo(page, area, f)
		if _, err := d.Decode(e.Encode(view(0), []image.Rectangle{area})); err != nil {
			t.Fatal(err)
		}
	}
	if !e.Pending() {
		t.Fatal("the photo did not go lossy")
	}
	var img *screen.Image
	for top := 24; top <= 24*8; top += 24 {
		img = view(top)
		msg := e.Encode(img, nil)
		if _, err := d.Decode(msg); err != nil {
			t.Fatal(err)
		}
		if top == 24 && len(msg) > 8000 {
			t.Fatalf("a scroll of a line: %d bytes (not a copy?)", len(msg))
		}
	}
	for i := 0; e.Pending(); i++ {
		if i == 8 {
			t.Fatal("still pending after 8 idle encodes")
		}
		if msg := e.Encode(img, []image.Rectangle{}); msg != nil {
			if _, err := d.Decode(msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	equal(t, d.Image(), img)
}

// A keyframe for a viewer that joins while an area is busy sends it lossy
// too, and tops it off.
func TestLossyKeyframe(t *testing.T) {
	img := textPage(320, 240, 6)
	area := image.Rect(0, 0, 192, 128)
	e := screen.NewEncoder()
	for f := range 5 {
		noise(img, area, uint64(f))
		e.Encode(img, []image.Rectangle{area})
	}
	e.Reset()
	noise(img, area, 5)
	d := screen.NewDecoder()
	if _, err := d.Decode(e.Encode(img, []image.Rectangle{area})); err != nil {
		t.Fatal(err)
	}
	if !e.Pending() || math.IsInf(psnr(d.Image(), img, area), 1) {
		t.Fatal("the keyframe sent the busy area lossless")
	}
	equalOutside(t, d.Image(), img, area)
	for range 4 {
		if msg := e.Encode(img, []image.Rectangle{}); msg != nil {
			if _, err := d.Decode(msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	equal(t, d.Image(), img)
}

// lossyUpdate makes an update of a w × h picture with one lossy tile (a
// rectangle across × down of tiles from col, row) and, if solid is
// non-nil, first a solid tile there.
func lossyUpdate(seq, w, h, col, row, across, down int, jpg []byte, solid *[2]int) []byte {
	u := func(b []byte, v int) []byte { return binary.AppendUvarint(b, uint64(v)) }
	m := u(u(u([]byte{1}, seq), w), h)
	m = append(m, 0, 0) // flags, copies
	if solid != nil {
		m = u(m, 2)
		m = u(u(m, solid[0]), solid[1])
		m = append(m, 0, 0x11, 0x22, 0x33)
	} else {
		m = u(m, 1)
	}
	m = u(u(m, col), row)
	m = append(m, 3)
	m = u(u(u(m, across), down), len(jpg))
	m = append(m, jpg...)
	return append(m, 0) // no zstd frame
}

func jpegOf(t *testing.T, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A bad lossy tile is refused whole, before a pixel changes.
func TestBadLossyTilesChangeNothing(t *testing.T) {
	e, d := screen.NewEncoder(), screen.NewDecoder()
	img := office(200, 130, 2) // 4 × 3 tiles, the last column 8 wide, the last row 2 high
	if _, err := d.Decode(e.Encode(img, nil)); err != nil {
		t.Fatal(err)
	}
	before := append([]byte(nil), d.Image().Pix...)
	rgb := func(w, h int) *image.RGBA {
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := range m.Pix {
			m.Pix[i] = byte(i * 7)
		}
		return m
	}
	good := jpegOf(t, rgb(128, 64))
	corrupt := append([]byte(nil), good...)
	corrupt[0], corrupt[1] = 0, 0 // no SOI
	for name, msg := range map[string][]byte{
		"not a JPEG":             lossyUpdate(5, 200, 130, 0, 0, 2, 1, bytes.Repeat([]byte{0xa5}, 600), nil),
		"no start of image":      lossyUpdate(5, 200, 130, 0, 0, 2, 1, corrupt, nil),
		"truncated":              lossyUpdate(5, 200, 130, 0, 0, 2, 1, good[:len(good)/2], nil),
		"headers only":           lossyUpdate(5, 200, 130, 0, 0, 2, 1, good[:700], nil),
		"a JPEG of another size": lossyUpdate(5, 200, 130, 0, 0, 1, 1, good, nil),
		"a JPEG a pixel short":   lossyUpdate(5, 200, 130, 0, 0, 2, 1, jpegOf(t, rgb(128, 63)), nil),
		"beyond the picture":     lossyUpdate(5, 200, 130, 3, 0, 2, 1, good, nil),
		"no tiles across":        lossyUpdate(5, 200, 130, 0, 0, 0, 1, good, nil),
		"no tiles down":          lossyUpdate(5, 200, 130, 0, 0, 2, 0, good, nil),
		"over another tile":      lossyUpdate(5, 200, 130, 0, 0, 2, 1, good, &[2]int{1, 0}),
		"after a good tile":      lossyUpdate(5, 200, 130, 0, 0, 2, 1, corrupt, &[2]int{2, 2}),
		"too long":               lossyUpdate(5, 200, 130, 3, 2, 1, 1, make([]byte, 3*8*2+2049), nil),
		"length past the end":    lossyUpdate(5, 200, 130, 0, 0, 2, 1, good, nil)[:len(good)/2],
	} {
		if _, err := d.Decode(msg); !errors.Is(err, screen.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
		if !bytes.Equal(d.Image().Pix, before) {
			t.Fatalf("%s changed the picture", name)
		}
	}
	// The good ones apply: colour, and grey at the picture's corner (a
	// tile of 8 × 2 pixels).
	changed, err := d.Decode(lossyUpdate(5, 200, 130, 0, 0, 2, 1, good, &[2]int{3, 2}))
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 2 || changed[1] != image.Rect(0, 0, 128, 64) {
		t.Fatalf("changed %v", changed)
	}
	grey := image.NewGray(image.Rect(0, 0, 8, 2))
	for i := range grey.Pix {
		grey.Pix[i] = 0x80
	}
	if _, err := d.Decode(lossyUpdate(6, 200, 130, 3, 2, 1, 1, jpegOf(t, grey), nil)); err != nil {
		t.Fatal(err)
	}
	if o := 129*d.Image().Stride + 199*4; d.Image().Pix[o] < 0x7c || d.Image().Pix[o] > 0x84 {
		t.Fatalf("the grey tile's pixel is %v", d.Image().Pix[o:o+4])
	}
}
