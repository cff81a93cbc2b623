package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"slices"
	"sync"
	"time"
)

// Poll's defaults.
const (
	// PollInterval is how often a Poll looks at the screen: 15 times a
	// second.
	PollInterval = time.Second / 15
	// PollBlock is the side of a compared block, in pixels: the codec's
	// tile (screen.TileSize), so a changed block is a changed tile.
	PollBlock = 64
)

// ErrNoCursor says the pointer cannot be read on this system (a Poll's
// Cursor): the picture goes without it.
var ErrNoCursor = errors.New("capture: the pointer is not read on this system")

// PollConfig configures a Poll.
type PollConfig struct {
	// Grab reads the part r of the screen as an RGBA picture of r's size
	// (its Rect's origin does not matter). Required:
	// kbinani/screenshot.CaptureRect is one (see OpenScreenshot).
	Grab func(r image.Rectangle) (*image.RGBA, error)
	// Displays are the monitors' places on the screen. Required. The
	// primary is the one at the origin (the first when none is); one that
	// lies around others is left out, as the same one twice is.
	Displays []image.Rectangle
	// Interval is the time between two looks (default PollInterval).
	Interval time.Duration
	// Block is the side of a compared block, in pixels (default PollBlock).
	Block int
	// Close, when set, is called at Close once no look runs any more (it
	// frees what Grab reads with).
	Close func()
}

// Poll captures a screen that only lets itself be read whole, as the
// Windows and macOS ones do through kbinani/screenshot: a goroutine of its
// own reads each monitor every Interval, compares the picture with the one
// before block by block, keeps it for Grab and tells on Drawn when a
// block changed. It is a Source of package sharing.
type Poll struct {
	cfg    PollConfig
	mons   []Monitor
	bounds image.Rectangle // all monitors

	look   sync.Mutex // one look at a time
	looked time.Time  // when the last look began (under look)

	mu     sync.Mutex
	shots  []*image.RGBA // each monitor's last picture
	dirty  [][]bool      // each monitor's blocks changed since Changed, by row
	closed bool

	drawn chan struct{}
	quit  chan struct{}
	done  chan struct{}
}

// NewPoll reads the screen once (so that a screen that cannot be read
// fails here, saying why) and starts looking at it.
func NewPoll(cfg PollConfig) (*Poll, error) {
	if cfg.Grab == nil {
		return nil, errors.New("capture: a Poll without Grab")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = PollInterval
	}
	if cfg.Block <= 0 {
		cfg.Block = PollBlock
	}
	p := &Poll{cfg: cfg, drawn: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	ds := displays(cfg.Displays)
	if len(ds) == 0 {
		return nil, errors.New("capture: no display found")
	}
	primary := 0
	for i, d := range ds {
		if d.Min == (image.Point{}) {
			primary = i
			break
		}
	}
	p.mons = append(p.mons, Monitor{Bounds: ds[primary], Primary: true})
	for i, d := range ds {
		if i != primary {
			p.mons = append(p.mons, Monitor{Bounds: d})
		}
		p.bounds = p.bounds.Union(d)
	}
	for i := range p.mons {
		p.mons[i].Index = i
		cols, rows := p.blocks(p.mons[i].Bounds)
		p.dirty = append(p.dirty, make([]bool, cols*rows))
	}
	p.shots = make([]*image.RGBA, len(p.mons))
	if err := p.read(0); err != nil {
		return nil, err
	}
	go p.run()
	return p, nil
}

// displays are the monitors among ds: not empty, each once, and not one
// around others (as X's Xinerama lists the whole screen beside the
// monitors it was split into).
func displays(ds []image.Rectangle) []image.Rectangle {
	var out []image.Rectangle
	for i, d := range ds {
		keep := !d.Empty() && !slices.Contains(ds[:i], d)
		for _, e := range ds {
			keep = keep && (e.Empty() || e == d || !e.In(d))
		}
		if keep {
			out = append(out, d)
		}
	}
	return out
}

// blocks counts the columns and rows of blocks of a monitor at b.
func (p *Poll) blocks(b image.Rectangle) (cols, rows int) {
	n := p.cfg.Block
	return (b.Dx() + n - 1) / n, (b.Dy() + n - 1) / n
}

func (p *Poll) run() {
	defer close(p.done)
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
		}
		// An error (a screen that cannot be read for a while) is told by
		// the next Changed, which looks itself when these looks fail.
		p.read(0)
	}
}

// read looks at the screen, unless the last look is younger than fresh:
// it reads each monitor, marks the blocks that differ from the picture
// before (the first time: all) and tells Drawn when one newly does.
func (p *Poll) read(fresh time.Duration) error {
	p.look.Lock()
	defer p.look.Unlock()
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	t0 := time.Now()
	if fresh > 0 && t0.Sub(p.looked) < fresh {
		return nil
	}
	shots := make([]*image.RGBA, len(p.mons))
	for i, m := range p.mons {
		img, err := p.cfg.Grab(m.Bounds)
		if err != nil {
			return fmt.Errorf("capture: reading the screen: %w", err)
		}
		if img == nil || img.Rect.Dx() != m.Bounds.Dx() || img.Rect.Dy() != m.Bounds.Dy() {
			return fmt.Errorf("capture: reading %v gave a picture of another size", m.Bounds)
		}
		shots[i] = img
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	changed := false
	for i, img := range shots {
		if p.shots[i] == nil {
			for b := range p.dirty[i] {
				p.dirty[i][b] = true
			}
			changed = true
			continue
		}
		if diffBlocks(p.shots[i], img, p.cfg.Block, p.dirty[i]) {
			changed = true
		}
	}
	p.shots, p.looked = shots, t0 // p.looked: under look too
	if changed {
		select {
		case p.drawn <- struct{}{}:
		default:
		}
	}
	return nil
}

// diffBlocks compares two pictures of one size block by block (blocks of
// n × n pixels from the top left) and marks in dirty (a bool a block, row
// after row) the blocks that differ; blocks marked already are not looked
// at. It says whether it marked one. A row is compared whole first: on a
// screen mostly unchanged, that is nearly all there is to do.
func diffBlocks(a, b *image.RGBA, n int, dirty []bool) bool {
	w, h := a.Rect.Dx(), a.Rect.Dy()
	cols, rows := (w+n-1)/n, (h+n-1)/n
	row := w * 4
	ao, bo := a.PixOffset(a.Rect.Min.X, a.Rect.Min.Y), b.PixOffset(b.Rect.Min.X, b.Rect.Min.Y)
	marked := false
	for br := 0; br < rows; br++ {
		line := dirty[br*cols : (br+1)*cols]
		left := 0
		for _, d := range line {
			if !d {
				left++
			}
		}
		for y := br * n; y < min(h, (br+1)*n) && left > 0; y++ {
			ra := a.Pix[ao+y*a.Stride : ao+y*a.Stride+row]
			rb := b.Pix[bo+y*b.Stride : bo+y*b.Stride+row]
			if bytes.Equal(ra, rb) {
				continue
			}
			for c, d := range line {
				if d {
					continue
				}
				x0, x1 := c*n*4, min(w, (c+1)*n)*4
				if !bytes.Equal(ra[x0:x1], rb[x0:x1]) {
					line[c], marked = true, true
					left--
				}
			}
		}
	}
	return marked
}

// rects turns marked blocks into rectangles on the screen, for a monitor
// at b: a run of blocks on a row is one rectangle, and runs alike on rows
// below one another are one too. It clears the marks.
func rects(dirty []bool, cols, n int, b image.Rectangle, out []image.Rectangle) []image.Rectangle {
	rows := len(dirty) / cols
	type span struct{ c0, c1 int }
	above := map[span]int{} // the runs of the row above: their rectangle in out
	for r := 0; r < rows; r++ {
		here := map[span]int{}
		line := dirty[r*cols : (r+1)*cols]
		for c := 0; c < cols; {
			if !line[c] {
				c++
				continue
			}
			c0 := c
			for c < cols && line[c] {
				line[c] = false
				c++
			}
			s := span{c0, c}
			if i, ok := above[s]; ok {
				out[i].Max.Y = min(b.Max.Y, b.Min.Y+(r+1)*n)
				here[s] = i
				continue
			}
			here[s] = len(out)
			out = append(out, image.Rect(b.Min.X+c0*n, b.Min.Y+r*n, b.Min.X+c*n, b.Min.Y+(r+1)*n).Intersect(b))
		}
		above = here
	}
	return out
}

// Monitors lists the monitors, the primary first.
func (p *Poll) Monitors() ([]Monitor, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	return append([]Monitor(nil), p.mons...), nil
}

// Bounds is the whole screen: the rectangle around all monitors.
func (p *Poll) Bounds() image.Rectangle { return p.bounds }

// Drawn has a token when a look found the screen changed since Changed.
func (p *Poll) Drawn() <-chan struct{} { return p.drawn }

// Changed returns the blocks of the screen that changed since the last
// call (the first call: the whole screen), runs of them as one
// rectangle. What it returns is at most half an Interval old: when the
// last look is older it looks itself.
func (p *Poll) Changed() ([]image.Rectangle, error) {
	if err := p.read(p.cfg.Interval / 2); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	select { // what it told is taken now
	case <-p.drawn:
	default:
	}
	var out []image.Rectangle
	for i, m := range p.mons {
		cols, _ := p.blocks(m.Bounds)
		out = rects(p.dirty[i], cols, p.cfg.Block, m.Bounds, out)
	}
	return out, nil
}

// Grab copies the part r of the screen, as the last look saw it, into dst
// (at r's place in dst's coordinates; dst must cover r), blue, green, red,
// unused. Parts of r on no monitor are left as they are.
func (p *Poll) Grab(dst *Frame, r image.Rectangle) error {
	r = r.Intersect(p.bounds)
	if r.Empty() {
		return nil
	}
	if !r.In(dst.Rect) {
		return fmt.Errorf("capture: %v is outside the frame %v", r, dst.Rect)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	for i, m := range p.mons {
		if s := r.Intersect(m.Bounds); !s.Empty() {
			toBGRX(dst, s, p.shots[i], m.Bounds.Min)
		}
	}
	return nil
}

// toBGRX copies the part r of the screen from img (a picture of the
// monitor at origin) into dst, RGBA to blue, green, red, unused.
func toBGRX(dst *Frame, r image.Rectangle, img *image.RGBA, origin image.Point) {
	n := r.Dx() * 4
	for y := r.Min.Y; y < r.Max.Y; y++ {
		s := img.PixOffset(img.Rect.Min.X+r.Min.X-origin.X, img.Rect.Min.Y+y-origin.Y)
		src := img.Pix[s : s+n]
		o := dst.offset(r.Min.X, y)
		out := dst.Pix[o : o+n]
		i := 0
		for ; i+8 <= len(src); i += 8 { // two pixels at a time: red and blue change places
			v := binary.LittleEndian.Uint64(src[i:])
			binary.LittleEndian.PutUint64(out[i:], v&0xff00ff00ff00ff00|v>>16&0x000000ff000000ff|v&0x000000ff000000ff<<16)
		}
		if i < len(src) {
			v := binary.LittleEndian.Uint32(src[i:])
			binary.LittleEndian.PutUint32(out[i:], v&0xff00ff00|v>>16&0xff|v&0xff<<16)
		}
	}
}

// Cursor says ErrNoCursor: the pointer is not read here yet.
func (p *Poll) Cursor() (Cursor, error) { return Cursor{}, ErrNoCursor }

// Close stops the looks (waiting for one under way).
func (p *Poll) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	close(p.quit)
	<-p.done
	if p.cfg.Close != nil {
		p.look.Lock() // a Changed's look under way ends first
		p.cfg.Close()
		p.look.Unlock()
	}
	return nil
}

// OpenDisplays makes a Poll of n displays, with their bounds and a reader
// of the screen (kbinani/screenshot's, in OpenScreenshot).
func OpenDisplays(n int, bounds func(int) image.Rectangle, grab func(image.Rectangle) (*image.RGBA, error)) (*Poll, error) {
	ds := make([]image.Rectangle, n)
	for i := range ds {
		ds[i] = bounds(i)
	}
	return NewPoll(PollConfig{Grab: grab, Displays: ds})
}
