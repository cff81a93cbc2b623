//go:build linux

package capture

import (
	"fmt"
	"image"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/porthole-dev/porthole/customer/internal/xconn"
)

// OpenX11Poll reads display ("": $DISPLAY) the slow way, for an X server
// OpenX11 cannot use (ErrNoFastPath): a Poll whose looks are core
// GetImage requests on one persistent connection, compared block by block.
// The monitors are found as OpenX11 finds them; the pointer is not read.
func OpenX11Poll(display string) (*Poll, error) {
	if display == "" && WaylandSession() {
		return nil, ErrWayland
	}
	x := &X11{}
	xc, err := xconn.Open(display, func(c *xgb.Conn) error {
		x.conn = c
		scr := xproto.Setup(c).DefaultScreen(c)
		x.root = scr.Root
		x.bounds = image.Rect(0, 0, int(scr.WidthInPixels), int(scr.HeightInPixels))
		if scr.RootDepth != 24 && scr.RootDepth != 32 {
			return fmt.Errorf("the screen has %d bits a pixel; only 24 and 32 are read", scr.RootDepth)
		}
		x.findMonitors()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	mons, err := x.Monitors()
	if err != nil {
		xc.Close()
		return nil, err
	}
	ds := make([]image.Rectangle, len(mons))
	for i, m := range mons {
		ds[i] = m.Bounds
	}
	var mu sync.Mutex // one request at a time: the replies are large
	grab := func(r image.Rectangle) (*image.RGBA, error) {
		mu.Lock()
		defer mu.Unlock()
		return getImage(x.conn, x.root, r)
	}
	p, err := NewPoll(PollConfig{Grab: grab, Displays: ds, Close: func() { xc.Close() }})
	if err != nil {
		xc.Close()
		return nil, err
	}
	return p, nil
}

// getImage reads the part r of the root window into an RGBA picture, in
// strips of about 4 MiB a reply (so that no reply holds the connection
// long).
func getImage(c *xgb.Conn, root xproto.Window, r image.Rectangle) (*image.RGBA, error) {
	img := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	rows := max(1, (4<<20)/max(1, r.Dx()*4))
	for y := r.Min.Y; y < r.Max.Y; y += rows {
		h := min(rows, r.Max.Y-y)
		rep, err := xproto.GetImage(c, xproto.ImageFormatZPixmap, xproto.Drawable(root),
			int16(r.Min.X), int16(y), uint16(r.Dx()), uint16(h), 0xffffffff).Reply()
		if err != nil {
			return nil, fmt.Errorf("capture: reading the screen: %w", err)
		}
		if len(rep.Data) < r.Dx()*h*4 {
			return nil, fmt.Errorf("capture: the screen read %d bytes for %d × %d pixels", len(rep.Data), r.Dx(), h)
		}
		// Blue, green, red, unused (the server's 32 bits a pixel, little
		// endian, as OpenX11 reads it) to red, green, blue, opaque.
		o := img.PixOffset(0, y-r.Min.Y)
		src, dst := rep.Data[:r.Dx()*h*4], img.Pix[o:o+r.Dx()*h*4]
		for i := 0; i < len(src); i += 4 {
			dst[i], dst[i+1], dst[i+2], dst[i+3] = src[i+2], src[i+1], src[i], 0xff
		}
	}
	return img, nil
}
