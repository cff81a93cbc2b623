// Package session is the core of one support session on a peer's side: the
// Router owns the session's peer links (any number of them: one per agent
// on the customer's side, the customer's on an agent's side), reads their
// control streams, accepts their streams and datagrams, answers pings,
// measures round trips, and carries the bye that ends a session.
//
// Services (chat, files, consent, and later screen, input and shell)
// register with a Router and never own a link:
//
//   - control messages are dispatched by their type (HandleControl);
//   - streams the other side opens by the kind in their stream header
//     (HandleStream); a stream of a kind nobody handles is refused with
//     CodeUnknownStream;
//   - datagrams by their first byte (HandleDatagram); unknown ones are
//     dropped;
//   - links coming and going through Watch (LinkUp before anything is read
//     from a new link, LinkDown once its reading has ended).
//
// A control message of a kind this build does not know, or that no service
// handles, is skipped. Every handler runs on the link's reader (or, for a
// stream, on a goroutine of its own) and must not block for long.
//
// Links are keyed by the name the other side's authenticated hello gives:
// a newer link from the same name replaces the older one.
package session

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// Stream error codes the router uses.
const (
	// CodeUnknownStream refuses a stream whose kind no service handles
	// (or whose header is not Porthole's).
	CodeUnknownStream quic.StreamErrorCode = 0x01
)

// ControlFunc handles one control message that came on l.
type ControlFunc func(l *peer.Link, m *pb.PeerMsg)

// StreamFunc handles one stream the other side opened on l. Its header is
// read already: r holds what came after it. The handler owns the stream.
type StreamFunc func(l *peer.Link, str *quic.Stream, r *bufio.Reader)

// DatagramFunc handles one datagram (without its kind byte) that came on l.
type DatagramFunc func(l *peer.Link, b []byte)

// Watcher is told of links coming and going.
type Watcher interface {
	// LinkUp is told of each link Attach takes, before anything is read
	// from it and before the link it replaces is closed; it runs on the
	// goroutine that called Attach.
	LinkUp(l *peer.Link)
	// LinkDown is told of each link whose reading has ended, whether it was
	// still current or had been replaced or closed; err is why (nil: the
	// other side closed it cleanly).
	LinkDown(l *peer.Link, err error)
}

// Config configures a Router.
type Config struct {
	Session string // the session's id
	// Gone, if set, is told when a link that was still current ends: that
	// peer is no longer connected (a replaced link is not gone).
	Gone func(l *peer.Link, err error)
	// Bye, if set, is told when a peer says the session is over. From then
	// on the router is ending: links that end are not Gone, and Attach
	// takes no new ones.
	Bye func(l *peer.Link, reason string)
	// OnePeer makes every new link replace every other, whatever its name:
	// an agent's session has one customer, who may come back under another
	// name.
	OnePeer bool
	// ByeWait bounds how long SayBye waits for the others to hang up
	// (default 2 s).
	ByeWait time.Duration
	// StreamHeadTimeout bounds the wait for a new stream's header
	// (default 10 s).
	StreamHeadTimeout time.Duration
	Log               *slog.Logger
}

// Router is one session's links and the dispatch of what they carry. Its
// methods are safe from any goroutine.
type Router struct {
	cfg Config

	attach sync.Mutex // one Attach at a time: watchers see links in order

	mu        sync.Mutex
	links     map[string]*peer.Link // by the other side's name
	control   map[reflect.Type]ControlFunc
	streams   map[protocol.StreamKind]StreamFunc
	datagrams map[byte]DatagramFunc
	watchers  []Watcher
	probes    map[int64]chan struct{} // pings waiting for their pong, by number
	closed    bool                    // Close was called, or a peer said bye
	wg        sync.WaitGroup
}

// New makes a session's router. Register the services, then Attach links.
func New(cfg Config) *Router {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.ByeWait == 0 {
		cfg.ByeWait = 2 * time.Second
	}
	if cfg.StreamHeadTimeout == 0 {
		cfg.StreamHeadTimeout = 10 * time.Second
	}
	return &Router{
		cfg: cfg, links: map[string]*peer.Link{}, control: map[reflect.Type]ControlFunc{},
		streams: map[protocol.StreamKind]StreamFunc{}, datagrams: map[byte]DatagramFunc{},
		probes: map[int64]chan struct{}{},
	}
}

// Session is the session's id.
func (r *Router) Session() string { return r.cfg.Session }

// HandleControl routes the control messages whose body has the type of
// body (a typed nil such as (*pb.PeerMsg_Chat)(nil)) to f. Hello, Ping,
// Pong and Bye are the router's own.
func (r *Router) HandleControl(body any, f ControlFunc) {
	t := reflect.TypeOf(body)
	switch body.(type) {
	case *pb.PeerMsg_Hello, *pb.PeerMsg_Ping, *pb.PeerMsg_Pong, *pb.PeerMsg_Bye:
		panic("session: " + t.String() + " is the router's own")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.control[t]; dup {
		panic("session: two handlers for " + t.String())
	}
	r.control[t] = f
}

// HandleStream routes the streams of a kind to f.
func (r *Router) HandleStream(kind protocol.StreamKind, f StreamFunc) {
	if kind == protocol.StreamControl {
		panic("session: the control stream is the router's own")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.streams[kind]; dup {
		panic("session: two handlers for a stream kind")
	}
	r.streams[kind] = f
}

// HandleDatagram routes the datagrams whose first byte is kind to f.
func (r *Router) HandleDatagram(kind byte, f DatagramFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.datagrams[kind]; dup {
		panic("session: two handlers for a datagram kind")
	}
	r.datagrams[kind] = f
}

// Watch adds a watcher of the links; watchers are told in the order they
// were added.
func (r *Router) Watch(w Watcher) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.watchers = append(r.watchers, w)
}

// WatchFuncs is a Watcher made of two functions (either may be nil).
type WatchFuncs struct {
	Up   func(l *peer.Link)
	Down func(l *peer.Link, err error)
}

// LinkUp calls Up.
func (w WatchFuncs) LinkUp(l *peer.Link) {
	if w.Up != nil {
		w.Up(l)
	}
}

// LinkDown calls Down.
func (w WatchFuncs) LinkDown(l *peer.Link, err error) {
	if w.Down != nil {
		w.Down(l, err)
	}
}

// ErrClosed is returned by Attach once the router is closed.
var ErrClosed = errors.New("the session is closed")

// Attach takes a new link: the watchers are told, an older link from the
// same peer is closed, and the link is read until it ends.
func (r *Router) Attach(l *peer.Link) error {
	r.attach.Lock()
	defer r.attach.Unlock()
	name := l.Remote.Name
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		l.Close(peer.CodeEnded, "the session is closed")
		return ErrClosed
	}
	var old []*peer.Link
	for n, o := range r.links {
		if n == name || r.cfg.OnePeer {
			old = append(old, o)
			delete(r.links, n)
		}
	}
	r.links[name] = l
	watchers := copyOf(r.watchers)
	r.wg.Add(3)
	r.mu.Unlock()
	for _, w := range watchers {
		w.LinkUp(l)
	}
	for _, o := range old {
		if o != l {
			o.Close(peer.CodeReplaced, "replaced by a newer connection")
		}
	}
	go r.read(l)
	go r.acceptStreams(l)
	go r.readDatagrams(l)
	return nil
}

func copyOf[T any](s []T) []T { return append([]T(nil), s...) }

// Closed says whether the router takes no more links: it was closed, or a
// peer said the session is over.
func (r *Router) Closed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Link is the current link to the peer of that name, or nil.
func (r *Router) Link(name string) *peer.Link {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.links[name]
}

// Links are the current links, by the other side's name.
func (r *Router) Links() []*peer.Link {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*peer.Link, 0, len(r.links))
	for _, l := range r.links {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Remote.Name < out[j].Remote.Name })
	return out
}

// Only is the one current link when there is exactly one, else nil.
func (r *Router) Only() *peer.Link {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.links) != 1 {
		return nil
	}
	for _, l := range r.links {
		return l
	}
	return nil
}

// ErrNotConnected is returned when a message has no link to go on.
var ErrNotConnected = errors.New("not connected")

// Send sends a control message to the peer of that name.
func (r *Router) Send(name string, m *pb.PeerMsg) error {
	l := r.Link(name)
	if l == nil {
		return ErrNotConnected
	}
	return l.Send(m)
}

// Broadcast sends a control message on every current link; it returns how
// many took it.
func (r *Router) Broadcast(m *pb.PeerMsg) int {
	n := 0
	for _, l := range r.Links() {
		if l.Send(m) == nil {
			n++
		}
	}
	return n
}

// RTT is the smoothed round trip to the peer of that name (0: not
// connected).
func (r *Router) RTT(name string) time.Duration {
	if l := r.Link(name); l != nil {
		return l.RTT()
	}
	return 0
}

// Probe pings the peer over l and closes l when no answer comes within
// wait: a peer whose program stopped without a word would otherwise hold
// the link until QUIC's idle timeout. It reports whether the pong came.
func (r *Router) Probe(ctx context.Context, l *peer.Link, wait time.Duration) bool {
	r.mu.Lock()
	n := time.Now().UnixNano()
	for r.probes[n] != nil {
		n++
	}
	answered := make(chan struct{})
	r.probes[n] = answered
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.probes, n)
		r.mu.Unlock()
	}()
	// Sent aside: on a dead connection even a send may wait.
	go l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_Ping{Ping: &pb.Ping{UnixMs: n}}})
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-answered:
		return true
	case <-l.Done():
	case <-ctx.Done():
	case <-t.C:
		r.cfg.Log.Info("a peer's connection does not answer; closing it", "session", r.cfg.Session, "peer", l.Remote.Name)
		l.Close(peer.CodeNoError, "no answer")
	}
	return false
}

// SayBye tells every peer the session is over and waits (at most
// Config.ByeWait) until each has hung up, so the bye is neither cut off by
// our own close nor lost with the relay's route when the session ends
// there.
func (r *Router) SayBye(reason string) {
	bye := &pb.PeerMsg{Body: &pb.PeerMsg_Bye{Bye: &pb.Bye{Reason: reason, SessionEnded: true}}}
	var sent []*peer.Link
	for _, l := range r.Links() {
		if l.Send(bye) == nil {
			sent = append(sent, l)
		}
	}
	t := time.NewTimer(r.cfg.ByeWait)
	defer t.Stop()
	for _, l := range sent {
		select {
		case <-l.Done():
		case <-t.C:
			return
		}
	}
}

// Detach closes the link to the peer of that name (its watchers are told
// as its reading ends).
func (r *Router) Detach(name string, code quic.ApplicationErrorCode, reason string) {
	r.mu.Lock()
	l := r.links[name]
	delete(r.links, name)
	r.mu.Unlock()
	if l != nil {
		l.Close(code, reason)
	}
}

// Close closes every link and takes no new ones; it waits until the
// links' readers have ended and the watchers were told.
func (r *Router) Close(reason string) {
	r.mu.Lock()
	r.closed = true
	links := r.links
	r.links = map[string]*peer.Link{}
	r.mu.Unlock()
	for _, l := range links {
		l.Close(peer.CodeEnded, reason)
	}
	r.wg.Wait()
}

func (r *Router) read(l *peer.Link) {
	defer r.wg.Done()
	var err error
	for {
		var m *pb.PeerMsg
		m, err = l.Recv()
		if err != nil {
			break
		}
		r.dispatch(l, m)
	}
	r.mu.Lock()
	current := r.links[l.Remote.Name] == l
	if current {
		delete(r.links, l.Remote.Name)
	}
	gone := current && !r.closed // once ending, a link that ends is not a peer gone
	watchers := copyOf(r.watchers)
	r.mu.Unlock()
	l.Close(peer.CodeNoError, "")
	if errors.Is(err, io.EOF) {
		err = nil
	}
	for _, w := range watchers {
		w.LinkDown(l, err)
	}
	if gone && r.cfg.Gone != nil {
		r.cfg.Gone(l, err)
	}
}

func (r *Router) dispatch(l *peer.Link, m *pb.PeerMsg) {
	switch b := m.Body.(type) {
	case nil:
		return // a kind this version does not know
	case *pb.PeerMsg_Ping:
		l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_Pong{Pong: &pb.Pong{UnixMs: b.Ping.UnixMs}}})
		return
	case *pb.PeerMsg_Pong:
		r.mu.Lock()
		if answered := r.probes[b.Pong.UnixMs]; answered != nil {
			close(answered)
			delete(r.probes, b.Pong.UnixMs)
		}
		r.mu.Unlock()
		return
	case *pb.PeerMsg_Bye:
		if !b.Bye.SessionEnded {
			return
		}
		r.mu.Lock()
		r.closed = true // the session is ending: no new links, nobody is gone
		r.mu.Unlock()
		if r.cfg.Bye != nil {
			r.cfg.Bye(l, b.Bye.Reason)
		}
		return
	case *pb.PeerMsg_Hello:
		return // only the first message of the stream, which the link read
	}
	r.mu.Lock()
	f := r.control[reflect.TypeOf(m.Body)]
	r.mu.Unlock()
	if f == nil {
		r.cfg.Log.Debug("control message with no service", "session", r.cfg.Session, "type", reflect.TypeOf(m.Body).String())
		return
	}
	f(l, m)
}

func (r *Router) acceptStreams(l *peer.Link) {
	defer r.wg.Done()
	ctx := l.Conn.Context()
	for {
		str, err := l.Conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		go r.stream(l, str)
	}
}

// stream reads a new stream's header and hands it to its service.
func (r *Router) stream(l *peer.Link, str *quic.Stream) {
	// Small: it holds the stream's head and what came with it; a service's
	// big reads then go past it, straight from the stream.
	br := bufio.NewReaderSize(str, 16<<10)
	str.SetReadDeadline(time.Now().Add(r.cfg.StreamHeadTimeout))
	kind, err := protocol.ReadHeader(br)
	var f StreamFunc
	if err == nil {
		r.mu.Lock()
		f = r.streams[kind]
		r.mu.Unlock()
	}
	if f == nil {
		str.CancelRead(CodeUnknownStream)
		str.CancelWrite(CodeUnknownStream)
		return
	}
	str.SetReadDeadline(time.Time{})
	f(l, str, br)
}

func (r *Router) readDatagrams(l *peer.Link) {
	defer r.wg.Done()
	ctx := l.Conn.Context()
	for {
		b, err := l.Conn.ReceiveDatagram(ctx)
		if err != nil {
			return
		}
		if len(b) == 0 {
			continue
		}
		r.mu.Lock()
		f := r.datagrams[b[0]]
		r.mu.Unlock()
		if f != nil {
			f(l, b[1:])
		}
	}
}
