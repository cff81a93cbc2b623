package screen_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"math/rand/v2"
	"testing"

	"github.com/porthole-dev/porthole/shared/screen"
)

// term is a terminal's text area: white, with black glyphs in cells of
// 6 × 13 pixels (the X core font "fixed", as the screen bench types).
type term struct {
	img    *screen.Image
	origin image.Point // of the first cell
}

const cellW, cellH = 6, 13

// newTerm draws a w × h picture of lines of text of random lengths.
func newTerm(w, h int, seed uint64) *term {
	t := &term{img: screen.NewImage(w, h), origin: image.Pt(4, 4)}
	for i := range t.img.Pix {
		t.img.Pix[i] = 0xff
	}
	r := rand.New(rand.NewPCG(seed, 4))
	for row := range (h - 8) / cellH {
		for col := range r.IntN((w - 8) / cellW) {
			t.glyph(col, row, byte('a'+r.IntN(26)))
		}
	}
	return t
}

// cell is the rectangle of a cell.
func (t *term) cell(col, row int) image.Rectangle {
	at := t.origin.Add(image.Pt(col*cellW, row*cellH))
	return image.Rectangle{Min: at, Max: at.Add(image.Pt(cellW, cellH))}
}

// glyph draws ch in a cell (the same pixels for the same ch): ' ' is
// blank, 0 the block cursor.
func (t *term) glyph(col, row int, ch byte) image.Rectangle {
	c := t.cell(col, row)
	r := rand.New(rand.NewPCG(uint64(ch), 5))
	for y := c.Min.Y; y < c.Max.Y; y++ {
		for x := c.Min.X; x < c.Max.X; x++ {
			v := byte(0xff)
			dx, dy := x-c.Min.X, y-c.Min.Y
			if ch == 0 || ch != ' ' && dy >= 2 && dy < 11 && dx < 5 && r.IntN(3) == 0 {
				v = 0
			}
			o := y*t.img.Stride + x*4
			t.img.Pix[o], t.img.Pix[o+1], t.img.Pix[o+2] = v, v, v
		}
	}
	return c
}

// typeAt types ch over the cursor at col and moves the cursor on: what
// changed.
func (t *term) typeAt(col, row int, ch byte) image.Rectangle {
	return t.glyph(col, row, ch).Union(t.glyph(col+1, row, 0))
}

// A typed glyph (the cursor block replaced by the glyph, the cursor drawn
// in the next cell) is a part of a tile, or of two where the cells cross
// a tile's edge: tens of bytes, not hundreds.
func TestTypedGlyphIsSmall(t *testing.T) {
	tm := newTerm(1920, 1080, 1)
	const row = 40
	for col := range 300 {
		tm.glyph(col, row, ' ')
	}
	tm.glyph(0, row, 0)
	e, d := screen.NewEncoder(), screen.NewDecoder()
	if _, err := d.Decode(e.Encode(tm.img, nil)); err != nil {
		t.Fatal(err)
	}
	total, most := 0, 0
	const n = 200
	for col := range n {
		ch := tm.typeAt(col, row, byte('a'+col%26))
		msg := e.Encode(tm.img, []image.Rectangle{ch})
		changed, err := d.Decode(msg)
		if err != nil {
			t.Fatal(err)
		}
		var union image.Rectangle
		for _, r := range changed {
			union = union.Union(r)
		}
		if union != ch {
			t.Fatalf("glyph %d: changed %v, want %v", col, changed, ch)
		}
		if len(msg) >= 150 {
			t.Fatalf("glyph %d: %d bytes", col, len(msg))
		}
		total, most = total+len(msg), max(most, len(msg))
	}
	equal(t, d.Image(), tm.img)
	t.Logf("a typed glyph: %d bytes on average, at most %d", total/n, most)
}

// setRect paints r (clipped to the picture) with colours from cs, chosen
// by rnd.
func setRect(img *screen.Image, r image.Rectangle, cs []uint32, rnd *rand.Rand) {
	r = r.Intersect(image.Rect(0, 0, img.W, img.H))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := cs[rnd.IntN(len(cs))]
			o := y*img.Stride + x*4
			img.Pix[o], img.Pix[o+1], img.Pix[o+2] = byte(c), byte(c>>8), byte(c>>16)
		}
	}
}

// Small changes anywhere — at tiles' edges and corners, across them, in
// the partial tiles at the right and the bottom, at the picture's corners
// — with 1 to many colours (solid, palette of each index width, raw
// parts) go exact, and the rectangles said changed hold every changed
// pixel.
func TestPartsRoundTrip(t *testing.T) {
	for _, sz := range [][2]int{{333, 201}, {1920, 1080}, {70, 65}, {1, 1}} {
		w, h := sz[0], sz[1]
		rnd := rand.New(rand.NewPCG(uint64(w), uint64(h)))
		img := office(w, h, 9)
		e, d := screen.NewEncoder(), screen.NewDecoder()
		e.Lossless = true // a busy tile of many colours goes exact too
		if _, err := d.Decode(e.Encode(img, nil)); err != nil {
			t.Fatal(err)
		}
		colours := func(n int) []uint32 {
			cs := make([]uint32, n)
			for i := range cs {
				cs[i] = rnd.Uint32() & 0xffffff
			}
			return cs
		}
		// Where: the picture's corners and last pixels, tiles' corners
		// and edges, then anywhere.
		var at []image.Rectangle
		for _, p := range []image.Point{{0, 0}, {w - 1, 0}, {0, h - 1}, {w - 1, h - 1}, {63, 63}, {64, 64}, {63, 0}, {0, 64}, {64, 63}} {
			at = append(at, image.Rectangle{Min: p, Max: p.Add(image.Pt(1, 1))})
		}
		at = append(at,
			image.Rect(60, 60, 68, 68),           // across four tiles
			image.Rect(w-5, h-3, w, h),           // the corner of the last tile
			image.Rect(0, h-1, w, h),             // the last row
			image.Rect(w-1, 0, w, h),             // the last column
			image.Rect(w/2-3, h/2-3, w/2+3, h/2)) // somewhere inside
		for range 60 {
			x, y := rnd.IntN(w), rnd.IntN(h)
			at = append(at, image.Rect(x, y, x+1+rnd.IntN(20), y+1+rnd.IntN(20)))
		}
		for i, r := range at {
			before := append([]byte(nil), d.Image().Pix...)
			cs := colours([]int{1, 2, 3, 4, 5, 16, 200}[i%7])
			setRect(img, r, cs, rnd)
			msg := e.Encode(img, []image.Rectangle{r})
			if msg == nil {
				continue // the same colours as before
			}
			changed, err := d.Decode(msg)
			if err != nil {
				t.Fatalf("%d × %d, %v: %v", w, h, r, err)
			}
			if !bytes.Equal(d.Image().Pix, img.Pix) { // the unused bytes are 0 in both
				equal(t, d.Image(), img)
			}
			inside(t, d, changed)
			// Only r changed: the rest is equal's.
			for y := max(r.Min.Y, 0); y < min(r.Max.Y, h); y++ {
				for x := max(r.Min.X, 0); x < min(r.Max.X, w); x++ {
					o := y*img.Stride + x*4
					if bytes.Equal(before[o:o+3], img.Pix[o:o+3]) {
						continue
					}
					found := false
					for _, c := range changed {
						found = found || image.Pt(x, y).In(c)
					}
					if !found {
						t.Fatalf("%d × %d, %v: pixel %d,%d changed, not in %v", w, h, r, x, y, changed)
					}
				}
			}
			// A pixel's change is a part of a pixel: about ten bytes of
			// header and ten of tile (its place, kind, part and colour).
			if r.Dx()*r.Dy() == 1 && len(msg) > 40 {
				t.Fatalf("%d × %d: a pixel at %v took %d bytes", w, h, r.Min, len(msg))
			}
		}
	}
}

// update builds an update of a 200 × 130 picture (4 × 3 tiles, the last
// column 8 wide, the last row 2 high): flags, the tiles' list (n of
// them), and the pixels as they go.
func update(seq int, flags byte, n int, list []byte, px []byte) []byte {
	m := binary.AppendUvarint([]byte{1}, uint64(seq))
	m = append(m, 0xc8, 0x01, 0x82, 0x01, flags, 0)
	m = binary.AppendUvarint(m, uint64(n))
	m = append(m, list...)
	m = binary.AppendUvarint(m, uint64(len(px)))
	return append(m, px...)
}

const stored = 2 // the update's flag

// A bad part, or pixels that do not fit, are refused whole.
func TestBadPartsChangeNothing(t *testing.T) {
	e, d := screen.NewEncoder(), screen.NewDecoder()
	img := office(200, 130, 2)
	if _, err := d.Decode(e.Encode(img, nil)); err != nil {
		t.Fatal(err)
	}
	before := append([]byte(nil), d.Image().Pix...)
	solid := []byte{1, 2, 3}
	two := []byte{2, 1, 1, 1, 2, 2, 2}            // a palette of 2 colours
	three := []byte{3, 1, 1, 1, 2, 2, 2, 3, 3, 3} // and of 3
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for name, msg := range map[string][]byte{
		"x beyond the tile":          update(5, 0, 1, cat([]byte{0, 0, 4, 64, 0, 1, 1}, solid), nil),
		"y beyond the tile":          update(5, 0, 1, cat([]byte{0, 0, 4, 0, 64, 1, 1}, solid), nil),
		"no width":                   update(5, 0, 1, cat([]byte{0, 0, 4, 0, 0, 0, 1}, solid), nil),
		"no height":                  update(5, 0, 1, cat([]byte{0, 0, 4, 0, 0, 1, 0}, solid), nil),
		"wider than the tile":        update(5, 0, 1, cat([]byte{0, 0, 4, 60, 0, 5, 1}, solid), nil),
		"taller than the tile":       update(5, 0, 1, cat([]byte{0, 0, 4, 0, 1, 1, 64}, solid), nil),
		"beyond the picture, across": update(5, 0, 1, cat([]byte{3, 2, 4, 0, 0, 9, 1}, solid), nil),
		"beyond the picture, down":   update(5, 0, 1, cat([]byte{3, 2, 4, 7, 1, 1, 2}, solid), nil),
		"x past the last column":     update(5, 0, 1, cat([]byte{3, 0, 4, 8, 0, 1, 1}, solid), nil),
		"a huge width":               update(5, 0, 1, cat([]byte{0, 0, 4, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 1}, solid), nil),
		"truncated in the part":      update(5, 0, 1, []byte{0, 0, 4, 0, 0}, nil)[:12],
		"a part of a lossy tile":     update(5, 0, 1, []byte{0, 0, 7, 0, 0, 1, 1, 1, 1, 0}, nil),
		"a part and its tile":        update(5, 0, 2, cat([]byte{1, 0, 4, 0, 0, 1, 1}, solid, []byte{1, 0, 0}, solid), nil),
		"an unknown flag":            update(5, 4, 1, cat([]byte{0, 0, 4, 0, 0, 1, 1}, solid), nil),
		"stored, no pixels":          update(5, stored, 1, cat([]byte{0, 0, 4, 0, 0, 1, 1}, solid), nil),
		// 9 × 2 pixels at 1 bit: 3 bytes.
		"stored, a byte short":   update(5, stored, 1, cat([]byte{0, 0, 5, 0, 0, 9, 2}, two), []byte{0xff, 0xff}),
		"stored, a byte more":    update(5, stored, 1, cat([]byte{0, 0, 5, 0, 0, 9, 2}, two), []byte{0xff, 0xff, 0xc0, 0}),
		"stored, not compressed": update(5, 0, 1, cat([]byte{0, 0, 5, 0, 0, 9, 2}, two), []byte{0xff, 0xff, 0xc0}),
		// 2 bits a pixel: index 3 of 3 colours, in a pixel, in padding.
		"an index beyond 3 colours": update(5, stored, 1, cat([]byte{0, 0, 5, 0, 0, 3, 1}, three), []byte{0b00_01_11_00}),
		"padding beyond 3 colours":  update(5, stored, 1, cat([]byte{0, 0, 5, 0, 0, 3, 1}, three), []byte{0b00_01_10_11}),
		"raw part, a pixel short":   update(5, stored, 1, []byte{0, 0, 6, 1, 1, 2, 1}, []byte{1, 2, 3, 4, 5}),
		"after a good part":         update(5, stored, 2, cat([]byte{3, 2, 4, 7, 1, 1, 1}, solid, []byte{0, 0, 6, 1, 1, 2, 1}), []byte{1, 2, 3}),
	} {
		if _, err := d.Decode(msg); !errors.Is(err, screen.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
		if !bytes.Equal(d.Image().Pix, before) {
			t.Fatalf("%s changed the picture", name)
		}
	}
	// The good ones apply: a solid part at the picture's last pixel,
	// palette parts of 3 colours (2 bits a pixel) and of 2 (1 bit, rows
	// running on from one bit to the next, the last byte padded), and a
	// raw part, their pixels stored.
	changed, err := d.Decode(update(5, stored, 4,
		cat([]byte{3, 2, 4, 7, 1, 1, 1}, solid, []byte{1, 1, 5, 62, 0, 2, 2}, three,
			[]byte{2, 0, 5, 0, 0, 3, 3}, two, []byte{0, 0, 6, 1, 1, 2, 1}),
		[]byte{0b00_01_10_00, 0b101_010_11, 0b1_0000000, 9, 8, 7, 6, 5, 4}))
	if err != nil {
		t.Fatal(err)
	}
	want := []image.Rectangle{image.Rect(199, 129, 200, 130), image.Rect(126, 64, 128, 66), image.Rect(128, 0, 131, 3), image.Rect(1, 1, 3, 2)}
	if len(changed) != len(want) {
		t.Fatalf("changed %v, want %v", changed, want)
	}
	for i := range want {
		if changed[i] != want[i] {
			t.Fatalf("changed %v, want %v", changed, want)
		}
	}
	for _, p := range []struct {
		x, y int
		c    [3]byte
	}{
		{199, 129, [3]byte{1, 2, 3}}, {198, 129, [3]byte{before[(129*200+198)*4], before[(129*200+198)*4+1], before[(129*200+198)*4+2]}},
		{126, 64, [3]byte{1, 1, 1}}, {127, 64, [3]byte{2, 2, 2}}, {126, 65, [3]byte{3, 3, 3}}, {127, 65, [3]byte{1, 1, 1}},
		{128, 0, [3]byte{2, 2, 2}}, {129, 0, [3]byte{1, 1, 1}}, {130, 0, [3]byte{2, 2, 2}},
		{128, 1, [3]byte{1, 1, 1}}, {129, 1, [3]byte{2, 2, 2}}, {130, 1, [3]byte{1, 1, 1}},
		{128, 2, [3]byte{2, 2, 2}}, {129, 2, [3]byte{2, 2, 2}}, {130, 2, [3]byte{2, 2, 2}},
		{1, 1, [3]byte{9, 8, 7}}, {2, 1, [3]byte{6, 5, 4}},
	} {
		o := p.y*d.Image().Stride + p.x*4
		if got := [3]byte(d.Image().Pix[o : o+3]); got != p.c {
			t.Errorf("pixel %d,%d is %v, want %v", p.x, p.y, got, p.c)
		}
	}
}

// A small busy thing of many colours (a spinner) goes exact, as a raw
// part: about what the whole tile's JPEG would take, and no top-off.
func TestSmallBusyPartGoesExact(t *testing.T) {
	img := textPage(320, 240, 7)
	spinner := image.Rect(100, 100, 116, 116) // a 16th of its tile
	e, d := screen.NewEncoder(), screen.NewDecoder()
	if _, err := d.Decode(e.Encode(img, nil)); err != nil {
		t.Fatal(err)
	}
	for f := range 12 {
		noise(img, spinner, uint64(f))
		msg := e.Encode(img, []image.Rectangle{spinner})
		if _, err := d.Decode(msg); err != nil {
			t.Fatal(err)
		}
		equal(t, d.Image(), img)
		if e.Pending() || len(msg) > 16*16*3+100 {
			t.Fatalf("frame %d: %d bytes, lossy %v", f, len(msg), e.Pending())
		}
	}
}

// A palette part's rows are padded to a byte in a zstd frame (rows alike
// are bytes alike, for zstd to find) and run on when stored (a glyph's
// bytes); both go exact, at every index width.
func TestPaletteRowsPaddedOrTight(t *testing.T) {
	for _, n := range []int{2, 3, 5} { // 1, 2 and 4 bits a pixel
		for _, big := range []bool{true, false} {
			img := office(200, 130, 3)
			e, d := screen.NewEncoder(), screen.NewDecoder()
			if _, err := d.Decode(e.Encode(img, nil)); err != nil {
				t.Fatal(err)
			}
			r := image.Rect(3, 3, 40, 50) // 37 wide: no index width fills a byte
			if !big {
				r = image.Rect(3, 3, 6, 6)
			}
			for y := r.Min.Y; y < r.Max.Y; y++ {
				for x := r.Min.X; x < r.Max.X; x++ {
					v := byte((x + y) % n * 0x30) // diagonal stripes: rows alike, shifted
					o := y*img.Stride + x*4
					img.Pix[o], img.Pix[o+1], img.Pix[o+2] = v, v, v
				}
			}
			msg := e.Encode(img, []image.Rectangle{r})
			_, k := binary.Uvarint(msg[1:])
			if isStored := msg[1+k+4]&stored != 0; isStored == big {
				t.Errorf("%d colours, %v: stored %v", n, r, isStored)
			}
			if _, err := d.Decode(msg); err != nil {
				t.Fatal(err)
			}
			equal(t, d.Image(), img)
		}
	}
}
