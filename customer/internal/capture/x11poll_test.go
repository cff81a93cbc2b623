//go:build linux

package capture

import (
	"errors"
	"image"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/customer/internal/xconn/xvfb"
)

// TestX11PollWithoutDamage: an X server without DAMAGE (or MIT-SHM, as one
// over the network) is not OpenX11's, and says so; OpenX11Poll reads it
// all the same, block by block, exactly.
func TestX11PollWithoutDamage(t *testing.T) {
	for _, ext := range []string{"DAMAGE", "MIT-SHM"} {
		t.Run(ext, func(t *testing.T) {
			d := xvfb.Start(t, "-screen", "0", "1024x768x24", "-extension", ext)
			if x, err := OpenX11(d); !errors.Is(err, ErrNoFastPath) {
				if x != nil {
					x.Close()
				}
				t.Fatalf("OpenX11 without %s: %v, want ErrNoFastPath", ext, err)
			}
			p, err := OpenX11Poll(d)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			mons, err := p.Monitors()
			if err != nil || len(mons) != 1 || mons[0].Bounds != image.Rect(0, 0, 1024, 768) {
				t.Fatalf("monitors %v, %v", mons, err)
			}
			p.Changed()
			area := image.Rect(100, 50, 420, 290)
			blocks := image.Rect(64, 0, 448, 320)
			paint(t, d, area, pattern)
			var changed image.Rectangle
			for deadline := time.After(10 * time.Second); changed != blocks; {
				select {
				case <-p.Drawn():
				case <-deadline:
					t.Fatalf("changed %v, painted %v (blocks %v)", changed, area, blocks)
				}
				ch, err := p.Changed()
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range ch {
					if !r.In(blocks) {
						t.Fatalf("%v changed, painted %v", r, area)
					}
					changed = changed.Union(r)
				}
			}
			if err := p.read(0); err != nil {
				t.Fatal(err)
			}
			f := NewFrame(mons[0].Bounds)
			if err := p.Grab(f, area); err != nil {
				t.Fatal(err)
			}
			img := f.RGBA(area)
			for y := area.Min.Y; y < area.Max.Y; y++ {
				for x := area.Min.X; x < area.Max.X; x++ {
					want, c := pattern(x, y), img.RGBAAt(x, y)
					if c.R != want[0] || c.G != want[1] || c.B != want[2] {
						t.Fatalf("pixel %d,%d is %v, want %v", x, y, c, want)
					}
				}
			}
		})
	}
}
