package relayclient

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// Signals is one session's peer-signal mailbox: it implements peer.Signaler
// over the relay connection. The app feeds received Signal payloads to
// Deliver.
type Signals struct {
	c       *Client
	session string
	in      chan *pb.PeerSignal
}

// NewSignals makes the mailbox of one session.
func NewSignals(c *Client, session string) *Signals {
	return &Signals{c: c, session: session, in: make(chan *pb.PeerSignal, 64)}
}

// Send sends a signal to the other peer of the session.
func (s *Signals) Send(ps *pb.PeerSignal) error {
	payload, err := proto.Marshal(ps)
	if err != nil {
		return err
	}
	return s.c.Send(&pb.ClientMsg{Body: &pb.ClientMsg_Signal{Signal: &pb.Signal{Session: s.session, Payload: payload}}})
}

// Recv waits for the next signal.
func (s *Signals) Recv(ctx context.Context) (*pb.PeerSignal, error) {
	select {
	case ps := <-s.in:
		return ps, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Deliver decodes and queues a received payload; malformed ones are dropped,
// and so are signals beyond the mailbox's capacity (the sender retries).
func (s *Signals) Deliver(payload []byte) bool {
	var ps pb.PeerSignal
	if proto.Unmarshal(payload, &ps) != nil || protocol.ValidatePeerSignal(&ps) != nil || ps.Body == nil {
		return false
	}
	select {
	case s.in <- &ps:
		return true
	default:
		return false
	}
}

// Drain throws away queued signals (before a new connection attempt).
func (s *Signals) Drain() {
	for {
		select {
		case <-s.in:
		default:
			return
		}
	}
}
