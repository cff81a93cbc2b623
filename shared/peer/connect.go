package peer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// DirectTimeout is how long the customer tries the direct path before it
// falls back to the relay.
var DirectTimeout = 2 * time.Second

// SignalTimeout bounds each wait for the other side's answer while
// connecting.
var SignalTimeout = 10 * time.Second

// ErrPeerUnreachable means neither path reached the other side.
var ErrPeerUnreachable = errors.New("could not reach the other side")

// ConnectOptions are the customer's inputs for one connection attempt.
type ConnectOptions struct {
	Identity   *Identity
	Sealer     *Sealer      // seals the signals with the session key; required
	Channel    uint64       // the session's relay channel
	Relay      *net.UDPAddr // the relay's address
	Observed   string       // this endpoint's address as the relay saw it
	ForceRelay bool         // skip the direct attempt
	Attempt    uint64       // distinguishes answers to this attempt from stale ones
}

// Connect (customer side) offers candidates, tries the direct path, falls
// back to the relayed one, and returns the connected QUIC connection. Its
// signals travel sealed with o.Sealer, and it hears only sealed ones.
func Connect(ctx context.Context, e *Endpoint, sig Signaler, o ConnectOptions) (*quic.Conn, Path, error) {
	if o.Sealer == nil {
		return nil, "", errors.New("connecting: no sealer for the signals")
	}
	sig = SealSignals(sig, o.Sealer)
	cands := &pb.Candidates{ForceRelay: o.ForceRelay, Attempt: o.Attempt}
	if !o.ForceRelay {
		cands.Addrs = e.Candidates(o.Observed)
	}
	if err := sig.Send(&pb.PeerSignal{Body: &pb.PeerSignal_Candidates{Candidates: cands}}); err != nil {
		return nil, "", err
	}
	var theirs *pb.Candidates
	err := waitSignal(ctx, sig, func(s *pb.PeerSignal) bool {
		if c := s.GetCandidates(); c != nil && c.Attempt == o.Attempt {
			theirs = c
			return true
		}
		return false
	})
	if err != nil {
		return nil, "", err
	}
	if !o.ForceRelay && !theirs.ForceRelay && len(theirs.Addrs) > 0 {
		e.Punch(theirs.Addrs)
		dctx, cancel := context.WithTimeout(ctx, DirectTimeout)
		conn, err := e.DialDirect(dctx, o.Identity, theirs.Addrs)
		cancel()
		if err == nil {
			return conn, PathDirect, nil
		}
		if errors.Is(err, ErrWrongPeer) {
			return nil, "", err
		}
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		e.log.Info("direct path failed; using the relay", "err", err)
	}
	if err := sig.Send(&pb.PeerSignal{Body: &pb.PeerSignal_UseRelay{UseRelay: &pb.UseRelay{Attempt: o.Attempt}}}); err != nil {
		return nil, "", err
	}
	err = waitSignal(ctx, sig, func(s *pb.PeerSignal) bool {
		r := s.GetRelayReady()
		return r != nil && r.Attempt == o.Attempt
	})
	if err != nil {
		return nil, "", err
	}
	dctx, cancel := context.WithTimeout(ctx, SignalTimeout)
	defer cancel()
	conn, err := e.DialRelayed(dctx, o.Identity, o.Channel, o.Relay)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrPeerUnreachable, err)
	}
	return conn, PathRelayed, nil
}

// Dial (customer side) is one connection attempt to the agent, as the
// customer client makes it: Connect, then OpenAgentLink. On failure nothing
// is left open.
func Dial(ctx context.Context, e *Endpoint, sig Signaler, o ConnectOptions, hello *pb.Hello) (*Link, error) {
	conn, path, err := Connect(ctx, e, sig, o)
	if err != nil {
		return nil, err
	}
	return OpenAgentLink(ctx, conn, path, hello)
}

func waitSignal(ctx context.Context, sig Signaler, match func(*pb.PeerSignal) bool) error {
	ctx, cancel := context.WithTimeout(ctx, SignalTimeout)
	defer cancel()
	for {
		s, err := sig.Recv(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("%w: no answer", ErrPeerUnreachable)
			}
			return err
		}
		if a := s.GetAbort(); a != nil {
			return &AbortError{Code: a.Code, Message: a.Message}
		}
		if match(s) {
			return nil
		}
	}
}

// AnswerCandidates (agent side) answers a customer's candidates: it punches
// towards them and returns the agent's own candidates for the same attempt.
func AnswerCandidates(e *Endpoint, theirs *pb.Candidates, observed string, forceRelay bool) *pb.PeerSignal {
	mine := &pb.Candidates{ForceRelay: forceRelay, Attempt: theirs.Attempt}
	if !forceRelay && !theirs.ForceRelay {
		mine.Addrs = e.Candidates(observed)
		e.Punch(theirs.Addrs)
	}
	return &pb.PeerSignal{Body: &pb.PeerSignal_Candidates{Candidates: mine}}
}

// RelayReadySignal is the agent's answer once its relayed listener is up.
func RelayReadySignal(attempt uint64) *pb.PeerSignal {
	return &pb.PeerSignal{Body: &pb.PeerSignal_RelayReady{RelayReady: &pb.RelayReady{Attempt: attempt}}}
}
