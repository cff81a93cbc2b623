package relay

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	bolt "go.etcd.io/bbolt"
)

// The customer's side of the hub: joining by nameplate, rejoining by
// token, and the keys that expire meanwhile.

func (h *hub) joined(s *session, token []byte) *pb.RelayMsg {
	return &pb.RelayMsg{Body: &pb.RelayMsg_Joined{Joined: &pb.Joined{
		Session: s.ID, AgentName: s.Owner, RejoinToken: token, RelayChannel: s.Channel, AgentOnline: s.agentConn != nil,
	}}}
}

func (h *hub) join(c *client, m *pb.Join) *pb.RelayMsg {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.role == pb.Role_ROLE_AGENT {
		return relayError(protocol.CodeNotAllowed, "an agent connection cannot join a session as its customer")
	}
	if h.limited(c) {
		return relayError(protocol.CodeRateLimited, "too many wrong keys from your address; wait a minute and try again")
	}
	now := h.now()
	if h.joinBudget != nil && h.joinBudget.TokensAt(now) < 1 {
		// Whoever asks: a key found now could be a guess from one of many
		// addresses.
		return relayError(protocol.CodeBusy, "the relay is getting too many wrong session keys and takes none for a minute; try again then")
	}
	s := h.byNameplate[m.Nameplate]
	if s == nil {
		h.failedJoin(c)
		if r, ok := h.retired[m.Nameplate]; ok && now.Before(r.Until) {
			if r.Code == protocol.CodeUsed {
				return relayError(protocol.CodeUsed, "this session key was used already; ask your agent for a new one")
			}
			return relayError(protocol.CodeExpired, "this session key has expired; ask your agent for a new one")
		}
		return relayError(protocol.CodeBadKey, "there is no session with this key; check the digits")
	}
	if !now.Before(s.KeyExpires) {
		h.failedJoin(c)
		h.expire(s)
		return relayError(protocol.CodeExpired, "this session key has expired; ask your agent for a new one")
	}
	if s.agentConn == nil {
		return relayError(protocol.CodeNotFound, "your agent is not connected right now; try again in a moment")
	}
	token := make([]byte, protocol.TokenLen)
	rand.Read(token)
	sum := sha256.Sum256(token)
	s.Joined, s.JoinedAt, s.TokenHash = true, now, sum[:]
	h.unplate(s)
	h.retire(s.Nameplate, protocol.CodeUsed, s.Owner)
	c.role = pb.Role_ROLE_CUSTOMER
	h.bindCustomer(s, c)
	h.saveSession(s)
	s.agentConn.out(presence(s.ID, true, false))
	h.log.Info("customer joined", "session", s.ID, "addr", c.addr)
	return h.joined(s, token)
}

// expire ends a session whose key ran out before anybody joined.
func (h *hub) expire(s *session) {
	h.removeSession(s, "the session key expired before the customer joined", nil) // retires the nameplate
}

func (h *hub) rejoin(c *client, m *pb.Rejoin) *pb.RelayMsg {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.role == pb.Role_ROLE_AGENT {
		return relayError(protocol.CodeNotAllowed, "an agent connection cannot rejoin as a customer")
	}
	if h.limited(c) {
		return relayError(protocol.CodeRateLimited, "too many failed attempts from your address; wait a minute")
	}
	s := h.sessions[m.Session]
	if s == nil {
		h.failed(c)
		if h.wasEnded(m.Session) {
			return relayError(protocol.CodeSessionEnded, "this session has ended")
		}
		return relayError(protocol.CodeNotFound, "the relay does not know this session any more")
	}
	sum := sha256.Sum256(m.Token)
	if !s.Joined || subtle.ConstantTimeCompare(sum[:], s.TokenHash) != 1 {
		h.failed(c)
		return relayError(protocol.CodeNotAllowed, "this client may not rejoin that session")
	}
	c.role = pb.Role_ROLE_CUSTOMER
	h.bindCustomer(s, c)
	if s.agentConn != nil {
		s.agentConn.out(presence(s.ID, true, true))
	}
	h.log.Info("customer rejoined", "session", s.ID, "addr", c.addr)
	return h.joined(s, m.Token)
}

func (h *hub) wasEnded(id string) bool {
	found := false
	h.db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketEnded).Get([]byte(id)) != nil
		return nil
	})
	return found
}
