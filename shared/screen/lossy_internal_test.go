package screen

import (
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

// putJPEG's inlined conversion gives what image/color does, for every
// chroma subsampling a JPEG may have.
func TestPutJPEGConverts(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 1))
	r := image.Rect(0, 0, 37, 21)
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		m := image.NewYCbCr(r, ratio)
		for _, p := range [][]byte{m.Y, m.Cb, m.Cr} {
			for i := range p {
				p[i] = byte(rnd.Uint32())
			}
		}
		dst := NewImage(50, 30)
		at := r.Add(image.Pt(5, 7))
		putJPEG(dst, at, m)
		for y := range r.Dy() {
			for x := range r.Dx() {
				c := m.YCbCrAt(x, y)
				cr, cg, cb := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
				if got, want := dst.rgb(at.Min.X+x, at.Min.Y+y), uint32(cb)|uint32(cg)<<8|uint32(cr)<<16; got != want {
					t.Fatalf("%v: pixel %d,%d is %06x, want %06x", ratio, x, y, got, want)
				}
			}
		}
	}
}
