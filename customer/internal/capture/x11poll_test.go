//go:build linux

package capture

import (
	"errors"
	"image"
	"testing"

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
			paintAndRead(t, p, d, image.Rect(100, 50, 420, 290), image.Rect(64, 0, 448, 320), image.Point{}, mons[0].Bounds)
		})
	}
}
