package screen

import (
	"bytes"
	"hash/maphash"
	"image"
)

// A scroll is found by rows: each row of the area, as the receiver has it
// and as it is now, is hashed, and the rows that changed vote for the
// shift that would bring them from a row the receiver has. The winning
// shift becomes one copy (the area moved by dy rows), and the tiles that
// still differ after it go as usual: the new lines, and whatever did not
// move.

// minScrollRows is the fewest rows that must agree on a shift.
const minScrollRows = 16

// maxAlike is how many rows the receiver may have alike for a row to
// vote: each of their shifts gets its vote, and the nearest shift wins a
// tie (text repeats; blank rows, too alike, do not vote).
const maxAlike = 16

// copyOp moves src (in the receiver's picture) to dst (its top left).
type copyOp struct {
	src image.Rectangle
	dst image.Point
}

// findScroll looks for a vertical move of the content of area from what
// the receiver has to img.
func (e *Encoder) findScroll(img *Image, area image.Rectangle) (copyOp, bool) {
	if area.Dy() < 2*minScrollRows {
		return copyOp{}, false
	}
	x0, w := area.Min.X*4, area.Dx()*4
	row := func(m *Image, y int) []byte { return m.Pix[y*m.Stride+x0:][:w] }
	had := make(map[uint64][]int, area.Dy())
	for y := area.Min.Y; y < area.Max.Y; y++ {
		h := maphash.Bytes(e.seed, row(e.have, y))
		if len(had[h]) <= maxAlike {
			had[h] = append(had[h], y)
		}
	}
	votes := map[int]int{}
	changed := 0
	for y := area.Min.Y; y < area.Max.Y; y++ {
		now := row(img, y)
		if bytes.Equal(now, row(e.have, y)) {
			continue
		}
		changed++
		ys := had[maphash.Bytes(e.seed, now)]
		if len(ys) > maxAlike { // a row like many others (blank) says nothing
			continue
		}
		for _, from := range ys {
			votes[from-y]++
		}
	}
	best, dy := 0, 0
	for d, n := range votes {
		if n > best || (n == best && abs(d) < abs(dy)) {
			best, dy = n, d
		}
	}
	if dy == 0 || best < minScrollRows || best*8 < changed {
		return copyOp{}, false
	}
	if dy > 0 { // the content moved up: rows below come up
		return copyOp{src: image.Rect(area.Min.X, area.Min.Y+dy, area.Max.X, area.Max.Y), dst: area.Min}, true
	}
	return copyOp{src: image.Rect(area.Min.X, area.Min.Y, area.Max.X, area.Max.Y+dy), dst: image.Pt(area.Min.X, area.Min.Y-dy)}, true
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// apply moves c.src to c.dst in m, rows in the order that never reads a
// row already overwritten.
func (c copyOp) apply(m *Image) {
	w, h := c.src.Dx()*4, c.src.Dy()
	line := func(i int) {
		s := m.Pix[(c.src.Min.Y+i)*m.Stride+c.src.Min.X*4:][:w]
		copy(m.Pix[(c.dst.Y+i)*m.Stride+c.dst.X*4:][:w], s)
	}
	if c.dst.Y < c.src.Min.Y {
		for i := 0; i < h; i++ {
			line(i)
		}
	} else {
		for i := h - 1; i >= 0; i-- {
			line(i)
		}
	}
}
