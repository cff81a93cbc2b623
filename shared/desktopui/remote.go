package desktopui

import (
	"encoding/binary"
	"image"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
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

// send gives evs to OnInput while control is on.
func (rs *RemoteScreen) send(evs ...*pb.InputEvent) {
	if rs.control && rs.OnInput != nil && len(evs) > 0 {
		rs.OnInput(evs)
	}
}

func (rs *RemoteScreen) move(p image.Point) *pb.InputEvent {
	rs.last = &pb.InputEvent{Kind: pb.InputEvent_KIND_MOVE, Monitor: rs.monitor.Load(), X: int32(p.X), Y: int32(p.Y)}
	return rs.last
}

// pointTo sends a MOVE to p (a place in the widget) unless the pointer is
// there already or p is off the picture.
func (rs *RemoteScreen) pointTo(p fyne.Position, clamp bool) {
	if !rs.control {
		return
	}
	at, ok := rs.toPicture(p, clamp)
	if !ok || rs.last != nil && rs.last.Monitor == rs.monitor.Load() && rs.last.X == int32(at.X) && rs.last.Y == int32(at.Y) {
		return
	}
	rs.send(rs.move(at))
}

// hover moves the pointer, first releasing the buttons held down that the
// mouse no longer holds (released over another object, which got the
// MouseUp).
func (rs *RemoteScreen) hover(ev *desktop.MouseEvent) {
	if !rs.control {
		return
	}
	var up []*pb.InputEvent
	for _, b := range []int32{1, 2, 3} {
		if rs.buttons[b] && ev.Button&fyneButton(b) == 0 {
			delete(rs.buttons, b)
			up = append(up, &pb.InputEvent{Kind: pb.InputEvent_KIND_BUTTON, Button: b})
		}
	}
	rs.send(up...)
	rs.pointTo(ev.Position, false)
}

// MouseIn is called when the mouse enters the view: a MOVE there.
func (rs *RemoteScreen) MouseIn(ev *desktop.MouseEvent) { rs.hover(ev) }

// MouseMoved is called when the mouse moves over the view: a MOVE there.
func (rs *RemoteScreen) MouseMoved(ev *desktop.MouseEvent) { rs.hover(ev) }

// MouseOut is called when the mouse leaves the view; the customer's
// pointer stays where it was.
func (rs *RemoteScreen) MouseOut() {}

// Dragged is called when the mouse moves with a button down, which Fyne
// then reports here even off the view: a MOVE to the nearest place on the
// picture.
func (rs *RemoteScreen) Dragged(ev *fyne.DragEvent) { rs.pointTo(ev.Position, true) }

// DragEnd is called when a drag ends (its MouseUp came first).
func (rs *RemoteScreen) DragEnd() {}

func remoteButton(b desktop.MouseButton) int32 {
	switch b {
	case desktop.MouseButtonPrimary:
		return 1
	case desktop.MouseButtonTertiary:
		return 2
	case desktop.MouseButtonSecondary:
		return 3
	}
	return 0
}

func fyneButton(b int32) desktop.MouseButton {
	switch b {
	case 1:
		return desktop.MouseButtonPrimary
	case 2:
		return desktop.MouseButtonTertiary
	}
	return desktop.MouseButtonSecondary
}

// MouseDown is called when a button is pressed over the view: it takes
// the keyboard's focus and, while control is on and the mouse is on the
// picture, sends a MOVE there and the button down.
func (rs *RemoteScreen) MouseDown(ev *desktop.MouseEvent) {
	if !rs.focused {
		if c := fyne.CurrentApp().Driver().CanvasForObject(rs); c != nil {
			c.Focus(rs)
		}
	}
	b := remoteButton(ev.Button)
	if !rs.control || b == 0 {
		return
	}
	at, ok := rs.toPicture(ev.Position, false)
	if !ok {
		return
	}
	rs.buttons[b] = true
	rs.send(rs.move(at), &pb.InputEvent{Kind: pb.InputEvent_KIND_BUTTON, Button: b, Down: true})
}

// MouseUp is called when a button is released (over the view, or
// anywhere after a drag that began on it): a MOVE there when it is on the
// picture, and the button up when its down was sent.
func (rs *RemoteScreen) MouseUp(ev *desktop.MouseEvent) {
	b := remoteButton(ev.Button)
	if !rs.control || !rs.buttons[b] {
		return
	}
	delete(rs.buttons, b)
	var evs []*pb.InputEvent
	if at, ok := rs.toPicture(ev.Position, false); ok {
		evs = append(evs, rs.move(at))
	}
	rs.send(append(evs, &pb.InputEvent{Kind: pb.InputEvent_KIND_BUTTON, Button: b})...)
}

// Scrolled is called for the wheel over the view. While control is on
// and the mouse is on the picture it sends wheel clicks, keeping the
// fractions a touchpad gives until they make a click; otherwise it
// scrolls the view NewRemoteView made (Fyne gives the wheel to the
// innermost Scrollable only).
func (rs *RemoteScreen) Scrolled(ev *fyne.ScrollEvent) {
	if _, on := rs.toPicture(ev.Position, false); !rs.control || !on {
		if rs.scroll != nil {
			rs.scroll.Scrolled(ev)
		}
		return
	}
	dx, dy := wheelClicks(&rs.wheelX, ev.Scrolled.DX), wheelClicks(&rs.wheelY, -ev.Scrolled.DY)
	if dx != 0 || dy != 0 {
		rs.send(&pb.InputEvent{Kind: pb.InputEvent_KIND_SCROLL, Dx: dx, Dy: dy})
	}
}

// wheelClicks turns a scroll of d Fyne units into whole wheel clicks,
// keeping the rest in acc for the next.
func wheelClicks(acc *float32, d float32) int32 {
	if d == 0 {
		return 0
	}
	if abs := float32(math.Abs(float64(d))); wheelBoost != 1 && abs >= wheelBoostFrom*wheelClick*wheelBoost {
		d /= wheelBoost // undo the driver's acceleration of a fast wheel
	}
	if (*acc < 0) != (d < 0) {
		*acc = 0 // a turn the other way starts afresh
	}
	*acc += d / wheelClick
	n := float32(math.Trunc(float64(*acc)))
	*acc -= n
	return int32(min(max(n, -maxScrollClicks), maxScrollClicks))
}

// FocusGained is called when the view gets the keyboard's focus.
func (rs *RemoteScreen) FocusGained() { rs.focused = true }

// FocusLost is called when the view loses the keyboard's focus (or the
// window its own): the keys and buttons held are released.
func (rs *RemoteScreen) FocusLost() {
	rs.focused = false
	rs.releaseAll()
}

// releaseAll sends an up for every button and key the customer was told
// is down, the keys in the reverse order of their presses (a modifier
// pressed first goes last).
func (rs *RemoteScreen) releaseAll() {
	var evs []*pb.InputEvent
	for _, b := range []int32{1, 2, 3} {
		if rs.buttons[b] {
			evs = append(evs, &pb.InputEvent{Kind: pb.InputEvent_KIND_BUTTON, Button: b})
		}
	}
	for i := len(rs.keys) - 1; i >= 0; i-- {
		if h := rs.keys[i]; h.ev != nil {
			evs = append(evs, keyUp(h.ev))
		}
	}
	rs.keys = rs.keys[:0]
	clear(rs.buttons)
	rs.textNext = true
	rs.send(evs...)
}

func keyUp(down *pb.InputEvent) *pb.InputEvent {
	return &pb.InputEvent{Kind: pb.InputEvent_KIND_KEY, Scancode: down.Scancode, Keysym: down.Keysym}
}

// held is the key held with id, or -1.
func (rs *RemoteScreen) held(id keyID) int {
	for i, h := range rs.keys {
		if h.id == id {
			return i
		}
	}
	return -1
}

// AcceptsTab says Tab goes to the customer while control is on (rather
// than moving the focus).
func (rs *RemoteScreen) AcceptsTab() bool { return rs.control }

func (rs *RemoteScreen) keyEvent(ev *fyne.KeyEvent, down bool) *pb.InputEvent {
	e := &pb.InputEvent{Kind: pb.InputEvent_KIND_KEY, Down: down, Keysym: keysyms[ev.Name]}
	if sc := ev.Physical.ScanCode; rs.scancodes && sc >= 8 && sc <= 255 {
		e.Scancode = uint32(sc)
	}
	if e.Scancode == 0 && e.Keysym == 0 {
		return nil
	}
	return e
}

// KeyDown is called when a key is pressed while the view has the focus:
// a KEY down, by its X keycode where there is one and its keysym where
// it has one; a key with neither goes as the text it types.
func (rs *RemoteScreen) KeyDown(ev *fyne.KeyEvent) {
	if !rs.control {
		return
	}
	id := keyID{ev.Name, ev.Physical.ScanCode}
	if i := rs.held(id); i >= 0 { // a second press without a release: a repeat
		h := rs.keys[i]
		h.typed = false
		rs.textNext = h.ev == nil
		if h.ev != nil {
			rs.send(h.ev)
		}
		return
	}
	h := &heldKey{id: id, ev: rs.keyEvent(ev, true)}
	rs.keys = append(rs.keys, h)
	rs.textNext = h.ev == nil
	if h.ev != nil {
		rs.send(h.ev)
	}
}

// KeyUp is called when a key is released: a KEY up when its down was sent.
func (rs *RemoteScreen) KeyUp(ev *fyne.KeyEvent) {
	i := rs.held(keyID{ev.Name, ev.Physical.ScanCode})
	if !rs.control || i < 0 {
		return
	}
	h := rs.keys[i]
	rs.keys = append(rs.keys[:i], rs.keys[i+1:]...)
	if h.ev != nil {
		rs.send(keyUp(h.ev))
	}
	rs.textNext = true
	for _, o := range rs.keys {
		if o.ev != nil {
			rs.textNext = false
			break
		}
	}
}

// repeat handles the TypedKey or TypedShortcut of a key held: the first
// is its press's, later ones are the driver's repeats.
func (rs *RemoteScreen) repeat(h *heldKey) {
	if !h.typed {
		h.typed = true
		return
	}
	rs.textNext = h.ev == nil
	if h.ev != nil {
		rs.send(h.ev)
	}
}

// TypedKey is called for a key press and each of its repeats: a repeat
// of a key sent goes as another KEY down.
func (rs *RemoteScreen) TypedKey(ev *fyne.KeyEvent) {
	if !rs.control {
		return
	}
	if i := rs.held(keyID{ev.Name, ev.Physical.ScanCode}); i >= 0 {
		rs.repeat(rs.keys[i])
	}
}

// TypedRune is called for each character typed: it goes as TEXT when it
// did not come from a key sent as a key (one with neither an X keycode
// nor a keysym here, or text typed without a key Fyne reports).
func (rs *RemoteScreen) TypedRune(r rune) {
	if !rs.control || !rs.textNext || !utf8.ValidRune(r) || !unicode.IsGraphic(r) {
		return
	}
	rs.send(&pb.InputEvent{Kind: pb.InputEvent_KIND_TEXT, Text: string(r)})
}

// TypedShortcut is called for a key pressed (or repeated) with a modifier
// other than Shift, which Fyne's driver gives as a shortcut rather than a
// TypedKey. While control is on the key went to the customer already (a
// repeat goes again); otherwise the window's own shortcuts get it.
func (rs *RemoteScreen) TypedShortcut(s fyne.Shortcut) {
	if !rs.control {
		if c := fyne.CurrentApp().Driver().CanvasForObject(rs); c != nil {
			if sc, ok := c.(fyne.Shortcutable); ok {
				sc.TypedShortcut(s)
			}
		}
		return
	}
	name := shortcutKey(s)
	if name == "" {
		return
	}
	for i := len(rs.keys) - 1; i >= 0; i-- {
		if rs.keys[i].id.name == name {
			rs.repeat(rs.keys[i])
			return
		}
	}
}

// shortcutKey is the key Fyne's driver made shortcut s from.
func shortcutKey(s fyne.Shortcut) fyne.KeyName {
	switch s := s.(type) {
	case *desktop.CustomShortcut:
		return s.KeyName
	case *fyne.ShortcutCopy:
		if s.Secondary {
			return fyne.KeyInsert
		}
		return fyne.KeyC
	case *fyne.ShortcutPaste:
		if s.Secondary {
			return fyne.KeyInsert
		}
		return fyne.KeyV
	case *fyne.ShortcutCut:
		if s.Secondary {
			return fyne.KeyDelete
		}
		return fyne.KeyX
	case *fyne.ShortcutUndo:
		return fyne.KeyZ
	case *fyne.ShortcutRedo:
		return fyne.KeyY
	case *fyne.ShortcutSelectAll:
		return fyne.KeyA
	}
	return ""
}

// X11 keysyms (X11/keysymdef.h) of the keys Fyne names.
const (
	xkBackSpace = 0xff08
	xkTab       = 0xff09
	xkReturn    = 0xff0d
	xkEscape    = 0xff1b
	xkDelete    = 0xffff
	xkHome      = 0xff50
	xkLeft      = 0xff51
	xkUp        = 0xff52
	xkRight     = 0xff53
	xkDown      = 0xff54
	xkPageUp    = 0xff55
	xkPageDown  = 0xff56
	xkEnd       = 0xff57
	xkPrint     = 0xff61
	xkInsert    = 0xff63
	xkMenu      = 0xff67
	xkKPEnter   = 0xff8d
	xkF1        = 0xffbe
	xkShiftL    = 0xffe1
	xkShiftR    = 0xffe2
	xkControlL  = 0xffe3
	xkControlR  = 0xffe4
	xkCapsLock  = 0xffe5
	xkAltL      = 0xffe9
	xkAltR      = 0xffea
	xkSuperL    = 0xffeb
	xkSuperR    = 0xffec
)

// keysyms maps Fyne's key names to X11 keysyms. Letters are lowercase and
// punctuation its ASCII code, as X names them; Fyne names those keys by
// the agent's keyboard layout.
var keysyms = func() map[fyne.KeyName]uint32 {
	m := map[fyne.KeyName]uint32{
		fyne.KeyReturn: xkReturn, fyne.KeyEnter: xkKPEnter, fyne.KeyTab: xkTab,
		fyne.KeyEscape: xkEscape, fyne.KeyBackspace: xkBackSpace, fyne.KeyDelete: xkDelete,
		fyne.KeyInsert: xkInsert, fyne.KeyHome: xkHome, fyne.KeyEnd: xkEnd,
		fyne.KeyPageUp: xkPageUp, fyne.KeyPageDown: xkPageDown,
		fyne.KeyLeft: xkLeft, fyne.KeyRight: xkRight, fyne.KeyUp: xkUp, fyne.KeyDown: xkDown,
		fyne.KeySpace: ' ',

		desktop.KeyShiftLeft: xkShiftL, desktop.KeyShiftRight: xkShiftR,
		desktop.KeyControlLeft: xkControlL, desktop.KeyControlRight: xkControlR,
		desktop.KeyAltLeft: xkAltL, desktop.KeyAltRight: xkAltR,
		desktop.KeySuperLeft: xkSuperL, desktop.KeySuperRight: xkSuperR,
		desktop.KeyMenu: xkMenu, desktop.KeyPrintScreen: xkPrint, desktop.KeyCapsLock: xkCapsLock,

		fyne.KeyApostrophe: '\'', fyne.KeyComma: ',', fyne.KeyMinus: '-', fyne.KeyPeriod: '.',
		fyne.KeySlash: '/', fyne.KeyBackslash: '\\', fyne.KeyLeftBracket: '[',
		fyne.KeyRightBracket: ']', fyne.KeySemicolon: ';', fyne.KeyEqual: '=',
		fyne.KeyAsterisk: '*', fyne.KeyPlus: '+', fyne.KeyBackTick: '`',
	}
	for c := 'A'; c <= 'Z'; c++ {
		m[fyne.KeyName(string(c))] = uint32(unicode.ToLower(c))
	}
	for c := '0'; c <= '9'; c++ {
		m[fyne.KeyName(string(c))] = uint32(c)
	}
	for i, k := range []fyne.KeyName{fyne.KeyF1, fyne.KeyF2, fyne.KeyF3, fyne.KeyF4, fyne.KeyF5, fyne.KeyF6,
		fyne.KeyF7, fyne.KeyF8, fyne.KeyF9, fyne.KeyF10, fyne.KeyF11, fyne.KeyF12} {
		m[k] = xkF1 + uint32(i)
	}
	return m
}()

// SystemKey is a key combination the agent's own system keeps for itself
// (a press of it never reaches the view), to offer in a menu: Events
// press its keys in order and release them in reverse.
type SystemKey struct {
	Label  string
	Events []*pb.InputEvent
}

// SystemKeys are the combinations the agent's system keeps: Alt+Tab,
// Super, Print Screen and Ctrl+Alt+Del, by keysym alone (so the customer
// types them whatever its keyboard). Each call makes new events.
func SystemKeys() []SystemKey {
	combo := func(label string, keys ...uint32) SystemKey {
		k := SystemKey{Label: label}
		for _, sym := range keys {
			k.Events = append(k.Events, &pb.InputEvent{Kind: pb.InputEvent_KIND_KEY, Down: true, Keysym: sym})
		}
		for i := len(keys) - 1; i >= 0; i-- {
			k.Events = append(k.Events, &pb.InputEvent{Kind: pb.InputEvent_KIND_KEY, Keysym: keys[i]})
		}
		return k
	}
	return []SystemKey{
		combo("Alt+Tab", xkAltL, xkTab),
		combo("Super", xkSuperL),
		combo("Print Screen", xkPrint),
		combo("Ctrl+Alt+Del", xkControlL, xkAltL, xkDelete),
	}
}

var (
	_ fyne.Widget       = (*RemoteScreen)(nil)
	_ desktop.Hoverable = (*RemoteScreen)(nil)
	_ desktop.Mouseable = (*RemoteScreen)(nil)
	_ desktop.Keyable   = (*RemoteScreen)(nil)
	_ fyne.Draggable    = (*RemoteScreen)(nil)
	_ fyne.Scrollable   = (*RemoteScreen)(nil)
	_ fyne.Tabbable     = (*RemoteScreen)(nil)
	_ fyne.Shortcutable = (*RemoteScreen)(nil)
	_ fyne.Focusable    = (*RemoteScreen)(nil)
)
