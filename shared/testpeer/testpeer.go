// Package testpeer plays one side of a Porthole session in-process, for
// tests in any module: a real relay, a customer or an agent built only from
// shared packages, so that the app logic under test (the agent console, the
// customer client) meets a real counterpart over real QUIC on loopback.
//
// Nothing here is a mock. StartRelay runs a relay.Server on 127.0.0.1:0
// with its bbolt database in a temporary folder. Customer and Agent each own
// a peer.Endpoint (one UDP socket) and a relayclient.Client on it, pair with
// the PAKE through the relay, and connect directly or through the relay, in
// the same order and with the same messages as customer/internal/client and
// agent/internal/console. Each side keeps its chat in a real appdb database.
//
// Helpers that can only fail because the test setup is broken call
// tb.Fatal; steps a test may want to see fail (Customer.Join,
// Customer.Connect, Agent.Paired) return errors. Everything is closed with
// tb.Cleanup. Every wait is bounded by Timeout.
package testpeer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/chat"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/relay"
	"github.com/porthole-dev/porthole/shared/relayclient"
	"github.com/porthole-dev/porthole/shared/session"
)

// The agent account StartRelay creates.
const (
	AgentName     = "alice"
	AgentPassword = "correct horse battery"
)

// CustomerName is the customer's display name unless CustomerOptions.Name
// says otherwise.
const CustomerName = "bob"

// Software is what both test peers put in their hellos.
const Software = "porthole-testpeer/1"

// Timeout bounds every wait in this package (and is a sensible bound for
// the tests that use it): generous, because it only matters when something
// is broken.
const Timeout = 20 * time.Second

// Receive returns the next value from ch, failing the test when none comes
// within Timeout. what names the value in the failure message.
func Receive[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	t := time.NewTimer(Timeout)
	defer t.Stop()
	select {
	case v := <-ch:
		return v
	case <-t.C:
		tb.Fatalf("no %s within %v", what, Timeout)
		panic("unreachable")
	}
}

func discard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func timeoutCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), Timeout)
}

// ---- relay ----

// RelayOption changes how StartRelay starts the relay.
type RelayOption func(*relayOptions)

type relayOptions struct {
	tap    func([]byte)
	config func(*relay.Config)
	log    *slog.Logger
}

// WithTap sets relay.Server.Tap before Serve: tap sees every packet the
// relay forwards on the relayed path (header included). It runs on the
// relay's forwarding goroutine, and the slice is reused afterwards: copy
// what you keep.
func WithTap(tap func(packet []byte)) RelayOption {
	return func(o *relayOptions) { o.tap = tap }
}

// WithConfig lets a test change the relay's configuration (Listen and
// DataDir are already set).
func WithConfig(f func(*relay.Config)) RelayOption {
	return func(o *relayOptions) { o.config = f }
}

// WithRelayLog sends the relay's log to l.
func WithRelayLog(l *slog.Logger) RelayOption {
	return func(o *relayOptions) { o.log = l }
}

// StartRelay runs a real relay on 127.0.0.1:0 with its data in a temporary
// folder and the agent account AgentName/AgentPassword. It returns the
// server, its address and its certificate fingerprint (for
// relayclient.Options.Fingerprint). The relay stops when the test ends.
func StartRelay(tb testing.TB, opts ...RelayOption) (*relay.Server, string, string) {
	tb.Helper()
	var o relayOptions
	for _, f := range opts {
		f(&o)
	}
	cfg := relay.Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(tb.TempDir(), "relay")}
	if o.config != nil {
		o.config(&cfg)
	}
	srv, err := relay.New(cfg, discard(o.log))
	if err != nil {
		tb.Fatalf("starting the relay: %v", err)
	}
	srv.Tap = o.tap
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				tb.Errorf("relay: %v", err)
			}
		case <-time.After(Timeout):
			tb.Errorf("the relay did not stop within %v", Timeout)
		}
	})
	if err := srv.Accounts().Add(AgentName, AgentPassword); err != nil {
		tb.Fatalf("adding the agent account: %v", err)
	}
	return srv, srv.Addr().String(), srv.Fingerprint()
}

// ---- shared plumbing ----

// side is what both test peers own: a socket, a relay connection on it, an
// app database, and the channels their conversation reports to.
type side struct {
	EP *peer.Endpoint      // the one UDP socket
	RC *relayclient.Client // the relay connection on it (no reconnection)
	DB *appdb.DB           // this side's app database

	// Messages receives every chat message received from the other side
	// (stored, acknowledged, duplicates dropped). Drain it when a test
	// exchanges more than a few hundred messages.
	Messages <-chan appdb.Message
	// Ended receives the reason of each Bye that ended the session.
	Ended <-chan string
	// Down receives the error of each link that went down (nil: closed
	// cleanly).
	Down <-chan error
	// RelayEnded receives the reason when the relay says the session ended.
	RelayEnded <-chan string

	messages   chan appdb.Message
	ended      chan string
	down       chan error
	relayEnded chan string

	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	session string
	sig     *relayclient.Signals
}

func newSide(tb testing.TB, role pb.Role, relayAddr, fingerprint string, log *slog.Logger) *side {
	tb.Helper()
	s := &side{
		messages: make(chan appdb.Message, 1024), ended: make(chan string, 8),
		down: make(chan error, 64), relayEnded: make(chan string, 8), log: discard(log),
	}
	s.Messages, s.Ended, s.Down, s.RelayEnded = s.messages, s.ended, s.down, s.relayEnded
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var err error
	if s.DB, err = appdb.Open(tb.TempDir()); err != nil {
		tb.Fatalf("opening the app database: %v", err)
	}
	if s.EP, err = peer.NewEndpoint("127.0.0.1:0", s.log); err != nil {
		s.DB.Close()
		tb.Fatalf("binding the peer socket: %v", err)
	}
	s.RC, err = relayclient.New(s.EP.Transport(), relayclient.Options{
		Addr: relayAddr, Fingerprint: fingerprint, Role: role, Software: Software, Log: s.log,
		OnMessage: s.onRelayMsg,
	})
	if err != nil {
		s.EP.Close()
		s.DB.Close()
		tb.Fatalf("relay client: %v", err)
	}
	tb.Cleanup(s.close)
	ctx, cancel := timeoutCtx()
	defer cancel()
	if err := s.RC.Connect(ctx); err != nil {
		tb.Fatalf("connecting to the relay at %s: %v", relayAddr, err)
	}
	return s
}

func (s *side) close() {
	s.cancel()
	s.RC.Close()
	s.EP.Close()
	s.DB.Close()
}

// setSession routes the session's signals to a new mailbox.
func (s *side) setSession(id string) *relayclient.Signals {
	sig := relayclient.NewSignals(s.RC, id)
	s.mu.Lock()
	s.session, s.sig = id, sig
	s.mu.Unlock()
	return sig
}

// Mailbox routes the signals of session id to a new mailbox and returns it,
// for a test that plays a side's signals itself.
func (s *side) Mailbox(id string) *relayclient.Signals { return s.setSession(id) }

func (s *side) signals() *relayclient.Signals {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sig
}

func (s *side) onRelayMsg(m *pb.RelayMsg) {
	s.mu.Lock()
	id, sig := s.session, s.sig
	s.mu.Unlock()
	switch b := m.Body.(type) {
	case *pb.RelayMsg_Signal:
		if sig != nil && b.Signal.Session == id {
			sig.Deliver(b.Signal.Payload)
		}
	case *pb.RelayMsg_SessionEnded:
		if b.SessionEnded.Session == id {
			offer(s.relayEnded, b.SessionEnded.Reason)
		}
	}
}

// offer sends without blocking: the handlers that call it run on
// goroutines that must not stall.
func offer[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// conversation makes the session's router, as the apps do, with the chat
// as its one service; Down and Ended hear what the router says.
func (s *side) conversation(id, me string, role pb.Role) (*session.Router, *chat.Conversation) {
	r := session.New(session.Config{
		Session: id, Log: s.log,
		Gone: func(_ *peer.Link, err error) { offer(s.down, err) },
		Bye:  func(_ *peer.Link, reason string) { offer(s.ended, reason) },
	})
	conv := chat.New(s.DB, r, me, role, chat.Handlers{
		Message: func(m appdb.Message) {
			if !m.Outgoing {
				s.messages <- m
			}
		},
	}, s.log)
	return r, conv
}

func hello(role pb.Role, name string) *pb.Hello {
	return &pb.Hello{Version: protocol.Version, Role: role, Software: Software, Name: name}
}

// ---- customer ----

// CustomerOptions configure a test customer.
type CustomerOptions struct {
	Relay       string // relay address (required)
	Fingerprint string // relay certificate pin (required for StartRelay's relay)
	Key         string // the session key the agent gave
	Name        string // display name in the hello (default CustomerName)
	ForceRelay  bool   // skip the direct path
	// IdentityKey, when set, replaces the PAKE session key when deriving
	// this side's peer identity: the customer then plays an impostor that
	// did not take part in the pairing.
	IdentityKey []byte
	Log         *slog.Logger
}

// Customer is the customer side of a session, as customer/internal/client
// runs it: join with the nameplate, PAKE with the secret, offer candidates,
// direct path or relay fallback, open the control stream, chat. Its
// socket, relay connection, database and event channels are the promoted
// fields EP, RC, DB, Messages, Ended, Down and RelayEnded.
type Customer struct {
	*side
	opts    CustomerOptions
	attempt uint64

	// Set by Join.
	Session    string
	Channel    uint64
	AgentName  string             // the session owner, as the relay names it
	SessionKey []byte             // the PAKE result
	Router     *session.Router    // the session's links: Connect attaches each
	Conv       *chat.Conversation // the chat, a service of Router

	// Set by each successful Connect.
	Link *peer.Link
	Path peer.Path
}

// NewCustomer binds a customer's socket on 127.0.0.1:0 and connects it to
// the relay. It does not join yet.
func NewCustomer(tb testing.TB, o CustomerOptions) *Customer {
	tb.Helper()
	if o.Name == "" {
		o.Name = CustomerName
	}
	return &Customer{side: newSide(tb, pb.Role_ROLE_CUSTOMER, o.Relay, o.Fingerprint, o.Log), opts: o}
}

// JoinCustomer is NewCustomer, Join and Connect, failing the test on any
// error.
func JoinCustomer(tb testing.TB, o CustomerOptions) *Customer {
	tb.Helper()
	c := NewCustomer(tb, o)
	ctx, cancel := timeoutCtx()
	defer cancel()
	if err := c.Join(ctx); err != nil {
		tb.Fatalf("customer join: %v", err)
	}
	if err := c.Connect(ctx); err != nil {
		tb.Fatalf("customer connect: %v", err)
	}
	return c
}

// Join joins the session named by the key's nameplate and pairs with the
// agent. A relay refusal comes back as *relayclient.Error; a wrong secret as
// an error matching peer.ErrPakeFailed. As the real client does, a failed
// pairing ends the session on the relay.
func (c *Customer) Join(ctx context.Context) error {
	nameplate, secret, err := protocol.ParseKey(c.opts.Key)
	if err != nil {
		return err
	}
	rep, err := c.RC.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_Join{Join: &pb.Join{Nameplate: nameplate}}})
	if err != nil {
		return err
	}
	j := rep.GetJoined()
	if j == nil {
		return fmt.Errorf("unexpected answer to join: %v", rep)
	}
	c.Session, c.Channel, c.AgentName = j.Session, j.RelayChannel, j.AgentName
	sig := c.setSession(j.Session)
	key, err := peer.PairCustomer(ctx, sig, j.Session, nameplate, secret)
	if err != nil {
		ectx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.RC.Request(ectx, &pb.ClientMsg{Body: &pb.ClientMsg_EndSession{EndSession: &pb.EndSession{Session: j.Session, Reason: "pairing failed: wrong session key"}}})
		cancel()
		return err
	}
	c.SessionKey = key
	c.Router, c.Conv = c.conversation(j.Session, c.opts.Name, pb.Role_ROLE_CUSTOMER)
	return nil
}

// Connect makes one connection attempt (direct, then relayed unless
// ForceRelay), opens the control stream and attaches it to Router. It may be
// called again to reconnect. An impostor's attempt fails with an error
// matching peer.ErrWrongPeer.
func (c *Customer) Connect(ctx context.Context) error {
	if c.SessionKey == nil {
		return errors.New("join first")
	}
	key := c.SessionKey
	if c.opts.IdentityKey != nil {
		key = c.opts.IdentityKey
	}
	id, err := peer.NewIdentity(key, c.Session, false)
	if err != nil {
		return err
	}
	c.attempt++
	sig := c.signals()
	sig.Drain()
	sealer, err := peer.NewSealer(c.SessionKey, c.Session, false)
	if err != nil {
		return err
	}
	l, err := peer.Dial(ctx, c.EP, sig, peer.ConnectOptions{
		Identity: id, Sealer: sealer, Channel: c.Channel, Relay: c.RC.RelayAddr(), Observed: c.RC.Observed(),
		ForceRelay: c.opts.ForceRelay, Attempt: uint64(time.Now().UnixNano())<<8 | c.attempt&0xff,
	}, hello(pb.Role_ROLE_CUSTOMER, c.opts.Name))
	if err != nil {
		return err
	}
	c.Router.Attach(l)
	c.Link, c.Path = l, l.Path
	return nil
}

// ---- agent ----

// AgentOptions configure a test agent.
type AgentOptions struct {
	Relay       string // relay address (required)
	Fingerprint string // relay certificate pin
	Name        string // account name (default AgentName)
	HelloName   string // the name its peer hello gives (default Name): another plays an agent posing as someone else
	Password    string // default AgentPassword
	ForceRelay  bool   // answer candidates with "use the relay"
	// IdentityKey, when set, replaces the PAKE session key when deriving
	// this side's peer identity: the agent then plays an impostor.
	IdentityKey []byte
	Log         *slog.Logger
}

// Agent is the agent side of one session, as agent/internal/console runs
// it: sign in, create a session, answer the customer's PAKE, candidates and
// relay requests, accept the customer's connections and chat. Its socket,
// relay connection, database and event channels are the promoted fields
// EP, RC, DB, Messages, Ended, Down and RelayEnded.
type Agent struct {
	*side
	opts AgentOptions

	Session   string
	Nameplate string // from the relay
	Secret    string // made here, never sent anywhere
	Key       string // nameplate-secret, what a customer types
	Channel   uint64
	Router    *session.Router    // every accepted link is attached to it
	Conv      *chat.Conversation // the chat, a service of Router

	links     chan *peer.Link
	agentSide *peer.AgentSide // the session's signalling, as the console runs it

	mu       sync.Mutex
	pairDone chan struct{}
	pairKey  []byte
	pairErr  error
}

// StartAgent binds an agent's socket on 127.0.0.1:0, signs in, creates a
// session and starts answering its signals. The customer joins with Key.
func StartAgent(tb testing.TB, o AgentOptions) *Agent {
	tb.Helper()
	if o.Name == "" {
		o.Name = AgentName
	}
	if o.Password == "" {
		o.Password = AgentPassword
	}
	a := &Agent{side: newSide(tb, pb.Role_ROLE_AGENT, o.Relay, o.Fingerprint, o.Log), opts: o,
		links: make(chan *peer.Link, 64), pairDone: make(chan struct{})}
	ctx, cancel := timeoutCtx()
	defer cancel()
	rep, err := a.RC.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_SignIn{SignIn: &pb.SignIn{Name: o.Name, Password: o.Password}}})
	if err != nil || rep.GetSignedIn() == nil {
		tb.Fatalf("agent sign-in: %v %v", rep, err)
	}
	rep, err = a.RC.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_NewSession{NewSession: &pb.NewSession{}}})
	sc := rep.GetSessionCreated()
	if err != nil || sc == nil {
		tb.Fatalf("new session: %v %v", rep, err)
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		tb.Fatal(err)
	}
	a.Session, a.Nameplate, a.Channel = sc.Session, sc.Nameplate, sc.RelayChannel
	a.Secret = fmt.Sprintf("%06d", n.Int64())
	a.Key = protocol.FormatKey(a.Nameplate, a.Secret)
	a.Router, a.Conv = a.conversation(a.Session, o.Name, pb.Role_ROLE_AGENT)
	a.agentSide = peer.NewAgentSide(peer.AgentSideConfig{
		Endpoint: a.EP, Signaler: a.setSession(a.Session), Session: a.Session, Channel: a.Channel,
		Relay: a.RC.RelayAddr, Observed: a.RC.Observed, ForceRelay: o.ForceRelay, IdentityKey: o.IdentityKey,
		Accepted: a.accepted, Paired: a.paired, Failed: a.pairingFailed, Log: a.log,
	})
	a.agentSide.StartPairing(a.Nameplate, a.Secret)
	go a.agentSide.Run(a.ctx)
	return a
}

// Paired waits for the outcome of the pairing: the session key, or the
// error that ended it (matching peer.ErrPakeFailed for a wrong secret).
func (a *Agent) Paired(ctx context.Context) ([]byte, error) {
	select {
	case <-a.pairDone:
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.pairKey, a.pairErr
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// NextLink waits for the next customer connection the agent accepted (and
// attached to Router).
func (a *Agent) NextLink(ctx context.Context) (*peer.Link, error) {
	select {
	case l := <-a.links:
		return l, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// WaitLink is NextLink bounded by Timeout, failing the test when no
// connection comes.
func (a *Agent) WaitLink(tb testing.TB) *peer.Link {
	tb.Helper()
	return Receive(tb, a.links, "customer connection at the agent")
}

func (a *Agent) finishPairing(key []byte, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-a.pairDone:
		return
	default:
	}
	a.pairKey, a.pairErr = key, err
	close(a.pairDone)
}

// paired records the PAKE's session key and, as the console does, tells
// the relay the session paired (else its sweep burns it at the key's
// expiry); the agent side then starts accepting the customer.
func (a *Agent) paired(key []byte) error {
	a.finishPairing(key, nil)
	go func() {
		ctx, cancel := timeoutCtx()
		defer cancel()
		a.RC.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_Paired{Paired: &pb.Paired{Session: a.Session}}})
	}()
	return nil
}

// pairingFailed records the failure and, as the console does, ends the
// session on the relay.
func (a *Agent) pairingFailed(err error) {
	a.finishPairing(nil, err)
	ctx, cancel := timeoutCtx()
	a.RC.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_EndSession{EndSession: &pb.EndSession{Session: a.Session, Reason: "pairing failed: wrong session key"}}})
	cancel()
}

func (a *Agent) accepted(conn *quic.Conn, path peer.Path) {
	name := a.opts.Name
	if a.opts.HelloName != "" {
		name = a.opts.HelloName
	}
	l, err := peer.AcceptLink(a.ctx, conn, path, hello(pb.Role_ROLE_AGENT, name))
	if err != nil {
		conn.CloseWithError(peer.CodeProtocol, "hello failed")
		a.log.Info("peer hello failed", "err", err)
		return
	}
	if l.Remote.Role != pb.Role_ROLE_CUSTOMER {
		l.Close(peer.CodeProtocol, "expected a customer")
		return
	}
	a.Router.Attach(l)
	offer(a.links, l)
}

// End ends the session as the console does: a Bye on the link, then the
// relay's EndSession.
func (a *Agent) End(ctx context.Context, reason string) error {
	a.Router.SayBye(reason)
	_, err := a.RC.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_EndSession{EndSession: &pb.EndSession{Session: a.Session, Reason: reason}}})
	return err
}
