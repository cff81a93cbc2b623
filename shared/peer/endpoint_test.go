package peer

import (
	"net"
	"testing"
	"time"
)

// After a session's AgentSide stops, its relayed channel, listener and
// transport are gone from the endpoint.
func TestRelayedListenerEndsWithTheSession(t *testing.T) {
	w := newAgentWorld(t, nil)
	w.side.StartPairing("1234", "567890")
	w.run(t)
	key, err := PairCustomer(testCtx(t), w.cust, testSession, "1234", "567890")
	if err != nil {
		t.Fatal(err)
	}
	<-w.paired
	l, err := w.dial(t, key, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	receive(t, w.links, "link")
	w.agentEP.mu.Lock()
	var vc *vconn
	for _, c := range w.agentEP.channels {
		vc = c
	}
	w.agentEP.mu.Unlock()
	if vc == nil {
		t.Fatal("no relayed channel while the relayed link is up")
	}
	l.Close(CodeNoError, "")
	w.side.Stop()
	select {
	case <-vc.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the relayed channel outlived the session")
	}
	w.agentEP.mu.Lock()
	n := len(w.agentEP.channels)
	w.agentEP.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d relayed channels left on the endpoint", n)
	}
}

// Only the relay may feed a relayed channel: a packet with the right
// channel id from anywhere else is dropped.
func TestRelayedPacketsOnlyFromTheRelay(t *testing.T) {
	e := testEndpoint(t)
	relay, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	stranger, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	vc := e.openChannel(77, relay.LocalAddr().(*net.UDPAddr))
	go e.tr.ReadNonQUICPacket(testCtx(t), make([]byte, 10)) // start the transport's reader
	pkt := func(payload string) []byte { return append([]byte{0, 0, 0, 0, 0, 0, 0, 0, 77}, payload...) }
	stranger.WriteToUDP(pkt("injected"), e.LocalAddr())
	relay.WriteToUDP(pkt("from the relay"), e.LocalAddr())
	select {
	case b := <-vc.in:
		if string(b) != "from the relay" {
			t.Fatalf("the channel got %q", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the relay's packet did not arrive")
	}
	select {
	case b := <-vc.in:
		t.Fatalf("the channel also got %q", b)
	default:
	}
}
