// Package capture reads the customer's screen for screen sharing: the
// monitors and their places, which parts changed, and the pixels of a part.
//
// On Linux with X11 (X11) one persistent X connection reads the root
// window into one MIT-SHM segment, made once and reused, and DAMAGE tells
// the changed rectangles, so an idle screen costs nothing and a changed one
// about a millisecond per 1080p read (see the capture bench). The pointer
// travels apart (Cursor), so a grab never holds it. A Wayland
// session has no X screen to read: OpenX11 says so with ErrWayland (the
// portal and PipeWire route is described in docs/screen-sharing.md).
//
// The sharing service (package sharing) reads the screen through it for
// each agent holding the view grant.
//
// On Windows and macOS (Poll) the screen is read whole, through
// kbinani/screenshot (OpenScreenshot), 15 times a second by a goroutine of
// the Poll's own, and each look is compared with the one before in blocks
// of 64 × 64 pixels, the codec's tiles: the blocks that differ are what
// changed (Changed), told on Drawn, and Grab copies from the last look.
// The compare of an unchanged 1080p screen costs what bytes.Equal of the
// whole frame does, about a quarter of a millisecond (see the Poll
// bench); the read itself costs what the system's capture does. The
// pointer is not read there yet (ErrNoCursor). NewPoll takes any reader,
// so a Poll can stand in wherever a screen can be read but not watched
// (an X server without DAMAGE; kbinani's read costs about 90 ms there,
// so a cheaper reader is wanted).
package capture

import (
	"errors"
	"image"
	"os"
	"strings"
)

// Monitor is one monitor: its index (as the agent names it) and its place
// on the screen, in pixels.
type Monitor struct {
	Index   int
	Bounds  image.Rectangle
	Primary bool
}

// Frame holds pixels of the screen: 4 bytes a pixel (blue, green, red,
// unused), Stride bytes a row, for the part Rect.
type Frame struct {
	Rect   image.Rectangle
	Stride int
	Pix    []byte
}

// NewFrame makes a frame for the part r of the screen.
func NewFrame(r image.Rectangle) *Frame {
	return &Frame{Rect: r, Stride: r.Dx() * 4, Pix: make([]byte, r.Dx()*r.Dy()*4)}
}

func (f *Frame) offset(x, y int) int { return (y-f.Rect.Min.Y)*f.Stride + (x-f.Rect.Min.X)*4 }

// RGBA converts the part r of the frame to an image (tests, snapshots).
func (f *Frame) RGBA(r image.Rectangle) *image.RGBA {
	r = r.Intersect(f.Rect)
	img := image.NewRGBA(r)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			o, p := f.offset(x, y), img.PixOffset(x, y)
			img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = f.Pix[o+2], f.Pix[o+1], f.Pix[o], 0xff
		}
	}
	return img
}

// Errors.
var (
	ErrClosed  = errors.New("capture: closed")
	ErrWayland = errors.New("screen sharing needs an X11 session for now; this is a Wayland session (log in with an X11 session, or see docs/screen-sharing.md)")
)

// WaylandSession says whether the desktop session is Wayland's (where an
// X screen, if any, is XWayland's and shows only X programs).
func WaylandSession() bool {
	return os.Getenv("WAYLAND_DISPLAY") != "" || strings.EqualFold(os.Getenv("XDG_SESSION_TYPE"), "wayland")
}

// Cursor is the pointer: where it is, and its shape, which travel apart
// from the picture (a grab never contains it), so moving the pointer costs
// no picture bytes.
type Cursor struct {
	Pos    image.Point // the pointer on the screen
	Hot    image.Point // the shape's hot spot, from its top left
	Serial uint32      // changes when the shape does: send the shape only then
	Shape  *image.NRGBA
}
