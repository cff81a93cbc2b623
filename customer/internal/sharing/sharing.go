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
	"image"
	"io"
	"log/slog"
	"sync"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/customer/internal/capture"
	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
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

// closer is an io.Closer of a func (a grabbed shortcut's Close).
type closer func()

func (f closer) Close() error { f(); return nil }

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

// ShortcutHeld says whether ShortcutName is grabbed now (some agent holds
// control, and the grab worked). Consent grabs it before it returns.
func (s *Service) ShortcutHeld() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grab != nil
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
