package sharing_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/customer/internal/capture"
	"github.com/porthole-dev/porthole/customer/internal/sharing"
	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/screen"
	"github.com/porthole-dev/porthole/shared/session"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

const sid = "0123456789abcdef0123456789abcdef"

// fakeScreen is a screen of two monitors side by side whose pixels the
// test draws.
type fakeScreen struct {
	mu      sync.Mutex
	pix     *capture.Frame
	changed []image.Rectangle
	closed  bool
	drawn   chan struct{}
	mons    []capture.Monitor // nil: mons
}

var mons = []capture.Monitor{
	{Index: 0, Bounds: image.Rect(0, 0, 200, 100), Primary: true},
	{Index: 1, Bounds: image.Rect(200, 0, 360, 120)},
}

func newFakeScreen() *fakeScreen {
	return &fakeScreen{pix: capture.NewFrame(image.Rect(0, 0, 360, 120)), drawn: make(chan struct{}, 1)}
}

// draw fills r with a colour and says r changed.
func (f *fakeScreen) draw(r image.Rectangle, c byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			o := y*f.pix.Stride + x*4
			f.pix.Pix[o], f.pix.Pix[o+1], f.pix.Pix[o+2] = c, c^0x55, byte(x)
		}
	}
	f.changed = append(f.changed, r)
	select {
	case f.drawn <- struct{}{}:
	default:
	}
}

func (f *fakeScreen) Drawn() <-chan struct{} { return f.drawn }

func (f *fakeScreen) Monitors() ([]capture.Monitor, error) {
	if f.mons != nil {
		return f.mons, nil
	}
	return mons, nil
}
func (f *fakeScreen) Changed() ([]image.Rectangle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := f.changed
	f.changed = nil
	return ch, nil
}
func (f *fakeScreen) Grab(dst *capture.Frame, r image.Rectangle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		so := y*f.pix.Stride + r.Min.X*4
		do := (y-dst.Rect.Min.Y)*dst.Stride + (r.Min.X-dst.Rect.Min.X)*4
		copy(dst.Pix[do:do+r.Dx()*4], f.pix.Pix[so:so+r.Dx()*4])
	}
	return nil
}
func (f *fakeScreen) Cursor() (capture.Cursor, error) {
	return capture.Cursor{Pos: image.Pt(5, 6), Serial: 1, Shape: image.NewNRGBA(image.Rect(0, 0, 2, 2))}, nil
}
func (f *fakeScreen) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

// at is the screen's pixels of monitor m, as the decoder keeps them.
func (f *fakeScreen) at(m capture.Monitor) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := m.Bounds
	out := make([]byte, 0, b.Dx()*b.Dy()*4)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		o := y*f.pix.Stride + b.Min.X*4
		out = append(out, f.pix.Pix[o:o+b.Dx()*4]...)
	}
	return out
}

// fakeInput records what is injected.
type fakeInput struct {
	mu  sync.Mutex
	got []string
}

func (f *fakeInput) add(s string) error {
	f.mu.Lock()
	f.got = append(f.got, s)
	f.mu.Unlock()
	return nil
}
func (f *fakeInput) Move(p image.Point) error      { return f.add(fmt.Sprint("move ", p)) }
func (f *fakeInput) Button(b int, down bool) error { return f.add(fmt.Sprint("button ", b, down)) }
func (f *fakeInput) Scroll(dx, dy int) error       { return f.add(fmt.Sprint("scroll ", dx, dy)) }
func (f *fakeInput) Key(code int, down bool) error { return f.add(fmt.Sprint("key ", code, down)) }
func (f *fakeInput) KeySym(s uint32, down bool) error {
	return f.add(fmt.Sprintf("keysym %#x %v", s, down))
}
func (f *fakeInput) Type(text string) error { return f.add("type " + text) }
func (f *fakeInput) Close() error           { return f.add("close") }
func (f *fakeInput) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

// world is the customer's service on its router, linked to an agent's
// router, with grants the test sets.
type world struct {
	svc    *sharing.Service
	scr    *fakeScreen
	in     *fakeInput
	agent  *peer.Link // the agent's end
	events chan sharing.Viewing

	mu      sync.Mutex
	allowed map[string]bool   // kinds granted to alice
	asked   map[string]int    // how often each kind was checked
	hook    func(kind string) // called on each check, outside mu
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{scr: newFakeScreen(), in: &fakeInput{}, events: make(chan sharing.Viewing, 16), allowed: map[string]bool{}, asked: map[string]int{}}
	w.svc = sharing.New(sharing.Config{
		Allowed: func(session, agent, kind string) bool {
			w.mu.Lock()
			w.asked[kind]++
			ok := session == sid && agent == "alice" && w.allowed[kind]
			hook := w.hook
			w.mu.Unlock()
			if hook != nil {
				hook(kind)
			}
			return ok
		},
		OpenSource:   func() (sharing.Source, error) { return w.scr, nil },
		OpenInput:    func() (sharing.Injector, error) { return w.in, nil },
		GrabShortcut: func(func()) (io.Closer, error) { return io.NopCloser(nil), nil },
		Events:       func(v sharing.Viewing) { w.events <- v },
	})
	cr := session.New(session.Config{Session: sid})
	ar := session.New(session.Config{Session: sid, OnePeer: true})
	w.svc.Serve(cr)
	t.Cleanup(func() { w.svc.Close(); cr.Close("over"); ar.Close("over") })
	la, lc := testpeer.LinkPair(t, "alice", "bob")
	ar.Attach(la)
	cr.Attach(lc)
	w.agent = la
	return w
}

func (w *world) grant(kind string, on bool) {
	w.mu.Lock()
	w.allowed[kind] = on
	w.mu.Unlock()
}

// viewer is the agent's end of a screen stream.
type viewer struct {
	str *quic.Stream
	br  *bufio.Reader
	dec *screen.Decoder
}

func (w *world) open(t *testing.T, monitor int) *viewer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	str, err := w.agent.Conn.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	protocol.WriteHeader(str, protocol.StreamScreen)
	v := &viewer{str: str, br: bufio.NewReader(str), dec: screen.NewDecoder()}
	v.send(t, &pb.ScreenMsg{Body: &pb.ScreenMsg_Open{Open: &pb.ScreenOpen{Monitor: int32(monitor)}}})
	return v
}

func (v *viewer) send(t *testing.T, m *pb.ScreenMsg) {
	t.Helper()
	if err := protocol.WriteFrame(v.str, m, protocol.MaxScreenCtl); err != nil {
		t.Fatal(err)
	}
}

// next reads the next message that is not a cursor's, decoding frames.
func (v *viewer) next(t *testing.T) *pb.ScreenMsg {
	t.Helper()
	for {
		v.str.SetReadDeadline(time.Now().Add(5 * time.Second))
		var m pb.ScreenMsg
		if err := protocol.ReadFrame(v.br, &m, protocol.MaxScreenFrame); err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		if err := protocol.ValidateScreenMsg(&m, true); err != nil {
			t.Fatalf("the customer sent %v: %v", &m, err)
		}
		if f := m.GetFrame(); f != nil {
			if _, err := v.dec.Decode(f.Update); err != nil {
				t.Fatalf("decoding frame %d: %v", f.Seq, err)
			}
		}
		if m.GetCursor() == nil {
			return &m
		}
	}
}

func (v *viewer) ack(t *testing.T, seq uint64) {
	v.send(t, &pb.ScreenMsg{Body: &pb.ScreenMsg_Ack{Ack: &pb.ScreenAck{Seq: seq}}})
}

func TestNotAllowed(t *testing.T) {
	w := newWorld(t)
	v := w.open(t, 0)
	if m := v.next(t); m.GetStop().GetWhy() != sharing.WhyNotAllowed {
		t.Fatalf("got %v, want a stop: not_allowed", m)
	}
}

// TestStreamAndRevoke: the monitor asked for comes whole, then what
// changes; a sync is answered after what changed before it; at most Window
// frames go unacknowledged; a revoked grant ends the stream.
func TestStreamAndRevoke(t *testing.T) {
	w := newWorld(t)
	w.scr.draw(image.Rect(0, 0, 360, 120), 10)
	w.scr.Changed()
	w.grant(consent.KindScreen, true)
	v := w.open(t, 1)

	info := v.next(t).GetInfo()
	if info == nil || info.Monitor != 1 || len(info.Monitors) != 2 || info.Monitors[1].X != 200 || info.Monitors[1].Width != 160 {
		t.Fatalf("info %v", info)
	}
	if on := testpeer.Receive(t, w.events, "viewing"); !on.On || on.Agent != "alice" || on.Monitor != 1 {
		t.Fatalf("viewing %+v", on)
	}
	key := v.next(t).GetFrame()
	if key == nil {
		t.Fatal("no keyframe")
	}
	pic := v.dec.Image()
	if pic.W != 160 || pic.H != 120 || string(pic.Pix) != string(w.scr.at(mons[1])) {
		t.Fatalf("keyframe: %d × %d, pixels equal %v", pic.W, pic.H, string(pic.Pix) == string(w.scr.at(mons[1])))
	}
	v.ack(t, key.Seq)

	// A change on the other monitor sends nothing; one on this does.
	w.scr.draw(image.Rect(10, 10, 50, 50), 99)
	w.scr.draw(image.Rect(250, 20, 270, 40), 200)
	v.send(t, &pb.ScreenMsg{Body: &pb.ScreenMsg_Sync{Sync: &pb.ScreenSync{N: 7}}})
	f := v.next(t).GetFrame()
	if f == nil {
		t.Fatal("no frame for the change")
	}
	if s := v.next(t).GetSynced(); s == nil || s.N != 7 {
		t.Fatalf("synced %v", s)
	}
	if string(v.dec.Image().Pix) != string(w.scr.at(mons[1])) {
		t.Fatal("the picture after the change is not the screen's")
	}
	v.ack(t, f.Seq)

	// Unacknowledged, at most Window frames come however much changes.
	var last uint64
	for i := range sharing.Window {
		w.scr.draw(image.Rect(200+i, 0, 201+i, 120), byte(i))
		m := v.next(t)
		if m.GetFrame() == nil {
			t.Fatalf("frame %d: %v", i, m)
		}
		last = m.GetFrame().Seq
	}
	for i := range 5 {
		w.scr.draw(image.Rect(300+i, 0, 301+i, 120), byte(i))
		time.Sleep(time.Second / sharing.MaxFPS)
	}
	v.send(t, &pb.ScreenMsg{Body: &pb.ScreenMsg_Sync{Sync: &pb.ScreenSync{N: 8}}})
	m := v.next(t) // the sync goes past the window, with what changed
	if m.GetFrame() == nil || m.GetFrame().Seq != last+1 {
		t.Fatalf("after the window: %v, want frame %d with all that changed", m, last+1)
	}
	for { // then what is lossy at the viewer's, again, losslessly
		m := v.next(t)
		if m.GetFrame() != nil {
			continue
		}
		if s := m.GetSynced(); s == nil || s.N != 8 {
			t.Fatalf("synced %v", s)
		}
		break
	}
	if string(v.dec.Image().Pix) != string(w.scr.at(mons[1])) {
		t.Fatal("the picture at the sync is not the screen")
	}

	// Revoked: the stream ends, saying so.
	w.grant(consent.KindScreen, false)
	w.svc.Consent(consent.Event{Session: sid, Peer: "alice", Kind: consent.KindScreen, State: consent.StateRevoked})
	for {
		m := v.next(t)
		if m.GetFrame() != nil {
			continue
		}
		if m.GetStop().GetWhy() != sharing.WhyRevoked {
			t.Fatalf("after revoking: %v", m)
		}
		break
	}
	if off := testpeer.Receive(t, w.events, "viewing"); off.On || off.Why != sharing.WhyRevoked {
		t.Fatalf("viewing %+v", off)
	}
}

// TestInput: input is injected only with control, and a message with one
// event off the screen injects none of it.
func TestInput(t *testing.T) {
	w := newWorld(t)
	w.grant(consent.KindScreen, true)
	v := w.open(t, 0)
	v.next(t) // info: the monitors are known
	send := func(evs ...*pb.InputEvent) {
		t.Helper()
		if err := w.agent.Send(&pb.PeerMsg{Body: &pb.PeerMsg_Input{Input: &pb.Input{Events: evs}}}); err != nil {
			t.Fatal(err)
		}
	}
	move := func(mon, x, y int) *pb.InputEvent {
		return &pb.InputEvent{Kind: pb.InputEvent_KIND_MOVE, Monitor: int32(mon), X: int32(x), Y: int32(y)}
	}
	sync := func() { // a message after the others: once it is in, they were handled
		t.Helper()
		send(&pb.InputEvent{Kind: pb.InputEvent_KIND_TEXT, Text: "."})
		deadline := time.Now().Add(5 * time.Second)
		for {
			c := w.in.calls()
			if len(c) > 0 && c[len(c)-1] == "type ." {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("input never arrived: %q", c)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	dropped := func(evs ...*pb.InputEvent) { // sent without control, and looked at
		t.Helper()
		w.mu.Lock()
		before := w.asked[consent.KindControl]
		w.mu.Unlock()
		send(evs...)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			w.mu.Lock()
			n := w.asked[consent.KindControl]
			w.mu.Unlock()
			if n > before {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the input was never looked at")
			}
		}
	}
	dropped(move(0, 1, 1))
	w.grant(consent.KindControl, true)
	send(move(1, 10, 20), &pb.InputEvent{Kind: pb.InputEvent_KIND_BUTTON, Button: 1, Down: true},
		&pb.InputEvent{Kind: pb.InputEvent_KIND_SCROLL, Dy: -2},
		&pb.InputEvent{Kind: pb.InputEvent_KIND_KEY, Scancode: 38, Down: true},
		&pb.InputEvent{Kind: pb.InputEvent_KIND_KEY, Keysym: 0xff09},
		&pb.InputEvent{Kind: pb.InputEvent_KIND_KEY, Rune: 'é', Down: true})
	send(move(0, 5, 5), move(1, 160, 0)) // the second is off monitor 1: none of it
	send(move(0, 5, 5), move(2, 0, 0))   // no monitor 2
	sync()
	want := []string{"move (210,20)", "button 1 true", "scroll 0 -2", "key 38 true", "keysym 0xff09 false", "type é", "type ."}
	if got := w.in.calls(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("injected %q, want %q", got, want)
	}

	// Control ends: the keys are let go (the injector closes), and input
	// is dropped.
	w.grant(consent.KindControl, false)
	w.svc.Consent(consent.Event{Session: sid, Peer: "alice", ID: "c1", Kind: consent.KindControl, State: consent.StateRevoked})
	dropped(move(0, 1, 1))
	w.grant(consent.KindControl, true)
	sync()
	got := w.in.calls()
	if fmt.Sprint(got[len(want):]) != fmt.Sprint([]string{"close", "type ."}) {
		t.Fatalf("after control ended: %q", got[len(want):])
	}
}

// Control revoked while a message is being checked: what that message
// injects is let go right after it (the injector closes), and nothing
// injects later.
func TestRevokedDuringAMessage(t *testing.T) {
	w := newWorld(t)
	w.grant(consent.KindScreen, true)
	w.grant(consent.KindControl, true)
	v := w.open(t, 0)
	v.next(t)
	revoked := make(chan struct{})
	var once sync.Once
	w.mu.Lock()
	w.hook = func(kind string) {
		if kind != consent.KindControl {
			return
		}
		once.Do(func() {
			go func() { // the revocation lands between the check and the injection
				w.grant(consent.KindControl, false)
				w.svc.Consent(consent.Event{Session: sid, Peer: "alice", ID: "c1", Kind: consent.KindControl, State: consent.StateRevoked})
				close(revoked)
			}()
			time.Sleep(50 * time.Millisecond)
		})
	}
	w.mu.Unlock()
	w.agent.Send(&pb.PeerMsg{Body: &pb.PeerMsg_Input{Input: &pb.Input{Events: []*pb.InputEvent{
		{Kind: pb.InputEvent_KIND_KEY, Scancode: 37, Down: true},
	}}}})
	testpeer.Receive(t, revoked, "the revocation")
	w.agent.Send(&pb.PeerMsg{Body: &pb.PeerMsg_Input{Input: &pb.Input{Events: []*pb.InputEvent{
		{Kind: pb.InputEvent_KIND_KEY, Scancode: 38, Down: true},
	}}}})
	time.Sleep(200 * time.Millisecond)
	got := w.in.calls()
	if fmt.Sprint(got) != fmt.Sprint([]string{"key 37 true", "close"}) {
		t.Fatalf("injected %q, want the key let go after it and nothing after the revocation", got)
	}
}

// An agent that asks for syncs and never reads holds nothing once its
// grant ends: its writes fill the stream and block, yet the stream ends,
// and so does its capture.
func TestAViewerThatDoesNotReadEnds(t *testing.T) {
	w := newWorld(t)
	big := image.Rect(0, 0, 1600, 1000)
	w.scr = &fakeScreen{pix: capture.NewFrame(big), drawn: make(chan struct{}, 1), mons: []capture.Monitor{{Index: 0, Bounds: big, Primary: true}}}
	w.grant(consent.KindScreen, true)
	noise := func(seed int) {
		w.scr.mu.Lock()
		x := uint32(seed*2654435761 + 1)
		for i := range w.scr.pix.Pix {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			w.scr.pix.Pix[i] = byte(x)
		}
		w.scr.changed = append(w.scr.changed, big)
		w.scr.mu.Unlock()
		select {
		case w.scr.drawn <- struct{}{}:
		default:
		}
	}
	noise(0)
	v := w.open(t, 0)
	for i := range 40 { // each sync sends what changed, past the window: megabytes the agent never reads
		noise(i + 1)
		v.send(t, &pb.ScreenMsg{Body: &pb.ScreenMsg_Sync{Sync: &pb.ScreenSync{N: uint64(i + 1)}}})
		time.Sleep(40 * time.Millisecond)
	}
	w.grant(consent.KindScreen, false)
	w.svc.Consent(consent.Event{Session: sid, Peer: "alice", Kind: consent.KindScreen, State: consent.StateRevoked})
	deadline := time.Now().Add(5 * time.Second)
	for len(w.svc.Viewers(sid)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the viewer outlived its grant, blocked on an agent that does not read")
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.scr.mu.Lock()
	closed := w.scr.closed
	w.scr.mu.Unlock()
	if !closed {
		t.Fatal("the capture is still open")
	}
}

// The sharing bar says the shortcut only while it is grabbed: another
// program may hold it.
func TestShortcutHeldOnlyWhenGrabbed(t *testing.T) {
	for _, works := range []bool{true, false} {
		svc := sharing.New(sharing.Config{
			Allowed:    func(string, string, string) bool { return true },
			EndControl: func() {},
			GrabShortcut: func(func()) (io.Closer, error) {
				if !works {
					return nil, errors.New("taken by another program")
				}
				return io.NopCloser(nil), nil
			},
		})
		svc.Consent(consent.Event{ID: "g1", Kind: consent.KindControl, State: consent.StateAllowed})
		if got := svc.ShortcutHeld(); got != works {
			t.Fatalf("grab works %v: held %v after control was given", works, got)
		}
		svc.Consent(consent.Event{ID: "g1", Kind: consent.KindControl, State: consent.StateRevoked})
		if svc.ShortcutHeld() {
			t.Fatalf("grab works %v: still held after control ended", works)
		}
		svc.Close()
	}
}
