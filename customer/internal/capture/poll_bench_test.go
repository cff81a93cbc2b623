package capture

import (
	"bytes"
	"image"
	"math/rand/v2"
	"testing"
)

// The block compare of two 1080p pictures, against bytes.Equal of the
// whole frames in the same run (the least any compare costs): idle (the
// same picture), typing (ten glyphs changed), all (every block changed
// in its last row, the compare's worst case) and noise (every pixel);
// and the conversion to BGRX of a whole monitor (Grab), against a copy.
func BenchmarkPollCompare1080p(b *testing.B) {
	whole := image.Rect(0, 0, 1920, 1080)
	a := image.NewRGBA(whole)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range a.Pix {
		a.Pix[i] = byte(rng.Uint32())
	}
	clone := func(edit func(c *image.RGBA)) *image.RGBA {
		c := image.NewRGBA(whole)
		copy(c.Pix, a.Pix)
		edit(c)
		return c
	}
	cols, rows := (whole.Dx()+PollBlock-1)/PollBlock, (whole.Dy()+PollBlock-1)/PollBlock
	dirty := make([]bool, cols*rows)
	b.Run("bytes.Equal-frame", func(b *testing.B) {
		same := clone(func(*image.RGBA) {})
		b.SetBytes(int64(len(a.Pix)))
		for b.Loop() {
			if !bytes.Equal(a.Pix, same.Pix) {
				b.Fatal("differ")
			}
		}
	})
	for _, c := range []struct {
		name string
		edit func(c *image.RGBA)
		want int // blocks changed
	}{
		{"blocks-idle", func(*image.RGBA) {}, 0},
		{"blocks-typing", func(c *image.RGBA) {
			for i := range 10 {
				for y := 520; y < 536; y++ { // a glyph inside a block, three blocks apart
					for x := 70 + i*192; x < 78+i*192; x++ {
						c.Pix[c.PixOffset(x, y)] ^= 0xff
					}
				}
			}
		}, 10},
		{"blocks-all", func(c *image.RGBA) {
			for y := PollBlock - 1; y < whole.Dy(); y += PollBlock {
				for x := 0; x < whole.Dx(); x++ {
					c.Pix[c.PixOffset(x, y)] ^= 0xff
				}
			}
			for x := 0; x < whole.Dx(); x++ {
				c.Pix[c.PixOffset(x, whole.Dy()-1)] ^= 0xff
			}
		}, cols * rows},
		{"blocks-noise", func(c *image.RGBA) {
			for i := range c.Pix {
				c.Pix[i] ^= 0x01
			}
		}, cols * rows},
	} {
		next := clone(c.edit)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(a.Pix)))
			for b.Loop() {
				clear(dirty)
				diffBlocks(a, next, PollBlock, dirty)
			}
			n := 0
			for _, d := range dirty {
				if d {
					n++
				}
			}
			if n != c.want {
				b.Fatalf("%d blocks changed, want %d", n, c.want)
			}
		})
	}
	b.Run("copy-frame", func(b *testing.B) { // the least a conversion costs
		f := NewFrame(whole)
		b.SetBytes(int64(len(a.Pix)))
		for b.Loop() {
			copy(f.Pix, a.Pix)
		}
	})
	b.Run("toBGRX-frame", func(b *testing.B) {
		f := NewFrame(whole)
		b.SetBytes(int64(len(a.Pix)))
		for b.Loop() {
			toBGRX(f, whole, a, whole.Min)
		}
	})
}
