package relay

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/proto"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// client is one connection to the relay, as the hub sees it. The server
// fills it in; the hub never touches sockets.
type client struct {
	id   uint64
	addr netip.AddrPort // the client's address as seen by the relay
	// out queues a message for the client without blocking. It returns false
	// when the queue is full; the server then drops the client.
	out func(*pb.RelayMsg) bool

	// Guarded by hub.mu.
	role     pb.Role
	agent    string // the signed-in agent's name
	sessions map[string]*session
}

// session is one support session. Several agents may take part
// (participants); the owner is the one that created it or took it over.
type session struct {
	ID           string    `json:"id"`
	Owner        string    `json:"owner"`
	Participants []string  `json:"participants"`
	Nameplate    string    `json:"nameplate"`
	KeyExpires   time.Time `json:"key_expires"`
	Joined       bool      `json:"joined"`
	// JoinedAt is when the key was used. A session stored joined by a
	// relay before protocol 3 has none, and is taken as paired (load).
	JoinedAt time.Time `json:"joined_at,omitzero"`
	// Paired: the owner said its PAKE with the customer completed
	// (pb.Paired). A joined session that is not paired by its pairing
	// deadline is burned.
	Paired bool `json:"paired,omitempty"`
	// Burned is why the key was used up without pairing
	// (protocol.CodeNotPaired): the joiner is cut off, and the session waits
	// for a new key (pb.NewKey) or its end.
	Burned string `json:"burned,omitempty"`
	// LeftWith is the reason the joiner gave when it asked to end the
	// session before the owner said it paired: it only left then. If the
	// owner says paired after all (its paired was on its way while the
	// customer, paired, ended at once), the session ends with it.
	LeftWith  string    `json:"left_with,omitempty"`
	TokenHash []byte    `json:"token_hash,omitempty"`
	Channel   uint64    `json:"channel"`
	Created   time.Time `json:"created"`
	// LastSeen is when a side of the session was last connected; a joined
	// session nobody has come back to for Config.IdleSessionTTL is ended.
	LastSeen time.Time `json:"last_seen,omitzero"`

	agentConn *client
	custConn  *client
}

type retiredRecord struct {
	Until time.Time `json:"until"`
	Code  string    `json:"code"` // protocol.CodeUsed or protocol.CodeExpired

	owner string // the account whose key it was, for MaxKeysPerAgent; not stored, so "" after a restart
}

// route is where the relay forwards a session's relayed packets.
type route struct {
	agent, customer netip.AddrPort
}

// hub is the relay's control plane: accounts, sessions, nameplates,
// presence, signal routing and the table of relayed-packet routes. It is
// safe for concurrent use.
type hub struct {
	cfg      Config
	log      *slog.Logger
	db       *bolt.DB
	accounts *Accounts
	now      func() time.Time
	loadedAt time.Time // when the stored sessions were loaded (pairDeadline)

	// nameplates is how many nameplates allocNameplate picks from, the
	// first of the space (nameplateSpace; tests that fill it cut it down).
	nameplates uint64

	// verify checks an agent's password (Accounts.Verify; tests replace
	// it). It runs only while holding a slot of hashing.
	verify  func(name, password string) (bool, error)
	hashing *hashQueue

	mu          sync.Mutex
	sessions    map[string]*session
	byNameplate map[string]*session // the waiting (unjoined) sessions, by nameplate
	retired     map[string]retiredRecord
	waitingBy   map[string]int // account -> its sessions in byNameplate
	retiredBy   map[string]int // account -> its nameplates in retired
	limiters    map[netip.Prefix]*rate.Limiter
	joinBudget  *rate.Limiter  // relay-wide failed joins; nil: none
	online      map[string]int // agent name -> signed-in connections

	routesMu sync.RWMutex
	routes   map[uint64]route
}

// clock is the hub's time (tests set their own before a hub loads).
var clock = time.Now

func newHub(cfg Config, db *bolt.DB, log *slog.Logger) (*hub, error) {
	cfg.setDefaults()
	h := &hub{
		cfg: cfg, log: log, db: db, accounts: NewAccounts(db), now: clock, nameplates: nameplateSpace,
		sessions:    map[string]*session{},
		byNameplate: map[string]*session{},
		retired:     map[string]retiredRecord{},
		waitingBy:   map[string]int{},
		retiredBy:   map[string]int{},
		limiters:    map[netip.Prefix]*rate.Limiter{},
		online:      map[string]int{},
		routes:      map[uint64]route{},
		hashing:     newHashQueue(cfg.SignInConcurrency),
	}
	h.verify = h.accounts.Verify
	if n := cfg.FailedJoinsPerMinute; n > 0 {
		h.joinBudget = rate.NewLimiter(rate.Every(time.Minute/time.Duration(n)), n)
	}
	return h, h.load()
}

func (h *hub) load() error {
	h.loadedAt = h.now()
	return h.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			s := new(session)
			if err := json.Unmarshal(v, s); err != nil {
				return fmt.Errorf("session %x: %w", k, err)
			}
			h.sessions[s.ID] = s
			s.LastSeen = h.now() // the relay was down; give everyone a full term to come back
			if s.Joined && s.JoinedAt.IsZero() {
				// Joined under a relay that knew nothing of pairing: its
				// agent says paired again at attach (protocol 3 agents do,
				// for what they paired), else it is burned like any other.
				s.JoinedAt = h.now()
			}
			if !s.Joined {
				h.plate(s)
			}
			h.routes[s.Channel] = route{}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketRetired).ForEach(func(k, v []byte) error {
			var r retiredRecord
			if json.Unmarshal(v, &r) == nil {
				h.retired[string(k)] = r
			}
			return nil
		})
	})
}

func (h *hub) saveSession(s *session) {
	raw, err := json.Marshal(s)
	if err == nil {
		err = h.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketSessions).Put([]byte(s.ID), raw) })
	}
	if err != nil {
		h.log.Error("saving session", "session", s.ID, "err", err)
	}
}

// plate puts a waiting session's key in the nameplate table.
func (h *hub) plate(s *session) {
	h.byNameplate[s.Nameplate] = s
	h.waitingBy[s.Owner]++
}

// unplate takes s's key out of the nameplate table, if it is there, and
// reports whether it was.
func (h *hub) unplate(s *session) bool {
	if h.byNameplate[s.Nameplate] != s {
		return false
	}
	delete(h.byNameplate, s.Nameplate)
	decrement(h.waitingBy, s.Owner)
	return true
}

func decrement(m map[string]int, k string) {
	if m[k]--; m[k] <= 0 {
		delete(m, k)
	}
}

// retire keeps a nameplate out of use for RetireFor; owner is the account
// whose key it was.
func (h *hub) retire(nameplate, code, owner string) {
	if old, ok := h.retired[nameplate]; ok && old.owner != "" {
		decrement(h.retiredBy, old.owner)
	}
	r := retiredRecord{Until: h.now().Add(h.cfg.RetireFor), Code: code, owner: owner}
	h.retired[nameplate] = r
	if owner != "" {
		h.retiredBy[owner]++
	}
	raw, _ := json.Marshal(r)
	if err := h.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketRetired).Put([]byte(nameplate), raw) }); err != nil {
		h.log.Error("retiring nameplate", "err", err)
	}
}

// relayError builds the error reply for a request.
func relayError(code, format string, args ...any) *pb.RelayMsg {
	return &pb.RelayMsg{Body: &pb.RelayMsg_Error{Error: &pb.Error{Code: code, Message: fmt.Sprintf(format, args...)}}}
}

// limiter returns the guess limiter of a client's source (see source).
// Only failed attempts take tokens, so many honest customers behind one
// address are not slowed.
func (h *hub) limiter(c *client) *rate.Limiter {
	src := h.source(c.addr.Addr())
	l := h.limiters[src]
	if l == nil {
		l = rate.NewLimiter(rate.Every(h.cfg.GuessEvery), h.cfg.GuessBurst)
		h.limiters[src] = l
	}
	return l
}

func (h *hub) limited(c *client) bool {
	l := h.limiters[h.source(c.addr.Addr())]
	return l != nil && l.TokensAt(h.now()) < 1
}

func (h *hub) failed(c *client) { h.limiter(c).AllowN(h.now(), 1) }

// failedJoin charges a failed join to its source and to the relay-wide
// budget.
func (h *hub) failedJoin(c *client) {
	h.failed(c)
	if h.joinBudget != nil {
		h.joinBudget.AllowN(h.now(), 1)
	}
}

func (h *hub) connect(c *client) {
	c.sessions = map[string]*session{}
}

// signIn checks an agent's credentials. The password hash is computed
// outside the hub lock, in one of the hashing queue's slots.
func (h *hub) signIn(c *client, m *pb.SignIn) *pb.RelayMsg {
	h.mu.Lock()
	if c.agent != "" && c.agent != m.Name {
		h.mu.Unlock()
		return relayError(protocol.CodeNotAllowed, "this connection is signed in as another agent")
	}
	if c.role == pb.Role_ROLE_CUSTOMER {
		h.mu.Unlock()
		return relayError(protocol.CodeNotAllowed, "a customer connection cannot sign in")
	}
	// Take the guess token before the (slow, unlocked) password check, so
	// parallel attempts from one address cannot all pass the limit; a
	// successful sign-in gives it back.
	now := h.now()
	res := h.limiter(c).ReserveN(now, 1)
	if !res.OK() || res.DelayFrom(now) > 0 {
		res.CancelAt(now)
		h.mu.Unlock()
		return relayError(protocol.CodeRateLimited, "too many failed attempts from your address; wait a minute")
	}
	h.mu.Unlock()
	// At most SignInConcurrency checks at once, relay-wide; a sign-in that
	// gets no turn in time costs its source nothing.
	if !h.hashing.acquire(h.source(c.addr.Addr()), h.cfg.SignInWait) {
		h.mu.Lock()
		res.CancelAt(now)
		h.mu.Unlock()
		return relayError(protocol.CodeBusy, "the relay is busy checking other sign-ins; try again in a moment")
	}
	ok, err := h.verify(m.Name, m.Password)
	h.hashing.release()
	h.mu.Lock()
	defer h.mu.Unlock()
	if ok || err != nil {
		// At the reservation's own time: x/time/rate gives nothing back for
		// a cancellation dated after the reservation.
		res.CancelAt(now)
	}
	if err != nil {
		h.log.Error("verifying account", "err", err)
		return relayError(protocol.CodeInternal, "the relay could not check the account")
	}
	if !ok {
		return relayError(protocol.CodeAuthFailed, "wrong agent name or password")
	}
	if c.agent == "" {
		h.online[m.Name]++
	}
	c.role, c.agent = pb.Role_ROLE_AGENT, m.Name
	h.log.Info("agent signed in", "agent", m.Name, "addr", c.addr)
	return &pb.RelayMsg{Body: &pb.RelayMsg_SignedIn{SignedIn: &pb.SignedIn{
		Name: m.Name, DisplayName: m.Name,
		FilePolicy: proto.Clone(h.cfg.FilePolicy).(*pb.FilePolicy),
	}}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (h *hub) newChannel() uint64 {
	h.routesMu.Lock()
	defer h.routesMu.Unlock()
	for {
		var b [8]byte
		rand.Read(b[:])
		ch := binary.BigEndian.Uint64(b[:])
		if _, taken := h.routes[ch]; ch != 0 && !taken {
			h.routes[ch] = route{}
			return ch
		}
	}
}

func (h *hub) newSession(c *client) *pb.RelayMsg {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.agent == "" {
		return relayError(protocol.CodeNotAllowed, "sign in first")
	}
	if refused := h.quota(c.agent, nil); refused != nil {
		return refused
	}
	np, ok := h.allocNameplate()
	if !ok {
		return relayError(protocol.CodeInternal, "the relay has no free session keys; try again in a few minutes")
	}
	now := h.now()
	s := &session{
		ID: randomHex(protocol.SessionIDLen / 2), Owner: c.agent, Participants: []string{c.agent},
		Nameplate: np, KeyExpires: now.Add(h.cfg.KeyLifetime), Channel: h.newChannel(), Created: now,
	}
	h.sessions[s.ID] = s
	h.plate(s)
	h.bindAgent(s, c)
	h.saveSession(s)
	h.log.Info("session created", "session", s.ID, "agent", c.agent)
	return &pb.RelayMsg{Body: &pb.RelayMsg_SessionCreated{SessionCreated: &pb.SessionCreated{
		Session: s.ID, Nameplate: np, ExpiresUnixMs: s.KeyExpires.UnixMilli(), RelayChannel: s.Channel,
	}}}
}

// quota refuses a new key for agent when one of the quotas of waiting
// sessions and keys is reached; nil: none is. rekey is the session the key
// is for (NewKey), nil for a new session: a waiting key it replaces makes
// way for the new one among the waiting, not among the keys (it stays
// retired).
func (h *hub) quota(agent string, rekey *session) *pb.RelayMsg {
	waiting, relayWaiting := h.waitingBy[agent], len(h.byNameplate)
	keys := waiting + h.retiredBy[agent]
	if rekey != nil && h.byNameplate[rekey.Nameplate] == rekey {
		waiting, relayWaiting = waiting-1, relayWaiting-1
	}
	if max := h.cfg.MaxWaitingPerAgent; max > 0 && waiting >= max {
		return relayError(protocol.CodeQuotaExceeded, "you have %d sessions waiting for a customer; end some first", waiting)
	}
	if max := h.cfg.MaxKeysPerAgent; max > 0 && keys >= max {
		return relayError(protocol.CodeQuotaExceeded,
			"you have made %d session keys that are waiting or ended less than %s ago, the most one account may have; try again in a few minutes",
			keys, shortDuration(h.cfg.RetireFor))
	}
	if max := h.cfg.MaxWaiting; max > 0 && relayWaiting >= max {
		return relayError(protocol.CodeQuotaExceeded, "the relay has %d sessions waiting for a customer, the most it takes; try again in a few minutes", relayWaiting)
	}
	return nil
}

// shortDuration formats d without zero units: "1h", "1h30m", "90s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (h *hub) setRoute(s *session) {
	var r route
	if s.agentConn != nil {
		r.agent = s.agentConn.addr
	}
	if s.custConn != nil {
		r.customer = s.custConn.addr
	}
	h.routesMu.Lock()
	h.routes[s.Channel] = r
	h.routesMu.Unlock()
}

func (h *hub) bindAgent(s *session, c *client) {
	if old := s.agentConn; old != nil && old != c {
		delete(old.sessions, s.ID)
	}
	s.agentConn = c
	c.sessions[s.ID] = s
	h.setRoute(s)
}

func (h *hub) bindCustomer(s *session, c *client) {
	if old := s.custConn; old != nil && old != c {
		delete(old.sessions, s.ID)
	}
	s.custConn = c
	c.sessions[s.ID] = s
	h.setRoute(s)
}

func presence(id string, online, rejoined bool) *pb.RelayMsg {
	return &pb.RelayMsg{Body: &pb.RelayMsg_Presence{Presence: &pb.PeerPresence{Session: id, Online: online, Rejoined: rejoined}}}
}

func sessionEnded(id, reason string) *pb.RelayMsg {
	return &pb.RelayMsg{Body: &pb.RelayMsg_SessionEnded{SessionEnded: &pb.SessionEnded{Session: id, Reason: reason}}}
}

func (h *hub) attach(c *client, m *pb.Attach) *pb.RelayMsg {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.agent == "" {
		return relayError(protocol.CodeNotAllowed, "sign in first")
	}
	res := &pb.Attached{}
	for _, id := range m.Sessions {
		s := h.sessions[id]
		if s == nil || !slices.Contains(s.Participants, c.agent) {
			res.Sessions = append(res.Sessions, &pb.AttachedSession{Session: id})
			continue
		}
		h.bindAgent(s, c)
		if s.custConn != nil {
			s.custConn.out(presence(s.ID, true, false))
		}
		as := &pb.AttachedSession{
			Session: id, Open: true, CustomerOnline: s.custConn != nil, RelayChannel: s.Channel, Joined: s.Joined,
			Paired: s.Paired, Burned: s.Burned,
		}
		if !s.Joined {
			as.Nameplate, as.ExpiresUnixMs = s.Nameplate, s.KeyExpires.UnixMilli()
		}
		res.Sessions = append(res.Sessions, as)
	}
	return &pb.RelayMsg{Body: &pb.RelayMsg_Attached{Attached: res}}
}

func (h *hub) endSession(c *client, m *pb.EndSession) *pb.RelayMsg {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[m.Session]
	if s == nil {
		return relayError(protocol.CodeNotFound, "no such session")
	}
	isOwner := c.agent != "" && s.Owner == c.agent
	if !isOwner && c != s.custConn {
		return relayError(protocol.CodeNotAllowed, "only the session owner or its customer can end it")
	}
	reason := m.Reason
	if reason == "" && isOwner {
		reason = "the agent ended the session"
	} else if reason == "" {
		reason = "the customer ended the session"
	}
	if !isOwner && !s.Paired {
		// A joiner nobody has paired with cannot end the agent's session
		// (whoever guessed a nameplate could, unseen); it only leaves it.
		// The sweep tells the agent at the pairing deadline, unless the
		// agent, which saw the PAKE, has ended it or given it a new key.
		// If the agent says it paired after all, the end was the real
		// customer's, and the session ends then (paired).
		s.LeftWith = reason
		h.release(s)
		return &pb.RelayMsg{Body: &pb.RelayMsg_Ok{Ok: &pb.Ok{}}}
	}
	h.removeSession(s, reason, c)
	return &pb.RelayMsg{Body: &pb.RelayMsg_Ok{Ok: &pb.Ok{}}}
}

// removeSession ends s, tells whoever is connected (but the caller), and
// forgets it, leaving a tombstone.
func (h *hub) removeSession(s *session, reason string, caller *client) {
	ended := sessionEnded(s.ID, reason)
	for _, cc := range []*client{s.agentConn, s.custConn} {
		if cc == nil {
			continue
		}
		delete(cc.sessions, s.ID)
		if cc != caller {
			cc.out(ended)
		}
	}
	delete(h.sessions, s.ID)
	if h.unplate(s) {
		h.retire(s.Nameplate, protocol.CodeExpired, s.Owner)
	}
	h.routesMu.Lock()
	delete(h.routes, s.Channel)
	h.routesMu.Unlock()
	now := h.now()
	err := h.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketSessions).Delete([]byte(s.ID)); err != nil {
			return err
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(now.Unix()))
		return tx.Bucket(bucketEnded).Put([]byte(s.ID), b[:])
	})
	if err != nil {
		h.log.Error("removing session", "session", s.ID, "err", err)
	}
	h.log.Info("session ended", "session", s.ID, "reason", reason)
}

// signal routes an opaque peer signal to the other side of its session.
func (h *hub) signal(c *client, m *pb.Signal) *pb.RelayMsg {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := c.sessions[m.Session]
	if s == nil {
		return relayError(protocol.CodeNotAllowed, "not in that session")
	}
	to := s.custConn
	if c == s.custConn {
		to = s.agentConn
	}
	if to == nil {
		return relayError(protocol.CodePeerUnreachable, "the other side is not connected")
	}
	to.out(&pb.RelayMsg{Body: &pb.RelayMsg_Signal{Signal: m}})
	return nil
}

// disconnect unbinds a closed connection and tells the other sides.
func (h *hub) disconnect(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.agent != "" {
		if h.online[c.agent]--; h.online[c.agent] <= 0 {
			delete(h.online, c.agent)
		}
	}
	now := h.now()
	for id, s := range c.sessions {
		s.LastSeen = now
		switch c {
		case s.agentConn:
			s.agentConn = nil
			if s.custConn != nil {
				s.custConn.out(presence(id, false, false))
			}
		case s.custConn:
			s.custConn = nil
			if s.agentConn != nil {
				s.agentConn.out(presence(id, false, false))
			}
		}
		h.setRoute(s)
	}
	c.sessions = map[string]*session{}
}

// sweep expires unused keys, burns used ones nobody paired with, and
// forgets old retirements, tombstones and idle limiters.
func (h *hub) sweep() {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	for _, s := range h.byNameplate {
		if !now.Before(s.KeyExpires) {
			h.expire(s)
		}
	}
	for _, s := range h.sessions {
		if s.Joined && !s.Paired && s.Burned == "" && !now.Before(h.pairDeadline(s)) {
			h.burn(s)
		}
		if s.Joined && s.agentConn == nil && s.custConn == nil && now.Sub(s.LastSeen) > h.cfg.IdleSessionTTL {
			h.removeSession(s, "nobody came back to the session for too long", nil)
		}
	}
	for np, r := range h.retired {
		if !now.Before(r.Until) {
			delete(h.retired, np)
			if r.owner != "" {
				decrement(h.retiredBy, r.owner)
			}
			h.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketRetired).Delete([]byte(np)) })
		}
	}
	for a, l := range h.limiters {
		if l.TokensAt(now) >= float64(h.cfg.GuessBurst) {
			delete(h.limiters, a)
		}
	}
	cutoff := uint64(now.Add(-24 * time.Hour).Unix())
	h.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEnded)
		var old [][]byte
		b.ForEach(func(k, v []byte) error {
			if len(v) == 8 && binary.BigEndian.Uint64(v) < cutoff {
				old = append(old, slices.Clone(k))
			}
			return nil
		})
		for _, k := range old {
			b.Delete(k)
		}
		return nil
	})
}

// forward tells where a relayed packet of channel ch from src goes. Only
// the two registered addresses of a session may use its channel.
func (h *hub) forward(ch uint64, src netip.AddrPort) (netip.AddrPort, bool) {
	h.routesMu.RLock()
	r, ok := h.routes[ch]
	h.routesMu.RUnlock()
	switch {
	case !ok || !src.IsValid():
		return netip.AddrPort{}, false
	case src == r.agent && r.customer.IsValid():
		return r.customer, true
	case src == r.customer && r.agent.IsValid():
		return r.agent, true
	}
	return netip.AddrPort{}, false
}

// stats are counters for logs and benchmarks.
func (h *hub) stats() (sessions, online int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions), len(h.online)
}
