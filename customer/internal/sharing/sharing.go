// Package sharing is the customer's screen-sharing service (issue 13): it
// streams the screen to an agent holding the view grant and injects the
// input of an agent holding the control grant. It is a service of the
// session's router (package session): a screen stream (protocol kind 3)
// that an agent opens is served here, and Input control messages are
// taken here.
//
// A viewer's stream goes like this: the agent sends ScreenOpen (which
// monitor); the customer answers ScreenInfo (the monitors and the one
// shown) and a keyframe, then an update whenever the screen changed, at
// most MaxFPS a second and with at most Window updates unacknowledged:
// what changes while the agent is behind goes into the next update, so a
// stale picture is never queued. The pointer travels apart (ScreenCursor).
// ScreenSync asks for what changed until now, answered by ScreenSynced
// once it went. The view grant is checked before each update: when it is
// revoked the stream ends at once with ScreenStop saying why.
//
// Input is checked whole (every pointer position mapped onto a monitor of
// the screen) before any of it is injected, and only while the control
// grant is in force; keys held down are let go when control ends.
package sharing

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/customer/internal/capture"
	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/screen"
	"github.com/porthole-dev/porthole/shared/session"
)

// Pacing.
const (
	// MaxFPS caps the updates a second a viewer gets.
	MaxFPS = 30
	// Window is how many updates may be on their way, unacknowledged.
	Window = 2
)

// Why a stream ended, as ScreenStop and Event.Why say it.
const (
	WhyRevoked     = "revoked"     // the view grant ended (the customer stopped it, or the session or link ended)
	WhyNotAllowed  = "not_allowed" // asked without the view grant
	WhyAgent       = "agent"       // the agent stopped watching
	WhyReplaced    = "replaced"    // the agent opened a newer stream
	WhyUnavailable = "unavailable" // the screen cannot be read here (followed by what the system said)
	WhyBadMessage  = "bad_message" // the agent sent what a viewer does not
	WhyClosed      = "closed"      // the service closed (the app is ending)
)

// Source reads a screen: capture.X11 is one.
type Source interface {
	Monitors() ([]capture.Monitor, error)
	Changed() ([]image.Rectangle, error)
	// Drawn has a token when the screen was drawn on since Changed (nil:
	// never; Changed is then looked at each second).
	Drawn() <-chan struct{}
	Grab(dst *capture.Frame, r image.Rectangle) error
	Cursor() (capture.Cursor, error)
	Close() error
}

// Injector injects input on a screen: input.X11 is one.
type Injector interface {
	Move(p image.Point) error
	Button(button int, down bool) error
	Scroll(dx, dy int) error
	Key(code int, down bool) error
	KeySym(sym uint32, down bool) error
	Type(text string) error
	Close() error
}

// Config configures a Service.
type Config struct {
	// Allowed says whether the agent named agent holds a grant of kind in
	// session (the consent Giver's Allowed). Required.
	Allowed func(session, agent, kind string) bool
	// OpenSource and OpenInput reach the screen (default: this system's,
	// see open_*.go). Each viewer has a source of its own, so that each
	// has its own record of what changed.
	OpenSource func() (Source, error)
	OpenInput  func() (Injector, error)
	// EndControl is called when the customer presses the shortcut that
	// ends control (ShortcutName; grabbed while some agent holds control):
	// it revokes every control grant. GrabShortcut grabs it (default: this
	// system's; see open_*.go).
	EndControl   func()
	GrabShortcut func(pressed func()) (io.Closer, error)
	// Events receives Viewing events. It must not block for long.
	Events func(Viewing)
	Log    *slog.Logger
}

// Viewing says an agent started or stopped seeing the screen.
type Viewing struct {
	Session string
	Agent   string
	On      bool
	Monitor int    // on: the monitor shown
	Why     string // off: why (Why* constants)
}

// Service is the customer's screen-sharing service, for every session of
// the client.
type Service struct {
	cfg Config

	inMu sync.Mutex // orders input messages and the release of the injector

	mu      sync.Mutex
	viewers map[key]*viewer
	opening map[key]bool // an agent's stream waiting for its older one to end
	in      Injector     // open while some agent holds control
	mons    []capture.Monitor
	control map[string]bool // the control grants in force, by id
	grab    io.Closer       // the shortcut, while grabbed
	closed  bool
}

type key struct{ session, agent string }

// New makes the service; Serve puts it on each session's router.
func New(cfg Config) *Service {
	if cfg.Events == nil {
		cfg.Events = func(Viewing) {}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.OpenSource == nil {
		cfg.OpenSource = openSource
	}
	if cfg.OpenInput == nil {
		cfg.OpenInput = openInput
	}
	if cfg.GrabShortcut == nil {
		cfg.GrabShortcut = grabShortcut
	}
	return &Service{cfg: cfg, viewers: map[key]*viewer{}, opening: map[key]bool{}, control: map[string]bool{}}
}

// Serve registers the service with a session's router.
func (s *Service) Serve(r *session.Router) {
	id := r.Session()
	r.HandleStream(protocol.StreamScreen, func(l *peer.Link, str *quic.Stream, br *bufio.Reader) {
		s.serve(id, l, str, br)
	})
	r.HandleControl((*pb.PeerMsg_Input)(nil), func(l *peer.Link, m *pb.PeerMsg) {
		s.input(id, l.Remote.Name, m.GetInput())
	})
	r.Watch(session.WatchFuncs{Down: func(l *peer.Link, _ error) { s.linkDown(id, l) }})
}

// Consent takes the consent service's events: a view grant that ends
// stops that agent's stream at once, and control that ends lets go of the
// keys it held.
func (s *Service) Consent(ev consent.Event) {
	if ev.Kind != consent.KindControl && ev.Kind != consent.KindScreen {
		return
	}
	switch {
	case ev.Kind == consent.KindScreen && ev.State == consent.StateRevoked:
		s.Stop(ev.Session, ev.Peer, WhyRevoked)
	case ev.Kind == consent.KindControl && ev.State == consent.StateAllowed:
		s.mu.Lock()
		s.control[ev.ID] = true
		s.mu.Unlock()
		s.shortcut(true)
	case ev.Kind == consent.KindControl && ev.State == consent.StateRevoked:
		s.mu.Lock()
		delete(s.control, ev.ID)
		s.mu.Unlock()
		s.releaseInput()
		s.shortcut(false)
	}
}

// shortcut grabs the customer's shortcut that ends control while some
// agent holds it, and lets it go when none does (on is what just
// happened).
func (s *Service) shortcut(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held := len(s.control) > 0 && !s.closed
	switch {
	case held && s.grab == nil && s.cfg.GrabShortcut != nil && s.cfg.EndControl != nil:
		g, err := s.cfg.GrabShortcut(s.cfg.EndControl)
		if err != nil {
			s.cfg.Log.Warn("the shortcut that ends control cannot be used", "err", err)
			return
		}
		s.grab = g
	case !held && s.grab != nil:
		s.grab.Close()
		s.grab = nil
	}
}

// Stop ends the stream of agent in session (agent "": every agent's), why
// told to the agent.
func (s *Service) Stop(session, agent, why string) {
	s.mu.Lock()
	var vs []*viewer
	for k, v := range s.viewers {
		if k.session == session && (agent == "" || k.agent == agent) {
			vs = append(vs, v)
		}
	}
	s.mu.Unlock()
	for _, v := range vs {
		v.stop(why)
	}
}

// Viewers lists the agents of session who see the screen now.
func (s *Service) Viewers(session string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.viewers {
		if k.session == session {
			out = append(out, k.agent)
		}
	}
	return out
}

// Close stops every stream and lets go of the input.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	vs := make([]*viewer, 0, len(s.viewers))
	for _, v := range s.viewers {
		vs = append(vs, v)
	}
	s.mu.Unlock()
	for _, v := range vs {
		v.stop(WhyClosed)
		<-v.done
	}
	s.releaseInput()
	s.shortcut(false)
}

func (s *Service) linkDown(session string, l *peer.Link) {
	s.mu.Lock()
	v := s.viewers[key{session, l.Remote.Name}]
	s.mu.Unlock()
	if v != nil && v.link == l {
		v.stop(WhyRevoked)
	}
	if !s.anyControl() {
		s.releaseInput()
	}
}

// anyControl says whether some agent of some stream still holds control.
func (s *Service) anyControl() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.viewers {
		if s.cfg.Allowed(k.session, k.agent, consent.KindControl) {
			return true
		}
	}
	return false
}

// releaseInput closes the injector, which lets go of the keys held.
func (s *Service) releaseInput() {
	s.inMu.Lock() // after the message being injected, before the next
	defer s.inMu.Unlock()
	s.mu.Lock()
	in := s.in
	s.in = nil
	s.mu.Unlock()
	if in != nil {
		in.Close()
	}
}

// ---- input ----

// input injects an agent's input, all of it or, when any event is not
// for this screen, none.
func (s *Service) input(session, agent string, in *pb.Input) {
	// One message at a time, and never beside releaseInput: control that
	// ends while a message is checked lets go after it, and the next finds
	// the grant gone.
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if in == nil || !s.cfg.Allowed(session, agent, consent.KindControl) {
		s.cfg.Log.Info("input without control, dropped", "session", session, "agent", agent)
		return
	}
	s.mu.Lock()
	mons := s.mons
	s.mu.Unlock()
	at := make([]image.Point, len(in.Events))
	for i, e := range in.Events {
		if e.Kind != pb.InputEvent_KIND_MOVE {
			continue
		}
		p, err := onMonitor(mons, int(e.Monitor), image.Pt(int(e.X), int(e.Y)))
		if err != nil {
			s.cfg.Log.Info("input dropped", "session", session, "agent", agent, "err", err)
			return
		}
		at[i] = p
	}
	inj, err := s.injector()
	if err != nil {
		s.cfg.Log.Warn("input cannot be injected", "err", err)
		return
	}
	for i, e := range in.Events {
		if err := inject(inj, e, at[i]); err != nil {
			s.cfg.Log.Info("input event failed", "session", session, "agent", agent, "err", err)
			return
		}
	}
}

// onMonitor maps a monitor-relative point onto the screen.
func onMonitor(mons []capture.Monitor, index int, p image.Point) (image.Point, error) {
	if index < 0 || index >= len(mons) {
		return image.Point{}, fmt.Errorf("no monitor %d here", index)
	}
	b := mons[index].Bounds
	q := b.Min.Add(p)
	if !q.In(b) {
		return image.Point{}, fmt.Errorf("%v is outside monitor %d (%d × %d)", p, index, b.Dx(), b.Dy())
	}
	return q, nil
}

func inject(inj Injector, e *pb.InputEvent, at image.Point) error {
	switch e.Kind {
	case pb.InputEvent_KIND_MOVE:
		return inj.Move(at)
	case pb.InputEvent_KIND_BUTTON:
		return inj.Button(int(e.Button), e.Down)
	case pb.InputEvent_KIND_SCROLL:
		return inj.Scroll(int(e.Dx), int(e.Dy))
	case pb.InputEvent_KIND_KEY:
		switch {
		case e.Scancode >= 8:
			return inj.Key(int(e.Scancode), e.Down)
		case e.Keysym != 0:
			return inj.KeySym(e.Keysym, e.Down)
		case e.Down:
			return inj.Type(string(rune(e.Rune)))
		}
		return nil
	case pb.InputEvent_KIND_TEXT:
		return inj.Type(e.Text)
	}
	return fmt.Errorf("an input event of kind %v", e.Kind)
}

func (s *Service) injector() (Injector, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("closed")
	}
	if s.in == nil {
		in, err := s.cfg.OpenInput()
		if err != nil {
			return nil, err
		}
		s.in = in
	}
	return s.in, nil
}

// ---- the screen stream ----

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
