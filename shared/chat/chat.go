// Package chat runs a session's conversation over its peer link: messages
// go out in order, each is stored before it is sent, acknowledged by the
// other side, and sent again after a reconnect until it is acknowledged.
// Received messages are stored once (by id) and reported.
//
// The message model carries a sender role and an optional addressee so the
// same conversation carries agent-to-agent lines once a session has several
// agents.
package chat

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// Handlers receive what happens in a conversation. They are called from the
// conversation's reader goroutine and must not block for long.
type Handlers struct {
	Message func(appdb.Message) // a message was stored (sent or received)
	Ended   func(reason string) // the other side ended the session
	Down    func(err error)     // the link went down
	// Other receives the control-stream messages the conversation does not
	// handle itself (permission requests and answers, for one).
	Other func(*pb.PeerMsg)
	// Control, if set, sees those messages first, with the link they came
	// on (a file offer is answered on it); when it returns true the message
	// was its own and Other does not see it.
	Control func(l *peer.Link, m *pb.PeerMsg) bool
	// Linked, if set, is told of each link Attach takes, before anything
	// is read from it and before the link it replaces is closed; it runs
	// on the goroutine that called Attach.
	Linked func(l *peer.Link)
	// Unlinked, if set, is told of each link whose reading has ended,
	// whether it was still the conversation's link or had been replaced,
	// detached or closed; it comes before Down.
	Unlinked func(l *peer.Link)
}

// Conversation is one session's chat.
type Conversation struct {
	db      *appdb.DB
	session string
	me      string
	role    pb.Role
	h       Handlers
	log     *slog.Logger

	mu   sync.Mutex
	link *peer.Link
}

// New makes a conversation for a session; me is this side's display name.
func New(db *appdb.DB, session, me string, role pb.Role, h Handlers, log *slog.Logger) *Conversation {
	return &Conversation{db: db, session: session, me: me, role: role, h: h, log: log}
}

// ErrNotConnected is returned by Say when the message was stored but the
// other side is not connected; it goes out on the next connection.
var ErrNotConnected = errors.New("not connected; the message will be sent when the other side is back")

// Link is the current link, or nil.
func (c *Conversation) Link() *peer.Link {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.link
}

// Attach makes l the conversation's link: it sends every unacknowledged
// message again (the receiver drops duplicates), then reads from l until it
// ends. A previous link is closed.
func (c *Conversation) Attach(l *peer.Link) {
	c.mu.Lock()
	old := c.link
	c.link = l
	pending, err := c.db.Pending(c.session)
	if err == nil {
		for _, m := range pending {
			if err := l.Send(chatMsg(&m, c.role)); err != nil {
				break
			}
		}
	}
	c.mu.Unlock()
	if c.h.Linked != nil {
		c.h.Linked(l)
	}
	if old != nil && old != l {
		old.Close(peer.CodeReplaced, "replaced by a newer connection")
	}
	go c.read(l)
}

// Detach forgets the link (closing it).
func (c *Conversation) Detach(reason string) {
	c.mu.Lock()
	l := c.link
	c.link = nil
	c.mu.Unlock()
	if l != nil {
		l.Close(peer.CodeEnded, reason)
	}
}

func roleName(r pb.Role) string {
	if r == pb.Role_ROLE_AGENT {
		return "agent"
	}
	return "customer"
}

func chatMsg(m *appdb.Message, role pb.Role) *pb.PeerMsg {
	return &pb.PeerMsg{Body: &pb.PeerMsg_Chat{Chat: &pb.Chat{
		Id: m.ID, From: m.From, FromRole: role, To: m.To, Text: m.Text, AtUnixMs: m.At.UnixMilli(),
	}}}
}

func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Say stores a message and sends it if the other side is connected.
func (c *Conversation) Say(text string) (appdb.Message, error) {
	if err := protocol.ValidChatText(text); err != nil {
		return appdb.Message{}, err
	}
	m := appdb.Message{
		ID: newID(), From: c.me, FromRole: roleName(c.role), Text: text,
		At: time.Now().UTC().Truncate(time.Millisecond), Outgoing: true,
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.db.AddMessage(c.session, &m); err != nil {
		return m, err
	}
	if c.h.Message != nil {
		c.h.Message(m)
	}
	if c.link == nil {
		return m, ErrNotConnected
	}
	if err := c.link.Send(chatMsg(&m, c.role)); err != nil {
		return m, ErrNotConnected
	}
	return m, nil
}

// Send sends a control message on the current link.
func (c *Conversation) Send(m *pb.PeerMsg) error {
	c.mu.Lock()
	l := c.link
	c.mu.Unlock()
	if l == nil {
		return ErrNotConnected
	}
	return l.Send(m)
}

// ByeWait bounds how long SaySessionEnded waits for the other side to hang
// up after the Bye.
var ByeWait = 2 * time.Second

// SaySessionEnded tells the other side the session is over and waits (at
// most ByeWait) until it has hung up, so the Bye is neither cut off by our
// own close nor lost with the relay's route when the session ends there.
func (c *Conversation) SaySessionEnded(reason string) {
	c.mu.Lock()
	l := c.link
	c.mu.Unlock()
	if l == nil {
		return
	}
	if l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_Bye{Bye: &pb.Bye{Reason: reason, SessionEnded: true}}}) != nil {
		return
	}
	select {
	case <-l.Done():
	case <-time.After(ByeWait):
	}
}

func (c *Conversation) read(l *peer.Link) {
	var err error
	for {
		var m *pb.PeerMsg
		m, err = l.Recv()
		if err != nil {
			break
		}
		switch b := m.Body.(type) {
		case *pb.PeerMsg_Chat:
			c.receive(l, b.Chat)
		case *pb.PeerMsg_ChatAck:
			if err := c.db.AckMessage(c.session, b.ChatAck.Id); err != nil {
				c.log.Error("storing chat ack", "err", err)
			}
		case *pb.PeerMsg_Ping:
			l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_Pong{Pong: &pb.Pong{UnixMs: b.Ping.UnixMs}}})
		case *pb.PeerMsg_Bye:
			if b.Bye.SessionEnded && c.h.Ended != nil {
				c.h.Ended(b.Bye.Reason)
			}
		default:
			if m.Body == nil {
				break // a kind this version does not know
			}
			if c.h.Control != nil && c.h.Control(l, m) {
				break
			}
			if c.h.Other != nil {
				c.h.Other(m)
			}
		}
	}
	c.mu.Lock()
	current := c.link == l
	if current {
		c.link = nil
	}
	c.mu.Unlock()
	l.Close(peer.CodeNoError, "")
	if c.h.Unlinked != nil {
		c.h.Unlinked(l)
	}
	if current && c.h.Down != nil {
		if errors.Is(err, io.EOF) {
			err = nil
		}
		c.h.Down(err)
	}
}

func (c *Conversation) receive(l *peer.Link, in *pb.Chat) {
	// The sender is who the link's authenticated hello says it is, whatever
	// the message claims.
	m := appdb.Message{
		ID: in.Id, From: l.Remote.Name, FromRole: roleName(l.Remote.Role), To: in.To, Text: in.Text,
		At: time.UnixMilli(in.AtUnixMs).UTC(),
	}
	added, err := c.db.AddMessage(c.session, &m)
	if err != nil {
		c.log.Error("storing chat message", "err", err)
		return // not acknowledged: the sender will send it again
	}
	l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_ChatAck{ChatAck: &pb.ChatAck{Id: in.Id}}})
	if added && c.h.Message != nil {
		c.h.Message(m)
	}
}
