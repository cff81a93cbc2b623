package screen

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"math/bits"
)

// Lossy tiles (issue 13, step 3c). The encoder keeps, per tile, the last
// eight encodes as bits (1: the tile differed from what the receiver had
// and went out). A tile that changed in at least busyFrames of them, and
// whose changed part has more colours than a palette holds and is at
// least 1/minLossy of a tile, goes as JPEG, whole; adjacent such tiles go
// together, as one JPEG of a rectangle of tiles. What the receiver has of
// a lossy tile is only near the picture, so the tile is flagged inexact;
// once it has not changed for 4 encodes (settleMask), it goes again
// losslessly (the top-off), whole, and the flag is cleared. An inexact
// tile goes whole whenever it goes: a part of it would leave the rest
// near.
//
// The encoder's copy of the receiver's picture (Encoder.have) keeps the
// source's pixels even for inexact tiles, so "the tile changed" still
// means "the source changed", and scrolls are still found by exact rows.
// A copy moves the receiver's pixels, near ones included: a tile that
// receives pixels from an inexact tile becomes inexact too.

// DefaultQuality is the JPEG quality of lossy tiles when
// Encoder.Quality is 0.
const DefaultQuality = 70

const (
	// busyFrames of the last 8 encodes with a change make a tile busy.
	busyFrames = 3
	// settleMask: the encodes (this one and the 3 before) in which an
	// inexact tile must not have changed for its top-off: 4 of them.
	settleMask = 0b1111
	// A busy part of a tile smaller than 1/minLossy of a tile goes
	// exact: its pixels raw take about what the whole tile's JPEG would
	// (a spinner, a progress bar's shine).
	minLossy = 8
	// jpegSlack is what a JPEG may have beyond 3 bytes a pixel (its
	// headers); a longer one is refused.
	jpegSlack = 2048
)

// maxJPEG caps the bytes of a lossy tile of px pixels. The encoder never
// sends a JPEG bigger than the pixels raw (3 bytes each); the slack is for
// the headers of another encoder.
func maxJPEG(px int) int { return 3*px + jpegSlack }

// Pending says whether some tiles the receiver has are lossy and not yet
// topped off: while it is true, the sender should go on calling Encode
// at its frame rate, even when nothing changed on the screen (an empty,
// non-nil changed), so that the top-off goes out once they settle. An
// idle screen with nothing pending needs no call; Encode would return
// nil.
func (e *Encoder) Pending() bool {
	if e.have == nil {
		return false
	}
	for _, f := range e.inexact {
		if f {
			return true
		}
	}
	return false
}

// age starts an encode's history: every tile's bits move on by one
// encode; a new size starts anew.
func (e *Encoder) age(cols, rows int) {
	if len(e.hist) != cols*rows || e.histCols != cols {
		e.hist = make([]uint8, cols*rows)
		e.inexact = make([]bool, cols*rows)
		e.histCols = cols
	}
	for i := range e.hist {
		e.hist[i] <<= 1
	}
}

// busy says whether tile i changes often enough to go lossy.
func (e *Encoder) busy(i int) bool {
	return !e.Lossless && bits.OnesCount8(e.hist[i]) >= busyFrames
}

// moveFlags carries the inexact flags along a copy: a tile that gets
// pixels from an inexact tile is inexact.
func (e *Encoder) moveFlags(c copyOp, img *Image, cols int) {
	dst := image.Rectangle{Min: c.dst, Max: c.dst.Add(c.src.Size())}
	off := c.src.Min.Sub(c.dst)
	next := append([]bool(nil), e.inexact...)
	for row := dst.Min.Y / TileSize; row <= (dst.Max.Y-1)/TileSize; row++ {
		for col := dst.Min.X / TileSize; col <= (dst.Max.X-1)/TileSize; col++ {
			t := img.tile(col, row)
			in := t.Intersect(dst)
			f := e.inexact[row*cols+col] && !t.In(dst)
			from := in.Add(off)
			for r := from.Min.Y / TileSize; r <= (from.Max.Y-1)/TileSize && !f; r++ {
				for k := from.Min.X / TileSize; k <= (from.Max.X-1)/TileSize; k++ {
					if e.inexact[r*cols+k] {
						f = true
						break
					}
				}
			}
			next[row*cols+col] = f
		}
	}
	copy(e.inexact, next)
}

// appendLossy appends the lossy tiles (lossy[i] for tile i) to list as
// JPEGs of rectangles of tiles, and returns it with the number of entries
// appended. A rectangle whose JPEG would be bigger than its pixels raw
// goes raw, tile by tile.
func (e *Encoder) appendLossy(list []byte, img *Image, lossy []bool, cols, rows int) ([]byte, int) {
	n := 0
	q := e.Quality
	if q == 0 {
		q = DefaultQuality
	}
	for row := range rows {
		for col := range cols {
			if !lossy[row*cols+col] {
				continue
			}
			// The widest run from here, then as many rows below as have
			// the whole run.
			w := 1
			for col+w < cols && lossy[row*cols+col+w] && !e.oneTileJPEGs {
				w++
			}
			h := 1
		down:
			for row+h < rows && !e.oneTileJPEGs {
				for k := col; k < col+w; k++ {
					if !lossy[(row+h)*cols+k] {
						break down
					}
				}
				h++
			}
			for r := row; r < row+h; r++ {
				for k := col; k < col+w; k++ {
					lossy[r*cols+k] = false
				}
			}
			px := img.tile(col, row).Union(img.tile(col+w-1, row+h-1))
			jp, ok := e.jpeg(img, px, q)
			if !ok {
				for r := row; r < row+h; r++ {
					for k := col; k < col+w; k++ {
						t := img.tile(k, r)
						pal, np := palette(img, t)
						list = binary.AppendUvarint(list, uint64(k))
						list = binary.AppendUvarint(list, uint64(r))
						list = e.appendTile(list, img, t, t, pal, np)
						e.inexact[r*cols+k] = false
						n++
					}
				}
				continue
			}
			list = binary.AppendUvarint(list, uint64(col))
			list = binary.AppendUvarint(list, uint64(row))
			list = append(list, kindJPEG)
			list = binary.AppendUvarint(list, uint64(w))
			list = binary.AppendUvarint(list, uint64(h))
			list = binary.AppendUvarint(list, uint64(len(jp)))
			list = append(list, jp...)
			for r := row; r < row+h; r++ {
				for k := col; k < col+w; k++ {
					e.inexact[r*cols+k] = true
				}
			}
			n++
		}
	}
	return list, n
}

// jpeg encodes r of img at quality q; false when the JPEG would not be
// smaller than the pixels raw.
func (e *Encoder) jpeg(img *Image, r image.Rectangle, q int) ([]byte, bool) {
	w, h := r.Dx(), r.Dy()
	if e.rgba == nil || cap(e.rgba.Pix) < w*h*4 {
		e.rgba = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	m := e.rgba
	m.Pix, m.Stride, m.Rect = m.Pix[:w*h*4], w*4, image.Rect(0, 0, w, h)
	for y := range h {
		s := img.Pix[(r.Min.Y+y)*img.Stride+r.Min.X*4:][:w*4]
		d := m.Pix[y*m.Stride:][:w*4]
		for i := 0; i < len(s); i += 4 {
			d[i], d[i+1], d[i+2], d[i+3] = s[i+2], s[i+1], s[i], 0xff
		}
	}
	e.jbuf.Reset()
	if err := jpeg.Encode(&e.jbuf, m, &jpeg.Options{Quality: q}); err != nil || e.jbuf.Len() >= 3*w*h {
		return nil, false
	}
	return e.jbuf.Bytes(), true
}

// checkJPEGHeader checks a lossy tile's JPEG header for r: it must be a
// JPEG of r's size, in colour (YCbCr, as image/jpeg writes it) or grey.
func checkJPEGHeader(b []byte, r image.Rectangle) error {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return invalid("a lossy tile: %v", err)
	}
	if cfg.Width != r.Dx() || cfg.Height != r.Dy() {
		return invalid("a JPEG of %d × %d for %d × %d pixels", cfg.Width, cfg.Height, r.Dx(), r.Dy())
	}
	if cfg.ColorModel != color.YCbCrModel && cfg.ColorModel != color.GrayModel {
		return invalid("a JPEG neither YCbCr nor grey")
	}
	return nil
}

// decodeJPEG decodes a lossy tile's JPEG for r, its header checked.
func decodeJPEG(b []byte, r image.Rectangle) (image.Image, error) {
	m, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, invalid("a lossy tile: %v", err)
	}
	if m.Bounds() != image.Rect(0, 0, r.Dx(), r.Dy()) {
		return nil, invalid("a JPEG of %v for %d × %d pixels", m.Bounds(), r.Dx(), r.Dy())
	}
	switch m.(type) {
	case *image.YCbCr, *image.Gray:
		return m, nil
	}
	return nil, invalid("a JPEG neither YCbCr nor grey")
}

// putJPEG writes a decoded lossy tile (from decodeJPEG) at r.
func putJPEG(dst *Image, r image.Rectangle, m image.Image) {
	w := r.Dx()
	switch m := m.(type) {
	case *image.YCbCr:
		// The chroma's subsampling, as shifts of x and y.
		sx, sy := 0, 0
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio422:
			sx = 1
		case image.YCbCrSubsampleRatio420:
			sx, sy = 1, 1
		case image.YCbCrSubsampleRatio440:
			sy = 1
		case image.YCbCrSubsampleRatio411:
			sx = 2
		case image.YCbCrSubsampleRatio410:
			sx, sy = 2, 1
		}
		for y := 0; y < r.Dy(); y++ {
			row := dst.Pix[(r.Min.Y+y)*dst.Stride+r.Min.X*4:][:w*4]
			ys := m.Y[y*m.YStride:][:w]
			cbs := m.Cb[(y>>sy)*m.CStride:]
			crs := m.Cr[(y>>sy)*m.CStride:]
			for x, yv := range ys {
				// color.YCbCrToRGB's arithmetic, inlined.
				yy := int32(yv) * 0x10101
				cb, cr := int32(cbs[x>>sx])-128, int32(crs[x>>sx])-128
				p := row[x*4 : x*4+4 : x*4+4]
				p[0] = clamp16(yy + 116130*cb)
				p[1] = clamp16(yy - 22554*cb - 46802*cr)
				p[2] = clamp16(yy + 91881*cr)
				p[3] = 0
			}
		}
	case *image.Gray:
		for y := 0; y < r.Dy(); y++ {
			row := dst.Pix[(r.Min.Y+y)*dst.Stride+r.Min.X*4:][:w*4]
			for x, v := range m.Pix[y*m.Stride:][:w] {
				row[x*4], row[x*4+1], row[x*4+2], row[x*4+3] = v, v, v, 0
			}
		}
	}
}

// clamp16 is v >> 16 held to 0..255.
func clamp16(v int32) byte {
	if uint32(v)&0xff000000 == 0 {
		return byte(v >> 16)
	}
	return byte(^(v >> 31))
}
