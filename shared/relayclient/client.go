// Package relayclient is the apps' connection to a Porthole relay: it dials
// from the endpoint's shared socket, pins the relay's certificate, matches
// replies to requests, hands unsolicited messages to the app, and reconnects
// with backoff when the relay goes away.
package relayclient

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// Error is an error the relay answered with.
type Error struct{ Code, Message string }

func (e *Error) Error() string { return e.Message }

// ErrDisconnected means there is no connection to the relay right now.
var ErrDisconnected = errors.New("not connected to the relay")

// ErrFingerprint means the relay's certificate did not match the pin, or
// (without a pin) is not trusted by the system.
var ErrFingerprint = errors.New("the relay's certificate does not match the configured fingerprint")

// ErrUntrusted means the relay's certificate is not trusted by the system
// (no fingerprint was given to pin it).
var ErrUntrusted = errors.New("the relay's certificate is not trusted; give its fingerprint")

// Permanent wraps an error from OnConnect that retrying cannot fix (a
// wrong password, say): Run then stops instead of reconnecting.
func Permanent(err error) error { return &permanentError{err} }

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// IsPermanent reports whether err came from Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Backoff bounds for reconnecting; tests shorten them.
var (
	BackoffMin = 250 * time.Millisecond
	BackoffMax = 10 * time.Second
	// RequestTimeout bounds a request without a deadline of its own.
	RequestTimeout = 15 * time.Second
	// HeartbeatEvery is how often the client pings the relay; a ping that
	// gets no answer within HeartbeatTimeout drops the connection.
	HeartbeatEvery   = 5 * time.Second
	HeartbeatTimeout = 10 * time.Second
)

// Options configure a Client.
type Options struct {
	Addr        string // the relay's host:port
	Fingerprint string // "sha256:<hex>" pins the certificate; empty: verify with system roots
	Role        pb.Role
	Software    string
	Log         *slog.Logger
	// OnConnect runs after every (re)connection; the app signs in, attaches
	// or rejoins here. An error closes that connection (and Run retries).
	OnConnect func(ctx context.Context, c *Client) error
	// OnMessage receives unsolicited messages. It must not block.
	OnMessage func(*pb.RelayMsg)
	// OnState reports connection changes. It must not block.
	OnState func(connected bool, err error)
}

// Client is a connection to the relay that comes back by itself.
type Client struct {
	opts  Options
	tr    *quic.Transport
	addr  *net.UDPAddr
	tls   *tls.Config
	reqID atomic.Uint64

	mu       sync.Mutex
	cur      *conn
	observed string
}

type conn struct {
	qc      *quic.Conn
	str     *quic.Stream
	wmu     sync.Mutex
	mu      sync.Mutex
	pending map[uint64]chan *pb.RelayMsg
	done    chan struct{}
	err     error
}

// New prepares a client that dials from tr's socket.
func New(tr *quic.Transport, opts Options) (*Client, error) {
	ua, err := net.ResolveUDPAddr("udp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("relay address %q: %w", opts.Addr, err)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	host := opts.Addr
	if h, _, err := net.SplitHostPort(opts.Addr); err == nil {
		host = h
	}
	tc := &tls.Config{NextProtos: []string{protocol.ALPNRelay}, MinVersion: tls.VersionTLS13, ServerName: host}
	if opts.Fingerprint != "" {
		want, err := ParseFingerprint(opts.Fingerprint)
		if err != nil {
			return nil, err
		}
		tc.InsecureSkipVerify = true // replaced by the pin below
		tc.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return ErrFingerprint
			}
			sum := sha256.Sum256(raw[0])
			if subtle.ConstantTimeCompare(sum[:], want) != 1 {
				return ErrFingerprint
			}
			return nil
		}
	}
	return &Client{opts: opts, tr: tr, addr: ua, tls: tc}, nil
}

// ParseFingerprint reads a relay certificate pin: "sha256:" and 64 hex
// digits, any case.
func ParseFingerprint(s string) ([]byte, error) {
	h, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(s)), "sha256:")
	b, err := hex.DecodeString(h)
	if !ok || err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("relay fingerprint %q: want sha256: and 64 hex digits", s)
	}
	return b, nil
}

// RelayAddr is the relay's UDP address.
func (c *Client) RelayAddr() *net.UDPAddr { return c.addr }

// Observed is this client's address as the relay last saw it.
func (c *Client) Observed() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.observed
}

// Connected reports whether a relay connection is up.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur != nil
}

var relayQUIC = quic.Config{
	MaxIdleTimeout:       15 * time.Second,
	KeepAlivePeriod:      5 * time.Second,
	HandshakeIdleTimeout: 5 * time.Second,
}

// Connect makes one connection attempt, including OnConnect.
func (c *Client) Connect(ctx context.Context) error {
	qc, err := c.tr.Dial(ctx, c.addr, c.tls, &relayQUIC)
	if err != nil {
		var unknownCA x509.UnknownAuthorityError
		var hostErr x509.HostnameError
		var verr *tls.CertificateVerificationError
		switch {
		case errors.Is(err, ErrFingerprint) || strings.Contains(err.Error(), ErrFingerprint.Error()):
			return ErrFingerprint
		case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &verr):
			return fmt.Errorf("%w: %v", ErrUntrusted, err)
		}
		return fmt.Errorf("%w: %v", ErrDisconnected, err)
	}
	str, err := qc.OpenStreamSync(ctx)
	if err != nil {
		qc.CloseWithError(0, "")
		return fmt.Errorf("%w: %v", ErrDisconnected, err)
	}
	cn := &conn{qc: qc, str: str, pending: map[uint64]chan *pb.RelayMsg{}, done: make(chan struct{})}
	if err := protocol.WriteHeader(str, protocol.StreamControl); err != nil {
		qc.CloseWithError(0, "")
		return fmt.Errorf("%w: %v", ErrDisconnected, err)
	}
	r := bufio.NewReader(str)
	go c.readLoop(cn, r)
	hello := &pb.ClientMsg{Body: &pb.ClientMsg_Hello{Hello: &pb.Hello{Version: protocol.Version, Role: c.opts.Role, Software: c.opts.Software}}}
	rep, err := c.roundTrip(ctx, cn, hello)
	if err == nil {
		if w := rep.GetWelcome(); w != nil {
			c.mu.Lock()
			c.observed = w.ObservedAddr
			c.mu.Unlock()
		} else {
			err = fmt.Errorf("%w: no welcome from the relay", protocol.ErrInvalid)
		}
	}
	if err != nil {
		qc.CloseWithError(0, "")
		return err
	}
	c.mu.Lock()
	c.cur = cn
	c.mu.Unlock()
	if c.opts.OnConnect != nil {
		if err := c.opts.OnConnect(ctx, c); err != nil {
			c.drop(cn, err)
			return err
		}
	}
	if c.opts.OnState != nil {
		c.opts.OnState(true, nil)
	}
	go c.heartbeat(cn)
	return nil
}

// heartbeat pings the relay so a dead or restarted relay is noticed within
// seconds rather than at the QUIC idle timeout.
func (c *Client) heartbeat(cn *conn) {
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	pad := make([]byte, 64)
	for {
		select {
		case <-cn.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), HeartbeatTimeout)
		_, err := c.roundTrip(ctx, cn, &pb.ClientMsg{Body: &pb.ClientMsg_Ping{Ping: &pb.Ping{UnixMs: time.Now().UnixMilli(), Pad: pad}}})
		cancel()
		if err != nil {
			c.drop(cn, fmt.Errorf("relay heartbeat: %w", err))
			return
		}
	}
}

func (c *Client) readLoop(cn *conn, r *bufio.Reader) {
	err := protocol.ReadHeaderKind(r, protocol.StreamControl)
	for err == nil {
		var m pb.RelayMsg
		if err = protocol.ReadFrame(r, &m, protocol.MaxControlFrame); err != nil {
			break
		}
		if err = protocol.ValidateRelayMsg(&m); err != nil {
			c.opts.Log.Warn("invalid message from relay", "err", err)
			continue
		}
		if m.Req != 0 {
			cn.mu.Lock()
			ch := cn.pending[m.Req]
			delete(cn.pending, m.Req)
			cn.mu.Unlock()
			if ch != nil {
				ch <- &m
			}
			continue
		}
		if m.Body != nil && c.opts.OnMessage != nil {
			c.opts.OnMessage(&m)
		}
	}
	c.drop(cn, err)
}

func (c *Client) drop(cn *conn, err error) {
	cn.mu.Lock()
	select {
	case <-cn.done:
		cn.mu.Unlock()
		return
	default:
	}
	cn.err = err
	close(cn.done)
	cn.mu.Unlock()
	cn.qc.CloseWithError(0, "")
	c.mu.Lock()
	was := c.cur == cn
	if was {
		c.cur = nil
	}
	c.mu.Unlock()
	if was && c.opts.OnState != nil {
		c.opts.OnState(false, err)
	}
}

// Run keeps the connection up until ctx ends, reconnecting with backoff.
func (c *Client) Run(ctx context.Context) {
	backoff := BackoffMin
	for ctx.Err() == nil {
		c.mu.Lock()
		cn := c.cur
		c.mu.Unlock()
		if cn != nil {
			select {
			case <-ctx.Done():
				c.drop(cn, ctx.Err())
				return
			case <-cn.done:
				backoff = BackoffMin
				continue
			}
		}
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.Connect(actx)
		cancel()
		if err == nil {
			c.opts.Log.Info("connected to the relay", "addr", c.opts.Addr)
			continue
		}
		if IsPermanent(err) {
			c.opts.Log.Warn("not reconnecting to the relay", "err", err)
			return
		}
		c.opts.Log.Debug("relay connection failed", "err", err, "retry_in", backoff)
		if c.opts.OnState != nil {
			c.opts.OnState(false, err)
		}
		jitter := time.Duration(rand.Int64N(int64(backoff)/4 + 1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff + jitter):
		}
		backoff = min(backoff*2, BackoffMax)
	}
}

// Close drops the current connection (Run then stops when its ctx ends).
func (c *Client) Close() {
	c.mu.Lock()
	cn := c.cur
	c.mu.Unlock()
	if cn != nil {
		c.drop(cn, errors.New("closed"))
	}
}

func (c *Client) current() (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return nil, ErrDisconnected
	}
	return c.cur, nil
}

// Request sends m and waits for the relay's reply. A relay error comes back
// as *Error.
func (c *Client) Request(ctx context.Context, m *pb.ClientMsg) (*pb.RelayMsg, error) {
	cn, err := c.current()
	if err != nil {
		return nil, err
	}
	return c.roundTrip(ctx, cn, m)
}

func (c *Client) roundTrip(ctx context.Context, cn *conn, m *pb.ClientMsg) (*pb.RelayMsg, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, RequestTimeout)
		defer cancel()
	}
	m.Req = c.reqID.Add(1)
	ch := make(chan *pb.RelayMsg, 1)
	cn.mu.Lock()
	cn.pending[m.Req] = ch
	cn.mu.Unlock()
	defer func() {
		cn.mu.Lock()
		delete(cn.pending, m.Req)
		cn.mu.Unlock()
	}()
	if err := c.write(cn, m); err != nil {
		return nil, err
	}
	select {
	case rep := <-ch:
		if e := rep.GetError(); e != nil {
			return nil, &Error{Code: e.Code, Message: e.Message}
		}
		return rep, nil
	case <-cn.done:
		if errors.Is(cn.err, protocol.ErrVersionMismatch) {
			return nil, cn.err
		}
		return nil, ErrDisconnected
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Send sends m without waiting for a reply.
func (c *Client) Send(m *pb.ClientMsg) error {
	cn, err := c.current()
	if err != nil {
		return err
	}
	m.Req = 0
	return c.write(cn, m)
}

func (c *Client) write(cn *conn, m *pb.ClientMsg) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	cn.str.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := protocol.WriteFrame(cn.str, m, protocol.MaxControlFrame); err != nil {
		c.drop(cn, err)
		return fmt.Errorf("%w: %v", ErrDisconnected, err)
	}
	return nil
}
