package screen

import (
	"image"
	"math/rand/v2"
	"testing"
)

// diff finds the rectangle a pixel-by-pixel look finds, in whole tiles
// and in the partial ones at the picture's edges.
func TestDiffIsTheBoundingBox(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	img := NewImage(150, 100) // 3 × 2 tiles, the last column 22 wide, the last row 36 high
	for i := range img.Pix {
		img.Pix[i] = byte(rnd.Uint32())
	}
	e := &Encoder{have: NewImage(img.W, img.H)}
	for range 2000 {
		copy(e.have.Pix, img.Pix)
		for range rnd.IntN(4) { // 0 to 3 pixels changed, in one byte each
			x, y := rnd.IntN(img.W), rnd.IntN(img.H)
			e.have.Pix[y*img.Stride+x*4+rnd.IntN(4)]++
		}
		cols, rows := tiles(img.W, img.H)
		for row := range rows {
			for col := range cols {
				r := img.tile(col, row)
				var want image.Rectangle
				for y := r.Min.Y; y < r.Max.Y; y++ {
					for x := r.Min.X; x < r.Max.X; x++ {
						o := y*img.Stride + x*4
						if string(img.Pix[o:o+4]) != string(e.have.Pix[o:o+4]) {
							want = want.Union(image.Rect(x, y, x+1, y+1))
						}
					}
				}
				if got := e.diff(img, r); got != want {
					t.Fatalf("tile %d,%d: %v, want %v", col, row, got, want)
				}
			}
		}
	}
}
