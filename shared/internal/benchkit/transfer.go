package benchkit

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/qlog"
	"github.com/quic-go/quic-go/qlogwriter"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	router "github.com/porthole-dev/porthole/shared/session"
	"github.com/porthole-dev/porthole/shared/transfer"
)

// Side is one app's file-transfer engine, on a database and a downloads
// folder of its own, with the links it is attached to read as the apps do
// (each through a session router with the engine as its file service).
type Side struct {
	Name      string
	Downloads string
	DB        *appdb.DB
	Engine    *transfer.Engine

	opts SideOptions

	mu        sync.Mutex
	links     []*peer.Link
	routers   []*router.Router
	finals    map[string]Final
	order     []string // ids in the order they finished
	answered  map[string]time.Time
	offerHash map[string]string // file id -> the SHA-256 its offer carried ("" none)
	changed   chan struct{}
}

// SideOptions configure a Side.
type SideOptions struct {
	Name string  // the name in this side's hellos (and the trust settings)
	Role pb.Role // ROLE_AGENT or ROLE_CUSTOMER
	Dir  string  // holds the database and the downloads folder
	// Accept is the engine's accept mode (transfer.AskAlways by default).
	Accept string
	// AutoAnswer answers every offer with transfer.Accept as soon as it is
	// reported, as a person clicking at once would, and records when.
	AutoAnswer bool
	// OnEvent, if set, sees every event as it is reported, with its time.
	// It runs on the engine's goroutine: it must not block.
	OnEvent func(transfer.Event, time.Time)
}

// Final is how a file ended on one side, and when the side reported it.
type Final struct {
	Event transfer.Event
	At    time.Time
}

// NewSide opens a database in o.Dir and starts an engine on it.
func NewSide(o SideOptions) (*Side, error) {
	s := &Side{
		Name: o.Name, Downloads: filepath.Join(o.Dir, "downloads"), opts: o,
		finals: map[string]Final{}, answered: map[string]time.Time{}, offerHash: map[string]string{}, changed: make(chan struct{}, 1),
	}
	db, err := appdb.Open(filepath.Join(o.Dir, "data"))
	if err != nil {
		return nil, err
	}
	s.DB = db
	s.Engine, err = transfer.New(transfer.Config{
		DB: db, Role: o.Role, Downloads: s.Downloads, Accept: o.Accept, Events: s.event, Log: discard,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Side) event(ev transfer.Event) {
	now := time.Now()
	if s.opts.OnEvent != nil {
		s.opts.OnEvent(ev, now)
	}
	switch ev.Kind {
	case transfer.EventOffer:
		s.mu.Lock()
		s.offerHash[ev.Transfer.ID] = ev.Transfer.SHA256
		s.mu.Unlock()
		if s.opts.AutoAnswer {
			id := ev.Transfer.ID
			go func() {
				s.mu.Lock()
				s.answered[id] = time.Now()
				s.mu.Unlock()
				s.Engine.Answer(id, transfer.Accept)
			}()
		}
	case transfer.EventDone, transfer.EventFailed, transfer.EventRefused, transfer.EventCancelled:
		s.mu.Lock()
		if _, seen := s.finals[ev.Transfer.ID]; !seen {
			s.finals[ev.Transfer.ID] = Final{ev, now}
			s.order = append(s.order, ev.Transfer.ID)
		}
		s.mu.Unlock()
		select {
		case s.changed <- struct{}{}:
		default:
		}
	}
}

// Attach gives a session's link to a new session router with the engine
// as its file service, as the apps do; the router reads the link until it
// ends.
func (s *Side) Attach(session string, l *peer.Link) {
	r := router.New(router.Config{Session: session, Log: discard})
	s.Engine.Serve(r)
	s.mu.Lock()
	s.links = append(s.links, l)
	s.routers = append(s.routers, r)
	s.mu.Unlock()
	r.Attach(l)
}

// Final is how the file id ended on this side, if it has.
func (s *Side) Final(id string) (Final, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.finals[id]
	return f, ok
}

// Answered is when AutoAnswer answered the offer of id.
func (s *Side) Answered(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.answered[id]
	return t, ok
}

// OfferHash is the SHA-256 the offer of id carried when this side reported
// it ("" when none, or not offered to this side).
func (s *Side) OfferHash(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offerHash[id]
}

// WaitDone waits until every file of ids is final on this side and returns
// when the last one was reported; a file that did not end done is an error.
func (s *Side) WaitDone(ctx context.Context, ids []string) (time.Time, error) {
	fs, err := s.wait(ctx, func() []Final {
		out := make([]Final, 0, len(ids))
		for _, id := range ids {
			f, ok := s.finals[id]
			if !ok {
				return nil
			}
			out = append(out, f)
		}
		return out
	})
	if err != nil {
		return time.Time{}, err
	}
	return lastDone(fs)
}

// WaitCount waits until n files (any) are final on this side and returns
// them in the order they finished.
func (s *Side) WaitCount(ctx context.Context, n int) ([]Final, error) {
	return s.wait(ctx, func() []Final {
		if len(s.order) < n {
			return nil
		}
		out := make([]Final, 0, n)
		for _, id := range s.order[:n] {
			out = append(out, s.finals[id])
		}
		return out
	})
}

func (s *Side) wait(ctx context.Context, ready func() []Final) ([]Final, error) {
	for {
		s.mu.Lock()
		fs := ready()
		s.mu.Unlock()
		if fs != nil {
			return fs, nil
		}
		select {
		case <-s.changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: waiting for files: %w", s.Name, ctx.Err())
		}
	}
}

func lastDone(fs []Final) (time.Time, error) {
	var last time.Time
	for _, f := range fs {
		if f.Event.Kind != transfer.EventDone {
			return time.Time{}, fmt.Errorf("%s: %s (%s)", f.Event.Transfer.Name, f.Event.Kind, f.Event.Transfer.Why)
		}
		if f.At.After(last) {
			last = f.At
		}
	}
	return last, nil
}

// Close closes the side's links, then its engine and database.
func (s *Side) Close() {
	s.mu.Lock()
	routers := s.routers
	s.links, s.routers = nil, nil
	s.mu.Unlock()
	for _, r := range routers {
		r.Close("")
	}
	s.Engine.Close()
	s.DB.Close()
}

// WriteRandomFile writes size random bytes to path, 1 MiB at a time, and
// syncs it: the kernel writing it back later must not land in a
// measurement.
func WriteRandomFile(path string, size int64) error {
	var seed [32]byte
	crand.Read(seed[:])
	rnd := mrand.NewChaCha8(seed)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		chunk := buf[:min(int64(len(buf)), left)]
		rnd.Read(chunk)
		if _, err := f.Write(chunk); err != nil {
			f.Close()
			return err
		}
		left -= int64(len(chunk))
	}
	return syncClose(f)
}

// syncClose syncs and closes f.
func syncClose(f *os.File) error {
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteTree writes n files of size random bytes under dir, 100 to a
// subfolder, and returns their paths. With sync, each file is synced
// before the next.
func WriteTree(dir string, n, size int, sync bool) ([]string, error) {
	var seed [32]byte
	crand.Read(seed[:])
	rnd := mrand.NewChaCha8(seed)
	buf := make([]byte, size)
	paths := make([]string, 0, n)
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("d%03d", i/100))
		if i%100 == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return nil, err
			}
		}
		rnd.Read(buf)
		p := filepath.Join(sub, fmt.Sprintf("f%05d.bin", i))
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return nil, err
		}
		if sync {
			err = syncClose(f)
		} else {
			err = f.Close()
		}
		if err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// PlainFiles is the baseline for many small files: each file, read from
// disk, goes on a bidirectional stream of its own from one plain quic-go
// connection to the other, transfer.SendConcurrency streams at a time as
// the engine does. It returns the time until the receiver has read the
// last file to its end. Nobody else may accept streams on to.
func PlainFiles(ctx context.Context, from, to *quic.Conn, paths []string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var want int64
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return 0, err
		}
		want += info.Size()
	}
	var got, files atomic.Int64
	allIn := make(chan struct{})
	recvErr := make(chan error, 1)
	go func() {
		for {
			str, err := to.AcceptStream(ctx)
			if err != nil {
				recvErr <- err
				return
			}
			go func() {
				str.Close() // nothing goes back
				n, err := io.Copy(io.Discard, str)
				if err != nil {
					select {
					case recvErr <- err:
					default:
					}
					return
				}
				got.Add(n)
				if files.Add(1) == int64(len(paths)) {
					close(allIn)
				}
			}()
		}
	}()
	start := time.Now()
	next := make(chan string)
	sendErr := make(chan error, transfer.SendConcurrency)
	var wg sync.WaitGroup
	for range transfer.SendConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				data, err := os.ReadFile(p)
				if err == nil {
					var str *quic.Stream
					if str, err = from.OpenStreamSync(ctx); err == nil {
						if _, err = str.Write(data); err == nil {
							err = str.Close()
						}
					}
				}
				if err != nil {
					sendErr <- err
					return
				}
			}
		}()
	}
	go func() {
		defer close(next)
		for _, p := range paths {
			select {
			case next <- p:
			case <-ctx.Done():
				return
			}
		}
	}()
	select {
	case <-allIn:
	case err := <-sendErr:
		return 0, fmt.Errorf("plain files: send: %w", err)
	case err := <-recvErr:
		return 0, fmt.Errorf("plain files: receive: %w", err)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	elapsed := time.Since(start)
	wg.Wait()
	if got.Load() != want {
		return 0, fmt.Errorf("plain files: received %d of %d bytes", got.Load(), want)
	}
	return elapsed, nil
}

// StreamBytes counts the STREAM frame payload one QUIC connection sent, by
// stream, from quic-go's qlog events: the bytes of each stream that went
// out at least once, and all payload sent, retransmissions included.
type StreamBytes struct {
	mu sync.Mutex
	by map[quic.StreamID]*streamSent
}

type streamSent struct{ end, wire int64 }

// Total is the stream bytes that went out at least once (each stream's
// highest offset sent), on every stream but the ones named.
func (c *StreamBytes) Total(except ...quic.StreamID) int64 {
	return c.sum(func(s *streamSent) int64 { return s.end }, except)
}

// Wire is all STREAM payload sent, retransmissions included, on every
// stream but the ones named.
func (c *StreamBytes) Wire(except ...quic.StreamID) int64 {
	return c.sum(func(s *streamSent) int64 { return s.wire }, except)
}

func (c *StreamBytes) sum(f func(*streamSent) int64, except []quic.StreamID) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for id, s := range c.by {
		if !slices.Contains(except, id) {
			n += f(s)
		}
	}
	return n
}

func (c *StreamBytes) AddProducer() qlogwriter.Recorder { return c }

func (c *StreamBytes) RecordEvent(ev qlogwriter.Event) {
	p, ok := ev.(qlog.PacketSent)
	if !ok {
		return
	}
	for _, f := range p.Frames {
		if sf, ok := f.Frame.(*qlog.StreamFrame); ok {
			c.mu.Lock()
			s := c.by[sf.StreamID]
			if s == nil {
				s = &streamSent{}
				c.by[sf.StreamID] = s
			}
			s.end = max(s.end, sf.Offset+sf.Length)
			s.wire += sf.Length
			c.mu.Unlock()
		}
	}
}

func (c *StreamBytes) Close() error { return nil }

// ControlStream is the stream id of a link's control stream: the first
// stream the customer (the QUIC client) opens.
const ControlStream quic.StreamID = 0

// TracedLinks is a peer link pair on loopback whose agent side counts the
// stream bytes it sends. The connection is plain quic-go with
// peer.PeerQUICConfig's settings (not a peer.Endpoint; the certificates are
// not the session's), carrying a real peer.Link (control stream, hellos).
type TracedLinks struct {
	Agent, Customer *peer.Link
	AgentSent       *StreamBytes // what the agent's connection sent
	ln              *quic.Listener
}

// NewTracedLinks connects an agent named agent (the QUIC server) and a
// customer named customer.
func NewTracedLinks(ctx context.Context, agent, customer string) (*TracedLinks, error) {
	srvTLS, cliTLS, err := selfSigned("porthole-bench-traced")
	if err != nil {
		return nil, err
	}
	sent := &StreamBytes{by: map[quic.StreamID]*streamSent{}}
	scfg := peer.PeerQUICConfig
	scfg.Tracer = func(context.Context, bool, quic.ConnectionID) qlogwriter.Trace { return sent }
	ln, err := quic.ListenAddr("127.0.0.1:0", srvTLS, &scfg)
	if err != nil {
		return nil, err
	}
	tl := &TracedLinks{AgentSent: sent, ln: ln}
	type accepted struct {
		l   *peer.Link
		err error
	}
	ach := make(chan accepted, 1)
	go func() {
		conn, err := ln.Accept(ctx)
		if err != nil {
			ach <- accepted{nil, err}
			return
		}
		l, err := peer.AcceptLink(ctx, conn, peer.PathDirect, benchHello(pb.Role_ROLE_AGENT, agent))
		if err != nil {
			conn.CloseWithError(peer.CodeProtocol, "")
		}
		ach <- accepted{l, err}
	}()
	ccfg := peer.PeerQUICConfig
	conn, err := quic.DialAddr(ctx, ln.Addr().String(), cliTLS, &ccfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	tl.Customer, err = peer.OpenLink(ctx, conn, peer.PathDirect, benchHello(pb.Role_ROLE_CUSTOMER, customer))
	if err != nil {
		conn.CloseWithError(peer.CodeProtocol, "")
		ln.Close()
		return nil, err
	}
	a := <-ach
	if a.err != nil {
		tl.Customer.Close(peer.CodeProtocol, "")
		ln.Close()
		return nil, a.err
	}
	tl.Agent = a.l
	return tl, nil
}

// Close closes both links and the listener.
func (tl *TracedLinks) Close() {
	tl.Customer.Close(peer.CodeEnded, "")
	tl.Agent.Close(peer.CodeEnded, "")
	tl.ln.Close()
}

func benchHello(role pb.Role, name string) *pb.Hello {
	return &pb.Hello{Version: protocol.Version, Role: role, Software: Software, Name: name}
}

// selfSigned makes a server certificate for alpn and a client
// configuration that takes it without checking.
func selfSigned(alpn string) (server, client *tls.Config, err error) {
	_, priv, err := ed25519.GenerateKey(crand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"bench"},
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return nil, nil, err
	}
	server = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: priv}},
		NextProtos:   []string{alpn}, MinVersion: tls.VersionTLS13,
	}
	client = &tls.Config{InsecureSkipVerify: true, ServerName: "bench", NextProtos: []string{alpn}, MinVersion: tls.VersionTLS13}
	return server, client, nil
}

// NewSessionID makes a random session id (32 lowercase hex digits).
func NewSessionID() string {
	var b [16]byte
	crand.Read(b[:])
	return fmt.Sprintf("%x", b)
}

// errNoFiles is returned by Send helpers when a send made no transfers.
var errNoFiles = errors.New("the send made no transfers")

// SendAll sends path (a file or a folder) from s in session and returns
// the ids of the files offered.
func (s *Side) SendAll(session, path string) ([]string, []transfer.Transfer, error) {
	ts, err := s.Engine.Send(session, path)
	if err != nil {
		return nil, nil, err
	}
	if len(ts) == 0 {
		return nil, nil, errNoFiles
	}
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return ids, ts, nil
}
