package testpeer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// LinkPair makes a real peer connection over QUIC on loopback (the direct
// path between two peer endpoints, no relay) and returns both ends of its
// control stream, after the hellos: the agent's (named agent) and the
// customer's (named customer). Everything closes when the test ends; each
// call makes a new connection, as a reconnect would.
func LinkPair(tb testing.TB, agent, customer string) (agentLink, customerLink *peer.Link) {
	tb.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	sid := make([]byte, 16)
	rand.Read(sid)
	session := hex.EncodeToString(sid)
	aid, err := peer.NewIdentity(key, session, true)
	if err != nil {
		tb.Fatal(err)
	}
	cid, err := peer.NewIdentity(key, session, false)
	if err != nil {
		tb.Fatal(err)
	}
	quiet := discard(nil)
	ea, err := peer.NewEndpoint("127.0.0.1:0", quiet)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ea.Close() })
	ec, err := peer.NewEndpoint("127.0.0.1:0", quiet)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ec.Close() })
	accepted := make(chan *quic.Conn, 1)
	if err := ea.Register(aid, func(c *quic.Conn, _ peer.Path) { accepted <- c }); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	conn, err := ec.DialDirect(ctx, cid, []string{ea.LocalAddr().String()})
	if err != nil {
		tb.Fatalf("dialling: %v", err)
	}
	type opened struct {
		l   *peer.Link
		err error
	}
	done := make(chan opened, 1)
	go func() {
		l, err := peer.OpenLink(ctx, conn, peer.PathDirect, hello(pb.Role_ROLE_CUSTOMER, customer))
		done <- opened{l, err}
	}()
	aconn := Receive(tb, accepted, "accepted connection")
	agentLink, err = peer.AcceptLink(ctx, aconn, peer.PathDirect, hello(pb.Role_ROLE_AGENT, agent))
	if err != nil {
		tb.Fatalf("accepting the link: %v", err)
	}
	o := Receive(tb, done, "opened link")
	if o.err != nil {
		tb.Fatalf("opening the link: %v", o.err)
	}
	return agentLink, o.l
}
