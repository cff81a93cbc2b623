// Package chat is a session's conversation, a service of its
// session.Router: messages go out in order to every peer of the session,
// each is stored before it is sent, acknowledged by the other side, and
// sent again on every new link until it is acknowledged. Received messages
// are stored once (by id) and reported.
//
// The message model carries a sender role and an optional addressee so the
// same conversation carries agent-to-agent lines once a session has several
// agents.
package chat

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/session"
)

// Line is the event of a chat line stored in a session: sent (Outgoing) or
// received.
type Line struct {
	Session string
	appdb.Message
}

// Handlers receive what happens in a conversation. They are called from a
// link's reader goroutine (or the caller of Say) and must not block for
// long.
type Handlers struct {
	Message func(appdb.Message) // a message was stored (sent or received)
}

// Conversation is one session's chat, a service of the session's router:
// it takes the Chat and ChatAck messages, and on every new link sends
// again what that side has not acknowledged.
type Conversation struct {
	db      *appdb.DB
	session string
	me      string
	role    pb.Role
	h       Handlers
	log     *slog.Logger

	mu    sync.Mutex          // orders the lines: a Say never passes a resend
	ready map[*peer.Link]bool // the links whose resend is done: Say sends on these

	// in orders what comes in: while a newer link replaces an older one,
	// both readers may hold lines, and a line stored from one must be
	// told before a later line from the other.
	in sync.Mutex
}

// New makes the conversation of r's session and registers it with r; me
// is this side's display name.
func New(db *appdb.DB, r *session.Router, me string, role pb.Role, h Handlers, log *slog.Logger) *Conversation {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Conversation{db: db, session: r.Session(), me: me, role: role, h: h, log: log, ready: map[*peer.Link]bool{}}
	r.HandleControl((*pb.PeerMsg_Chat)(nil), func(l *peer.Link, m *pb.PeerMsg) { c.receive(l, m.GetChat()) })
	r.HandleControl((*pb.PeerMsg_ChatAck)(nil), func(_ *peer.Link, m *pb.PeerMsg) {
		if err := c.db.AckMessage(c.session, m.GetChatAck().Id); err != nil {
			c.log.Error("storing chat ack", "err", err)
		}
	})
	r.Watch(session.WatchFuncs{Up: c.resend, Down: func(l *peer.Link, _ error) {
		c.mu.Lock()
		delete(c.ready, l)
		c.mu.Unlock()
	}})
	return c
}

// ErrNotConnected is returned by Say when the message was stored but the
// other side is not connected; it goes out on the next connection.
var ErrNotConnected = errors.New("not connected; the message will be sent when the other side is back")

// resend sends every unacknowledged message again on a new link (the
// receiver drops duplicates); only then do new lines go on it, so they
// never overtake older ones.
func (c *Conversation) resend(l *peer.Link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pending, err := c.db.Pending(c.session)
	if err != nil {
		c.log.Error("reading unacknowledged chat", "err", err)
		return // not ready: its lines go again on the next link
	}
	for _, m := range pending {
		if err := l.Send(chatMsg(&m, c.role)); err != nil {
			return
		}
	}
	c.ready[l] = true
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
	sent := 0
	for l := range c.ready {
		if l.Send(chatMsg(&m, c.role)) == nil {
			sent++
		}
	}
	if sent == 0 {
		return m, ErrNotConnected
	}
	return m, nil
}

func (c *Conversation) receive(l *peer.Link, in *pb.Chat) {
	if in == nil {
		return
	}
	// The sender is who the link's authenticated hello says it is, whatever
	// the message claims.
	m := appdb.Message{
		ID: in.Id, From: l.Remote.Name, FromRole: roleName(l.Remote.Role), To: in.To, Text: in.Text,
		At: time.UnixMilli(in.AtUnixMs).UTC(),
	}
	c.in.Lock()
	defer c.in.Unlock()
	added, err := c.db.AddMessage(c.session, &m)
	if err != nil {
		c.log.Error("storing chat message", "err", err)
		return // not acknowledged: the sender will send it again
	}
	if added && c.h.Message != nil {
		c.h.Message(m)
	}
	l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_ChatAck{ChatAck: &pb.ChatAck{Id: in.Id}}})
}
