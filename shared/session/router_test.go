package session_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/session"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

const sessionID = "0123456789abcdef0123456789abcdef"

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	return testpeer.Receive(t, ch, what)
}

func quiet[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %v", what, v)
	case <-time.After(100 * time.Millisecond):
	}
}

type seen struct {
	l *peer.Link
	m *pb.PeerMsg
}

// The router answers pings, hands each control message to the service
// registered for its type with the link it came on, skips the ones nobody
// handles, and tells Bye to the session.
func TestControlDispatch(t *testing.T) {
	byes := make(chan string, 1)
	r := session.New(session.Config{Session: sessionID, Bye: func(_ *peer.Link, reason string) { byes <- reason }})
	t.Cleanup(func() { r.Close("test over") })
	chats, cancels := make(chan seen, 4), make(chan seen, 4)
	r.HandleControl((*pb.PeerMsg_Chat)(nil), func(l *peer.Link, m *pb.PeerMsg) { chats <- seen{l, m} })
	r.HandleControl((*pb.PeerMsg_FileCancel)(nil), func(l *peer.Link, m *pb.PeerMsg) { cancels <- seen{l, m} })

	raw, l := testpeer.LinkPair(t, "alice", "bob")
	if err := r.Attach(raw); err != nil {
		t.Fatal(err)
	}
	l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_Ping{Ping: &pb.Ping{UnixMs: 42}}})
	if in, err := l.Recv(); err != nil || in.GetPong().GetUnixMs() != 42 {
		t.Fatalf("pong: %v, %v", in, err)
	}
	// Nobody handles permission requests here: skipped, and the link
	// stays.
	l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_PermissionRequest{PermissionRequest: &pb.PermissionRequest{Id: "p1", Kind: "files", TimeoutMs: 1000}}})
	l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileCancel{FileCancel: &pb.FileCancel{Id: "0123456789abcdef0123456789abcdef", Why: "stopped"}}})
	l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_Chat{Chat: &pb.Chat{Id: "c1", From: "bob", FromRole: pb.Role_ROLE_CUSTOMER, Text: "hi", AtUnixMs: 1}}})
	if s := recv(t, cancels, "file cancel"); s.l != raw || s.m.GetFileCancel().GetWhy() != "stopped" {
		t.Fatalf("cancel handler saw %v", s.m)
	}
	if s := recv(t, chats, "chat"); s.l != raw || s.m.GetChat().GetText() != "hi" {
		t.Fatalf("chat handler saw %v", s.m)
	}
	l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_Bye{Bye: &pb.Bye{Reason: "all done", SessionEnded: true}}})
	if got := recv(t, byes, "bye"); got != "all done" {
		t.Fatalf("bye %q", got)
	}
	quiet(t, chats, "chat")
}

// Services register once per kind; the router's own messages are not
// theirs.
func TestRegistrationMistakesPanic(t *testing.T) {
	for name, f := range map[string]func(r *session.Router){
		"ping": func(r *session.Router) { r.HandleControl((*pb.PeerMsg_Ping)(nil), nil) },
		"twice": func(r *session.Router) {
			r.HandleControl((*pb.PeerMsg_Chat)(nil), func(*peer.Link, *pb.PeerMsg) {})
			r.HandleControl((*pb.PeerMsg_Chat)(nil), func(*peer.Link, *pb.PeerMsg) {})
		},
		"control": func(r *session.Router) { r.HandleStream(protocol.StreamControl, nil) },
		"stream twice": func(r *session.Router) {
			r.HandleStream(9, func(*peer.Link, *quic.Stream, *bufio.Reader) {})
			r.HandleStream(9, func(*peer.Link, *quic.Stream, *bufio.Reader) {})
		},
		"datagram": func(r *session.Router) {
			r.HandleDatagram(1, func(*peer.Link, []byte) {})
			r.HandleDatagram(1, func(*peer.Link, []byte) {})
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f(session.New(session.Config{Session: sessionID}))
		})
	}
}

// Streams go to the service of their kind with the header read; a stream
// of a kind nobody handles, or with no Porthole header, is refused with
// CodeUnknownStream and the link stays up.
func TestStreamDispatch(t *testing.T) {
	r := session.New(session.Config{Session: sessionID})
	t.Cleanup(func() { r.Close("test over") })
	got := make(chan string, 2)
	r.HandleStream(protocol.StreamFile, func(l *peer.Link, str *quic.Stream, br *bufio.Reader) {
		b, _ := io.ReadAll(br)
		got <- l.Remote.Name + ":" + string(b)
		str.Close()
	})
	raw, l := testpeer.LinkPair(t, "alice", "bob")
	r.Attach(raw)

	open := func(head []byte, body string) *quic.Stream {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), testpeer.Timeout)
		defer cancel()
		str, err := l.Conn.OpenStreamSync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		str.Write(append(head, body...))
		str.Close()
		return str
	}
	header := func(kind protocol.StreamKind) []byte {
		var b writeBuf
		protocol.WriteHeader(&b, kind)
		return b
	}
	open(header(protocol.StreamFile), "file bytes")
	if s := recv(t, got, "file stream"); s != "bob:file bytes" {
		t.Fatalf("handler got %q", s)
	}
	for name, head := range map[string][]byte{"unknown kind": header(0x7e), "not porthole": []byte("GET / HTTP/1.1\r\n")} {
		str := open(head, "xxxxxxxx")
		str.SetReadDeadline(time.Now().Add(testpeer.Timeout))
		_, err := str.Read(make([]byte, 1))
		var se *quic.StreamError
		if !errors.As(err, &se) || se.ErrorCode != session.CodeUnknownStream {
			t.Fatalf("%s: read %v, want stream error %d", name, err, session.CodeUnknownStream)
		}
	}
	// The link is still up and still dispatches.
	open(header(protocol.StreamFile), "again")
	if s := recv(t, got, "file stream"); s != "bob:again" {
		t.Fatalf("handler got %q", s)
	}
}

type writeBuf []byte

func (w *writeBuf) Write(p []byte) (int, error) { *w = append(*w, p...); return len(p), nil }

// Datagrams go to the service of their first byte, without it; others are
// dropped.
func TestDatagramDispatch(t *testing.T) {
	r := session.New(session.Config{Session: sessionID})
	t.Cleanup(func() { r.Close("test over") })
	got := make(chan string, 8)
	r.HandleDatagram(7, func(l *peer.Link, b []byte) { got <- l.Remote.Name + ":" + string(b) })
	raw, l := testpeer.LinkPair(t, "alice", "bob")
	r.Attach(raw)
	// Datagrams may be lost; on loopback a few tries are plenty.
	deadline := time.Now().Add(testpeer.Timeout)
	for {
		l.Conn.SendDatagram([]byte("\x09other"))
		l.Conn.SendDatagram([]byte{})
		l.Conn.SendDatagram([]byte("\x07cursor"))
		select {
		case s := <-got:
			if s != "bob:cursor" {
				t.Fatalf("handler got %q", s)
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no datagram arrived")
		}
	}
}

// Links are kept by the peer's name: a second peer is a second link; a
// newer link from the same peer replaces the older one, whose watchers
// hear it end, while Gone is only for a peer that is no longer connected.
func TestLinksByPeer(t *testing.T) {
	gone := make(chan string, 4)
	r := session.New(session.Config{Session: sessionID, Gone: func(l *peer.Link, _ error) { gone <- l.Remote.Name }})
	t.Cleanup(func() { r.Close("test over") })
	ups, downs := make(chan *peer.Link, 8), make(chan *peer.Link, 8)
	r.Watch(session.WatchFuncs{Up: func(l *peer.Link) { ups <- l }, Down: func(l *peer.Link, _ error) { downs <- l }})

	alice1, _ := testpeer.LinkPair(t, "bob", "alice")
	carol, carolEnd := testpeer.LinkPair(t, "bob", "carol")
	r.Attach(alice1)
	r.Attach(carol)
	recv(t, ups, "link up")
	recv(t, ups, "link up")
	if ls := r.Links(); len(ls) != 2 || ls[0] != alice1 || ls[1] != carol {
		t.Fatalf("links %v", ls)
	}
	if r.Only() != nil {
		t.Fatal("Only with two links")
	}
	alice2, alice2End := testpeer.LinkPair(t, "bob", "alice")
	r.Attach(alice2)
	if l := recv(t, ups, "link up"); l != alice2 {
		t.Fatal("up for another link")
	}
	if l := recv(t, downs, "link down"); l != alice1 {
		t.Fatal("down for another link")
	}
	quiet(t, gone, "gone")
	if r.Link("alice") != alice2 {
		t.Fatal("the newer link is not alice's")
	}

	// Broadcast reaches both peers; Send one.
	if n := r.Broadcast(&pb.PeerMsg{Body: &pb.PeerMsg_ChatAck{ChatAck: &pb.ChatAck{Id: "x"}}}); n != 2 {
		t.Fatalf("broadcast to %d", n)
	}
	for _, end := range []*peer.Link{alice2End, carolEnd} {
		if m, err := end.Recv(); err != nil || m.GetChatAck().GetId() != "x" {
			t.Fatalf("broadcast: %v %v", m, err)
		}
	}
	if err := r.Send("dave", &pb.PeerMsg{}); !errors.Is(err, session.ErrNotConnected) {
		t.Fatalf("send to nobody: %v", err)
	}

	carolEnd.Close(peer.CodeNoError, "")
	if l := recv(t, downs, "link down"); l != carol {
		t.Fatal("down for another link")
	}
	if name := recv(t, gone, "gone"); name != "carol" {
		t.Fatalf("gone: %s", name)
	}
	if r.Only() != alice2 {
		t.Fatal("Only is not alice's link")
	}
	r.Close("over")
	if l := recv(t, downs, "link down"); l != alice2 {
		t.Fatal("down for another link")
	}
	if err := r.Attach(alice1); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("attach after close: %v", err)
	}
}

// A peer that answers pings keeps its link; one that does not is cut after
// the wait. SayBye reaches the peers, and returns once they hung up.
func TestProbeAndBye(t *testing.T) {
	r := session.New(session.Config{Session: sessionID, ByeWait: testpeer.Timeout})
	t.Cleanup(func() { r.Close("test over") })
	live, liveEnd := testpeer.LinkPair(t, "bob", "alice")
	r.Attach(live)
	byes := make(chan string, 1)
	var other *session.Router
	other = session.New(session.Config{Session: sessionID, Bye: func(_ *peer.Link, reason string) {
		byes <- reason
		go other.Close("bye") // hangs up
	}})
	t.Cleanup(func() { other.Close("test over") })
	other.Attach(liveEnd) // answers pings
	if !r.Probe(context.Background(), live, testpeer.Timeout) {
		t.Fatal("a live peer did not answer")
	}
	dead, _ := testpeer.LinkPair(t, "bob", "carol")
	r.Attach(dead) // nobody reads the other end: no pong comes
	if r.Probe(context.Background(), dead, 200*time.Millisecond) {
		t.Fatal("a silent peer answered")
	}
	select {
	case <-dead.Done():
	case <-time.After(testpeer.Timeout):
		t.Fatal("the silent peer's link stayed open")
	}
	r.SayBye("all done")
	if got := recv(t, byes, "bye"); got != "all done" {
		t.Fatalf("bye %q", got)
	}
	select {
	case <-live.Done():
	default:
		t.Fatal("SayBye returned before the peer hung up")
	}
}

// An agent's router has one peer: a newer link replaces the older one
// whatever name it gives.
func TestOnePeer(t *testing.T) {
	r := session.New(session.Config{Session: sessionID, OnePeer: true})
	t.Cleanup(func() { r.Close("test over") })
	bob, _ := testpeer.LinkPair(t, "alice", "bob")
	laptop, _ := testpeer.LinkPair(t, "alice", "bob (laptop)")
	r.Attach(bob)
	r.Attach(laptop)
	select {
	case <-bob.Done():
	case <-time.After(testpeer.Timeout):
		t.Fatal("the older link stayed open")
	}
	if r.Only() != laptop || len(r.Links()) != 1 {
		t.Fatalf("links %v", r.Links())
	}
}

// After a peer's bye the session is ending: the links that end then are
// not peers gone, and no new link is taken.
func TestByeEndsTheSession(t *testing.T) {
	gone, byes := make(chan string, 2), make(chan string, 2)
	r := session.New(session.Config{Session: sessionID,
		Gone: func(l *peer.Link, _ error) { gone <- l.Remote.Name },
		Bye:  func(l *peer.Link, reason string) { byes <- reason }})
	t.Cleanup(func() { r.Close("test over") })
	raw, l := testpeer.LinkPair(t, "bob", "alice")
	r.Attach(raw)
	l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_Bye{Bye: &pb.Bye{Reason: "done", SessionEnded: true}}})
	recv(t, byes, "bye")
	if !r.Closed() {
		t.Fatal("the router takes links after a bye")
	}
	l.Close(peer.CodeEnded, "bye")
	select {
	case <-raw.Done():
	case <-time.After(testpeer.Timeout):
		t.Fatal("the link did not end")
	}
	again, _ := testpeer.LinkPair(t, "bob", "alice")
	if err := r.Attach(again); !errors.Is(err, session.ErrClosed) {
		t.Fatalf("attach after bye: %v", err)
	}
	r.Close("over")
	quiet(t, gone, "gone after the bye")
}
