// Package benchkit is the in-process machinery of Porthole's benchmarks: an
// in-process relay, agents and customers built from the shared packages
// (relayclient, peer) exactly as the apps use them, plain quic-go baselines,
// and the measurements (pairing phases, chat round trips, bulk transfers).
//
// The testing.B benchmarks in package peer and the benchmark driver
// (shared/dev/internal/benchcmd) both use it.
package benchkit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/relay"
	"github.com/porthole-dev/porthole/shared/relayclient"
)

// Software is the hello software string of benchmark clients.
const Software = "porthole-bench/1"

var discard = slog.New(slog.DiscardHandler)

// Relay is an in-process relay.Server.
type Relay struct {
	Srv         *relay.Server
	Addr        string
	Fingerprint string
	cancel      context.CancelFunc
	done        chan error
}

// StartRelay runs a relay on 127.0.0.1 with its data in dir and the given
// agent accounts (name -> password).
func StartRelay(dir string, accounts map[string]string) (*Relay, error) {
	srv, err := relay.New(relay.Config{Listen: "127.0.0.1:0", DataDir: dir}, discard)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Relay{Srv: srv, Addr: srv.Addr().String(), Fingerprint: srv.Fingerprint(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- srv.Serve(ctx) }()
	for name, pw := range accounts {
		if err := srv.Accounts().Add(name, pw); err != nil && !errors.Is(err, relay.ErrAccountExists) {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// Close stops the relay and waits for it.
func (r *Relay) Close() error {
	r.cancel()
	return <-r.done
}

// AgentOptions configure an in-process agent.
type AgentOptions struct {
	Relay, Fingerprint string
	Name, Password     string
	Listen             string // default "0.0.0.0:0", as the apps
	ForceRelay         bool
}

// Agent is an in-process agent: one endpoint and one relay connection,
// signed in, serving any number of sessions as the agent console does
// (PAKE, candidates, relayed listener, accepting the customer's link).
type Agent struct {
	opts AgentOptions
	EP   *peer.Endpoint
	RC   *relayclient.Client

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	sessions map[string]*AgentSession
}

// AgentSession is one session of an Agent.
type AgentSession struct {
	a                     *Agent
	ID, Nameplate, Secret string
	Channel               uint64
	sig                   *relayclient.Signals
	side                  *peer.AgentSide // the session's signalling, as the console runs it
	ctx                   context.Context
	cancel                context.CancelFunc
	links                 chan *peer.Link
	errs                  chan error
	pairedOnce            sync.Once
	paired                chan struct{}
}

// NewAgent connects an agent to the relay and signs it in.
func NewAgent(ctx context.Context, o AgentOptions) (*Agent, error) {
	if o.Listen == "" {
		o.Listen = "0.0.0.0:0"
	}
	ep, err := peer.NewEndpoint(o.Listen, discard)
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithCancel(context.Background())
	a := &Agent{opts: o, EP: ep, ctx: actx, cancel: cancel, sessions: map[string]*AgentSession{}}
	a.RC, err = relayclient.New(ep.Transport(), relayclient.Options{
		Addr: o.Relay, Fingerprint: o.Fingerprint, Role: pb.Role_ROLE_AGENT, Software: Software,
		OnConnect: func(ctx context.Context, rc *relayclient.Client) error {
			rep, err := rc.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_SignIn{SignIn: &pb.SignIn{Name: o.Name, Password: o.Password}}})
			if err != nil {
				return fmt.Errorf("sign-in: %w", err)
			}
			if rep.GetSignedIn() == nil {
				return errors.New("sign-in: unexpected answer")
			}
			return nil
		},
		OnMessage: a.onMessage,
	})
	if err == nil {
		err = a.RC.Connect(ctx)
	}
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// Close ends the agent's sessions locally, its relay connection and its
// endpoint.
func (a *Agent) Close() {
	a.cancel()
	if a.RC != nil {
		a.RC.Close()
	}
	a.EP.Close()
}

func (a *Agent) onMessage(m *pb.RelayMsg) {
	if s := m.GetSignal(); s != nil {
		a.mu.Lock()
		as := a.sessions[s.Session]
		a.mu.Unlock()
		if as != nil {
			as.sig.Deliver(s.Payload)
		}
	}
}

func randomSecret() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	return fmt.Sprintf("%06d", n.Int64())
}

// NewSession asks the relay for a session and makes its key.
func (a *Agent) NewSession(ctx context.Context) (*AgentSession, error) {
	rep, err := a.RC.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_NewSession{NewSession: &pb.NewSession{}}})
	if err != nil {
		return nil, err
	}
	sc := rep.GetSessionCreated()
	if sc == nil {
		return nil, errors.New("new session: unexpected answer")
	}
	sctx, cancel := context.WithCancel(a.ctx)
	s := &AgentSession{
		a: a, ID: sc.Session, Nameplate: sc.Nameplate, Secret: randomSecret(), Channel: sc.RelayChannel,
		sig: relayclient.NewSignals(a.RC, sc.Session), ctx: sctx, cancel: cancel,
		links: make(chan *peer.Link, 4), errs: make(chan error, 4), paired: make(chan struct{}),
	}
	s.side = peer.NewAgentSide(peer.AgentSideConfig{
		Endpoint: a.EP, Signaler: s.sig, Session: s.ID, Channel: s.Channel,
		Relay: a.RC.RelayAddr, Observed: a.RC.Observed, ForceRelay: a.opts.ForceRelay,
		Accepted: s.accepted, Paired: s.pakeDone, Error: s.fail,
		Failed: func(err error) { s.fail(fmt.Errorf("pairing: %w", err)) },
	})
	s.side.StartPairing(s.Nameplate, s.Secret)
	a.mu.Lock()
	a.sessions[s.ID] = s
	a.mu.Unlock()
	go s.side.Run(s.ctx)
	return s, nil
}

// EndSession ends a session on the relay and forgets it.
func (a *Agent) EndSession(ctx context.Context, s *AgentSession) error {
	a.mu.Lock()
	delete(a.sessions, s.ID)
	a.mu.Unlock()
	s.cancel()
	s.side.Stop()
	_, err := a.RC.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_EndSession{EndSession: &pb.EndSession{Session: s.ID}}})
	return err
}

// Key is the session key the agent reads out to the customer.
func (s *AgentSession) Key() string { return protocol.FormatKey(s.Nameplate, s.Secret) }

// Paired is closed once the PAKE is confirmed on the agent side.
func (s *AgentSession) Paired() <-chan struct{} { return s.paired }

// Link waits for the next peer link the customer makes.
func (s *AgentSession) Link(ctx context.Context) (*peer.Link, error) {
	select {
	case l := <-s.links:
		return l, nil
	case err := <-s.errs:
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *AgentSession) fail(err error) {
	select {
	case s.errs <- err:
	default:
	}
}

// pakeDone closes Paired once the PAKE is confirmed on the agent side.
func (s *AgentSession) pakeDone([]byte) error {
	s.pairedOnce.Do(func() { close(s.paired) })
	return nil
}

func (s *AgentSession) accepted(conn *quic.Conn, path peer.Path) {
	l, err := peer.AcceptLink(s.ctx, conn, path, &pb.Hello{
		Version: protocol.Version, Role: pb.Role_ROLE_AGENT, Software: Software, Name: s.a.opts.Name,
	})
	if err != nil {
		// As the console does: a connection without a hello is dropped.
		// The customer's direct dial tries every candidate at once and
		// closes the losers ("another path won"), so this is routine.
		conn.CloseWithError(peer.CodeProtocol, "hello failed")
		return
	}
	select {
	case s.links <- l:
	default:
		l.Close(peer.CodeRefused, "benchmark agent is not taking more links")
	}
}

// CustomerOptions configure an in-process customer.
type CustomerOptions struct {
	Relay, Fingerprint string
	Key                string
	Name               string // default "bob"
	Listen             string // default "0.0.0.0:0", as the apps
	ForceRelay         bool
	NoLink             bool // stop after the PAKE: no peer connection
}

// Phases are the steps from "key entered" to a usable link, as the customer
// client takes them.
type Phases struct {
	Dial    time.Duration // endpoint + relay connection (QUIC handshake, hello)
	Join    time.Duration // Join request
	Pake    time.Duration // PAKE and key confirmation through the relay
	Connect time.Duration // candidates, direct (or relayed) peer QUIC handshake
	Link    time.Duration // control stream and hello exchange
	Total   time.Duration
}

// Customer is an in-process customer.
type Customer struct {
	EP      *peer.Endpoint
	RC      *relayclient.Client
	Session string
	Channel uint64
	Link    *peer.Link

	mu  sync.Mutex
	sig *relayclient.Signals
}

// Join does what the customer client does with a key: connect to the relay,
// join, pair, connect to the agent and open the link.
func Join(ctx context.Context, o CustomerOptions) (*Customer, Phases, error) {
	var ph Phases
	if o.Listen == "" {
		o.Listen = "0.0.0.0:0"
	}
	if o.Name == "" {
		o.Name = "bob"
	}
	nameplate, secret, err := protocol.ParseKey(o.Key)
	if err != nil {
		return nil, ph, err
	}
	t0 := time.Now()
	ep, err := peer.NewEndpoint(o.Listen, discard)
	if err != nil {
		return nil, ph, err
	}
	c := &Customer{EP: ep}
	c.RC, err = relayclient.New(ep.Transport(), relayclient.Options{
		Addr: o.Relay, Fingerprint: o.Fingerprint, Role: pb.Role_ROLE_CUSTOMER, Software: Software,
		OnMessage: c.onMessage,
	})
	if err == nil {
		err = c.RC.Connect(ctx)
	}
	if err != nil {
		c.Close()
		return nil, ph, fmt.Errorf("relay: %w", err)
	}
	t1 := time.Now()
	ph.Dial = t1.Sub(t0)
	rep, err := c.RC.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_Join{Join: &pb.Join{Nameplate: nameplate}}})
	if err != nil {
		c.Close()
		return nil, ph, fmt.Errorf("join: %w", err)
	}
	j := rep.GetJoined()
	if j == nil {
		c.Close()
		return nil, ph, errors.New("join: unexpected answer")
	}
	sig := relayclient.NewSignals(c.RC, j.Session)
	c.mu.Lock()
	c.Session, c.Channel, c.sig = j.Session, j.RelayChannel, sig
	c.mu.Unlock()
	t2 := time.Now()
	ph.Join = t2.Sub(t1)
	key, err := peer.PairCustomer(ctx, sig, j.Session, nameplate, secret)
	if err != nil {
		c.Close()
		return nil, ph, fmt.Errorf("pake: %w", err)
	}
	t3 := time.Now()
	ph.Pake = t3.Sub(t2)
	if o.NoLink {
		ph.Total = t3.Sub(t0)
		return c, ph, nil
	}
	id, err := peer.NewIdentity(key, j.Session, false)
	if err != nil {
		c.Close()
		return nil, ph, err
	}
	sealer, err := peer.NewSealer(key, j.Session, false)
	if err != nil {
		c.Close()
		return nil, ph, err
	}
	conn, path, err := peer.Connect(ctx, ep, sig, peer.ConnectOptions{
		Identity: id, Sealer: sealer, Channel: j.RelayChannel, Relay: c.RC.RelayAddr(), Observed: c.RC.Observed(),
		ForceRelay: o.ForceRelay, Attempt: 1,
	})
	if err != nil {
		c.Close()
		return nil, ph, fmt.Errorf("connect: %w", err)
	}
	t4 := time.Now()
	ph.Connect = t4.Sub(t3)
	l, err := peer.OpenAgentLink(ctx, conn, path, &pb.Hello{
		Version: protocol.Version, Role: pb.Role_ROLE_CUSTOMER, Software: Software, Name: o.Name,
	})
	if err != nil {
		c.Close()
		return nil, ph, fmt.Errorf("link: %w", err)
	}
	c.Link = l
	t5 := time.Now()
	ph.Link = t5.Sub(t4)
	ph.Total = t5.Sub(t0)
	return c, ph, nil
}

func (c *Customer) onMessage(m *pb.RelayMsg) {
	s := m.GetSignal()
	if s == nil {
		return
	}
	c.mu.Lock()
	sig, id := c.sig, c.Session
	c.mu.Unlock()
	if sig != nil && s.Session == id {
		sig.Deliver(s.Payload)
	}
}

// Close closes the customer's endpoint (and with it the relay connection
// and the link).
//
// The endpoint goes first on purpose: peer.Endpoint.Close holds the
// endpoint's lock while it closes each relayed vconn's once, and
// vconn.Close holds that once while it takes the endpoint's lock (through
// dropChannel). Closing the link first makes DialRelayed's watcher call
// vconn.Close concurrently with Endpoint.Close, which can deadlock (seen in
// BenchmarkPair/relayed). See the report for the fix in endpoint.go.
func (c *Customer) Close() {
	c.EP.Close()
	if c.RC != nil {
		c.RC.Close()
	}
	if c.Link != nil {
		c.Link.Close(peer.CodeNoError, "")
	}
}

// Pair is an agent session with its customer connected.
type Pair struct {
	Agent     *Agent
	Session   *AgentSession
	Customer  *Customer
	AgentLink *peer.Link
	Phases    Phases
}

// NewPair makes a session on a, joins it with a fresh customer and waits
// until both sides hold the link.
func NewPair(ctx context.Context, a *Agent, co CustomerOptions) (*Pair, error) {
	s, err := a.NewSession(ctx)
	if err != nil {
		return nil, fmt.Errorf("new session: %w", err)
	}
	co.Key = s.Key()
	if co.Relay == "" {
		co.Relay, co.Fingerprint = a.opts.Relay, a.opts.Fingerprint
	}
	c, ph, err := Join(ctx, co)
	if err != nil {
		a.EndSession(ctx, s)
		return nil, err
	}
	p := &Pair{Agent: a, Session: s, Customer: c, Phases: ph}
	if co.NoLink {
		return p, nil
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if p.AgentLink, err = s.Link(lctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("agent link: %w", err)
	}
	return p, nil
}

// Close ends the pair's session and closes the customer.
func (p *Pair) Close() {
	p.Customer.Close()
	if p.AgentLink != nil {
		p.AgentLink.Close(peer.CodeEnded, "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.Agent.EndSession(ctx, p.Session)
}

// NewPairFor is NewPair with a default customer on the direct path, or on
// the relayed one when forceRelay is set.
func (a *Agent) NewPairFor(ctx context.Context, forceRelay bool) (*Pair, error) {
	return NewPair(ctx, a, CustomerOptions{ForceRelay: forceRelay})
}
