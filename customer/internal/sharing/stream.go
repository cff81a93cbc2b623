package sharing

import (
	"bufio"
	"image"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/porthole-dev/porthole/customer/internal/capture"
	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/screen"
	"github.com/quic-go/quic-go"
)

// viewer is one agent's screen stream.
type viewer struct {
	s       *Service
	session string
	link    *peer.Link
	str     *quic.Stream
	src     Source

	quit     chan struct{} // closed by stop
	done     chan struct{} // closed when the stream is over
	stopOnce sync.Once
	why      string // set before quit closes

	wmu sync.Mutex // one write at a time

	// From the agent's reader, for the sending loop.
	mu      sync.Mutex
	acked   uint64
	syncs   []uint64
	monitor int
	newMon  bool
	wake    chan struct{}
}

// stop ends the stream, why told to the agent. A write the agent does not
// read is cut short (stopWait): a stream never outlives its grant waiting
// for a reader.
func (v *viewer) stop(why string) {
	v.stopOnce.Do(func() {
		v.why = why
		close(v.quit)
		v.str.SetWriteDeadline(time.Now().Add(stopWait))
	})
}

// Writes on a screen stream: one that waits longer than writeWait for the
// agent to read ends the stream, as stopping does after stopWait.
const (
	writeWait = 10 * time.Second
	stopWait  = time.Second
)

func (v *viewer) send(m *pb.ScreenMsg) error {
	v.wmu.Lock()
	defer v.wmu.Unlock()
	select {
	case <-v.quit: // stop's deadline stays
	default:
		v.str.SetWriteDeadline(time.Now().Add(writeWait))
	}
	return protocol.WriteFrame(v.str, m, protocol.MaxScreenFrame)
}

// serve runs one screen stream an agent opened.
func (s *Service) serve(session string, l *peer.Link, str *quic.Stream, br *bufio.Reader) {
	agent := l.Remote.Name
	str.SetReadDeadline(time.Now().Add(10 * time.Second))
	var open pb.ScreenMsg
	if err := protocol.ReadFrame(br, &open, protocol.MaxScreenCtl); err != nil || protocol.ValidateScreenMsg(&open, false) != nil || open.GetOpen() == nil {
		str.CancelRead(0)
		str.CancelWrite(0)
		return
	}
	str.SetReadDeadline(time.Time{})
	v := &viewer{s: s, session: session, link: l, str: str, quit: make(chan struct{}), done: make(chan struct{}),
		monitor: int(open.GetOpen().Monitor), wake: make(chan struct{}, 1)}
	defer close(v.done)
	refuse := func(why string) {
		v.send(&pb.ScreenMsg{Body: &pb.ScreenMsg_Stop{Stop: &pb.ScreenStop{Why: why}}})
		str.Close()
		str.CancelRead(0)
	}
	if !s.cfg.Allowed(session, agent, consent.KindScreen) {
		refuse(WhyNotAllowed)
		return
	}
	// The agent's older stream ends first, and only then is the screen
	// opened again: one capture per agent, however many streams it opens.
	// A stream that comes while another of the agent's waits is refused.
	k := key{session, agent}
	s.mu.Lock()
	if s.closed || s.opening[k] {
		s.mu.Unlock()
		if s.closed {
			refuse(WhyClosed)
		} else {
			refuse(WhyReplaced)
		}
		return
	}
	s.opening[k] = true
	old := s.viewers[k]
	s.mu.Unlock()
	opened := false
	defer func() {
		if !opened {
			s.mu.Lock()
			delete(s.opening, k)
			s.mu.Unlock()
		}
	}()
	if old != nil {
		old.stop(WhyReplaced)
		<-old.done
	}
	if !s.cfg.Allowed(session, agent, consent.KindScreen) {
		refuse(WhyNotAllowed)
		return
	}
	src, err := s.cfg.OpenSource()
	if err != nil {
		s.cfg.Log.Warn("screen sharing cannot read the screen", "err", err)
		refuse(limit(WhyUnavailable + ": " + err.Error()))
		return
	}
	v.src = src
	defer src.Close()
	s.mu.Lock()
	delete(s.opening, k)
	opened = true
	if s.closed {
		s.mu.Unlock()
		refuse(WhyClosed)
		return
	}
	s.viewers[k] = v
	s.mu.Unlock()
	go v.read(br)
	why := v.run()
	s.mu.Lock()
	if s.viewers[k] == v {
		delete(s.viewers, k)
	}
	s.mu.Unlock()
	if why != WhyAgent {
		v.send(&pb.ScreenMsg{Body: &pb.ScreenMsg_Stop{Stop: &pb.ScreenStop{Why: why}}})
	}
	str.Close()
	str.CancelRead(0)
	s.cfg.Events(Viewing{Session: session, Agent: agent, Why: why})
}

// limit cuts a reason to what a ScreenStop carries.
func limit(why string) string {
	if len(why) > protocol.MaxFileWhy {
		why = why[:protocol.MaxFileWhy]
		for !utf8.ValidString(why) {
			why = why[:len(why)-1]
		}
	}
	return why
}

// read reads the agent's side of the stream: acknowledgements, syncs and
// monitor changes.
func (v *viewer) read(br *bufio.Reader) {
	for {
		var m pb.ScreenMsg
		if err := protocol.ReadFrame(br, &m, protocol.MaxScreenCtl); err != nil {
			v.stop(WhyAgent)
			return
		}
		if protocol.ValidateScreenMsg(&m, false) != nil || m.GetOpen() != nil {
			v.stop(WhyBadMessage)
			return
		}
		v.mu.Lock()
		switch b := m.Body.(type) {
		case *pb.ScreenMsg_Ack:
			v.acked = max(v.acked, b.Ack.Seq)
		case *pb.ScreenMsg_Sync:
			v.syncs = append(v.syncs, b.Sync.N)
			if len(v.syncs) > 16 {
				v.syncs = v.syncs[1:]
			}
		case *pb.ScreenMsg_Select:
			v.monitor, v.newMon = int(b.Select.Monitor), true
		}
		v.mu.Unlock()
		select {
		case v.wake <- struct{}{}:
		default:
		}
	}
}

// run sends the screen until the stream ends, and says why it did.
func (v *viewer) run() string {
	s := v.s
	agent := v.link.Remote.Name
	mons, err := v.src.Monitors()
	if err != nil {
		return limit(WhyUnavailable + ": " + err.Error())
	}
	s.mu.Lock()
	s.mons = mons
	s.mu.Unlock()
	v.mu.Lock()
	mon := v.monitor
	v.mu.Unlock()
	if mon >= len(mons) {
		mon = 0
	}

	var (
		enc    = screen.NewEncoder()
		frame  *capture.Frame
		img    *screen.Image
		bounds image.Rectangle
		dirty  []image.Rectangle
		sent   uint64 // the last update's sequence number
		cursor pb.ScreenCursor
		shape  uint32
		tick   = time.NewTicker(time.Second / MaxFPS)
		q      = newQuality()
	)
	defer tick.Stop()
	show := func(i int) error {
		mon = i
		bounds = mons[i].Bounds
		frame = capture.NewFrame(bounds)
		img = &screen.Image{W: bounds.Dx(), H: bounds.Dy(), Stride: frame.Stride, Pix: frame.Pix}
		enc.Reset()
		dirty = []image.Rectangle{bounds} // the whole monitor: a keyframe
		shape = 0
		info := &pb.ScreenInfo{Monitor: int32(i)}
		for _, m := range mons {
			info.Monitors = append(info.Monitors, &pb.Monitor{Index: int32(m.Index), X: int32(m.Bounds.Min.X), Y: int32(m.Bounds.Min.Y),
				Width: int32(m.Bounds.Dx()), Height: int32(m.Bounds.Dy()), Primary: m.Primary})
		}
		return v.send(&pb.ScreenMsg{Body: &pb.ScreenMsg_Info{Info: info}})
	}
	if err := show(mon); err != nil {
		return WhyAgent
	}
	s.cfg.Events(Viewing{Session: v.session, Agent: agent, On: true, Monitor: mon})
	v.src.Changed() // what was drawn before: the keyframe has it

	// The screen is looked at when it is drawn on (Drawn), not at every
	// tick: an update starts as soon as something changed, a frame's time
	// after the last one at the soonest, and an idle screen costs only the
	// pointer's look each tick (and a look each second, in case).
	var (
		drawn    = v.src.Drawn()
		damaged  = true
		looked   time.Time
		lastSent time.Time
	)
	for {
		select {
		case <-v.quit:
			return v.why
		case <-v.link.Done():
			return WhyRevoked
		case <-tick.C:
		case <-v.wake:
		case <-drawn:
			damaged = true
			if d := time.Second/MaxFPS - time.Since(lastSent); d > 0 {
				time.Sleep(d)
			}
		}
		if !s.cfg.Allowed(v.session, agent, consent.KindScreen) {
			return WhyRevoked
		}
		v.mu.Lock()
		acked, syncs, newMon, want := v.acked, v.syncs, v.newMon, v.monitor
		v.syncs, v.newMon = nil, false
		v.mu.Unlock()
		if newMon && want < len(mons) && want != mon {
			if err := show(want); err != nil {
				return WhyAgent
			}
			s.cfg.Events(Viewing{Session: v.session, Agent: agent, On: true, Monitor: mon})
		}
		var ch []image.Rectangle
		if damaged || len(syncs) > 0 || time.Since(looked) > time.Second {
			var err error
			if ch, err = v.src.Changed(); err != nil {
				return limit(WhyUnavailable + ": " + err.Error())
			}
			damaged, looked = false, time.Now()
		}
		for _, r := range ch {
			if r = r.Intersect(bounds); !r.Empty() {
				dirty = append(dirty, r)
			}
		}
		if len(dirty) > 64 { // far behind: keep it small
			dirty = []image.Rectangle{union(dirty)}
		}
		if err := v.sendCursor(&cursor, &shape, bounds); err != nil {
			return WhyAgent
		}
		// Behind: what changed goes into a later update. A sync goes now
		// whatever the window says.
		behind := sent-acked >= Window
		q.tick(behind && len(dirty) > 0)
		enc.Quality = q.quality
		if behind && len(syncs) == 0 {
			continue
		}
		if len(dirty) > 0 || enc.Pending() {
			t0 := time.Now()
			changed, err := v.grab(frame, bounds, dirty)
			if err != nil {
				return limit(WhyUnavailable + ": " + err.Error())
			}
			dirty = dirty[:0]
			if u := enc.Encode(img, changed); u != nil {
				sent++
				lastSent = time.Now()
				us := uint32(time.Since(t0).Microseconds())
				if err := v.send(&pb.ScreenMsg{Body: &pb.ScreenMsg_Frame{Frame: &pb.ScreenFrame{Seq: sent, Update: u, EncodeUs: us}}}); err != nil {
					return WhyAgent
				}
			}
		}
		// A sync is answered with the screen exact: what is still lossy
		// at the agent's is topped off first (each Encode of an unchanged
		// picture ages the lossy tiles until they go again, losslessly).
		for i := 0; len(syncs) > 0 && enc.Pending() && i < 16; i++ {
			if u := enc.Encode(img, []image.Rectangle{}); u != nil {
				sent++
				if err := v.send(&pb.ScreenMsg{Body: &pb.ScreenMsg_Frame{Frame: &pb.ScreenFrame{Seq: sent, Update: u}}}); err != nil {
					return WhyAgent
				}
			}
		}
		for _, n := range syncs {
			if err := v.send(&pb.ScreenMsg{Body: &pb.ScreenMsg_Synced{Synced: &pb.ScreenSynced{N: n}}}); err != nil {
				return WhyAgent
			}
		}
	}
}

// Quality of lossy tiles, as the viewer keeps up: it drops a step each
// second spent mostly behind (a slow link, a slow viewer: fewer bytes a
// frame), and climbs back a step after each second kept up.
const (
	QualityHigh = 70
	QualityLow  = 30
	qualityStep = 10
)

type quality struct {
	quality       int
	ticks, behind int
}

func newQuality() *quality { return &quality{quality: QualityHigh} }

// tick counts one frame's tick; behind says an update waited for the
// viewer.
func (q *quality) tick(behind bool) {
	q.ticks++
	if behind {
		q.behind++
	}
	if q.ticks < MaxFPS {
		return
	}
	switch {
	case q.behind*2 > q.ticks:
		q.quality = max(QualityLow, q.quality-qualityStep)
	case q.behind == 0:
		q.quality = min(QualityHigh, q.quality+qualityStep)
	}
	q.ticks, q.behind = 0, 0
}

// grab reads the dirty parts of the monitor into frame and returns them
// in the monitor's coordinates. Many small parts are read as the one
// rectangle around them: a read costs a round trip to the X server.
func (v *viewer) grab(frame *capture.Frame, bounds image.Rectangle, dirty []image.Rectangle) ([]image.Rectangle, error) {
	if len(dirty) > 16 {
		dirty = []image.Rectangle{union(dirty)}
	}
	out := make([]image.Rectangle, 0, len(dirty))
	for _, r := range dirty {
		if err := v.src.Grab(frame, r); err != nil {
			return nil, err
		}
		out = append(out, r.Sub(bounds.Min))
	}
	return out, nil
}

func union(rs []image.Rectangle) image.Rectangle {
	u := rs[0]
	for _, r := range rs[1:] {
		u = u.Union(r)
	}
	return u
}

// sendCursor sends the pointer when it moved, or its shape changed, since
// the last one sent (last, shape).
func (v *viewer) sendCursor(last *pb.ScreenCursor, shape *uint32, bounds image.Rectangle) error {
	c, err := v.src.Cursor()
	if err != nil {
		return nil // no cursor this time: the picture still goes
	}
	p := c.Pos.Sub(bounds.Min)
	m := &pb.ScreenCursor{X: int32(p.X), Y: int32(p.Y), Visible: c.Pos.In(bounds), Serial: c.Serial, HotX: int32(c.Hot.X), HotY: int32(c.Hot.Y)}
	newShape := c.Serial != *shape && c.Shape != nil && c.Shape.Rect.Dx() <= protocol.MaxCursorSide && c.Shape.Rect.Dy() <= protocol.MaxCursorSide
	if !newShape && m.X == last.X && m.Y == last.Y && m.Visible == last.Visible {
		return nil
	}
	if newShape {
		m.Width, m.Height, m.Rgba = int32(c.Shape.Rect.Dx()), int32(c.Shape.Rect.Dy()), c.Shape.Pix
		*shape = c.Serial
	}
	*last = pb.ScreenCursor{X: m.X, Y: m.Y, Visible: m.Visible}
	return v.send(&pb.ScreenMsg{Body: &pb.ScreenMsg_Cursor{Cursor: m}})
}
