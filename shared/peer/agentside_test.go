package peer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

const testChannel = 42

// fakeRelay forwards relayed packets between two endpoints as they are,
// as the relay does for a session's channel (it knows only these two).
func fakeRelay(t *testing.T, a, b *Endpoint) *net.UDPAddr {
	t.Helper()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Close() })
	unmap := func(ap netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()) }
	aa, ba := unmap(a.LocalAddr().AddrPort()), unmap(b.LocalAddr().AddrPort())
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := udp.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			to := aa
			if unmap(from) == aa {
				to = ba
			}
			udp.WriteToUDPAddrPort(buf[:n], to)
		}
	}()
	return udp.LocalAddr().(*net.UDPAddr)
}

func testEndpoint(t *testing.T) *Endpoint {
	t.Helper()
	e, err := NewEndpoint("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// agentWorld is an AgentSide on one endpoint and a customer endpoint, with
// the signals between them in memory and a fake relay between the sockets.
type agentWorld struct {
	side      *AgentSide
	agentEP   *Endpoint
	custEP    *Endpoint
	cust      *memSignaler // the customer's end of the signals
	view      *relayView   // the signals both ways, as the relay sees them
	relay     *net.UDPAddr
	links     chan *Link         // the agent's accepted links
	conns     chan *quic.Conn    // the agent's accepted connections, before their hello
	paired    chan []byte        // Paired's keys
	failed    chan error         // Failed's errors
	ran       chan struct{}      // closed when Run has returned
	endRun    context.CancelFunc // ends Run
	agentRole pb.Role            // the role the agent says it has in its hello
}

func newAgentWorld(t *testing.T, mutate func(*AgentSideConfig)) *agentWorld {
	t.Helper()
	w := &agentWorld{
		agentEP: testEndpoint(t), custEP: testEndpoint(t),
		links: make(chan *Link, 8), conns: make(chan *quic.Conn, 8), paired: make(chan []byte, 8), failed: make(chan error, 8),
		ran: make(chan struct{}), agentRole: pb.Role_ROLE_AGENT,
	}
	w.relay = fakeRelay(t, w.agentEP, w.custEP)
	cs, as := memPipe()
	w.cust, w.view = cs, &relayView{}
	cs.view, as.view = w.view, w.view
	ctx := testCtx(t)
	cfg := AgentSideConfig{
		Endpoint: w.agentEP, Signaler: as, Session: testSession, Channel: testChannel,
		Relay:    func() *net.UDPAddr { return w.relay },
		Observed: func() string { return "" },
		Accepted: func(conn *quic.Conn, path Path) {
			select {
			case w.conns <- conn:
			default: // only the first few are looked at
			}
			l, err := AcceptLink(ctx, conn, path, &pb.Hello{Version: protocol.Version, Role: w.agentRole, Software: "test", Name: "alice"})
			if err != nil {
				conn.CloseWithError(CodeProtocol, "hello failed")
				return
			}
			w.links <- l
		},
		Paired: func(key []byte) error { w.paired <- key; return nil },
		Failed: func(err error) { w.failed <- err },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	w.side = NewAgentSide(cfg)
	return w
}

// run starts Run; the test ends it.
func (w *agentWorld) run(t *testing.T) {
	ctx, cancel := context.WithCancel(testCtx(t))
	w.endRun = cancel
	go func() {
		defer close(w.ran)
		w.side.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-w.ran
	})
}

// finish ends Run and waits until it has returned, so that the handling of
// a signal that was under way has finished.
func (w *agentWorld) finish(t *testing.T) {
	t.Helper()
	w.endRun()
	select {
	case <-w.ran:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}

// dial is one customer connection attempt with key.
func (w *agentWorld) dial(t *testing.T, key []byte, forceRelay bool, attempt uint64) (*Link, error) {
	t.Helper()
	return Dial(testCtx(t), w.custEP, w.cust, ConnectOptions{
		Identity: mustIdentity(t, key, testSession, false), Sealer: mustSealer(t, key, testSession, false),
		Channel: testChannel, Relay: w.relay,
		ForceRelay: forceRelay, Attempt: attempt,
	}, &pb.Hello{Version: protocol.Version, Role: pb.Role_ROLE_CUSTOMER, Software: "test", Name: "bob"})
}

// pending returns the signals the customer has received and not read.
func (w *agentWorld) pending() []*pb.PeerSignal {
	var out []*pb.PeerSignal
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	for {
		ps, err := w.cust.Recv(ctx)
		if err != nil {
			return out
		}
		out = append(out, ps)
	}
}

// noMoreCalls checks, after finish, that the callbacks were not called
// again and no link was accepted.
func (w *agentWorld) noMoreCalls(t *testing.T) {
	t.Helper()
	if len(w.failed) != 0 || len(w.paired) != 0 || len(w.links) != 0 {
		t.Fatalf("%d more Failed, %d more Paired calls and %d more links; want none", len(w.failed), len(w.paired), len(w.links))
	}
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s", what)
		panic("unreachable")
	}
}

func wantUsedAbort(t *testing.T, err error) {
	t.Helper()
	var ae *AbortError
	if !errors.As(err, &ae) || ae.Code != protocol.CodeUsed {
		t.Fatalf("PAKE on a spent key: %v, want an abort %q", err, protocol.CodeUsed)
	}
}

func TestAgentSidePairsThenAcceptsOnEachPath(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		agentForce, custForce bool
		want                  Path
	}{
		{"direct", false, false, PathDirect},
		{"customer forces relay", false, true, PathRelayed},
		{"agent forces relay", true, false, PathRelayed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newAgentWorld(t, func(c *AgentSideConfig) { c.ForceRelay = tc.agentForce })
			w.side.StartPairing("1234", "567890")
			w.run(t)
			key, err := PairCustomer(testCtx(t), w.cust, testSession, "1234", "567890")
			if err != nil {
				t.Fatalf("pairing: %v", err)
			}
			if got := receive(t, w.paired, "Paired call"); !bytes.Equal(got, key) {
				t.Fatalf("Paired got %x, the customer %x", got, key)
			}
			// Twice: a second attempt (a reconnection) is answered as well,
			// and on the relayed path replaces the first listener.
			for attempt := range uint64(2) {
				l, err := w.dial(t, key, tc.custForce, attempt+1)
				if err != nil {
					t.Fatalf("attempt %d: %v", attempt+1, err)
				}
				al := receive(t, w.links, "accepted link")
				if l.Path != tc.want || al.Path != tc.want || l.Remote.Name != "alice" || al.Remote.Name != "bob" {
					t.Fatalf("attempt %d: paths %s/%s, names %q/%q; want %s, alice/bob",
						attempt+1, l.Path, al.Path, l.Remote.Name, al.Remote.Name, tc.want)
				}
				l.Close(CodeNoError, "")
			}
			// The key is spent now.
			_, err = PairCustomer(testCtx(t), w.cust, testSession, "1234", "567890")
			wantUsedAbort(t, err)
			w.finish(t)
			w.noMoreCalls(t)
		})
	}
}

func TestAgentSideWrongSecretFailsOnceAndBurnsTheKey(t *testing.T) {
	// After Stop too: the customer's Abort may be handled after the
	// session has ended (the agent heard of the end from the relay first),
	// and it is still reported (the console's pake_failed event).
	for _, stopFirst := range []bool{false, true} {
		w := newAgentWorld(t, nil)
		w.side.StartPairing("1234", "567890")
		w.run(t)
		if stopFirst {
			w.side.Stop()
		}
		if _, err := PairCustomer(testCtx(t), w.cust, testSession, "1234", "000000"); !errors.Is(err, ErrPakeFailed) {
			t.Fatalf("stopped %v: customer with a wrong secret: %v, want ErrPakeFailed", stopFirst, err)
		}
		if err := receive(t, w.failed, "Failed call"); !errors.Is(err, ErrPakeFailed) {
			t.Fatalf("stopped %v: Failed(%v), want ErrPakeFailed", stopFirst, err)
		}
		_, err := PairCustomer(testCtx(t), w.cust, testSession, "1234", "567890")
		wantUsedAbort(t, err)
		w.finish(t)
		w.noMoreCalls(t)
	}
}

func TestAgentSideIgnoresConnectingBeforePairing(t *testing.T) {
	// Neither StartPairing nor Resume: nothing to answer but a Pake, which
	// is refused. Signals are handled in order, so the refusal being the
	// first answer means the earlier ones got none.
	w := newAgentWorld(t, nil)
	w.run(t)
	w.cust.Send(&pb.PeerSignal{Body: &pb.PeerSignal_Candidates{Candidates: &pb.Candidates{Attempt: 1, Addrs: []string{"127.0.0.1:9"}}}})
	w.cust.Send(&pb.PeerSignal{Body: &pb.PeerSignal_UseRelay{UseRelay: &pb.UseRelay{Attempt: 1}}})
	w.cust.Send(&pb.PeerSignal{Body: &pb.PeerSignal_Confirm{Confirm: &pb.KeyConfirm{Mac: make([]byte, 32)}}})
	w.cust.Send(&pb.PeerSignal{Body: &pb.PeerSignal_Pake{Pake: &pb.Pake{Message: []byte("{}")}}})
	ps, err := w.cust.Recv(testCtx(t))
	if a := ps.GetAbort(); err != nil || a == nil || a.Code != protocol.CodeUsed {
		t.Fatalf("first answer %v (%v), want an abort %q", ps, err, protocol.CodeUsed)
	}
	w.finish(t)
	if got := w.pending(); len(got) != 0 {
		t.Fatalf("more answers: %v", got)
	}
	w.noMoreCalls(t)
}

func TestAgentSideResumesAStoredKey(t *testing.T) {
	w := newAgentWorld(t, nil)
	key := newKey(t)
	if err := w.side.Resume(key); err != nil {
		t.Fatal(err)
	}
	w.run(t)
	for i, force := range []bool{false, true} {
		l, err := w.dial(t, key, force, uint64(i+1))
		if err != nil {
			t.Fatalf("connecting (force relay %v) with the stored key: %v", force, err)
		}
		receive(t, w.links, "accepted link")
		l.Close(CodeNoError, "")
	}
	// No PAKE for a resumed session.
	_, err := PairCustomer(testCtx(t), w.cust, testSession, "1234", "567890")
	wantUsedAbort(t, err)

	w.side.Stop()
	// Stopped: the endpoint no longer knows the session, and Resume does
	// not bring it back.
	ctx, cancel := context.WithTimeout(testCtx(t), 5*time.Second)
	defer cancel()
	if conn, err := w.custEP.DialDirect(ctx, mustIdentity(t, key, testSession, false), w.agentEP.Candidates("")); err == nil {
		conn.CloseWithError(CodeNoError, "")
		t.Fatal("the endpoint accepted a connection after Stop")
	}
	if err := w.side.Resume(key); !errors.Is(err, ErrAgentSideStopped) {
		t.Fatalf("Resume after Stop: %v", err)
	}
	w.finish(t)
	w.noMoreCalls(t)
}

func TestAgentSideImpostorIsRefused(t *testing.T) {
	for _, force := range []bool{false, true} {
		w := newAgentWorld(t, func(c *AgentSideConfig) { c.IdentityKey = newKey(t) })
		key := newKey(t)
		if err := w.side.Resume(key); err != nil {
			t.Fatal(err)
		}
		w.run(t)
		if _, err := w.dial(t, key, force, 1); !errors.Is(err, ErrWrongPeer) {
			t.Fatalf("force relay %v: connecting to an impostor: %v, want ErrWrongPeer", force, err)
		}
		if len(w.links) != 0 {
			t.Fatalf("force relay %v: the impostor accepted a link", force)
		}
	}
}

func TestDialRefusesAnotherCustomer(t *testing.T) {
	w := newAgentWorld(t, nil)
	w.agentRole = pb.Role_ROLE_CUSTOMER
	key := newKey(t)
	if err := w.side.Resume(key); err != nil {
		t.Fatal(err)
	}
	w.run(t)
	l, err := w.dial(t, key, false, 1)
	if err == nil || !strings.Contains(err.Error(), "not an agent") {
		t.Fatalf("Dial to a customer: %v, %v; want an error", l, err)
	}
	// The agent's side may or may not finish its hello before the customer
	// hangs up; either way the connection ends.
	conn := receive(t, w.conns, "accepted connection")
	select {
	case <-conn.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Dial left the connection open")
	}
}

func TestAgentSideRecordsTheKeysGuessFirst(t *testing.T) {
	// Taking comes before the Pake is answered; when it cannot record the
	// guess, the Pake is refused and nothing is risked.
	var calls int
	w := newAgentWorld(t, func(c *AgentSideConfig) {
		c.Taking = func() error {
			calls++
			if calls == 1 {
				return errors.New("disk full")
			}
			return nil
		}
	})
	w.side.StartPairing("12345678", "567890")
	w.run(t)
	_, err := PairCustomer(testCtx(t), w.cust, testSession, "12345678", "567890")
	wantUsedAbort(t, err)
	// Not taken: the next Pake is the key's one, recorded, and pairs.
	if _, err := PairCustomer(testCtx(t), w.cust, testSession, "12345678", "567890"); err != nil {
		t.Fatalf("the PAKE after a failed record: %v", err)
	}
	receive(t, w.paired, "Paired call")
	w.finish(t)
	if calls != 2 {
		t.Fatalf("Taking called %d times, want 2", calls)
	}
}
