package desktopui

import (
	"encoding/binary"
	"image"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/screen"
)

// The agent's view of the customer's screen (issue 13, step 6).
//
// Pictures: the decoder's goroutine calls Update after each frame; Update
// converts the changed rectangles from the codec's BGRX into a back buffer
// under a mutex and asks Fyne's goroutine, through one fyne.Do at a time,
// to copy what changed into the front buffer the canvas.Image shows. The
// front buffer is touched only on Fyne's goroutine, where the GL driver also
// paints, so the painter never reads a picture being written. The image is
// drawn with canvas.ImageScaleFastest: Fyne then uploads the *image.RGBA's
// pixels as they are and lets the GPU scale them, where the default
// (ImageScaleSmooth) rescales the whole picture on the CPU with Catmull-Rom
// on every repaint whenever it is shown at another size than its own.
//
// Input: pointer, wheel and keys become pb.InputEvents for OnInput while
// control is on. Fyne's GLFW driver gives a key press as KeyDown then
// TypedKey, and its repeats as TypedKey alone (or TypedShortcut when a
// modifier other than Shift is held), so a TypedKey or TypedShortcut for a
// key held whose press was already seen is a repeat, sent as another KEY
// down (X's autorepeat is a down without an up).

const (
	// remoteMinWidth, remoteMinHeight are the view's minimum size when it
	// fits the picture, so a window with it never grows past its screen.
	remoteMinWidth, remoteMinHeight = 160, 90
	// maxDirty is how many changed rectangles wait for the window before
	// they are merged into the one that holds them all.
	maxDirty = 64
	// maxScrollClicks caps the wheel clicks of one scroll event.
	maxScrollClicks = 100
)

// wheelClick is how many Fyne units one wheel click scrolls in Fyne's GLFW
// driver (v2.8.1, internal/driver/glfw/scroll_speed_*.go: scrollSpeed), and
// wheelBoost what it multiplies a scroll of wheelBoostFrom clicks or more
// in one event by (scrollAccelerateRate, scrollAccelerateCutoff).
var wheelClick, wheelBoost, wheelBoostFrom = func() (float32, float32, float32) {
	if runtime.GOOS == "darwin" {
		return 10, 1, 5
	}
	return 25, 125, 10
}()

// RemoteScreen shows the customer's screen as the agent's decoder has it,
// with the customer's pointer over it, and while control is on turns the
// agent's pointer, wheel and keys over it into input events for the
// customer. Put it in a window with NewRemoteView, which scrolls it at
// 100 % and fits it otherwise.
//
// Update, SetCursor, SetMonitor and Picture may be called from any
// goroutine; the other methods only on Fyne's.
type RemoteScreen struct {
	widget.BaseWidget

	// OnInput gets the events the agent's pointer and keys make while
	// control is on, in order, on Fyne's goroutine; it must not block.
	// Every event passes protocol.ValidatePeerMsg.
	OnInput func([]*pb.InputEvent)

	// do runs a function on Fyne's goroutine (fyne.Do; tests play the
	// driver's loop).
	do func(func())
	// scancodes says whether Fyne's scan codes are X keycodes (GLFW on
	// Linux and the BSDs, under X11 and Wayland alike), which is what a
	// KEY event's scancode is.
	scancodes bool

	monitor atomic.Int32

	// Shared with Update's and SetCursor's goroutines, under mu:
	mu       sync.Mutex
	back     *image.RGBA       // the picture as the decoder last gave it
	dirty    []image.Rectangle // what changed in back since the last copy to the front
	resized  bool              // back has a new size: the front takes all of it
	pending  bool              // a copy to the front waits on Fyne's goroutine
	cursor   remoteCursor
	cursorUp bool // cursor changed since the last copy

	// Fyne's goroutine only:
	front   *image.RGBA // what img shows
	img     *canvas.Image
	pointer *canvas.Image // the customer's pointer
	shown   remoteCursor
	scroll  *container.Scroll // the view NewRemoteView made, if any
	fit     bool
	control bool
	focused bool
	last    *pb.InputEvent // the last MOVE sent
	buttons map[int32]bool
	keys    []*heldKey // in the order of their presses
	// textNext says a rune TypedRune gives now goes as TEXT: the latest
	// key press or repeat was not sent as a key, or no key sent is held.
	textNext bool
	// wheelX, wheelY are the fractions of a wheel click not sent yet.
	wheelX, wheelY float32
}

type remoteCursor struct {
	visible  bool
	pos, hot image.Point
	shape    *image.NRGBA // a copy of the caller's, never written again
}

// keyID names a key held: Fyne's name and the driver's scan code.
type keyID struct {
	name fyne.KeyName
	code int
}

type heldKey struct {
	id    keyID
	ev    *pb.InputEvent // the KEY down sent; nil when the key was not sent
	typed bool           // the TypedKey (or TypedShortcut) of its press has come
}

// NewRemoteScreen makes a view with no picture yet, fitting the picture
// into its size, with control off.
func NewRemoteScreen() *RemoteScreen {
	rs := &RemoteScreen{
		do:        fyne.Do,
		scancodes: xKeycodes(runtime.GOOS),
		fit:       true,
		buttons:   map[int32]bool{},
		textNext:  true,
	}
	rs.img = &canvas.Image{FillMode: canvas.ImageFillStretch, ScaleMode: canvas.ImageScaleFastest}
	rs.pointer = &canvas.Image{FillMode: canvas.ImageFillStretch, ScaleMode: canvas.ImageScaleFastest}
	rs.pointer.Hide()
	rs.ExtendBaseWidget(rs)
	return rs
}

func xKeycodes(goos string) bool {
	switch goos {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
		return true
	}
	return false
}

// NewRemoteView puts rs in a scroll container, which scrolls the picture
// at 100 % and holds it whole when it fits (SetFit switches). The wheel
// scrolls the view while control is off.
func NewRemoteView(rs *RemoteScreen) fyne.CanvasObject {
	rs.scroll = container.NewScroll(rs)
	return rs.scroll
}

// Update shows pic, of which only the rectangles in changed differ from
// the last picture given (none: nothing changed; all of it when its size
// differs), as Decoder.Decode reports them. It copies
// what it needs before it returns, so the caller may change pic again at
// once, and asks for a repaint; frames that come faster than the window
// repaints are merged. Any goroutine.
func (rs *RemoteScreen) Update(pic *screen.Image, changed []image.Rectangle) {
	if pic == nil || pic.W <= 0 || pic.H <= 0 {
		return
	}
	if pic.Stride < pic.W*4 || len(pic.Pix) < (pic.H-1)*pic.Stride+pic.W*4 {
		return // not a picture the codec makes
	}
	bounds := image.Rect(0, 0, pic.W, pic.H)
	rs.mu.Lock()
	if rs.back == nil || rs.back.Rect != bounds {
		rs.back = image.NewRGBA(bounds)
		rs.resized = true
		rs.dirty = rs.dirty[:0]
		changed = []image.Rectangle{bounds}
	}
	some := false
	for _, r := range changed {
		r = r.Intersect(bounds)
		if r.Empty() {
			continue
		}
		bgrxToRGBA(rs.back, pic, r)
		some = true
		if !rs.resized {
			rs.dirty = addDirty(rs.dirty, r)
		}
	}
	wake := some && !rs.pending
	rs.pending = rs.pending || some
	rs.mu.Unlock()
	if wake {
		rs.do(rs.flush)
	}
}

// addDirty adds r to the rectangles waiting, merging them all into one
// when there are too many.
func addDirty(dirty []image.Rectangle, r image.Rectangle) []image.Rectangle {
	for i, d := range dirty {
		if r.In(d) {
			return dirty
		}
		if d.In(r) {
			dirty[i] = r
			return dirty
		}
	}
	if len(dirty) < maxDirty {
		return append(dirty, r)
	}
	for _, d := range dirty {
		r = r.Union(d)
	}
	return append(dirty[:0], r)
}

// bgrxToRGBA converts r of src (blue, green, red, unused) into dst, two
// pixels at a time: red and blue swap places, and alpha is opaque.
func bgrxToRGBA(dst *image.RGBA, src *screen.Image, r image.Rectangle) {
	n := r.Dx() * 4
	for y := r.Min.Y; y < r.Max.Y; y++ {
		s := src.Pix[y*src.Stride+r.Min.X*4:][:n]
		d := dst.Pix[y*dst.Stride+r.Min.X*4:][:n]
		for len(s) >= 8 && len(d) >= 8 {
			v := binary.LittleEndian.Uint64(s)
			binary.LittleEndian.PutUint64(d, v&0x0000ff000000ff00|v>>16&0x000000ff000000ff|v<<16&0x00ff000000ff0000|0xff000000ff000000)
			s, d = s[8:], d[8:]
		}
		if len(s) >= 4 && len(d) >= 4 {
			v := binary.LittleEndian.Uint32(s)
			binary.LittleEndian.PutUint32(d, v>>16&0xff|v&0xff00|v&0xff<<16|0xff000000)
		}
	}
}

// SetCursor shows the customer's pointer, when visible, at pos (picture
// pixels) with its hot spot hot, scaled with the picture; shape nil keeps
// the last shape. Any goroutine.
func (rs *RemoteScreen) SetCursor(visible bool, pos, hot image.Point, shape *image.NRGBA) {
	rs.mu.Lock()
	rs.cursor.visible, rs.cursor.pos, rs.cursor.hot = visible, pos, hot
	if shape != nil {
		c := image.NewNRGBA(image.Rect(0, 0, shape.Rect.Dx(), shape.Rect.Dy()))
		for y := range c.Rect.Dy() {
			copy(c.Pix[y*c.Stride:][:c.Rect.Dx()*4], shape.Pix[shape.PixOffset(shape.Rect.Min.X, shape.Rect.Min.Y+y):])
		}
		rs.cursor.shape = c
	}
	rs.cursorUp = true
	wake := !rs.pending
	rs.pending = true
	rs.mu.Unlock()
	if wake {
		rs.do(rs.flush)
	}
}

// flush brings what Update and SetCursor left onto the canvas objects, on
// Fyne's goroutine.
func (rs *RemoteScreen) flush() {
	rs.mu.Lock()
	rs.pending = false
	painted, resized := false, false
	if rs.back != nil {
		if rs.resized || rs.front == nil {
			rs.front = image.NewRGBA(rs.back.Rect)
			copy(rs.front.Pix, rs.back.Pix)
			rs.resized, resized, painted = false, true, true
		} else {
			for _, r := range rs.dirty {
				n := r.Dx() * 4
				for y := r.Min.Y; y < r.Max.Y; y++ {
					o := rs.back.PixOffset(r.Min.X, y)
					copy(rs.front.Pix[o:o+n], rs.back.Pix[o:o+n])
				}
			}
			painted = len(rs.dirty) > 0
		}
		rs.dirty = rs.dirty[:0]
	}
	cursorUp := rs.cursorUp
	rs.shown = rs.cursor
	rs.cursorUp = false
	rs.mu.Unlock()

	if resized {
		rs.img.Image = rs.front
		rs.relayout()
		return
	}
	if painted {
		rs.img.Refresh()
	}
	if cursorUp {
		rs.placePointer(rs.Size())
	}
}

// relayout lays the picture out again after its size or the mode changed:
// through the scroll container when there is one, which takes the new
// MinSize and refreshes rs.
func (rs *RemoteScreen) relayout() {
	if rs.scroll != nil {
		rs.scroll.Refresh()
		return
	}
	rs.Refresh()
}

// SetFit fits the whole picture into the view (scaled down, never up past
// 100 %, centred) or, with fit false, shows it at 100 %: one picture pixel
// a pixel of the window, scrolled by the view NewRemoteView made.
func (rs *RemoteScreen) SetFit(fit bool) {
	if rs.fit == fit {
		return
	}
	rs.fit = fit
	if rs.scroll != nil && fit {
		rs.scroll.Offset = fyne.Position{}
	}
	rs.relayout()
}

// Fit says whether the picture is fitted into the view (else at 100 %).
func (rs *RemoteScreen) Fit() bool { return rs.fit }

// Picture is a copy of the picture as it is now, without the pointer; nil
// before the first Update. Any goroutine.
func (rs *RemoteScreen) Picture() *image.RGBA {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.back == nil {
		return nil
	}
	p := image.NewRGBA(rs.back.Rect)
	copy(p.Pix, rs.back.Pix)
	return p
}

// SetMonitor sets the customer's monitor the picture is of: the index
// MOVE events carry. An index out of the protocol's range is ignored. Any
// goroutine.
func (rs *RemoteScreen) SetMonitor(index int) {
	if index < 0 || index >= protocol.MaxMonitors {
		return
	}
	rs.monitor.Store(int32(index))
}

// SetControl turns control on or off. Turning it off first releases the
// keys and buttons the customer was told are down.
func (rs *RemoteScreen) SetControl(on bool) {
	if rs.control == on {
		return
	}
	if !on {
		rs.releaseAll()
	}
	rs.control = on
	rs.last = nil
	rs.wheelX, rs.wheelY = 0, 0
	rs.textNext = true
}

// Control says whether control is on.
func (rs *RemoteScreen) Control() bool { return rs.control }

// CreateRenderer is a private method to Fyne which links this widget to
// its renderer.
func (rs *RemoteScreen) CreateRenderer() fyne.WidgetRenderer {
	return &remoteRenderer{rs: rs, objects: []fyne.CanvasObject{rs.img, rs.pointer}}
}

// geometry is where the picture is drawn in a widget of size: k Fyne units
// a picture pixel, from off; ok false when there is nothing to show.
func (rs *RemoteScreen) geometry(size fyne.Size) (k float32, off fyne.Position, ok bool) {
	if rs.front == nil {
		return 0, off, false
	}
	pw, ph := float32(rs.front.Rect.Dx()), float32(rs.front.Rect.Dy())
	s := rs.scale()
	k = 1 / s
	if rs.fit {
		k = min(k, size.Width/pw, size.Height/ph)
	}
	if k <= 0 || math.IsNaN(float64(k)) {
		return 0, off, false
	}
	snap := func(v float32) float32 { return float32(math.Round(float64(max(v, 0)*s))) / s }
	off = fyne.NewPos(snap((size.Width-pw*k)/2), snap((size.Height-ph*k)/2))
	return k, off, true
}

// scale is the canvas's device pixels a Fyne unit.
func (rs *RemoteScreen) scale() float32 {
	if a := fyne.CurrentApp(); a != nil {
		if c := a.Driver().CanvasForObject(rs); c != nil && c.Scale() > 0 {
			return c.Scale()
		}
	}
	return 1
}

// toPicture maps a place in the widget to picture pixels; ok false when it
// is not on the picture. With clamp, a place off the picture maps to the
// nearest pixel on it.
func (rs *RemoteScreen) toPicture(p fyne.Position, clamp bool) (image.Point, bool) {
	k, off, ok := rs.geometry(rs.Size())
	if !ok {
		return image.Point{}, false
	}
	x := int(math.Floor(float64((p.X - off.X) / k)))
	y := int(math.Floor(float64((p.Y - off.Y) / k)))
	w, h := rs.front.Rect.Dx(), rs.front.Rect.Dy()
	if clamp {
		x, y = min(max(x, 0), w-1), min(max(y, 0), h-1)
	}
	if x < 0 || y < 0 || x >= w || y >= h {
		return image.Point{}, false
	}
	return image.Pt(x, y), true
}

func (rs *RemoteScreen) placePointer(size fyne.Size) {
	c := rs.shown
	k, off, ok := rs.geometry(size)
	if !ok || !c.visible || c.shape == nil {
		rs.pointer.Hide()
		return
	}
	if rs.pointer.Image != c.shape {
		rs.pointer.Image = c.shape
		rs.pointer.Refresh()
	}
	at := c.pos.Sub(c.hot)
	rs.pointer.Move(off.AddXY(float32(at.X)*k, float32(at.Y)*k))
	rs.pointer.Resize(fyne.NewSize(float32(c.shape.Rect.Dx())*k, float32(c.shape.Rect.Dy())*k))
	rs.pointer.Show()
	canvas.Refresh(rs.pointer)
}

type remoteRenderer struct {
	rs      *RemoteScreen
	objects []fyne.CanvasObject
}

func (r *remoteRenderer) Layout(size fyne.Size) {
	rs := r.rs
	k, off, ok := rs.geometry(size)
	if !ok {
		rs.img.Hide()
		rs.pointer.Hide()
		return
	}
	rs.img.Move(off)
	rs.img.Resize(fyne.NewSize(float32(rs.front.Rect.Dx())*k, float32(rs.front.Rect.Dy())*k))
	rs.img.Show()
	rs.placePointer(size)
}

func (r *remoteRenderer) MinSize() fyne.Size {
	rs := r.rs
	if rs.fit || rs.front == nil {
		return fyne.NewSize(remoteMinWidth, remoteMinHeight)
	}
	s := rs.scale()
	return fyne.NewSize(float32(rs.front.Rect.Dx())/s, float32(rs.front.Rect.Dy())/s)
}

func (r *remoteRenderer) Refresh() {
	r.Layout(r.rs.Size())
	r.rs.img.Refresh()
}

func (r *remoteRenderer) Objects() []fyne.CanvasObject { return r.objects }
func (r *remoteRenderer) Destroy()                     {}
