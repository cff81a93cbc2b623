package console

import (
	"bufio"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/screen"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

// A hostile customer's screen: a 64 × 48 monitor, then whatever frame the
// test gives, and nothing read after the open (a customer that does not
// read).
func hostileScreen(t *testing.T, frame *pb.ScreenMsg, later <-chan *pb.ScreenMsg) (*world, string) {
	t.Helper()
	w := startConsole(t, false)
	sid, key := w.newSession(t)
	c := testpeer.JoinCustomer(t, testpeer.CustomerOptions{Relay: w.addr, Fingerprint: w.fp, Key: key})
	asked := make(chan consent.Event, 8)
	give := consent.NewGiver(c.Router, consent.GiverConfig{Kinds: []string{consent.KindScreen}, Events: func(ev consent.Event) {
		if ev.State == consent.StateRequested {
			asked <- ev
		}
	}})
	c.Router.HandleStream(protocol.StreamScreen, func(_ *peer.Link, str *quic.Stream, r *bufio.Reader) {
		var m pb.ScreenMsg
		if protocol.ReadFrame(r, &m, protocol.MaxScreenCtl) != nil {
			return
		}
		protocol.WriteFrame(str, &pb.ScreenMsg{Body: &pb.ScreenMsg_Info{Info: &pb.ScreenInfo{
			Monitors: []*pb.Monitor{{Index: 0, Width: 64, Height: 48, Primary: true}},
		}}}, protocol.MaxScreenFrame)
		if frame != nil {
			protocol.WriteFrame(str, frame, protocol.MaxScreenFrame)
		}
		for { // never reads again
			select {
			case m := <-later:
				protocol.WriteFrame(str, m, protocol.MaxScreenFrame)
			case <-str.Context().Done():
				return
			}
		}
	})
	w.ev.Expect(t, "customer_joined", inSession(sid))
	id, err := w.con.RequestPermission(sid, consent.KindScreen, "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	give.Answer(testpeer.Receive(t, asked, "the request").ID, true)
	w.ev.Expect(t, "permission", permission(id, "allowed"))
	if err := w.con.StartScreen(ctxFor(t), sid, 0); err != nil {
		t.Fatal(err)
	}
	w.ev.Expect(t, "screen_started", inSession(sid))
	return w, sid
}

// A frame far bigger than the monitor's pixels could need ends the stream
// before this side holds it.
func TestScreenFrameCappedByTheMonitor(t *testing.T) {
	big := &pb.ScreenMsg{Body: &pb.ScreenMsg_Frame{Frame: &pb.ScreenFrame{Seq: 1, Update: make([]byte, 2<<20)}}}
	w, sid := hostileScreen(t, big, nil)
	e := w.ev.Expect(t, "screen_stopped", inSession(sid))
	if e.By != "connection" || !strings.Contains(e.Reason, "cap") {
		t.Fatalf("screen_stopped %+v, want the frame refused for its size", e)
	}
}

// A customer that stops reading does not hold the console: stopping the
// screen returns, even with acknowledgements unread.
func TestStopScreenWithACustomerThatDoesNotRead(t *testing.T) {
	later := make(chan *pb.ScreenMsg, 1)
	w, sid := hostileScreen(t, nil, later)
	v := w.con.viewerOf(sid)
	go func() { // syncs until the stream the customer does not read is full, and blocks
		for n := uint64(1); v.send(&pb.ScreenMsg{Body: &pb.ScreenMsg_Sync{Sync: &pb.ScreenSync{N: n}}}) == nil; n++ {
		}
	}()
	time.Sleep(3 * time.Second) // megabytes of syncs: the customer's window (4 MiB) is full
	// A real frame now: its acknowledgement waits behind the syncs.
	later <- &pb.ScreenMsg{Body: &pb.ScreenMsg_Frame{Frame: &pb.ScreenFrame{Seq: 1, Update: screen.NewEncoder().Encode(screen.NewImage(64, 48), nil)}}}
	time.Sleep(300 * time.Millisecond)
	done := make(chan struct{})
	go func() { w.con.StopScreen(sid); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("StopScreen hangs on a customer that does not read")
	}
	w.ev.Expect(t, "screen_stopped", func(e headless.Event) bool { return e.Session == sid && e.By == "agent" })
}
