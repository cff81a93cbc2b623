// Package peer makes the end-to-end encrypted QUIC connection between an
// agent and a customer: PAKE pairing over relay signals, identities bound to
// the PAKE key, a direct path from the same UDP socket that talks to the
// relay, and a relayed path where the relay forwards the very same QUIC
// packets. Nothing above this package knows which path is in use.
//
// The apps (and the test and benchmark peers) take a session's two sides
// from here as they are: AgentSide answers the customer's signals for one
// session on the agent, and Dial is one connection attempt of the customer.
package peer

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/internal/nonquic"
)

// Path is how the peer connection's packets travel.
type Path string

const (
	PathDirect  Path = "direct"
	PathRelayed Path = "relayed"
)

// Packet kinds that share the socket with QUIC (both high bits clear, so QUIC
// hands them to us). The relay uses the same layout.
const (
	packetRelayed = 0x00 // then 8 bytes of channel, then a QUIC packet
	packetPunch   = 0x01 // hole punching; ignored on receipt
	relayHeader   = 9
)

func appendChannel(b []byte, ch uint64) []byte { return binary.BigEndian.AppendUint64(b, ch) }

// PeerQUICConfig is the QUIC configuration of peer connections. Tests may
// shorten the timeouts.
var PeerQUICConfig = quic.Config{
	MaxIdleTimeout:                 20 * time.Second,
	KeepAlivePeriod:                5 * time.Second,
	HandshakeIdleTimeout:           5 * time.Second,
	MaxIncomingStreams:             1000,
	InitialStreamReceiveWindow:     4 << 20,
	MaxStreamReceiveWindow:         16 << 20,
	InitialConnectionReceiveWindow: 8 << 20,
	MaxConnectionReceiveWindow:     32 << 20,
	EnableDatagrams:                true,
}

// Accepted is called for each peer connection an agent-side endpoint
// accepts for a registered session.
type Accepted func(conn *quic.Conn, path Path)

type registration struct {
	id       *Identity
	accepted Accepted
}

// Endpoint owns one UDP socket and the QUIC transport on it. The relay
// connection, direct peer connections (dialled and accepted) and relayed
// packets all share it, so the relay sees the same address the peers punch
// from.
type Endpoint struct {
	udp *net.UDPConn
	tr  *quic.Transport
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	channels map[uint64]*vconn
	sessions map[string]registration
	ln       *quic.Listener
}

// NewEndpoint binds a UDP socket (listen is like "0.0.0.0:0").
func NewEndpoint(listen string, log *slog.Logger) (*Endpoint, error) {
	ua, err := net.ResolveUDPAddr("udp", listen)
	if err != nil {
		return nil, err
	}
	udp, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("binding UDP socket: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Endpoint{
		udp: udp, log: log, ctx: ctx, cancel: cancel,
		channels: map[uint64]*vconn{}, sessions: map[string]registration{},
	}
	e.tr = &quic.Transport{Conn: nonquic.New(udp, e.demux, nil)}
	return e, nil
}

// Transport is the QUIC transport on the endpoint's socket (the relay client
// dials with it).
func (e *Endpoint) Transport() *quic.Transport { return e.tr }

// LocalAddr is the socket's address.
func (e *Endpoint) LocalAddr() *net.UDPAddr { return e.udp.LocalAddr().(*net.UDPAddr) }

// Close closes every connection on the endpoint and its socket.
func (e *Endpoint) Close() error {
	e.cancel()
	e.mu.Lock()
	chans := e.channels
	e.channels = map[uint64]*vconn{}
	e.mu.Unlock()
	for _, c := range chans { // outside e.mu: vconn.Close takes it
		c.Close()
	}
	err := e.tr.Close()
	e.udp.Close()
	return err
}

// demux hands a relayed packet to its channel's vconn; it runs on the
// socket's read path (see nonquic) and ignores punch packets.
func (e *Endpoint) demux(b []byte, from net.Addr) {
	if len(b) <= relayHeader || b[0] != packetRelayed {
		return
	}
	e.mu.Lock()
	c := e.channels[binary.BigEndian.Uint64(b[1:relayHeader])]
	e.mu.Unlock()
	if c != nil && fromRelay(from, c.relay) {
		c.deliver(append(getBuf(), b[relayHeader:]...))
	}
}

// fromRelay reports whether a packet came from the relay: only the relay
// forwards a session's relayed packets.
func fromRelay(from net.Addr, relay *net.UDPAddr) bool {
	u, ok := from.(*net.UDPAddr)
	if !ok {
		return false
	}
	a, r := u.AddrPort(), relay.AddrPort()
	return a.Port() == r.Port() && a.Addr().Unmap() == r.Addr().Unmap()
}

func (e *Endpoint) dropChannel(ch uint64, c *vconn) {
	e.mu.Lock()
	if e.channels[ch] == c {
		delete(e.channels, ch)
	}
	e.mu.Unlock()
}

// openChannel makes a fresh virtual connection for a relay channel,
// closing any older one.
func (e *Endpoint) openChannel(ch uint64, relay *net.UDPAddr) *vconn {
	c := newVconn(e, ch, relay)
	e.mu.Lock()
	old := e.channels[ch]
	e.channels[ch] = c
	e.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return c
}

// Candidates lists the addresses a peer may reach this endpoint at: the
// socket's port on each local interface address, plus the address the relay
// observed (which is the NAT's mapping, when there is one).
func (e *Endpoint) Candidates(observed string) []string {
	port := e.LocalAddr().Port
	var out []string
	seen := map[string]bool{}
	add := func(ap netip.AddrPort) {
		if s := ap.String(); ap.IsValid() && !seen[s] && len(out) < 16 {
			seen[s] = true
			out = append(out, s)
		}
	}
	if ap, err := netip.ParseAddrPort(observed); err == nil {
		add(ap)
	}
	local := e.LocalAddr().AddrPort().Addr().Unmap()
	if !local.IsUnspecified() {
		add(netip.AddrPortFrom(local, uint16(port)))
		return out
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		pfx, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := pfx.Addr().Unmap()
		if ip.Is4() && !ip.IsLinkLocalUnicast() {
			add(netip.AddrPortFrom(ip, uint16(port)))
		}
	}
	return out
}

// Punch sends a few small packets to each candidate so that NATs and
// firewalls on this side let the peer's QUIC packets in.
func (e *Endpoint) Punch(cands []string) {
	pkt := []byte{packetPunch, 'p', 'h'}
	for _, s := range cands {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			continue
		}
		e.tr.WriteTo(pkt, net.UDPAddrFromAddrPort(ap))
	}
}

// Register makes the endpoint accept peer connections for a session (agent
// side), on the direct path and, after ListenRelayed, on the relayed one.
func (e *Endpoint) Register(id *Identity, accepted Accepted) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sessions[id.Session] = registration{id: id, accepted: accepted}
	if e.ln != nil {
		return nil
	}
	ln, err := e.tr.Listen(&tls.Config{
		MinVersion: tls.VersionTLS13,
		GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
			e.mu.Lock()
			reg, ok := e.sessions[hi.ServerName]
			e.mu.Unlock()
			if !ok {
				return nil, errors.New("unknown session")
			}
			return reg.id.ServerTLS(), nil
		},
	}, &PeerQUICConfig)
	if err != nil {
		return err
	}
	e.ln = ln
	go e.acceptLoop(ln, PathDirect, "")
	return nil
}

// Unregister stops accepting connections for a session.
func (e *Endpoint) Unregister(session string) {
	e.mu.Lock()
	delete(e.sessions, session)
	e.mu.Unlock()
}

func (e *Endpoint) acceptLoop(ln *quic.Listener, path Path, only string) {
	for {
		conn, err := ln.Accept(e.ctx)
		if err != nil {
			return
		}
		sni := conn.ConnectionState().TLS.ServerName
		e.mu.Lock()
		reg, ok := e.sessions[sni]
		e.mu.Unlock()
		if !ok || (only != "" && sni != only) {
			conn.CloseWithError(CodeRefused, "unknown session")
			continue
		}
		go reg.accepted(conn, path)
	}
}

// ListenRelayed (agent side) starts accepting the session's peer connection
// through the relay on the given channel. The listener lives until ctx ends
// or a newer ListenRelayed for the same channel replaces it.
func (e *Endpoint) ListenRelayed(ctx context.Context, session string, channel uint64, relay *net.UDPAddr) error {
	e.mu.Lock()
	reg, ok := e.sessions[session]
	e.mu.Unlock()
	if !ok {
		return errors.New("session not registered")
	}
	vc := e.openChannel(channel, relay)
	tr := &quic.Transport{Conn: vc}
	ln, err := tr.Listen(reg.id.ServerTLS(), relayedConfig())
	if err != nil {
		vc.Close()
		return err
	}
	go e.acceptLoop(ln, PathRelayed, session)
	go func() {
		select {
		case <-ctx.Done():
		case <-vc.closed:
		}
		// The attempt is over (a newer one replaced it, or the session
		// ended): its listener, channel and connections go with it.
		ln.Close()
		vc.Close()
		tr.Close()
	}()
	return nil
}

// relayedConfig is the peer QUIC configuration on the relayed path: packets
// gain a 9-byte relay header, so QUIC starts at its minimum packet size and
// probes upwards from there.
func relayedConfig() *quic.Config {
	c := PeerQUICConfig
	c.InitialPacketSize = 1200
	return &c
}

// DialDirect (customer side) tries every candidate of the agent at once and
// keeps the first connection that completes its handshake.
func (e *Endpoint) DialDirect(ctx context.Context, id *Identity, cands []string) (*quic.Conn, error) {
	if len(cands) == 0 {
		return nil, errors.New("no direct candidates")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		conn *quic.Conn
		err  error
	}
	results := make(chan result, len(cands))
	for _, s := range cands {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			results <- result{err: err}
			continue
		}
		go func() {
			conn, err := e.tr.Dial(ctx, net.UDPAddrFromAddrPort(ap), id.ClientTLS(), &PeerQUICConfig)
			results <- result{conn, err}
		}()
	}
	var firstErr error
	var winner *quic.Conn
	for range cands {
		r := <-results
		switch {
		case r.err != nil:
			if firstErr == nil || errors.Is(firstErr, context.Canceled) {
				firstErr = r.err
			}
		case winner == nil:
			winner = r.conn
			cancel()
		default:
			r.conn.CloseWithError(CodeRefused, "another path won")
		}
	}
	if winner != nil {
		return winner, nil
	}
	return nil, firstErr
}

// DialRelayed (customer side) connects through the relay on the channel.
// The returned connection owns its relayed transport: closing it (or a
// later DialRelayed on the channel) releases it.
func (e *Endpoint) DialRelayed(ctx context.Context, id *Identity, channel uint64, relay *net.UDPAddr) (*quic.Conn, error) {
	vc := e.openChannel(channel, relay)
	tr := &quic.Transport{Conn: vc}
	conn, err := tr.Dial(ctx, relay, id.ClientTLS(), relayedConfig())
	if err != nil {
		tr.Close()
		vc.Close()
		return nil, err
	}
	go func() {
		select {
		case <-conn.Context().Done():
		case <-vc.closed:
		}
		tr.Close()
		vc.Close()
	}()
	return conn, nil
}

// Application error codes on peer connections.
const (
	CodeNoError  quic.ApplicationErrorCode = 0
	CodeRefused  quic.ApplicationErrorCode = 1
	CodeEnded    quic.ApplicationErrorCode = 2 // the session ended
	CodeReplaced quic.ApplicationErrorCode = 3 // a newer connection took over
	CodeProtocol quic.ApplicationErrorCode = 4
)
