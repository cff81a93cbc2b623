// Package relay is the Porthole relay (rendezvous) server as a library:
// agents sign in, create sessions and get nameplates; customers join with a
// nameplate; the relay routes the peers' opaque signals between them and, when
// no direct path works, forwards their end-to-end encrypted QUIC packets.
//
// The relay never learns the secret half of a session key and never sees
// plaintext: pairing is a PAKE between the peers (see package peer), and
// relayed packets are the peers' own QUIC packets.
//
// cmd/porthole-relay is a thin command around New and Serve.
package relay

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/porthole-dev/porthole/shared/internal/nonquic"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// Config configures a relay. Zero values take the defaults noted.
type Config struct {
	Listen   string // UDP address, e.g. ":7443" or "127.0.0.1:0" (default ":7443")
	DataDir  string // required: database and TLS identity
	CertFile string // optional real certificate (PEM), with KeyFile
	KeyFile  string

	KeyLifetime time.Duration // how long a session key stays valid (20m)
	// PairGrace is the least time a customer has to pair after its join
	// (1m): a joined session whose owner has not said it paired by its
	// key's expiry, or by PairGrace after the join if that is later, is
	// burned by the sweep.
	PairGrace  time.Duration
	RetireFor  time.Duration // how long a used or expired nameplate is not reused (1h)
	GuessBurst int           // failed joins/sign-ins allowed in a burst per source (10)
	GuessEvery time.Duration // one more failed attempt allowed per this (6s)
	// IPv6Prefix is the prefix length by which IPv6 addresses share a
	// source's guess limit (64: one /64, what one customer line gets). An
	// IPv4 address is a source by itself. 1 to 128.
	IPv6Prefix int
	// FailedJoinsPerMinute is the relay-wide budget of failed joins
	// (unknown, used or expired nameplates), from all sources together,
	// with a burst of as many (60). While it is spent, every join is
	// refused with CodeBusy. Negative: no relay-wide budget.
	FailedJoinsPerMinute int
	// SignInConcurrency is how many password checks (argon2id, about 19
	// MiB each) may run at once, relay-wide (4). Other sign-ins wait their
	// turn, one source after another, for at most SignInWait (5s), and are
	// then refused with CodeBusy at no cost to their guess limit.
	SignInConcurrency int
	SignInWait        time.Duration
	// Quotas of new_session, refused with CodeQuotaExceeded. Negative: no
	// quota.
	MaxWaitingPerAgent int // sessions one account has waiting for a customer (100)
	MaxWaiting         int // sessions waiting for a customer on the relay (2000)
	// MaxKeysPerAgent bounds the nameplates one account holds: its waiting
	// keys and its ended ones still kept out of use (RetireFor), so that
	// making and ending keys in a loop cannot use up the nameplates (1000).
	MaxKeysPerAgent int

	SweepEvery  time.Duration // housekeeping interval (10s)
	IdleTimeout time.Duration // QUIC idle timeout for client connections (30s)
	// IdleSessionTTL ends a joined session when neither side has been
	// connected for this long (72h); its rejoin token dies with it.
	IdleSessionTTL time.Duration

	// FilePolicy is what customers may send to agents: the contact
	// centre's inbound file transfer settings. The relay gives it to every
	// agent that signs in (SignedIn.file_policy) and enforces nothing
	// itself; the agents' apps do. nil: DefaultFilePolicy. New refuses a
	// policy the clients would reject (protocol.ValidFilePolicy).
	FilePolicy *pb.FilePolicy
}

// DefaultFilePolicy is the file policy of a relay that sets none: customers
// may send any file, of any size, without an invitation; an invitation
// lasts 10 minutes. It matches transfer.DefaultPolicy.
func DefaultFilePolicy() *pb.FilePolicy {
	return &pb.FilePolicy{Enabled: true, InvitationMs: (10 * time.Minute).Milliseconds()}
}

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = ":7443"
	}
	if c.KeyLifetime <= 0 {
		c.KeyLifetime = 20 * time.Minute
	}
	if c.PairGrace <= 0 {
		c.PairGrace = time.Minute
	}
	if c.RetireFor <= 0 {
		c.RetireFor = time.Hour
	}
	if c.GuessBurst <= 0 {
		c.GuessBurst = 10
	}
	if c.GuessEvery <= 0 {
		c.GuessEvery = 6 * time.Second
	}
	if c.IPv6Prefix == 0 {
		c.IPv6Prefix = 64
	}
	if c.FailedJoinsPerMinute == 0 {
		c.FailedJoinsPerMinute = 60
	}
	if c.SignInConcurrency <= 0 {
		c.SignInConcurrency = 4
	}
	if c.SignInWait <= 0 {
		c.SignInWait = 5 * time.Second
	}
	if c.MaxWaitingPerAgent == 0 {
		c.MaxWaitingPerAgent = 100
	}
	if c.MaxWaiting == 0 {
		c.MaxWaiting = 2000
	}
	if c.MaxKeysPerAgent == 0 {
		c.MaxKeysPerAgent = 1000
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 30 * time.Second
	}
	if c.IdleSessionTTL <= 0 {
		c.IdleSessionTTL = 72 * time.Hour
	}
	if c.FilePolicy == nil {
		c.FilePolicy = DefaultFilePolicy()
	} else {
		c.FilePolicy = proto.Clone(c.FilePolicy).(*pb.FilePolicy) // the caller keeps theirs
	}
}

// Server is a running relay.
type Server struct {
	cfg         Config
	log         *slog.Logger
	db          *bolt.DB
	hub         *hub
	udp         *net.UDPConn
	tr          *quic.Transport
	ln          *quic.Listener
	fingerprint string
	nextID      atomic.Uint64
	fw          *forwarder

	relayedPackets atomic.Uint64
	relayedBytes   atomic.Uint64
	// Tap, when set before Serve, sees every relayed packet (tests use it
	// to prove the relay only ever handles ciphertext).
	Tap func(packet []byte)
}

// New opens the relay's data folder and binds its UDP socket. Call Serve to
// start answering.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	cfg.setDefaults()
	if cfg.DataDir == "" {
		return nil, errors.New("relay: a data folder is required")
	}
	if cfg.IPv6Prefix < 1 || cfg.IPv6Prefix > 128 {
		return nil, fmt.Errorf("relay: IPv6 prefix length %d: want 1 to 128", cfg.IPv6Prefix)
	}
	if err := protocol.ValidFilePolicy(cfg.FilePolicy); err != nil {
		return nil, fmt.Errorf("relay: inbound file policy: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("relay: creating data folder: %w", err)
	}
	var cert tls.Certificate
	var err error
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		cert, err = tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	} else {
		cert, err = loadOrCreateIdentity(cfg.DataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("relay: TLS identity: %w", err)
	}
	db, err := OpenDB(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	h, err := newHub(cfg, db, log)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("relay: loading state: %w", err)
	}
	uaddr, err := net.ResolveUDPAddr("udp", cfg.Listen)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("relay: listen address: %w", err)
	}
	udp, err := net.ListenUDP("udp", uaddr)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("relay: %w", err)
	}
	resetKey, err := loadOrCreateResetKey(cfg.DataDir)
	if err != nil {
		udp.Close()
		db.Close()
		return nil, fmt.Errorf("relay: %w", err)
	}
	s := &Server{cfg: cfg, log: log, db: db, hub: h, udp: udp, fingerprint: Fingerprint(cert.Certificate[0]), fw: newForwarder(udp)}
	// A stable stateless-reset key lets a restarted relay tell clients at
	// once that their old connections are gone, so they reconnect now rather
	// than after an idle timeout.
	s.tr = &quic.Transport{Conn: nonquic.New(udp, s.forward, s.fw.flush), StatelessResetKey: resetKey}
	tlsConf := &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{protocol.ALPNRelay},
		MinVersion:   tls.VersionTLS13,
	}
	s.ln, err = s.tr.Listen(tlsConf, &quic.Config{
		MaxIdleTimeout:        cfg.IdleTimeout,
		KeepAlivePeriod:       cfg.IdleTimeout / 3,
		MaxIncomingStreams:    4,
		MaxIncomingUniStreams: -1,
	})
	if err != nil {
		udp.Close()
		db.Close()
		return nil, fmt.Errorf("relay: %w", err)
	}
	return s, nil
}

// Config is the relay's configuration, with the defaults filled in.
func (s *Server) Config() Config {
	c := s.cfg
	c.FilePolicy = proto.Clone(c.FilePolicy).(*pb.FilePolicy)
	return c
}

// Addr is the UDP address the relay listens on.
func (s *Server) Addr() net.Addr { return s.udp.LocalAddr() }

// Fingerprint is the pin clients use for this relay's certificate.
func (s *Server) Fingerprint() string { return s.fingerprint }

// Accounts gives access to the relay's agent accounts.
func (s *Server) Accounts() *Accounts { return s.hub.accounts }

// RelayedBytes is the number of payload bytes the relay has forwarded.
func (s *Server) RelayedBytes() uint64 { return s.relayedBytes.Load() }

// Serve answers clients until ctx is done, then closes everything.
func (s *Server) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.cfg.SweepEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.hub.sweep()
			}
		}
	}()
	var err error
	for {
		conn, aerr := s.ln.Accept(ctx)
		if aerr != nil {
			if ctx.Err() == nil {
				err = aerr
			}
			break
		}
		wg.Add(1)
		go func() { defer wg.Done(); s.serveConn(ctx, conn) }()
	}
	cancel()
	s.ln.Close()
	s.tr.Close()
	wg.Wait()
	s.udp.Close()
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// Relayed packets: first byte packetRelayed, then the session's relay
// channel (8 bytes, big endian), then the peer's QUIC packet. The first byte
// has both high bits clear so that QUIC stacks hand it to us as a non-QUIC
// packet on the same socket.
const (
	packetRelayed = 0x00
	packetPunch   = 0x01
	relayHeader   = 9
)

// forward relays one packet, on the socket's read path (see nonquic); it
// leaves when the read batch is done (forwarder.flush).
func (s *Server) forward(b []byte, from net.Addr) {
	if len(b) <= relayHeader || b[0] != packetRelayed {
		return
	}
	dst, ok := s.hub.forward(binary.BigEndian.Uint64(b[1:relayHeader]), addrPort(from))
	if !ok {
		return
	}
	if s.Tap != nil {
		s.Tap(b)
	}
	s.relayedPackets.Add(1)
	s.relayedBytes.Add(uint64(len(b) - relayHeader))
	s.fw.add(b, dst)
}

func addrPort(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// HelloTimeout bounds how long a new connection may take to say hello.
var HelloTimeout = 10 * time.Second

// WriteTimeout bounds one write to a client; a client that does not take a
// message within it is dropped.
var WriteTimeout = 10 * time.Second

// outQueue is how many messages may wait for one client before the relay
// gives up on it as too slow. Control messages are never dropped.
const outQueue = 512

func (s *Server) serveConn(ctx context.Context, conn *quic.Conn) {
	defer conn.CloseWithError(0, "")
	c := &client{id: s.nextID.Add(1), addr: addrPort(conn.RemoteAddr())}
	log := s.log.With("conn", c.id, "addr", c.addr)

	hctx, cancel := context.WithTimeout(ctx, HelloTimeout)
	str, err := conn.AcceptStream(hctx)
	cancel()
	if err != nil {
		return
	}
	str.SetReadDeadline(time.Now().Add(HelloTimeout))
	r := bufio.NewReader(str)
	if err := protocol.ReadHeaderKind(r, protocol.StreamControl); err != nil {
		log.Debug("bad stream header", "err", err)
		if errors.Is(err, protocol.ErrVersionMismatch) {
			// Tell the client, in our version's framing, so it can ask its
			// user to update.
			protocol.WriteHeader(str, protocol.StreamControl)
			protocol.WriteFrame(str, &pb.RelayMsg{Body: &pb.RelayMsg_Error{Error: &pb.Error{Code: protocol.CodeVersionMismatch, Message: err.Error()}}}, protocol.MaxControlFrame)
			str.Close()
			time.Sleep(100 * time.Millisecond) // let the error reach the client before the close
		}
		return
	}
	var first pb.ClientMsg
	if err := protocol.ReadFrame(r, &first, protocol.MaxControlFrame); err != nil {
		return
	}
	hello := first.GetHello()
	if hello == nil {
		return
	}
	if err := protocol.ValidateClientMsg(&first); err != nil {
		protocol.WriteHeader(str, protocol.StreamControl)
		code := protocol.CodeBadRequest
		if errors.Is(err, protocol.ErrVersionMismatch) {
			code = protocol.CodeVersionMismatch
		}
		protocol.WriteFrame(str, &pb.RelayMsg{Req: first.Req, Body: &pb.RelayMsg_Error{Error: &pb.Error{Code: code, Message: err.Error()}}}, protocol.MaxControlFrame)
		str.Close()
		time.Sleep(100 * time.Millisecond) // let the error reach the client before the close
		return
	}
	str.SetReadDeadline(time.Time{})

	out := make(chan *pb.RelayMsg, outQueue)
	var slowOnce sync.Once
	tooSlow := func() {
		slowOnce.Do(func() {
			log.Warn("client too slow; dropping it")
			conn.CloseWithError(quic.ApplicationErrorCode(1), "too slow")
		})
	}
	c.out = func(m *pb.RelayMsg) bool {
		select {
		case out <- m:
			return true
		default:
			tooSlow()
			return false
		}
	}
	s.hub.mu.Lock()
	s.hub.connect(c)
	s.hub.mu.Unlock()
	defer s.hub.disconnect(c)

	cctx, ccancel := context.WithCancel(ctx)
	defer ccancel()
	go func() {
		defer ccancel()
		if err := protocol.WriteHeader(str, protocol.StreamControl); err != nil {
			return
		}
		for {
			select {
			case <-cctx.Done():
				return
			case m := <-out:
				// A client that stops reading blocks the write once its
				// stream window is full: it is as good as gone.
				str.SetWriteDeadline(time.Now().Add(WriteTimeout))
				if err := protocol.WriteFrame(str, m, protocol.MaxControlFrame); err != nil {
					tooSlow()
					return
				}
			}
		}
	}()
	c.out(&pb.RelayMsg{Req: first.Req, Body: &pb.RelayMsg_Welcome{Welcome: &pb.Welcome{
		Version: protocol.Version, ObservedAddr: c.addr.String(), RelayId: s.fingerprint,
	}}})

	go func() {
		<-cctx.Done()
		str.CancelRead(0)
		conn.CloseWithError(0, "")
	}()
	for {
		var m pb.ClientMsg
		if err := protocol.ReadFrame(r, &m, protocol.MaxControlFrame); err != nil {
			log.Debug("connection closed", "err", err)
			return
		}
		if err := protocol.ValidateClientMsg(&m); err != nil {
			c.out(&pb.RelayMsg{Req: m.Req, Body: &pb.RelayMsg_Error{Error: &pb.Error{Code: protocol.CodeBadRequest, Message: err.Error()}}})
			continue
		}
		reply := s.handle(c, &m)
		if reply != nil && m.Req != 0 {
			reply.Req = m.Req
			c.out(reply)
		}
	}
}

func (s *Server) handle(c *client, m *pb.ClientMsg) *pb.RelayMsg {
	switch b := m.Body.(type) {
	case *pb.ClientMsg_SignIn:
		return s.hub.signIn(c, b.SignIn)
	case *pb.ClientMsg_NewSession:
		return s.hub.newSession(c)
	case *pb.ClientMsg_Attach:
		return s.hub.attach(c, b.Attach)
	case *pb.ClientMsg_EndSession:
		return s.hub.endSession(c, b.EndSession)
	case *pb.ClientMsg_Join:
		return s.hub.join(c, b.Join)
	case *pb.ClientMsg_Rejoin:
		return s.hub.rejoin(c, b.Rejoin)
	case *pb.ClientMsg_Signal:
		return s.hub.signal(c, b.Signal)
	case *pb.ClientMsg_Paired:
		return s.hub.paired(c, b.Paired)
	case *pb.ClientMsg_NewKey:
		return s.hub.newKey(c, b.NewKey)
	case *pb.ClientMsg_Ping:
		return &pb.RelayMsg{Body: &pb.RelayMsg_Pong{Pong: &pb.Pong{UnixMs: b.Ping.UnixMs}}}
	case *pb.ClientMsg_Hello:
		return relayError(protocol.CodeBadRequest, "hello twice")
	}
	return nil // unknown message: skipped
}
