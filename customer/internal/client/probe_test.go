package client

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

// readInto passes what arrives on l to the client, as its conversation
// does.
func readInto(c *Client, l *peer.Link) {
	go func() {
		for {
			m, err := l.Recv()
			if err != nil {
				return
			}
			c.peerMsg(m)
		}
	}()
}

// When the relay says the agent's app attached again, the client pings
// the link it has: a link that answers stays, one that does not is closed
// (then the client dials the new app), without waiting for QUIC's idle
// timeout.
func TestProbeKeepsALiveLinkAndClosesADeadOne(t *testing.T) {
	defer func(d time.Duration) { ProbeWait = d }(ProbeWait)
	ProbeWait = 300 * time.Millisecond
	c := &Client{ctx: context.Background(), log: slog.New(slog.DiscardHandler)}

	agent, live := testpeer.LinkPair(t, "alice", "bob")
	go func() { // the agent's app answers pings, as its conversation does
		for {
			m, err := agent.Recv()
			if err != nil {
				return
			}
			if p := m.GetPing(); p != nil {
				agent.Send(&pb.PeerMsg{Body: &pb.PeerMsg_Pong{Pong: &pb.Pong{UnixMs: p.UnixMs}}})
			}
		}
	}()
	readInto(c, live)
	c.probe(live)
	select {
	case <-live.Done():
		t.Fatal("a link that answered was closed")
	default:
	}

	_, dead := testpeer.LinkPair(t, "alice", "bob") // nobody answers at the far end
	readInto(c, dead)
	c.probe(dead)
	select {
	case <-dead.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a link that does not answer was kept")
	}
	if len(c.probes) != 0 {
		t.Fatalf("%d probes left waiting", len(c.probes))
	}
}
