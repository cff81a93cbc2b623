package capture_test

import (
	"errors"
	"image"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/customer/internal/capture"
	"github.com/porthole-dev/porthole/customer/internal/sharing"
)

var _ sharing.Source = (*capture.Poll)(nil)

// fakeScreen is a screen the test draws on, read as kbinani reads one: a
// new RGBA picture a call, its origin at 0, 0.
type fakeScreen struct {
	mu   sync.Mutex
	pix  *image.RGBA
	err  error         // the next grabs fail with it
	hold chan struct{} // when set, a grab says so on held and waits for it to close
	held chan struct{}

	calls atomic.Int64
	call  chan struct{} // a token after each call
}

func newFakeScreen(r image.Rectangle) *fakeScreen {
	f := &fakeScreen{pix: image.NewRGBA(r), call: make(chan struct{}, 1), held: make(chan struct{}, 1)}
	f.draw(func(x, y int) [3]byte { return [3]byte{byte(x), byte(y), 0x40} }, r)
	return f
}

func (f *fakeScreen) grab(r image.Rectangle) (*image.RGBA, error) {
	defer func() {
		f.calls.Add(1)
		select {
		case f.call <- struct{}{}:
		default:
		}
	}()
	f.mu.Lock()
	hold, err := f.hold, f.err
	f.mu.Unlock()
	if hold != nil {
		select {
		case f.held <- struct{}{}:
		default:
		}
		<-hold
	}
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	img := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(img.Pix[img.PixOffset(0, y-r.Min.Y):], f.pix.Pix[f.pix.PixOffset(r.Min.X, y):f.pix.PixOffset(r.Max.X, y)])
	}
	return img, nil
}

// draw paints the rectangles rs at once (no grab sees some of them only).
func (f *fakeScreen) draw(px func(x, y int) [3]byte, rs ...image.Rectangle) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range rs {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				p, o := px(x, y), f.pix.PixOffset(x, y)
				f.pix.Pix[o], f.pix.Pix[o+1], f.pix.Pix[o+2], f.pix.Pix[o+3] = p[0], p[1], p[2], 0xff
			}
		}
	}
}

// waitCalls waits until the screen was read n times more than seen.
func (f *fakeScreen) waitCalls(t *testing.T, seen int64, n int64) int64 {
	t.Helper()
	for f.calls.Load() < seen+n {
		select {
		case <-f.call:
		case <-time.After(5 * time.Second):
			t.Fatalf("the screen was read %d times, not %d", f.calls.Load()-seen, n)
		}
	}
	return f.calls.Load()
}

func colour(c byte) func(x, y int) [3]byte { return func(int, int) [3]byte { return [3]byte{c, c, c} } }

// Two monitors: the primary at the origin, another left of it (negative
// coordinates, as Windows has them), sizes no multiple of a block.
var (
	primary = image.Rect(0, 0, 200, 100)
	left    = image.Rect(-160, 0, 0, 120)
)

func openFake(t *testing.T) (*capture.Poll, *fakeScreen) {
	t.Helper()
	f := newFakeScreen(left.Union(primary))
	p, err := capture.NewPoll(capture.PollConfig{Grab: f.grab, Displays: []image.Rectangle{left, primary}, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, f
}

// waitChanged waits for Drawn and returns what Changed says.
func waitChanged(t *testing.T, p *capture.Poll) []image.Rectangle {
	t.Helper()
	select {
	case <-p.Drawn():
	case <-time.After(5 * time.Second):
		t.Fatal("a change was not told on Drawn")
	}
	ch, err := p.Changed()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func sameRects(got, want []image.Rectangle) bool {
	less := func(a, b image.Rectangle) int {
		if a.Min.Y != b.Min.Y {
			return a.Min.Y - b.Min.Y
		}
		return a.Min.X - b.Min.X
	}
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, less)
	slices.SortFunc(want, less)
	return slices.Equal(got, want)
}

func TestPollMonitors(t *testing.T) {
	p, _ := openFake(t)
	mons, err := p.Monitors()
	if err != nil {
		t.Fatal(err)
	}
	want := []capture.Monitor{{Index: 0, Bounds: primary, Primary: true}, {Index: 1, Bounds: left}}
	if !slices.Equal(mons, want) {
		t.Fatalf("monitors %v, want %v", mons, want)
	}
	if b := p.Bounds(); b != image.Rect(-160, 0, 200, 120) {
		t.Fatalf("bounds %v", b)
	}

	// The screen around its monitors (as Xinerama lists it beside them),
	// a monitor twice and an empty one are left out; with none at the
	// origin the first is the primary.
	right := image.Rect(200, 10, 300, 90)
	f := newFakeScreen(image.Rect(-160, 0, 300, 120))
	q, err := capture.NewPoll(capture.PollConfig{Grab: f.grab,
		Displays: []image.Rectangle{image.Rect(-160, 0, 300, 120), right, left, {}, right}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	mons, _ = q.Monitors()
	want = []capture.Monitor{{Index: 0, Bounds: right, Primary: true}, {Index: 1, Bounds: left}}
	if !slices.Equal(mons, want) {
		t.Fatalf("monitors %v, want %v", mons, want)
	}
}

// The first Changed has everything; then a change inside one block is
// that block, one across block borders each block it touches (runs of
// them as one rectangle), clipped to the monitor; an unchanged screen
// has nothing, and Drawn stays quiet.
func TestPollChanged(t *testing.T) {
	p, f := openFake(t)
	ch, err := p.Changed()
	if err != nil {
		t.Fatal(err)
	}
	var all image.Rectangle
	for _, r := range ch {
		all = all.Union(r)
		if !r.In(primary) && !r.In(left) {
			t.Fatalf("%v is on no one monitor", r)
		}
	}
	if all != primary.Union(left) {
		t.Fatalf("the first Changed covers %v, not the screen", all)
	}

	seen := f.waitCalls(t, f.calls.Load(), 10)
	select {
	case <-p.Drawn():
		t.Fatal("an unchanged screen was told on Drawn")
	default:
	}
	if ch, err := p.Changed(); err != nil || len(ch) != 0 {
		t.Fatalf("an unchanged screen changed: %v, %v", ch, err)
	}

	for _, c := range []struct {
		name  string
		draw  []image.Rectangle
		want  []image.Rectangle
		still bool // drawn the same as before: no change
	}{
		{"inside one block", []image.Rectangle{image.Rect(70, 10, 80, 20)}, []image.Rectangle{image.Rect(64, 0, 128, 64)}, false},
		{"the same again", []image.Rectangle{image.Rect(70, 10, 80, 20)}, nil, true},
		{"across four blocks", []image.Rectangle{image.Rect(60, 60, 70, 70)}, []image.Rectangle{image.Rect(0, 0, 128, 100)}, false},
		{"two apart", []image.Rectangle{image.Rect(1, 1, 2, 2), image.Rect(150, 80, 151, 81)},
			[]image.Rectangle{image.Rect(0, 0, 64, 64), image.Rect(128, 64, 192, 100)}, false},
		{"an edge block", []image.Rectangle{image.Rect(195, 95, 200, 100)}, []image.Rectangle{image.Rect(192, 64, 200, 100)}, false},
		{"the other monitor", []image.Rectangle{image.Rect(-150, 100, -140, 120)}, []image.Rectangle{image.Rect(-160, 64, -96, 120)}, false},
		{"both monitors", []image.Rectangle{image.Rect(-5, 30, 5, 35)}, []image.Rectangle{image.Rect(-32, 0, 0, 64), image.Rect(0, 0, 64, 64)}, false},
	} {
		f.draw(colour(0x80), c.draw...)
		if c.still {
			seen = f.waitCalls(t, seen, 10)
			if ch, err := p.Changed(); err != nil || len(ch) != 0 {
				t.Fatalf("%s: changed %v, %v", c.name, ch, err)
			}
			continue
		}
		if ch := waitChanged(t, p); !sameRects(ch, c.want) {
			t.Fatalf("%s: changed %v, want %v", c.name, ch, c.want)
		}
		seen = f.calls.Load()
	}
}

// Grab gives the last look's pixels, blue, green, red, across monitors.
func TestPollGrab(t *testing.T) {
	p, f := openFake(t)
	p.Changed()
	pattern := func(x, y int) [3]byte { return [3]byte{byte(x * 7), byte(y * 13), byte(x ^ y)} }
	area := image.Rect(-30, 20, 90, 110)
	f.draw(pattern, area)
	waitChanged(t, p)

	frame := capture.NewFrame(p.Bounds())
	if err := p.Grab(frame, area); err != nil {
		t.Fatal(err)
	}
	for y := area.Min.Y; y < area.Max.Y; y++ {
		for x := area.Min.X; x < area.Max.X; x++ {
			if !image.Pt(x, y).In(left) && !image.Pt(x, y).In(primary) {
				continue // on no monitor
			}
			o := (y-frame.Rect.Min.Y)*frame.Stride + (x-frame.Rect.Min.X)*4
			want := pattern(x, y)
			if got := frame.Pix[o : o+3]; got[0] != want[2] || got[1] != want[1] || got[2] != want[0] {
				t.Fatalf("pixel %d,%d is %v (BGR), want %v (RGB)", x, y, got, want)
			}
		}
	}
	// One monitor's frame, as sharing has it.
	mf := capture.NewFrame(primary)
	if err := p.Grab(mf, primary); err != nil {
		t.Fatal(err)
	}
	if c, want := mf.RGBA(primary).RGBAAt(50, 60), pattern(50, 60); c.R != want[0] || c.G != want[1] || c.B != want[2] {
		t.Fatalf("pixel 50,60 is %v", c)
	}
	if err := p.Grab(capture.NewFrame(image.Rect(0, 0, 10, 10)), area); err == nil {
		t.Fatal("grabbed outside the frame")
	}
	if _, err := p.Cursor(); !errors.Is(err, capture.ErrNoCursor) {
		t.Fatalf("Cursor: %v", err)
	}
}

// A screen that cannot be read fails at NewPoll, or at Changed later,
// saying why; a picture of another size is refused.
func TestPollErrors(t *testing.T) {
	f := newFakeScreen(primary)
	broken := errors.New("the screen is locked")
	f.err = broken
	if _, err := capture.NewPoll(capture.PollConfig{Grab: f.grab, Displays: []image.Rectangle{primary}}); !errors.Is(err, broken) {
		t.Fatalf("NewPoll: %v", err)
	}
	if _, err := capture.NewPoll(capture.PollConfig{Grab: f.grab}); err == nil {
		t.Fatal("a Poll without displays")
	}
	small := func(image.Rectangle) (*image.RGBA, error) { return image.NewRGBA(image.Rect(0, 0, 5, 5)), nil }
	if _, err := capture.NewPoll(capture.PollConfig{Grab: small, Displays: []image.Rectangle{primary}}); err == nil {
		t.Fatal("a picture of another size was taken")
	}

	f.err = nil
	p, err := capture.NewPoll(capture.PollConfig{Grab: f.grab, Displays: []image.Rectangle{primary}, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f.mu.Lock()
	f.err = broken
	f.mu.Unlock()
	f.waitCalls(t, f.calls.Load(), 2) // looks that fail: the last good one is an Interval old
	if _, err := p.Changed(); !errors.Is(err, broken) {
		t.Fatalf("Changed: %v", err)
	}
}

// Close waits for a look under way, then nothing more is read, and
// everything says ErrClosed.
func TestPollClose(t *testing.T) {
	f := newFakeScreen(primary)
	p, err := capture.NewPoll(capture.PollConfig{Grab: f.grab, Displays: []image.Rectangle{primary}, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hold := make(chan struct{})
	f.mu.Lock()
	f.hold = hold
	f.mu.Unlock()
	<-f.held // a look is under way, and waits
	closed := make(chan struct{})
	go func() {
		p.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close did not wait for the look under way")
	case <-time.After(20 * time.Millisecond):
	}
	close(hold)
	<-closed
	n := f.calls.Load()
	<-time.After(20 * time.Millisecond) // twenty Intervals: a look still going would read
	if f.calls.Load() != n {
		t.Fatal("the screen was read after Close")
	}
	if _, err := p.Changed(); err != capture.ErrClosed {
		t.Fatalf("Changed after Close: %v", err)
	}
	if err := p.Grab(capture.NewFrame(primary), primary); err != capture.ErrClosed {
		t.Fatalf("Grab after Close: %v", err)
	}
	if _, err := p.Monitors(); err != capture.ErrClosed {
		t.Fatalf("Monitors after Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
