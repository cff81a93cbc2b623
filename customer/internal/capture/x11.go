//go:build linux

package capture

import (
	"errors"
	"fmt"
	"image"
	"sort"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/damage"
	"github.com/jezek/xgb/randr"
	"github.com/jezek/xgb/shm"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xinerama"
	"github.com/jezek/xgb/xproto"
	"golang.org/x/sys/unix"

	"github.com/porthole-dev/porthole/customer/internal/xconn"
)

// X11 captures an X display through one persistent connection: the root
// window is read into one MIT-SHM segment, made once and reused, and
// DAMAGE says which parts changed since the last look.
type X11 struct {
	xc     *xconn.Conn
	conn   *xgb.Conn
	root   xproto.Window
	bounds image.Rectangle // the root window

	mu     sync.Mutex // one grab at a time: the segment is shared
	seg    shm.Seg
	shmid  int
	mem    []byte // the attached segment: the root window's size, 4 bytes a pixel
	dmg    damage.Damage
	region xfixes.Region
	closed bool
	// randr, xinerama: the server has them (for Monitors).
	randr, xinerama bool

	drawn chan struct{} // a token when the screen was drawn on since Changed
}

// ErrNoFastPath is OpenX11's error for a display it can reach but not
// read its way: without MIT-SHM, DAMAGE or XFIXES, or with a server that
// cannot share memory with this program (over the network). OpenX11Poll
// reads such a display.
var ErrNoFastPath = errors.New("capture: the X server lacks what the fast capture needs")

// OpenX11 connects to display ("": $DISPLAY, unless the session is
// Wayland's: ErrWayland) and sets up the shared segment and the damage
// tracking. It fails, saying why, when the display cannot be reached, or
// lacks MIT-SHM, DAMAGE or XFIXES (ErrNoFastPath).
func OpenX11(display string) (*X11, error) {
	if display == "" && WaylandSession() {
		return nil, ErrWayland // its X display, if any, is XWayland's: X programs only
	}
	x := &X11{shmid: -1, drawn: make(chan struct{}, 1)}
	xc, err := xconn.OpenEvents(display, func(c *xgb.Conn) error {
		x.conn = c
		return x.setUp()
	}, func(ev xgb.Event) {
		// The damage is reported at the level "non-empty": one event when
		// something is drawn on a screen whose damage Changed has taken.
		if _, ok := ev.(damage.NotifyEvent); ok {
			select {
			case x.drawn <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		x.freeSegment()
		return nil, fmt.Errorf("capture: %w", err)
	}
	x.xc = xc
	return x, nil
}

// findMonitors notes which of RandR 1.5 and Xinerama the server has, for
// Monitors.
func (x *X11) findMonitors() {
	c := x.conn
	if randr.Init(c) == nil {
		v, err := randr.QueryVersion(c, 1, 5).Reply()
		x.randr = err == nil && (v.MajorVersion > 1 || v.MinorVersion >= 5)
	}
	if xinerama.Init(c) == nil {
		a, err := xinerama.IsActive(c).Reply()
		x.xinerama = err == nil && a.State != 0
	}
}

func (x *X11) setUp() error {
	c := x.conn
	scr := xproto.Setup(c).DefaultScreen(c)
	x.root = scr.Root
	x.bounds = image.Rect(0, 0, int(scr.WidthInPixels), int(scr.HeightInPixels))
	if scr.RootDepth != 24 && scr.RootDepth != 32 {
		return fmt.Errorf("the screen has %d bits a pixel; only 24 and 32 are read", scr.RootDepth)
	}
	for _, ext := range []struct {
		name string
		init func(*xgb.Conn) error
	}{{"MIT-SHM", shm.Init}, {"DAMAGE", damage.Init}, {"XFIXES", xfixes.Init}} {
		if err := ext.init(c); err != nil {
			return fmt.Errorf("%w: the X server has no %s: %w", ErrNoFastPath, ext.name, err)
		}
	}
	if _, err := xfixes.QueryVersion(c, 5, 0).Reply(); err != nil {
		return fmt.Errorf("XFIXES: %w", err)
	}
	if _, err := damage.QueryVersion(c, 1, 1).Reply(); err != nil {
		return fmt.Errorf("DAMAGE: %w", err)
	}
	x.findMonitors()
	size := x.bounds.Dx() * x.bounds.Dy() * 4
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, size, unix.IPC_CREAT|0o600)
	if err != nil {
		return fmt.Errorf("%w: a shared memory segment of %d bytes: %w", ErrNoFastPath, size, err)
	}
	x.shmid = id
	x.mem, err = unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return fmt.Errorf("%w: attaching the shared memory: %w", ErrNoFastPath, err)
	}
	if x.seg, err = shm.NewSegId(c); err != nil {
		return err
	}
	if err := shm.AttachChecked(c, x.seg, uint32(id), false).Check(); err != nil {
		return fmt.Errorf("%w: the X server cannot attach the shared memory (is it on another machine?): %w", ErrNoFastPath, err)
	}
	// Once both sides are attached, the segment goes when the last one
	// detaches: nothing is left behind if the program dies.
	unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	if x.dmg, err = damage.NewDamageId(c); err != nil {
		return err
	}
	if err := damage.CreateChecked(c, x.dmg, xproto.Drawable(x.root), damage.ReportLevelNonEmpty).Check(); err != nil {
		return fmt.Errorf("DAMAGE: %w", err)
	}
	if x.region, err = xfixes.NewRegionId(c); err != nil {
		return err
	}
	return xfixes.CreateRegionChecked(c, x.region, nil).Check()
}

// Bounds is the whole screen, all monitors, in pixels.
func (x *X11) Bounds() image.Rectangle { return x.bounds }

// Monitors lists the monitors with their place on the screen: RandR's
// monitors (1.5, what desktops set up today), else Xinerama's screens,
// else the whole screen as one. The primary comes first.
func (x *X11) Monitors() ([]Monitor, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil, ErrClosed
	}
	var out []Monitor
	add := func(b image.Rectangle, primary bool) {
		if b = b.Intersect(x.bounds); !b.Empty() {
			out = append(out, Monitor{Bounds: b, Primary: primary})
		}
	}
	if x.randr {
		if r, err := randr.GetMonitors(x.conn, x.root, false).Reply(); err == nil {
			rect := func(m randr.MonitorInfo) image.Rectangle {
				return image.Rect(int(m.X), int(m.Y), int(m.X)+int(m.Width), int(m.Y)+int(m.Height))
			}
			for _, m := range r.Monitors {
				// A monitor made of an output is left out when monitors
				// set up by hand lie in it (xrandr --setmonitor splits
				// one wide output into the screens people see).
				split := false
				for _, o := range r.Monitors {
					split = split || (m.Automatic && !o.Automatic && rect(o).In(rect(m)))
				}
				if !split {
					add(rect(m), m.Primary)
				}
			}
		}
	}
	if len(out) == 0 && x.xinerama {
		if r, err := xinerama.QueryScreens(x.conn).Reply(); err == nil {
			for i, s := range r.ScreenInfo {
				add(image.Rect(int(s.XOrg), int(s.YOrg), int(s.XOrg)+int(s.Width), int(s.YOrg)+int(s.Height)), i == 0)
			}
		}
	}
	if len(out) == 0 {
		add(x.bounds, true)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Primary && !out[j].Primary })
	for i := range out {
		out[i].Index = i
	}
	return out, nil
}

// Drawn has a token when the screen was drawn on since the last Changed
// (or one call before: a token may be left over, and Changed then finds
// nothing): a sender waits on it rather than looking at an idle screen.
func (x *X11) Drawn() <-chan struct{} { return x.drawn }

// Changed returns the parts of the screen drawn on since the last call
// (the first call: what was drawn since OpenX11), clipped to the screen.
func (x *X11) Changed() ([]image.Rectangle, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil, ErrClosed
	}
	if err := damage.SubtractChecked(x.conn, x.dmg, xfixes.RegionNone, x.region).Check(); err != nil {
		return nil, err
	}
	r, err := xfixes.FetchRegion(x.conn, x.region).Reply()
	if err != nil {
		return nil, err
	}
	out := make([]image.Rectangle, 0, len(r.Rectangles))
	for _, rc := range r.Rectangles {
		b := image.Rect(int(rc.X), int(rc.Y), int(rc.X)+int(rc.Width), int(rc.Y)+int(rc.Height)).Intersect(x.bounds)
		if !b.Empty() {
			out = append(out, b)
		}
	}
	return out, nil
}

// Grab reads the part r of the screen into dst (at r's place in dst's
// coordinates; dst must cover r). Pixels are stored as X gives them on a
// little-endian 24- or 32-bit screen: blue, green, red, unused.
func (x *X11) Grab(dst *Frame, r image.Rectangle) error {
	r = r.Intersect(x.bounds)
	if r.Empty() {
		return nil
	}
	if !r.In(dst.Rect) {
		return fmt.Errorf("capture: %v is outside the frame %v", r, dst.Rect)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return ErrClosed
	}
	_, err := shm.GetImage(x.conn, xproto.Drawable(x.root), int16(r.Min.X), int16(r.Min.Y),
		uint16(r.Dx()), uint16(r.Dy()), 0xffffffff, xproto.ImageFormatZPixmap, x.seg, 0).Reply()
	if err != nil {
		return fmt.Errorf("capture: reading the screen: %w", err)
	}
	row := r.Dx() * 4
	for y := 0; y < r.Dy(); y++ {
		o := dst.offset(r.Min.X, r.Min.Y+y)
		copy(dst.Pix[o:o+row], x.mem[y*row:(y+1)*row])
	}
	return nil
}

// Close ends the connection and frees the shared segment.
func (x *X11) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	x.closed = true
	if x.seg != 0 {
		shm.Detach(x.conn, x.seg)
	}
	x.xc.Close()
	x.freeSegment()
	return nil
}

// freeSegment lets the shared segment go (the server detached with the
// connection).
func (x *X11) freeSegment() {
	if x.mem != nil {
		unix.SysvShmDetach(x.mem)
		x.mem = nil
	}
	if x.shmid >= 0 {
		unix.SysvShmCtl(x.shmid, unix.IPC_RMID, nil)
		x.shmid = -1
	}
}

// Cursor reads the pointer's position and shape (XFIXES).
func (x *X11) Cursor() (Cursor, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return Cursor{}, ErrClosed
	}
	r, err := xfixes.GetCursorImage(x.conn).Reply()
	if err != nil {
		return Cursor{}, fmt.Errorf("capture: the cursor: %w", err)
	}
	c := Cursor{Pos: image.Pt(int(r.X), int(r.Y)), Hot: image.Pt(int(r.Xhot), int(r.Yhot)), Serial: r.CursorSerial,
		Shape: image.NewNRGBA(image.Rect(0, 0, int(r.Width), int(r.Height)))}
	for i, argb := range r.CursorImage {
		if i*4+3 >= len(c.Shape.Pix) {
			break
		}
		// Premultiplied ARGB, as XFIXES gives it, to straight RGBA.
		a := argb >> 24
		px := c.Shape.Pix[i*4 : i*4+4]
		px[3] = byte(a)
		if a != 0 {
			px[0] = byte(min(255, ((argb>>16)&0xff)*255/a))
			px[1] = byte(min(255, ((argb>>8)&0xff)*255/a))
			px[2] = byte(min(255, (argb&0xff)*255/a))
		}
	}
	return c, nil
}
