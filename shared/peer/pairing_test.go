package peer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

const testSession = "0123456789abcdef0123456789abcdef"

// memSignaler is one end of an in-memory signal pipe. Signals go through
// their wire encoding and the receiver's validation, as they do through the
// relay (relayclient.Signals). tamper, when set, may change a signal in
// flight, as a malicious relay could.
type memSignaler struct {
	out    chan<- []byte
	in     <-chan []byte
	tamper func(*pb.PeerSignal)
	view   *relayView // when set, keeps what the relay would see
}

// relayView is every signal payload a relay carried, in order, as the relay
// sees them: opaque bytes.
type relayView struct {
	mu       sync.Mutex
	payloads [][]byte
}

func (v *relayView) add(b []byte) {
	v.mu.Lock()
	v.payloads = append(v.payloads, b)
	v.mu.Unlock()
}

func (v *relayView) seen() [][]byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([][]byte(nil), v.payloads...)
}

func memPipe() (customer, agent *memSignaler) {
	c2a, a2c := make(chan []byte, 64), make(chan []byte, 64)
	return &memSignaler{out: c2a, in: a2c}, &memSignaler{out: a2c, in: c2a}
}

func (s *memSignaler) Send(ps *pb.PeerSignal) error {
	if s.tamper != nil {
		ps = proto.Clone(ps).(*pb.PeerSignal)
		s.tamper(ps)
	}
	b, err := proto.Marshal(ps)
	if err != nil {
		return err
	}
	if s.view != nil {
		s.view.add(b)
	}
	s.out <- b
	return nil
}

func (s *memSignaler) Recv(ctx context.Context) (*pb.PeerSignal, error) {
	for {
		select {
		case b := <-s.in:
			var ps pb.PeerSignal
			if proto.Unmarshal(b, &ps) != nil || protocol.ValidatePeerSignal(&ps) != nil || ps.Body == nil {
				continue // dropped, as relayclient.Signals.Deliver does
			}
			return &ps, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// runAgent feeds the agent's side of the pairing until it ends, as the
// console's signal loop does.
func runAgent(ctx context.Context, sig Signaler, a *AgentPairing) ([]byte, error) {
	for {
		ps, err := sig.Recv(ctx)
		if err != nil {
			return nil, err
		}
		replies, key, err := a.Handle(ps)
		for _, r := range replies {
			sig.Send(r)
		}
		if err != nil {
			return nil, err
		}
		if key != nil {
			return key, nil
		}
	}
}

type result struct {
	key []byte
	err error
}

// pair runs both sides concurrently and returns their results.
func pair(t *testing.T, agent *AgentPairing, custSession, nameplate, secret string, tamper func(*pb.PeerSignal)) (cust, ag result) {
	t.Helper()
	ctx := testCtx(t)
	cs, as := memPipe()
	as.tamper = tamper
	done := make(chan result, 1)
	go func() {
		k, err := runAgent(ctx, as, agent)
		done <- result{k, err}
	}()
	k, err := PairCustomer(ctx, cs, custSession, nameplate, secret)
	return result{k, err}, <-done
}

func TestPairingSameSecretGivesEqualKeys(t *testing.T) {
	cust, ag := pair(t, NewAgentPairing(testSession, "1234", "567890"), testSession, "1234", "567890", nil)
	if cust.err != nil || ag.err != nil {
		t.Fatalf("pairing failed: customer %v, agent %v", cust.err, ag.err)
	}
	if len(cust.key) != 32 || !bytes.Equal(cust.key, ag.key) {
		t.Fatalf("keys differ or are short: %x / %x", cust.key, ag.key)
	}
	// A second pairing with the same key material gives a fresh key: the
	// PAKE is randomised, so a recorded session says nothing about the next.
	again, _ := pair(t, NewAgentPairing(testSession, "1234", "567890"), testSession, "1234", "567890", nil)
	if again.err != nil || bytes.Equal(again.key, cust.key) {
		t.Fatalf("second pairing: %v, key repeated: %v", again.err, bytes.Equal(again.key, cust.key))
	}
}

// alterPoint changes the Y point of a PAKE message (the only part the
// customer uses), so that a relay in the middle has changed what matters.
func alterPoint(t *testing.T, msg []byte) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(msg, &m); err != nil {
		t.Errorf("PAKE message is not JSON: %v", err)
		return msg
	}
	changed := false
	for k, v := range m {
		if n, ok := new(big.Int).SetString(string(v), 10); ok && strings.HasPrefix(k, "Y") {
			m[k] = json.RawMessage(n.Add(n, big.NewInt(1)).String())
			changed = true
		}
	}
	if !changed {
		t.Errorf("no Y point in the PAKE message %s", msg)
	}
	out, _ := json.Marshal(m)
	return out
}

func TestPairingMismatchFailsBothSides(t *testing.T) {
	for _, tc := range []struct {
		name                           string
		custSession, nameplate, secret string
		tamper                         func(*pb.PeerSignal)
	}{
		{name: "wrong secret", custSession: testSession, nameplate: "1234", secret: "567891"},
		{name: "wrong nameplate", custSession: testSession, nameplate: "1235", secret: "567890"},
		{name: "other session", custSession: "fedcba9876543210fedcba9876543210", nameplate: "1234", secret: "567890"},
		{name: "relay alters the agent's PAKE point", custSession: testSession, nameplate: "1234", secret: "567890",
			tamper: func(ps *pb.PeerSignal) {
				if p := ps.GetPake(); p != nil {
					p.Message = alterPoint(t, p.Message)
				}
			}},
		{name: "relay alters the agent's confirmation", custSession: testSession, nameplate: "1234", secret: "567890",
			tamper: func(ps *pb.PeerSignal) {
				if c := ps.GetConfirm(); c != nil {
					c.Mac[0] ^= 0x01
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cust, ag := pair(t, NewAgentPairing(testSession, "1234", "567890"), tc.custSession, tc.nameplate, tc.secret, tc.tamper)
			if !errors.Is(cust.err, ErrPakeFailed) || cust.key != nil {
				t.Errorf("customer: key %x, err %v; want ErrPakeFailed", cust.key, cust.err)
			}
			if !errors.Is(ag.err, ErrPakeFailed) || ag.key != nil {
				t.Errorf("agent: key %x, err %v; want ErrPakeFailed", ag.key, ag.err)
			}
		})
	}
}

func TestAgentPairingIsSingleUse(t *testing.T) {
	for _, first := range []string{"567890", "000000"} {
		a := NewAgentPairing(testSession, "1234", "567890")
		pair(t, a, testSession, "1234", first, nil)
		// Whatever the first attempt did, the key is spent: even the right
		// secret is refused now, and the customer is told why.
		cust, ag := pair(t, a, testSession, "1234", "567890", nil)
		var ae *AbortError
		if !errors.As(cust.err, &ae) || ae.Code != protocol.CodeUsed || cust.key != nil {
			t.Fatalf("second attempt after %s: customer %x, %v; want an abort %q", first, cust.key, cust.err, protocol.CodeUsed)
		}
		if !errors.Is(ag.err, ErrPakeFailed) || ag.key != nil {
			t.Fatalf("second attempt after %s: agent %x, %v; want ErrPakeFailed", first, ag.key, ag.err)
		}
	}
}

func TestAgentPairingIgnoresStrayConfirm(t *testing.T) {
	a := NewAgentPairing(testSession, "1234", "567890")
	replies, key, err := a.Handle(&pb.PeerSignal{Body: &pb.PeerSignal_Confirm{Confirm: &pb.KeyConfirm{Mac: make([]byte, 32)}}})
	if replies != nil || key != nil || err != nil {
		t.Fatalf("confirm before any PAKE: %v %x %v", replies, key, err)
	}
	// The pairing is still usable afterwards.
	if cust, ag := pair(t, a, testSession, "1234", "567890", nil); cust.err != nil || ag.err != nil || !bytes.Equal(cust.key, ag.key) {
		t.Fatalf("pairing after a stray confirm: %v / %v", cust.err, ag.err)
	}
}

func TestAbortErrorMapsOnlyPakeFailed(t *testing.T) {
	if !errors.Is(&AbortError{Code: protocol.CodePakeFailed}, ErrPakeFailed) {
		t.Error("pake_failed abort does not match ErrPakeFailed")
	}
	if errors.Is(&AbortError{Code: protocol.CodeUsed}, ErrPakeFailed) {
		t.Error("used abort matches ErrPakeFailed")
	}
}
