package peer

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

func mustSealer(t *testing.T, key []byte, session string, agent bool) *Sealer {
	t.Helper()
	s, err := NewSealer(key, session, agent)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func candidatesSignal(n int) *pb.PeerSignal {
	c := &pb.Candidates{Attempt: 7}
	for i := range n {
		c.Addrs = append(c.Addrs, fmt.Sprintf("[2001:db8::%x]:%d", i+1, 40000+i))
	}
	return &pb.PeerSignal{Body: &pb.PeerSignal_Candidates{Candidates: c}}
}

// wire is what a signal looks like to the relay, and what the receiver makes
// of it (relayclient.Signals.Deliver's checks).
func wire(t *testing.T, ps *pb.PeerSignal) (*pb.PeerSignal, []byte) {
	t.Helper()
	b, err := proto.Marshal(ps)
	if err != nil {
		t.Fatal(err)
	}
	var got pb.PeerSignal
	if err := proto.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if err := protocol.ValidatePeerSignal(&got); err != nil {
		t.Fatalf("a sealed signal does not pass the receiver's checks: %v", err)
	}
	return &got, b
}

func TestSealedSignalsOpenOnlyOnTheOtherSide(t *testing.T) {
	key := newKey(t)
	agent, cust := mustSealer(t, key, testSession, true), mustSealer(t, key, testSession, false)
	for _, ps := range []*pb.PeerSignal{
		candidatesSignal(3),
		{Body: &pb.PeerSignal_UseRelay{UseRelay: &pb.UseRelay{Attempt: 9}}},
		{Body: &pb.PeerSignal_RelayReady{RelayReady: &pb.RelayReady{Attempt: 9}}},
		{Body: &pb.PeerSignal_Abort{Abort: &pb.Abort{Code: "gave_up", Message: "the customer closed the app"}}},
	} {
		sealed, err := cust.Seal(ps)
		if err != nil {
			t.Fatal(err)
		}
		got, raw := wire(t, sealed)
		opened, err := agent.Open(got)
		if err != nil || !proto.Equal(opened, ps) {
			t.Fatalf("agent opened %v (%v), want %v", opened, err, ps)
		}
		// What the relay sees holds nothing of the signal.
		inner, _ := proto.Marshal(ps)
		if bytes.Contains(raw, inner) || bytes.Contains(raw, []byte("2001:db8")) || bytes.Contains(raw, []byte("closed the app")) {
			t.Fatalf("the sealed %T shows its contents: % x", ps.Body, raw)
		}
		// Sent back to its sender (a relay reflecting it), it does not open.
		if _, err := cust.Open(got); !errors.Is(err, ErrNotSealed) {
			t.Fatalf("the customer opened its own signal: %v", err)
		}
	}
}

func TestSealedSignalsRefuseWhatTheRelayCouldMake(t *testing.T) {
	key := newKey(t)
	agent, cust := mustSealer(t, key, testSession, true), mustSealer(t, key, testSession, false)
	sealed, err := cust.Seal(candidatesSignal(2))
	if err != nil {
		t.Fatal(err)
	}
	box := sealed.GetSealed()
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
	otherSession := mustSealer(t, key, "fedcba9876543210fedcba9876543210", false)
	fromOther, err := otherSession.Seal(candidatesSignal(2))
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := mustSealer(t, newKey(t), testSession, false).Seal(candidatesSignal(2))
	if err != nil {
		t.Fatal(err)
	}
	for name, ps := range map[string]*pb.PeerSignal{
		"plain candidates":         candidatesSignal(2),
		"a bit of the box changed": {Body: &pb.PeerSignal_Sealed{Sealed: &pb.Sealed{Nonce: box.Nonce, Box: flip(box.Box, 5)}}},
		"the tag changed":          {Body: &pb.PeerSignal_Sealed{Sealed: &pb.Sealed{Nonce: box.Nonce, Box: flip(box.Box, len(box.Box)-1)}}},
		"the nonce changed":        {Body: &pb.PeerSignal_Sealed{Sealed: &pb.Sealed{Nonce: flip(box.Nonce, 0), Box: box.Box}}},
		"cut short":                {Body: &pb.PeerSignal_Sealed{Sealed: &pb.Sealed{Nonce: box.Nonce, Box: box.Box[:len(box.Box)-16]}}},
		"another session's":        fromOther,
		"another key's":            otherKey,
	} {
		if got, err := agent.Open(ps); !errors.Is(err, ErrNotSealed) {
			t.Errorf("%s: opened %v (%v), want ErrNotSealed", name, got, err)
		}
	}
	// What is never sealed, the pairing's own signals, cannot be: neither
	// sent nor opened.
	pakeSignal := &pb.PeerSignal{Body: &pb.PeerSignal_Pake{Pake: &pb.Pake{Message: []byte("x")}}}
	if _, err := cust.Seal(pakeSignal); err == nil {
		t.Error("a Pake was sealed")
	}
	if _, err := cust.Seal(sealed); err == nil {
		t.Error("a Sealed was sealed again")
	}
}

func TestSealedSignalsAreTheSameSize(t *testing.T) {
	// The padding hides how many addresses a side has and which signal it
	// is: up to the most candidates a signal may carry, every signal is
	// one size.
	s := mustSealer(t, newKey(t), testSession, false)
	var sizes []int
	for _, ps := range []*pb.PeerSignal{
		candidatesSignal(0), candidatesSignal(1), candidatesSignal(protocol.MaxCandidates),
		{Body: &pb.PeerSignal_UseRelay{UseRelay: &pb.UseRelay{Attempt: 1 << 60}}},
	} {
		sealed, err := s.Seal(ps)
		if err != nil {
			t.Fatal(err)
		}
		_, raw := wire(t, sealed)
		sizes = append(sizes, len(raw))
	}
	for _, n := range sizes {
		if n != sizes[0] {
			t.Fatalf("sealed sizes %v, want one size", sizes)
		}
	}
	// The longest abort still fits a signal.
	long := &pb.PeerSignal{Body: &pb.PeerSignal_Abort{Abort: &pb.Abort{Code: string(bytes.Repeat([]byte("c"), 64)), Message: string(bytes.Repeat([]byte("m"), 1024))}}}
	sealed, err := s.Seal(long)
	if err != nil {
		t.Fatal(err)
	}
	wire(t, sealed)
}

// TestRelaySeesNoAddresses is finding 6 of issue 14: the relay carried the
// peers' candidate addresses in the clear. It pairs, connects on each path,
// and reads every signal as the relay has it.
func TestRelaySeesNoAddresses(t *testing.T) {
	w := newAgentWorld(t, func(c *AgentSideConfig) { c.Observed = func() string { return "198.51.100.7:4433" } })
	w.side.StartPairing("12345678", "567890")
	w.run(t)
	key, err := PairCustomer(testCtx(t), w.cust, testSession, "12345678", "567890")
	if err != nil {
		t.Fatal(err)
	}
	for i, force := range []bool{false, true} {
		l, err := w.dial(t, key, force, uint64(i+1))
		if err != nil {
			t.Fatalf("force relay %v: %v", force, err)
		}
		receive(t, w.links, "accepted link")
		l.Close(CodeNoError, "")
	}
	// Both sides' addresses: the relay must find none of them.
	var secrets [][]byte
	for _, ep := range []*Endpoint{w.agentEP, w.custEP} {
		for _, a := range ep.Candidates("198.51.100.7:4433") {
			ap := netip.MustParseAddrPort(a)
			secrets = append(secrets, []byte(a), []byte(ap.Addr().String()), []byte(strconv.Itoa(int(ap.Port()))))
		}
	}
	var sealed int
	for i, raw := range w.view.seen() {
		var ps pb.PeerSignal
		if err := proto.Unmarshal(raw, &ps); err != nil {
			t.Fatal(err)
		}
		switch ps.Body.(type) {
		case *pb.PeerSignal_Pake, *pb.PeerSignal_Confirm:
			continue // the pairing itself: nothing but the PAKE's points and MACs
		case *pb.PeerSignal_Sealed:
			sealed++
		default:
			t.Fatalf("signal %d went in the clear: %v", i, &ps)
		}
		for _, s := range secrets {
			if bytes.Contains(raw, s) {
				t.Fatalf("signal %d shows %q to the relay", i, s)
			}
		}
	}
	// Two attempts: candidates both ways, then use_relay and relay_ready
	// on the relayed one.
	if sealed < 4 {
		t.Fatalf("%d sealed signals, want at least 4", sealed)
	}
}

func TestAgentSideDropsUnsealedSignals(t *testing.T) {
	// A relay that makes up signals for a paired session gets no answer:
	// not its candidates (the agent would punch towards them), nor its
	// use_relay.
	w := newAgentWorld(t, nil)
	key := newKey(t)
	if err := w.side.Resume(key); err != nil {
		t.Fatal(err)
	}
	w.run(t)
	w.cust.Send(&pb.PeerSignal{Body: &pb.PeerSignal_Candidates{Candidates: &pb.Candidates{Attempt: 1, Addrs: []string{"127.0.0.1:9"}}}})
	w.cust.Send(&pb.PeerSignal{Body: &pb.PeerSignal_UseRelay{UseRelay: &pb.UseRelay{Attempt: 1}}})
	forged, err := mustSealer(t, newKey(t), testSession, false).Seal(&pb.PeerSignal{Body: &pb.PeerSignal_UseRelay{UseRelay: &pb.UseRelay{Attempt: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	w.cust.Send(forged)
	// The customer's own, sealed, is answered, sealed; being handled in
	// order, the earlier ones got nothing.
	cust := mustSealer(t, key, testSession, false)
	mine, err := cust.Seal(&pb.PeerSignal{Body: &pb.PeerSignal_Candidates{Candidates: &pb.Candidates{Attempt: 3, ForceRelay: true}}})
	if err != nil {
		t.Fatal(err)
	}
	w.cust.Send(mine)
	ps, err := w.cust.Recv(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	answer, err := cust.Open(ps)
	if err != nil || answer.GetCandidates().GetAttempt() != 3 {
		t.Fatalf("first answer %v, opened %v (%v); want sealed candidates for attempt 3", ps, answer, err)
	}
	w.finish(t)
	if got := w.pending(); len(got) != 0 {
		t.Fatalf("more answers: %v", got)
	}
}

func TestSealedSignalsFromAHostilePeer(t *testing.T) {
	// The other side holds the key and may seal anything: what is not a
	// well-formed signal that travels sealed is refused all the same.
	key := newKey(t)
	agent, cust := mustSealer(t, key, testSession, true), mustSealer(t, key, testSession, false)
	seal := func(plain []byte) *pb.PeerSignal {
		nonce := make([]byte, protocol.SealNonceLen)
		return &pb.PeerSignal{Body: &pb.PeerSignal_Sealed{Sealed: &pb.Sealed{Nonce: nonce, Box: cust.seal.Seal(nil, nonce, plain, cust.ad)}}}
	}
	framed := func(ps *pb.PeerSignal, claim int) []byte {
		inner, _ := proto.Marshal(ps)
		plain := make([]byte, protocol.SealPad)
		plain[0], plain[1] = byte(claim>>8), byte(claim)
		copy(plain[2:], inner)
		return plain
	}
	inner, _ := proto.Marshal(candidatesSignal(1))
	pakeSignal := &pb.PeerSignal{Body: &pb.PeerSignal_Pake{Pake: &pb.Pake{Message: []byte("x")}}}
	nested, err := cust.Seal(candidatesSignal(1))
	if err != nil {
		t.Fatal(err)
	}
	bad := &pb.PeerSignal{Body: &pb.PeerSignal_Candidates{Candidates: &pb.Candidates{Addrs: []string{"not an address"}}}}
	for name, tc := range map[string]struct {
		ps   *pb.PeerSignal
		want error
	}{
		"empty":                      {seal(nil), ErrNotSealed},
		"one byte":                   {seal([]byte{0}), ErrNotSealed},
		"a length beyond the end":    {seal(framed(candidatesSignal(1), protocol.SealPad)), ErrNotSealed},
		"not protobuf":               {seal(append([]byte{0, 3}, 0xff, 0xff, 0xff)), ErrNotSealed},
		"nothing inside":             {seal(framed(&pb.PeerSignal{}, 0)), ErrNotSealed},
		"a pake inside":              {seal(framed(pakeSignal, len(mustMarshal(t, pakeSignal)))), ErrNotSealed},
		"a sealed inside":            {seal(framed(nested, len(mustMarshal(t, nested)))), ErrNotSealed},
		"an invalid candidate":       {seal(framed(bad, len(mustMarshal(t, bad)))), protocol.ErrInvalid},
		"the right length, unpadded": {seal(append([]byte{byte(len(inner) >> 8), byte(len(inner))}, inner...)), nil},
	} {
		got, err := agent.Open(tc.ps)
		if tc.want == nil {
			if err != nil || got.GetCandidates() == nil {
				t.Errorf("%s: %v (%v), want the candidates", name, got, err)
			}
			continue
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: opened %v (%v), want %v", name, got, err, tc.want)
		}
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReplayedUseRelayKeepsTheLink: the relay cannot read a sealed
// use_relay, but it can send it again. The agent answered that attempt
// already; a new relayed listener would drop the connection on the first.
func TestReplayedUseRelayKeepsTheLink(t *testing.T) {
	w := newAgentWorld(t, nil)
	key := newKey(t)
	if err := w.side.Resume(key); err != nil {
		t.Fatal(err)
	}
	w.run(t)
	l, err := w.dial(t, key, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(CodeNoError, "")
	al := receive(t, w.links, "accepted link")
	agent := mustSealer(t, key, testSession, true)
	var replay *pb.PeerSignal
	for _, raw := range w.view.seen() {
		var ps pb.PeerSignal
		if proto.Unmarshal(raw, &ps) != nil {
			continue
		}
		if in, err := agent.Open(&ps); err == nil && in.GetUseRelay() != nil {
			replay = &ps
		}
	}
	if replay == nil {
		t.Fatal("no use_relay went through the relay")
	}
	w.cust.Send(replay)
	w.cust.Send(replay)
	// Handled in order: once a fresh attempt is answered, the replays were
	// handled (and dropped) before it.
	mine, err := mustSealer(t, key, testSession, false).Seal(&pb.PeerSignal{Body: &pb.PeerSignal_Candidates{Candidates: &pb.Candidates{Attempt: 2, ForceRelay: true}}})
	if err != nil {
		t.Fatal(err)
	}
	w.cust.Send(mine)
	cust := mustSealer(t, key, testSession, false)
	for {
		ps, err := w.cust.Recv(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if in, err := cust.Open(ps); err == nil && in.GetCandidates().GetAttempt() == 2 {
			break
		}
	}
	// A message each way still goes through: the link is the one of
	// attempt 1, on the first listener.
	for _, ends := range [][2]*Link{{l, al}, {al, l}} {
		if err := ends[0].Send(&pb.PeerMsg{Body: &pb.PeerMsg_Ping{Ping: &pb.Ping{UnixMs: 1}}}); err != nil {
			t.Fatalf("the relayed link after the replay: %v", err)
		}
		if m, err := ends[1].Recv(); err != nil || m.GetPing() == nil {
			t.Fatalf("the relayed link after the replay: %v, %v", m, err)
		}
	}
}
