package relay

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// A session key's life after the join (protocol 3). The relay cannot tell
// a customer who knows the secret from someone who guessed a nameplate:
// only the agent, which runs the PAKE, can. So the agent says when it has
// paired (paired), a joined session nobody paired with by its pairing
// deadline is burned (burn: the joiner is cut off, the agent is told), and
// the agent can give a session that is not paired a fresh key (newKey).

// pairDeadline is when a joined session that has not paired is burned:
// its key's expiry, but never less than PairGrace after the join, so that a
// customer who joined just before the expiry still has time to pair.
func (h *hub) pairDeadline(s *session) time.Time {
	d := s.KeyExpires
	if late := s.JoinedAt.Add(h.cfg.PairGrace); late.After(d) {
		d = late
	}
	// A relay that was down gives its agents the grace to come back and
	// say they paired, whatever the deadline was.
	if late := h.loadedAt.Add(h.cfg.PairGrace); late.After(d) {
		d = late
	}
	return d
}

// paired records that the owner's PAKE with the session's customer
// completed: the sweep leaves the session alone from then on.
func (h *hub) paired(c *client, m *pb.Paired) *pb.RelayMsg {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[m.Session]
	switch {
	case s == nil:
		return relayError(protocol.CodeNotFound, "no such session")
	case c.agent == "" || c.agent != s.Owner:
		return relayError(protocol.CodeNotAllowed, "only the session's owner can say it paired")
	case s.Burned != "":
		return relayError(protocol.CodeNotAllowed, "the session's key was used up without pairing; give the session a new key")
	case !s.Joined:
		return relayError(protocol.CodeNotAllowed, "nobody has joined with the session's key")
	}
	if s.LeftWith != "" {
		// The customer it paired with asked to end the session before this
		// came: it ends now, and the agent is told as it would have been.
		h.log.Info("session paired", "session", s.ID)
		h.removeSession(s, s.LeftWith, nil)
		return &pb.RelayMsg{Body: &pb.RelayMsg_Ok{Ok: &pb.Ok{}}}
	}
	if !s.Paired {
		s.Paired = true
		h.saveSession(s)
		h.log.Info("session paired", "session", s.ID)
	}
	return &pb.RelayMsg{Body: &pb.RelayMsg_Ok{Ok: &pb.Ok{}}}
}

// release unbinds the customer connection of a session that is not paired
// and kills its rejoin token: whoever joined is out, the key stays used.
func (h *hub) release(s *session) {
	if cc := s.custConn; cc != nil {
		delete(cc.sessions, s.ID)
		s.custConn = nil
		h.setRoute(s)
		if s.agentConn != nil {
			s.agentConn.out(presence(s.ID, false, false))
		}
	}
	s.TokenHash = nil
	h.saveSession(s)
}

// burn ends the join of a session nobody paired with by its deadline: the
// joiner is cut off (told session_ended), and the agent is told the key is
// burned. The session stays, for a new key or its end.
func (h *hub) burn(s *session) {
	if cc := s.custConn; cc != nil {
		delete(cc.sessions, s.ID)
		s.custConn = nil
		h.setRoute(s)
		cc.out(sessionEnded(s.ID, "the session key was not paired in time; ask your agent for a new one"))
	}
	s.Burned, s.TokenHash = protocol.CodeNotPaired, nil
	h.saveSession(s)
	if s.agentConn != nil {
		s.agentConn.out(&pb.RelayMsg{Body: &pb.RelayMsg_Presence{Presence: &pb.PeerPresence{Session: s.ID, Burned: s.Burned}}})
	}
	h.log.Info("session key burned", "session", s.ID, "reason", s.Burned)
}

// newKey gives a session nobody has paired with a fresh nameplate and
// expiry: the old nameplate is retired, and whoever joined with it is cut
// off. The reply is a SessionCreated for the same session.
func (h *hub) newKey(c *client, m *pb.NewKey) *pb.RelayMsg {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[m.Session]
	switch {
	case s == nil:
		if h.wasEnded(m.Session) {
			return relayError(protocol.CodeSessionEnded, "this session has ended")
		}
		return relayError(protocol.CodeNotFound, "no such session")
	case c.agent == "" || c.agent != s.Owner:
		return relayError(protocol.CodeNotAllowed, "only the session's owner can give it a new key")
	case s.Paired:
		return relayError(protocol.CodeNotAllowed, "a customer has paired with this session; its key cannot change")
	}
	if refused := h.quota(c.agent, s); refused != nil {
		return refused
	}
	np, ok := h.allocNameplate() // before the old one is let go: never the same
	if !ok {
		return relayError(protocol.CodeInternal, "the relay has no free session keys; try again in a few minutes")
	}
	if h.unplate(s) {
		h.retire(s.Nameplate, protocol.CodeExpired, s.Owner) // a used one was retired at its join
	}
	if cc := s.custConn; cc != nil {
		delete(cc.sessions, s.ID)
		s.custConn = nil
		cc.out(sessionEnded(s.ID, "the agent gave this session a new key"))
	}
	now := h.now()
	s.Joined, s.JoinedAt, s.TokenHash, s.Burned, s.LeftWith = false, time.Time{}, nil, "", ""
	s.Nameplate, s.KeyExpires = np, now.Add(h.cfg.KeyLifetime)
	h.plate(s)
	h.bindAgent(s, c) // also sets the route, without the old joiner
	h.saveSession(s)
	h.log.Info("session key renewed", "session", s.ID, "agent", c.agent)
	return &pb.RelayMsg{Body: &pb.RelayMsg_SessionCreated{SessionCreated: &pb.SessionCreated{
		Session: s.ID, Nameplate: np, ExpiresUnixMs: s.KeyExpires.UnixMilli(), RelayChannel: s.Channel,
	}}}
}

// maxScan bounds allocNameplate's scan.
const maxScan = 100_000

// nameplateSpace is how many nameplates there are: 10^NameplateLen.
var nameplateSpace = func() uint64 {
	n := uint64(1)
	for range protocol.NameplateLen {
		n *= 10
	}
	return n
}()

// allocNameplate picks a free nameplate at random (crypto/rand: which
// nameplates are in use must not be guessed from the ones a guesser was
// given). The quotas keep the nameplates in use a small part of the space,
// so a few tries find one. After them, a scan from a random start looks at
// up to maxScan more (a few milliseconds under the hub's lock), and then
// there is no free key: that far only a relay without quotas gets.
func (h *hub) allocNameplate() (string, bool) {
	now := h.now()
	free := func(n uint64) (string, bool) {
		np := fmt.Sprintf("%0*d", protocol.NameplateLen, n)
		if _, taken := h.byNameplate[np]; taken {
			return "", false
		}
		if r, ok := h.retired[np]; ok && now.Before(r.Until) {
			return "", false
		}
		return np, true
	}
	random := func() uint64 {
		var b [8]byte
		rand.Read(b[:])
		return binary.BigEndian.Uint64(b[:]) % h.nameplates
	}
	for range 64 {
		if np, ok := free(random()); ok {
			return np, true
		}
	}
	start := random()
	for i := range min(h.nameplates, maxScan) {
		if np, ok := free((start + i) % h.nameplates); ok {
			return np, true
		}
	}
	return "", false
}
