package screen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"

	"github.com/klauspost/compress/zstd"
)

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
