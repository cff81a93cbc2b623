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
	"hash/maphash"
	"image"

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
