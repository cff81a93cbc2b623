// Package screen is the screen codec both apps share (issue 13, step 3):
// the customer's side encodes what changed on its screen, the agent's
// decodes it onto the picture it shows. Pure Go; it reads what a hostile
// peer may send, so Decode checks a whole update before it changes a pixel.
//
// The picture is cut into tiles of TileSize × TileSize pixels. An update
// carries the tiles that differ from what the receiver has, each as one
// kind:
//
//   - solid: one colour (3 bytes);
//   - palette: 2 to 16 colours, then 1, 2 or 4 bits a pixel (for 2, 3–4
//     or 5–16 colours);
//   - raw: 3 bytes a pixel, lossless;
//   - lossy: a JPEG of a rectangle of tiles, for busy areas of many
//     colours (a video, a photo being dragged).
//
// A solid, palette or raw tile may be a part of one: the rectangle of the
// tile around the pixels that differ, when that is not all of it. A typed
// glyph and the cursor moved on after it are a part of 12 × 13 pixels in
// 2 colours (20 bytes at a bit a pixel), not a tile of 4,096 pixels.
//
// The palette and raw tiles' pixels go together after the tiles' list, in
// one zstd frame, or as they are when the frame would be no smaller (a
// glyph's: a frame has about ten bytes of its own), so a frame of typing
// is about 50 bytes. Scrolling goes as a copy (the changed area moved by some
// rows, found by hashing rows: see scroll.go) before the tiles that still
// differ, as VNC's copy-rect does.
//
// Text (solid and palette tiles) is always lossless. A tile whose change
// (at least an eighth of it) has more than 16 colours, and that changed
// in 3 of the last 8 encodes, goes lossy, whole, and adjacent ones go
// together as one JPEG (a photo-like video of 640 × 360 takes half the
// bytes it would as a JPEG per tile); once such a tile has
// been still for 4 encodes it goes again, losslessly (the top-off), so a
// screen that settles ends exact: see Encoder, Encoder.Pending and
// lossy.go.
//
// An update is:
//
//	byte     version (1)
//	uvarint  sequence number
//	uvarint  width, height (pixels; at most Decoder.MaxPixels in all)
//	byte     flags: 1 = keyframe (every tile follows; the receiver starts
//	         anew), 2 = stored (the pixels are not compressed; only with
//	         some)
//	uvarint  number of copies (at most 4; none in a keyframe), then per
//	         copy uvarint x, y, width, height of the source and x, y of
//	         its destination, both inside the picture; applied in order,
//	         before the tiles
//	uvarint  number of tiles (a lossy one may cover several)
//	per tile uvarint column, uvarint row, byte kind (0 solid, 1 palette,
//	         2 raw, 3 lossy; 4, 5, 6: a part of a solid, palette or raw
//	         tile), then for a part uvarint x, y, width, height of it
//	         from the tile's top left (at least 1 × 1, inside the tile
//	         clipped to the picture), for a solid tile its colour (blue,
//	         green, red), for a palette tile its size n (2..16) and n
//	         colours, for a lossy tile uvarint tiles across and down (at
//	         least 1; the rectangle from this tile, inside the picture),
//	         uvarint length (at most 3 bytes a pixel + 2048) and the JPEG:
//	         baseline or progressive, YCbCr or grey, exactly the size of
//	         the rectangle's pixels (clipped to the picture). No tile is
//	         covered twice.
//	uvarint  length of the pixels, then the pixels: a zstd frame of, or if
//	         stored exactly, the palette tiles' indices (the first pixel in
//	         a byte's high bits; each row padded to a byte with zeros in a
//	         zstd frame, so that rows alike are bytes alike, and only each
//	         tile's last byte if stored; each below n) and the raw tiles'
//	         pixels (blue, green, red), in the tiles' order, a part's
//	         pixels only
//
// A non-key update applies only to a picture of its size; a receiver
// without one asks for a keyframe.
package screen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"image"
	"io"

	"github.com/klauspost/compress/zstd"
)

// TileSize is a tile's side, in pixels.
const TileSize = 64

// Tile kinds.
const (
	kindSolid   = 0
	kindPalette = 1
	kindRaw     = 2
	kindJPEG    = 3
	// kindPart added to solid, palette or raw: the kind for a rectangle
	// inside the tile, not the whole tile.
	kindPart = 4
)

const (
	version     = 1
	flagKey     = 1
	flagStored  = 2 // the pixels go as they are, not as a zstd frame
	maxPalette  = 16
	maxCopies   = 4
	maxSide     = 1 << 14
	defaultMaxP = 7680 * 4320 // 8K
)

// Image is a screen picture: 4 bytes a pixel (blue, green, red, unused),
// Stride bytes a row, as the capture gives it.
type Image struct {
	W, H   int
	Stride int
	Pix    []byte
}

// NewImage makes a black picture of w × h pixels.
func NewImage(w, h int) *Image {
	return &Image{W: w, H: h, Stride: w * 4, Pix: make([]byte, w*h*4)}
}

func (m *Image) tile(col, row int) image.Rectangle {
	return image.Rect(col*TileSize, row*TileSize, min((col+1)*TileSize, m.W), min((row+1)*TileSize, m.H))
}

func tiles(w, h int) (cols, rows int) {
	return (w + TileSize - 1) / TileSize, (h + TileSize - 1) / TileSize
}

// rgb is a pixel's colour without its unused byte.
func (m *Image) rgb(x, y int) uint32 {
	o := y*m.Stride + x*4
	return uint32(m.Pix[o]) | uint32(m.Pix[o+1])<<8 | uint32(m.Pix[o+2])<<16
}

func (m *Image) set(x, y int, c uint32) {
	o := y*m.Stride + x*4
	m.Pix[o], m.Pix[o+1], m.Pix[o+2], m.Pix[o+3] = byte(c), byte(c>>8), byte(c>>16), 0
}

// Encoder turns pictures into updates for one receiver: it keeps what the
// receiver has, so an update carries only the tiles that differ, and of
// each only the rectangle around the pixels that do.
//
// Tiles that change often (in 3 of the last 8 encodes) and whose change
// has more colours than a palette holds go lossy, as JPEG, unless
// Lossless is set; text (solid and palette tiles) never does, nor a
// change of less than an eighth of a tile. A lossy tile is sent again
// losslessly once it has not changed for 4 encodes, so a screen that
// settles ends exact: see Pending. The encoder counts encodes, not time:
// Encode is meant to be called once a frame.
type Encoder struct {
	// Quality is the JPEG quality of lossy tiles, 1 to 100; 0:
	// DefaultQuality.
	Quality int
	// Lossless turns lossy tiles off: every update is exact. Tiles
	// already sent lossy are still topped off.
	Lossless bool

	have *Image // the source's pixels, as the receiver has them but for the inexact tiles
	seq  uint64
	z    *zstd.Encoder
	body []byte // the update's pixels, before compression
	// The palette tiles in body whose rows are padded (packed tight if
	// the pixels go stored), and the bytes of that padding.
	padded []paddedRows
	pad    int
	seed   maphash.Seed
	// Per tile: the last 8 encodes, a bit each (1: it changed), and
	// whether the receiver has only a lossy copy of it (lossy.go).
	hist     []uint8
	inexact  []bool
	histCols int
	rgba     *image.RGBA // scratch for the JPEG encoder
	jbuf     bytes.Buffer
	// noScroll: tiles only (tests compare with and without the copy).
	noScroll bool
	// oneTileJPEGs: a JPEG per lossy tile, not per rectangle of them
	// (benchmarks compare).
	oneTileJPEGs bool
}

// NewEncoder makes an encoder for a new receiver (its first update is a
// keyframe).
func NewEncoder() *Encoder {
	// No checksum: an update is small, and what carries it (QUIC, TLS)
	// checks it already.
	z, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(false), zstd.WithAllLitEntropyCompression(true))
	if err != nil {
		panic(err) // only for bad options
	}
	return &Encoder{z: z, seed: maphash.MakeSeed()}
}

// Reset makes the next update a keyframe (a receiver that lost track).
// Which tiles are busy is kept: a keyframe sends them lossy too.
func (e *Encoder) Reset() { e.have = nil }

// Encode returns the update from what the receiver has to img, looking
// only at the tiles that touch changed (nil: every tile), and at the
// lossy tiles due for their top-off. It returns nil when no tile differs
// and none is due. The receiver is taken to have applied every update
// returned.
func (e *Encoder) Encode(img *Image, changed []image.Rectangle) []byte {
	key := e.have == nil || e.have.W != img.W || e.have.H != img.H
	if key {
		e.have = NewImage(img.W, img.H)
	}
	cols, rows := tiles(img.W, img.H)
	e.age(cols, rows)
	if key {
		clear(e.inexact)
	}
	look := make([]bool, cols*rows)
	if key || changed == nil {
		for i := range look {
			look[i] = true
		}
	} else {
		for _, r := range changed {
			r = r.Intersect(image.Rect(0, 0, img.W, img.H))
			if r.Empty() {
				continue
			}
			for row := r.Min.Y / TileSize; row <= (r.Max.Y-1)/TileSize; row++ {
				for col := r.Min.X / TileSize; col <= (r.Max.X-1)/TileSize; col++ {
					look[row*cols+col] = true
				}
			}
		}
	}
	e.body, e.padded, e.pad = e.body[:0], e.padded[:0], 0
	// A scroll inside what changed goes as one copy, then the tiles that
	// still differ.
	var copies []copyOp
	if !key && !e.noScroll {
		area := image.Rect(0, 0, img.W, img.H)
		if changed != nil {
			area = image.Rectangle{}
			for _, r := range changed {
				area = area.Union(r.Intersect(image.Rect(0, 0, img.W, img.H)))
			}
		}
		if c, ok := e.findScroll(img, area); ok {
			c.apply(e.have)
			e.moveFlags(c, img, cols)
			copies = append(copies, c)
			moved := c.src.Union(image.Rectangle{Min: c.dst, Max: c.dst.Add(c.src.Size())})
			for row := moved.Min.Y / TileSize; row <= (moved.Max.Y-1)/TileSize; row++ {
				for col := moved.Min.X / TileSize; col <= (moved.Max.X-1)/TileSize; col++ {
					look[row*cols+col] = true
				}
			}
		}
	}
	// Lossy tiles that have settled are due for their top-off.
	for i, f := range e.inexact {
		if f && e.hist[i]&settleMask == 0 {
			look[i] = true
		}
	}
	n := 0
	var list []byte
	var lossy []bool // the tiles going as JPEG, sent after the others
	for row := range rows {
		for col := range cols {
			i := row*cols + col
			if !look[i] {
				continue
			}
			r := img.tile(col, row)
			// What differs from what the receiver has: a part of the
			// tile, or all of it. A keyframe, a top-off or a tile the
			// receiver has lossy goes whole.
			part, differs := r, key
			if !key {
				part = e.diff(img, r)
				differs = !part.Empty()
				if differs {
					e.hist[i] |= 1
				}
			}
			if !differs && !(e.inexact[i] && e.hist[i]&settleMask == 0) {
				continue
			}
			if e.inexact[i] {
				part = r
			}
			pal, np := palette(img, part)
			if differs && np > maxPalette && e.busy(i) && part.Dx()*part.Dy()*minLossy >= TileSize*TileSize {
				if lossy == nil {
					lossy = make([]bool, cols*rows)
				}
				lossy[i] = true
				e.keep(img, r)
				continue
			}
			n++
			list = binary.AppendUvarint(list, uint64(col))
			list = binary.AppendUvarint(list, uint64(row))
			list = e.appendTile(list, img, r, part, pal, np)
			e.keep(img, r)
			e.inexact[i] = false
		}
	}
	if lossy != nil {
		var k int
		list, k = e.appendLossy(list, img, lossy, cols, rows)
		n += k
	}
	if n == 0 && len(copies) == 0 {
		return nil
	}
	e.seq++
	out := []byte{version}
	out = binary.AppendUvarint(out, e.seq)
	out = binary.AppendUvarint(out, uint64(img.W))
	out = binary.AppendUvarint(out, uint64(img.H))
	flags := byte(0)
	if key {
		flags = flagKey
	}
	flagsAt := len(out)
	out = append(out, flags)
	out = binary.AppendUvarint(out, uint64(len(copies)))
	for _, c := range copies {
		for _, v := range []int{c.src.Min.X, c.src.Min.Y, c.src.Dx(), c.src.Dy(), c.dst.X, c.dst.Y} {
			out = binary.AppendUvarint(out, uint64(v))
		}
	}
	out = binary.AppendUvarint(out, uint64(n))
	out = append(out, list...)
	// The pixels go as a zstd frame, or as they are when that is no
	// smaller (a glyph's few bytes: a frame has about ten of its own).
	var z []byte
	if len(e.body) > 0 {
		z = e.z.EncodeAll(e.body, nil)
		if len(z) >= len(e.body)-e.pad {
			z = e.tight()
			out[flagsAt] |= flagStored
		}
	}
	out = binary.AppendUvarint(out, uint64(len(z)))
	return append(out, z...)
}

// diff gives the smallest rectangle of r that holds every pixel the
// receiver does not have as img has it (for an inexact tile: near it,
// from the same source pixels); empty when there is none.
func (e *Encoder) diff(img *Image, r image.Rectangle) image.Rectangle {
	w := r.Dx() * 4
	y0, y1 := -1, 0
	x0, x1 := w, 0 // bytes into the row
	for y := r.Min.Y; y < r.Max.Y; y++ {
		a := img.Pix[y*img.Stride+r.Min.X*4:][:w]
		b := e.have.Pix[y*e.have.Stride+r.Min.X*4:][:w]
		if bytes.Equal(a, b) {
			continue
		}
		if y0 < 0 {
			y0 = y
		}
		y1 = y + 1
		// Only what widens the columns found so far needs a look.
		l := 0
		for l < x0 && string(a[l:l+4]) == string(b[l:l+4]) {
			l += 4
		}
		x0 = min(x0, l)
		h := w
		for h > x1 && string(a[h-4:h]) == string(b[h-4:h]) {
			h -= 4
		}
		x1 = max(x1, h)
	}
	if y0 < 0 {
		return image.Rectangle{}
	}
	return image.Rect(r.Min.X+x0/4, y0, r.Min.X+x1/4, y1)
}

// keep records that the receiver has r as img has it (or, for a lossy
// tile, near it).
func (e *Encoder) keep(img *Image, r image.Rectangle) {
	w := r.Dx() * 4
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(e.have.Pix[y*e.have.Stride+r.Min.X*4:][:w], img.Pix[y*img.Stride+r.Min.X*4:][:w])
	}
}

// palette gives r's colours, if it has at most maxPalette of them, and
// how many: more than maxPalette for a tile that goes raw.
func palette(img *Image, r image.Rectangle) (pal [maxPalette]uint32, np int) {
scan:
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := img.rgb(x, y)
			found := false
			for i := range np {
				if pal[i] == c {
					found = true
					break
				}
			}
			if !found {
				if np == maxPalette {
					np++
					break scan
				}
				pal[np] = c
				np++
			}
		}
	}
	return pal, np
}

// appendTile appends a lossless tile to list: its kind, the part of it
// that goes if that is not all of it (p inside the tile t), and its
// colours; and p's pixels, if any, to e.body. pal and np are palette's
// for p.
func (e *Encoder) appendTile(list []byte, img *Image, t, p image.Rectangle, pal [maxPalette]uint32, np int) []byte {
	kind := byte(kindRaw)
	switch {
	case np == 1:
		kind = kindSolid
	case np <= maxPalette:
		kind = kindPalette
	}
	if p != t {
		list = append(list, kind+kindPart)
		for _, v := range []int{p.Min.X - t.Min.X, p.Min.Y - t.Min.Y, p.Dx(), p.Dy()} {
			list = binary.AppendUvarint(list, uint64(v))
		}
	} else {
		list = append(list, kind)
	}
	switch kind {
	case kindSolid:
		return append(list, byte(pal[0]), byte(pal[0]>>8), byte(pal[0]>>16))
	case kindPalette:
		list = append(list, byte(np))
		for _, c := range pal[:np] {
			list = append(list, byte(c), byte(c>>8), byte(c>>16))
		}
		bits := indexBits(np)
		if w := p.Dx() * bits; w%8 != 0 {
			e.padded = append(e.padded, paddedRows{len(e.body), w, p.Dy()})
			e.pad += indexBytes(p.Dx(), p.Dy(), bits, false) - indexBytes(p.Dx(), p.Dy(), bits, true)
		}
		for y := p.Min.Y; y < p.Max.Y; y++ {
			var b byte
			k := 0 // the bits in b
			for x := p.Min.X; x < p.Max.X; x++ {
				c := img.rgb(x, y)
				idx := byte(0)
				for j := range np {
					if pal[j] == c {
						idx = byte(j)
						break
					}
				}
				b = b<<bits | idx
				if k += bits; k == 8 {
					e.body = append(e.body, b)
					b, k = 0, 0
				}
			}
			if k > 0 {
				e.body = append(e.body, b<<(8-k))
			}
		}
		return list
	}
	for y := p.Min.Y; y < p.Max.Y; y++ {
		row := img.Pix[y*img.Stride+p.Min.X*4:][:p.Dx()*4]
		for i := 0; i < len(row); i += 4 {
			e.body = append(e.body, row[i], row[i+1], row[i+2])
		}
	}
	return list
}

// indexBits is the bits a palette index takes for a palette of np
// colours (2 to maxPalette).
func indexBits(np int) int {
	switch {
	case np <= 2:
		return 1
	case np <= 4:
		return 2
	}
	return 4
}

// indexBytes is the bytes of a palette tile's indices: w × h pixels at
// bits each, each row padded to a byte, or if tight only the last.
func indexBytes(w, h, bits int, tight bool) int {
	if tight {
		return (w*h*bits + 7) / 8
	}
	return (w*bits + 7) / 8 * h
}

// paddedRows is a palette tile whose rows are padded, at off in
// Encoder.body: h rows of w bits.
type paddedRows struct{ off, w, h int }

// tight is e.body with its palette tiles' rows packed tight: one row's
// bits run on into the next's, and only a tile's last byte is padded.
func (e *Encoder) tight() []byte {
	out := make([]byte, 0, len(e.body)-e.pad)
	at := 0
	for _, t := range e.padded {
		out = append(out, e.body[at:t.off]...)
		line := (t.w + 7) / 8
		var b byte
		k := 0 // the bits in b
		for y := range t.h {
			row := e.body[t.off+y*line:]
			for i := range t.w {
				b = b<<1 | row[i/8]>>(7-i%8)&1
				if k++; k == 8 {
					out = append(out, b)
					b, k = 0, 0
				}
			}
		}
		if k > 0 {
			out = append(out, b<<(8-k))
		}
		at = t.off + line*t.h
	}
	return append(out, e.body[at:]...)
}

// Decoder applies updates to the picture a viewer shows.
type Decoder struct {
	// MaxPixels caps a picture's size (width × height); 0: 8K (7680 × 4320).
	MaxPixels int
	img       *Image
	seq       uint64
	z         *zstd.Decoder
}

// NewDecoder makes a decoder with no picture yet.
func NewDecoder() *Decoder {
	z, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(defaultMaxP*3))
	if err != nil {
		panic(err)
	}
	return &Decoder{z: z}
}

// Image is the picture so far (nil before the first keyframe). It is
// changed in place by Decode.
func (d *Decoder) Image() *Image { return d.img }

// ErrNeedKey is Decode's error for an update that needs a picture the
// decoder does not have: the sender should send a keyframe.
var ErrNeedKey = errors.New("screen: this update needs a keyframe first")

// ErrInvalid is what Decode's other errors match: the update is not one,
// and nothing of it was applied.
var ErrInvalid = errors.New("screen: invalid update")

func invalid(what string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(what, args...))
}

type tileRef struct {
	r    image.Rectangle // for a lossy tile, its rectangle of tiles
	kind byte            // without kindPart: r is the part
	pal  [maxPalette]uint32
	np   int
	bits int         // a palette index's
	jpg  []byte      // a lossy tile's JPEG
	pic  image.Image // and its pixels, once checked
}

// Decode checks an update whole and applies it; it returns the rectangles
// that changed. An update out of order or replayed (a sequence number not
// above the last one applied) is refused as invalid.
func (d *Decoder) Decode(msg []byte) ([]image.Rectangle, error) {
	rd := bytes.NewReader(msg)
	uv := func(what string, limit uint64) (uint64, error) {
		v, err := binary.ReadUvarint(rd)
		if err != nil || v > limit {
			return 0, invalid("%s", what)
		}
		return v, nil
	}
	if v, err := rd.ReadByte(); err != nil || v != version {
		return nil, invalid("version")
	}
	seq, err := uv("sequence", 1<<62)
	if err != nil {
		return nil, err
	}
	w64, err := uv("width", maxSide)
	if err != nil {
		return nil, err
	}
	h64, err := uv("height", maxSide)
	if err != nil {
		return nil, err
	}
	w, h := int(w64), int(h64)
	maxP := d.MaxPixels
	if maxP == 0 {
		maxP = defaultMaxP
	}
	if w == 0 || h == 0 || w*h > maxP {
		return nil, invalid("a picture of %d × %d", w, h)
	}
	flags, err := rd.ReadByte()
	if err != nil || flags&^(flagKey|flagStored) != 0 {
		return nil, invalid("flags")
	}
	key := flags&flagKey != 0
	tight := flags&flagStored != 0 // and so palette rows are not padded
	if !key && (d.img == nil || d.img.W != w || d.img.H != h) {
		return nil, ErrNeedKey
	}
	if seq <= d.seq {
		return nil, invalid("sequence %d after %d", seq, d.seq)
	}
	frame := image.Rect(0, 0, w, h)
	nc, err := uv("copy count", maxCopies)
	if err != nil {
		return nil, err
	}
	if key && nc > 0 {
		return nil, invalid("a copy in a keyframe")
	}
	copies := make([]copyOp, nc)
	for i := range copies {
		var v [6]int
		for j := range v {
			x, err := uv("a copy", maxSide)
			if err != nil {
				return nil, err
			}
			v[j] = int(x)
		}
		c := copyOp{src: image.Rect(v[0], v[1], v[0]+v[2], v[1]+v[3]), dst: image.Pt(v[4], v[5])}
		if c.src.Empty() || !c.src.In(frame) || !(image.Rectangle{Min: c.dst, Max: c.dst.Add(c.src.Size())}).In(frame) {
			return nil, invalid("a copy outside the picture")
		}
		copies[i] = c
	}
	cols, rows := tiles(w, h)
	n, err := uv("tile count", uint64(cols*rows))
	if err != nil {
		return nil, err
	}
	probe := &Image{W: w, H: h}
	refs := make([]tileRef, 0, n)
	seen := make(map[int]bool, n)
	body := 0
	for range n {
		col, err := uv("tile column", uint64(cols-1))
		if err != nil {
			return nil, err
		}
		row, err := uv("tile row", uint64(rows-1))
		if err != nil {
			return nil, err
		}
		t := tileRef{r: probe.tile(int(col), int(row)).Intersect(frame)}
		if t.kind, err = rd.ReadByte(); err != nil {
			return nil, invalid("tile kind")
		}
		if t.kind >= kindPart && t.kind < kindPart+kindJPEG {
			// A part: x, y, width and height inside the tile.
			t.kind -= kindPart
			x, err := uv("a part's x", uint64(t.r.Dx()-1))
			if err != nil {
				return nil, err
			}
			y, err := uv("a part's y", uint64(t.r.Dy()-1))
			if err != nil {
				return nil, err
			}
			pw, err := uv("a part's width", uint64(t.r.Dx())-x)
			if err != nil {
				return nil, err
			}
			ph, err := uv("a part's height", uint64(t.r.Dy())-y)
			if err != nil {
				return nil, err
			}
			if pw == 0 || ph == 0 {
				return nil, invalid("an empty part of tile %d,%d", col, row)
			}
			at := t.r.Min.Add(image.Pt(int(x), int(y)))
			t.r = image.Rectangle{Min: at, Max: at.Add(image.Pt(int(pw), int(ph)))}
		}
		across, down := uint64(1), uint64(1)
		if t.kind == kindJPEG {
			if across, err = uv("lossy tiles across", uint64(cols)-col); err != nil {
				return nil, err
			}
			if down, err = uv("lossy tiles down", uint64(rows)-row); err != nil {
				return nil, err
			}
			if across == 0 || down == 0 {
				return nil, invalid("a lossy tile of no tiles")
			}
			t.r = t.r.Union(probe.tile(int(col+across-1), int(row+down-1))).Intersect(frame)
		}
		for r := int(row); r < int(row+down); r++ {
			for c := int(col); c < int(col+across); c++ {
				if seen[r*cols+c] {
					return nil, invalid("tile %d,%d twice", c, r)
				}
				seen[r*cols+c] = true
			}
		}
		switch t.kind {
		case kindSolid:
			t.np = 1
			if t.pal[0], err = readColour(rd); err != nil {
				return nil, err
			}
		case kindPalette:
			np, err := rd.ReadByte()
			if err != nil || np < 2 || np > maxPalette {
				return nil, invalid("palette size")
			}
			t.np, t.bits = int(np), indexBits(int(np))
			for i := range t.np {
				if t.pal[i], err = readColour(rd); err != nil {
					return nil, err
				}
			}
			body += indexBytes(t.r.Dx(), t.r.Dy(), t.bits, tight)
		case kindRaw:
			body += t.r.Dx() * t.r.Dy() * 3
		case kindJPEG:
			jlen, err := uv("a lossy tile's length", uint64(min(maxJPEG(t.r.Dx()*t.r.Dy()), rd.Len())))
			if err != nil {
				return nil, err
			}
			t.jpg = msg[len(msg)-rd.Len():][:jlen]
			rd.Seek(int64(jlen), io.SeekCurrent)
		default:
			return nil, invalid("tile kind %d", t.kind)
		}
		refs = append(refs, t)
	}
	zlen, err := uv("the pixels' length", uint64(rd.Len()))
	if err != nil {
		return nil, err
	}
	if int(zlen) != rd.Len() {
		return nil, invalid("%d bytes after the pixels", rd.Len()-int(zlen))
	}
	var px []byte
	if body > 0 {
		z := msg[len(msg)-int(zlen):]
		switch {
		case flags&flagStored != 0:
			if len(z) != body {
				return nil, invalid("%d bytes of pixels, want %d", len(z), body)
			}
			px = z
		case zlen == 0:
			return nil, invalid("no pixels for %d bytes of tiles", body)
		default:
			px, err = d.z.DecodeAll(z, make([]byte, 0, body))
			if err != nil || len(px) != body {
				return nil, invalid("the compressed pixels (%d bytes, want %d)", len(px), body)
			}
		}
		for i, o := 0, 0; i < len(refs); i++ {
			t := &refs[i]
			switch t.kind {
			case kindRaw:
				o += t.r.Dx() * t.r.Dy() * 3
			case kindPalette:
				n := indexBytes(t.r.Dx(), t.r.Dy(), t.bits, tight)
				if t.np < 1<<t.bits { // padding included: it is zeros
					mask := byte(1<<t.bits - 1)
					for _, b := range px[o : o+n] {
						for s := 0; s < 8; s += t.bits {
							if int(b>>s&mask) >= t.np {
								return nil, invalid("a palette index beyond its %d colours", t.np)
							}
						}
					}
				}
				o += n
			}
		}
	} else if zlen != 0 || flags&flagStored != 0 {
		return nil, invalid("pixels for no tile")
	}
	// The lossy tiles: every JPEG's header, then their pixels.
	for _, t := range refs {
		if t.kind == kindJPEG {
			if err := checkJPEGHeader(t.jpg, t.r); err != nil {
				return nil, err
			}
		}
	}
	for i := range refs {
		if t := &refs[i]; t.kind == kindJPEG {
			if t.pic, err = decodeJPEG(t.jpg, t.r); err != nil {
				return nil, err
			}
		}
	}
	// Whole and sound: apply.
	if key {
		d.img = NewImage(w, h)
	}
	d.seq = seq
	out := make([]image.Rectangle, 0, len(copies)+len(refs))
	for _, c := range copies {
		c.apply(d.img)
		out = append(out, image.Rectangle{Min: c.dst, Max: c.dst.Add(c.src.Size())})
	}
	o := 0
	for _, t := range refs {
		switch t.kind {
		case kindSolid:
			for y := t.r.Min.Y; y < t.r.Max.Y; y++ {
				for x := t.r.Min.X; x < t.r.Max.X; x++ {
					d.img.set(x, y, t.pal[0])
				}
			}
		case kindPalette:
			mask, line := byte(1<<t.bits-1), t.r.Dx()*t.bits // a row's bits
			if !tight {
				line = (line + 7) / 8 * 8
			}
			for y := t.r.Min.Y; y < t.r.Max.Y; y++ {
				bit := o*8 + (y-t.r.Min.Y)*line
				for x := t.r.Min.X; x < t.r.Max.X; x++ {
					d.img.set(x, y, t.pal[px[bit/8]>>(8-t.bits-bit%8)&mask])
					bit += t.bits
				}
			}
			o += indexBytes(t.r.Dx(), t.r.Dy(), t.bits, tight)
		case kindRaw:
			for y := t.r.Min.Y; y < t.r.Max.Y; y++ {
				row := d.img.Pix[y*d.img.Stride+t.r.Min.X*4:][:t.r.Dx()*4]
				for i := 0; i < len(row); i += 4 {
					row[i], row[i+1], row[i+2], row[i+3] = px[o], px[o+1], px[o+2], 0
					o += 3
				}
			}
		case kindJPEG:
			putJPEG(d.img, t.r, t.pic)
		}
		out = append(out, t.r)
	}
	return out, nil
}

func readColour(rd *bytes.Reader) (uint32, error) {
	var c [3]byte
	if _, err := io.ReadFull(rd, c[:]); err != nil {
		return 0, invalid("a colour")
	}
	return uint32(c[0]) | uint32(c[1])<<8 | uint32(c[2])<<16, nil
}
