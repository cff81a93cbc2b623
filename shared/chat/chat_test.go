package chat_test

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/chat"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/session"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

const timeout = 20 * time.Second

var quiet = slog.New(slog.DiscardHandler)

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(timeout):
		t.Fatalf("no %s within %v", what, timeout)
		panic("unreachable")
	}
}

// linkPair makes a real peer connection over QUIC on loopback and returns
// both ends of its control stream.
func linkPair(t *testing.T) (agent, customer *peer.Link) {
	t.Helper()
	return testpeer.LinkPair(t, "alice", "bob")
}

// side is one conversation with its own database and event channels.
type side struct {
	name    string
	r       *session.Router
	conv    *chat.Conversation
	db      *appdb.DB
	session string
	got     chan appdb.Message // received messages
	sent    chan appdb.Message // messages this side stored as outgoing
	ended   chan string
	down    chan error
}

const sessionID = "0123456789abcdef0123456789abcdef"

func newSide(t *testing.T, name string, role pb.Role) *side {
	t.Helper()
	db, err := appdb.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := &side{name: name, db: db, session: sessionID, got: make(chan appdb.Message, 64), sent: make(chan appdb.Message, 64),
		ended: make(chan string, 4), down: make(chan error, 4)}
	s.r = session.New(session.Config{Session: sessionID, Log: quiet,
		Gone: func(_ *peer.Link, err error) { s.down <- err },
		Bye:  func(_ *peer.Link, r string) { s.ended <- r },
	})
	s.conv = chat.New(db, s.r, name, role, chat.Handlers{
		Message: func(m appdb.Message) {
			if m.Outgoing {
				s.sent <- m
			} else {
				s.got <- m
			}
		},
	}, quiet)
	t.Cleanup(func() {
		s.r.Close("test over")
		db.Close()
	})
	return s
}

func (s *side) wantGot(t *testing.T, text, from, role string) appdb.Message {
	t.Helper()
	m := recv(t, s.got, "message "+text)
	if m.Text != text || m.From != from || m.FromRole != role || m.Outgoing {
		t.Fatalf("received %q from %q (%s), want %q from %q (%s), in order", m.Text, m.From, m.FromRole, text, from, role)
	}
	return m
}

func (s *side) pending(t *testing.T) []appdb.Message {
	t.Helper()
	p, err := s.db.Pending(s.session)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSayWhileDisconnectedIsStoredAndDeliveredOnAttach(t *testing.T) {
	agent := newSide(t, "alice", pb.Role_ROLE_AGENT)
	cust := newSide(t, "bob", pb.Role_ROLE_CUSTOMER)
	var said []appdb.Message
	for _, text := range []string{"one", "two"} {
		m, err := agent.conv.Say(text)
		if !errors.Is(err, chat.ErrNotConnected) {
			t.Fatalf("Say without a link: %v, want ErrNotConnected", err)
		}
		if s := recv(t, agent.sent, "stored outgoing message"); s.ID != m.ID || s.Text != text {
			t.Fatalf("handler saw %+v, Say returned %+v", s, m)
		}
		said = append(said, m)
	}
	if p := agent.pending(t); len(p) != 2 || p[0].ID != said[0].ID || p[1].ID != said[1].ID {
		t.Fatalf("pending before attach: %+v", p)
	}

	al, cl := linkPair(t)
	cust.r.Attach(cl)
	agent.r.Attach(al)
	for i, text := range []string{"one", "two"} {
		if m := cust.wantGot(t, text, "alice", "agent"); m.ID != said[i].ID || !m.At.Equal(said[i].At) {
			t.Fatalf("delivered %+v, said %+v", m, said[i])
		}
	}
	if _, err := agent.conv.Say("three"); err != nil {
		t.Fatalf("Say with a link: %v", err)
	}
	cust.wantGot(t, "three", "alice", "agent")
	// The reply travels after the customer's acks on the same ordered
	// stream, so once it is here every agent line is acknowledged.
	if _, err := cust.conv.Say("got them"); err != nil {
		t.Fatal(err)
	}
	agent.wantGot(t, "got them", "bob", "customer")
	if p := agent.pending(t); len(p) != 0 {
		t.Fatalf("still pending after the acks: %+v", p)
	}
	hist, err := cust.db.Messages(sessionID)
	if err != nil || len(hist) != 4 {
		t.Fatalf("customer history: %d messages, %v", len(hist), err)
	}
}

func TestUnacknowledgedMessageIsResentOnTheNextLink(t *testing.T) {
	agent := newSide(t, "alice", pb.Role_ROLE_AGENT)
	// First link: the other end reads the message but never acknowledges
	// it, then the connection drops.
	al1, raw := linkPair(t)
	agent.r.Attach(al1)
	m, err := agent.conv.Say("are you there?")
	if err != nil {
		t.Fatal(err)
	}
	in, err := raw.Recv()
	if err != nil || in.GetChat().GetId() != m.ID {
		t.Fatalf("raw end got %v, %v", in, err)
	}
	raw.Close(peer.CodeNoError, "")
	recv(t, agent.down, "link down")
	if agent.r.Only() != nil {
		t.Fatal("conversation kept a dead link")
	}
	if p := agent.pending(t); len(p) != 1 || p[0].ID != m.ID {
		t.Fatalf("pending after the drop: %+v", p)
	}

	// Second link, to a real conversation: the message goes again.
	cust := newSide(t, "bob", pb.Role_ROLE_CUSTOMER)
	al2, cl2 := linkPair(t)
	cust.r.Attach(cl2)
	agent.r.Attach(al2)
	if got := cust.wantGot(t, "are you there?", "alice", "agent"); got.ID != m.ID {
		t.Fatalf("resent with id %s, want %s", got.ID, m.ID)
	}
	cust.conv.Say("yes")
	agent.wantGot(t, "yes", "bob", "customer")
	if p := agent.pending(t); len(p) != 0 {
		t.Fatalf("still pending: %+v", p)
	}
}

func chatFrame(id, text string, role pb.Role) *pb.PeerMsg {
	return &pb.PeerMsg{Body: &pb.PeerMsg_Chat{Chat: &pb.Chat{Id: id, From: "alice", FromRole: role, Text: text, AtUnixMs: time.Now().UnixMilli()}}}
}

func TestDuplicatesAreAcknowledgedButStoredOnce(t *testing.T) {
	cust := newSide(t, "bob", pb.Role_ROLE_CUSTOMER)
	raw, cl := linkPair(t)
	cust.r.Attach(cl)
	for _, m := range []*pb.PeerMsg{
		chatFrame("m-1", "first", pb.Role_ROLE_AGENT),
		chatFrame("m-1", "first", pb.Role_ROLE_AGENT),
		chatFrame("m-2", "second", pb.Role_ROLE_AGENT),
		chatFrame("m-2", "second again", pb.Role_ROLE_AGENT),
	} {
		if err := raw.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	// Every copy is acknowledged (the sender may have missed an ack)...
	for _, want := range []string{"m-1", "m-1", "m-2", "m-2"} {
		in, err := raw.Recv()
		if err != nil || in.GetChatAck().GetId() != want {
			t.Fatalf("ack: %v, %v; want ack of %s", in, err, want)
		}
	}
	// ...but each message is reported and stored once: the handler runs in
	// order, so a duplicate would have come before "second".
	cust.wantGot(t, "first", "alice", "agent")
	cust.wantGot(t, "second", "alice", "agent")
	hist, err := cust.db.Messages(sessionID)
	if err != nil || len(hist) != 2 {
		t.Fatalf("history has %d messages (%v), want 2", len(hist), err)
	}
}

func TestBlankLinesAreRefused(t *testing.T) {
	cust := newSide(t, "bob", pb.Role_ROLE_CUSTOMER)
	if _, err := cust.conv.Say("   "); err == nil {
		t.Fatal("a blank message was accepted")
	}
	if hist, _ := cust.db.Messages(sessionID); len(hist) != 0 {
		t.Fatalf("history: %+v", hist)
	}
}

// A customer with two agents in the session says each line to both, and
// hears each agent's lines in that agent's order, each from the name its
// link's hello gave.
func TestLinesGoToEveryAgent(t *testing.T) {
	cust := newSide(t, "bob", pb.Role_ROLE_CUSTOMER)
	alice, carol := newSide(t, "alice", pb.Role_ROLE_AGENT), newSide(t, "carol", pb.Role_ROLE_AGENT)
	for _, a := range []*side{alice, carol} {
		al, cl := testpeer.LinkPair(t, a.name, "bob")
		a.r.Attach(al)
		cust.r.Attach(cl)
	}
	if _, err := cust.conv.Say("hello both"); err != nil {
		t.Fatal(err)
	}
	alice.wantGot(t, "hello both", "bob", "customer")
	carol.wantGot(t, "hello both", "bob", "customer")
	const n = 50
	done := make(chan struct{})
	for _, a := range []*side{alice, carol} {
		go func() {
			for i := range n {
				a.conv.Say(fmt.Sprintf("%s %d", a.name, i))
			}
			done <- struct{}{}
		}()
	}
	<-done
	<-done
	next := map[string]int{}
	for range 2 * n {
		m := recv(t, cust.got, "an agent's line")
		if want := fmt.Sprintf("%s %d", m.From, next[m.From]); m.Text != want {
			t.Fatalf("got %q from %s, want %q", m.Text, m.From, want)
		}
		next[m.From]++
	}
}

// A line said while a new link is being taken (another service's LinkUp
// runs first) waits for the resend of the older unacknowledged lines: it
// never overtakes them.
func TestSayDuringAttachDoesNotOvertakeTheResend(t *testing.T) {
	db, err := appdb.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := session.New(session.Config{Session: sessionID, Log: quiet})
	inUp, release := make(chan struct{}), make(chan struct{})
	r.Watch(session.WatchFuncs{Up: func(*peer.Link) { close(inUp); <-release }})
	conv := chat.New(db, r, "alice", pb.Role_ROLE_AGENT, chat.Handlers{}, quiet)
	t.Cleanup(func() { r.Close("test over"); db.Close() })
	conv.Say("old 1")
	conv.Say("old 2")

	cust := newSide(t, "bob", pb.Role_ROLE_CUSTOMER)
	la, lc := linkPair(t)
	cust.r.Attach(lc)
	go r.Attach(la)
	<-inUp
	conv.Say("new") // the link is the router's, but chat has not resent yet
	close(release)
	for _, want := range []string{"old 1", "old 2", "new"} {
		if m := recv(t, cust.got, "line "+want); m.Text != want {
			t.Fatalf("got %q, want %q: a line overtook the older ones", m.Text, want)
		}
	}
}
