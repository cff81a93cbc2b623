//go:build linux

package capture

import (
	"image"
	"testing"

	"github.com/kbinani/screenshot"

	"github.com/porthole-dev/porthole/customer/internal/xconn/xvfb"
)

// The capture of a whole 1080p screen: this package's persistent
// connection and reused MIT-SHM segment (X11), and the same read with
// kbinani/screenshot.CaptureRect (a new connection and segment per call),
// on one Xvfb in the same run: the baseline. make bench runs it.
func BenchmarkCapture1080p(b *testing.B) {
	d := xvfb.Start(b, "-screen", "0", "1920x1080x24")
	whole := image.Rect(0, 0, 1920, 1080)
	b.Run("x11-shm", func(b *testing.B) {
		x, err := OpenX11(d)
		if err != nil {
			b.Fatal(err)
		}
		defer x.Close()
		f := NewFrame(whole)
		b.SetBytes(int64(len(f.Pix)))
		for b.Loop() {
			if err := x.Grab(f, whole); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kbinani-CaptureRect", func(b *testing.B) {
		b.Setenv("DISPLAY", d)
		b.SetBytes(int64(whole.Dx() * whole.Dy() * 4))
		for b.Loop() {
			if _, err := screenshot.CaptureRect(whole); err != nil {
				b.Fatal(err)
			}
		}
	})
}
