package console

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/relayclient"
	"github.com/porthole-dev/porthole/shared/session"
)

// Session keys after the join (issue 14, finding 2). Whoever joins with a
// key uses it up, whether they know its secret or not; only the PAKE tells.
// So the console tells the relay when it has paired (pb.Paired), and hears
// of every join that came to nothing: a PAKE that failed here, or the
// relay's word that nobody paired by the key's expiry. Either is a
// KeyBurned. A session nobody has paired with can get a new key (NewKey).

// StateBurned is the state of a session whose key was used up without
// pairing, by the relay's word (KeyBurned with CodeNotPaired): nobody can
// join it until it gets a new key (NewKey). It is stored as the session's
// appdb state.
const StateBurned = "burned"

// KeyBurned is told when a session's key was used up without pairing.
// Reason is protocol.CodePakeFailed (a PAKE was taken here and failed: the
// joiner's secret was wrong, or it gave up; the session then ends) or
// protocol.CodeNotPaired (by the relay's word: nobody paired by the key's
// expiry; the session then waits, StateBurned, for a new key). Message
// says it in words.
type KeyBurned struct {
	Session string
	Reason  string
	Message string
}

// msgNotPaired is what KeyBurned says for the relay's CodeNotPaired.
const msgNotPaired = "the key was used by someone who did not know its secret: nobody paired with it by its expiry"

// ReasonPakeInterrupted is KeyBurned's reason for a key whose PAKE had
// begun when the console stopped: its one guess is spent, and the session
// waits, StateBurned, for a new key.
const ReasonPakeInterrupted = "pake_interrupted"

const msgPakeInterrupted = "a customer was pairing with this key when Porthole stopped; the key had its one try"

// ReasonKeyOutdated is KeyBurned's reason for a waiting key an older
// Porthole made, with a nameplate of another length (4 digits before
// protocol 4): no customer can enter it. The session waits for a new key.
const ReasonKeyOutdated = "key_outdated"

const msgKeyOutdated = "an older version of Porthole made this key, and customers can no longer enter it"

// keyUp makes the signalling of the session's current key, rec's: a
// mailbox, the agent side (taking one PAKE while the session waits) and
// its signal loop. The caller holds s.mu.
func (s *agentSession) keyUp(rec appdb.Session) {
	c, key := s.con, s.key
	s.sig = relayclient.NewSignals(c.rc, rec.ID)
	s.side = peer.NewAgentSide(peer.AgentSideConfig{
		Endpoint: c.ep, Signaler: s.sig, Session: rec.ID, Channel: rec.Channel,
		Relay: c.rc.RelayAddr, Observed: c.rc.Observed, ForceRelay: c.cfg.ForceRelay,
		Accepted: s.accepted,
		Paired:   func(k []byte) error { return s.pairedWith(key, k) },
		Failed:   func(err error) { s.pairingFailed(key, err) },
		Taking:   func() error { return s.pakeTaken(key) },
		Log:      c.log,
	})
	// A key whose PAKE was begun before the console stopped has had its
	// guess, and one of an older format cannot be entered: loadSessions
	// burns them.
	if rec.State == appdb.StateWaiting && !rec.PakeTaken && len(rec.Nameplate) == protocol.NameplateLen {
		s.side.StartPairing(rec.Nameplate, rec.Secret)
	}
	ctx, cancel := context.WithCancel(c.ctx)
	s.stop = cancel
	go s.side.Run(ctx)
}

// pakeTaken records that the key's one PAKE has begun, before it is
// answered (peer.AgentSideConfig.Taking).
func (s *agentSession) pakeTaken(key int) error {
	s.mu.Lock()
	if key != s.key || s.rec.State != appdb.StateWaiting {
		s.mu.Unlock()
		return errors.New("the session's key has changed")
	}
	s.rec.PakeTaken = true
	rec := s.rec
	s.mu.Unlock()
	return s.con.db.PutSession(&rec)
}

func (s *agentSession) signals() *relayclient.Signals {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sig
}

func (s *agentSession) keySide() *peer.AgentSide {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.side
}

func (s *agentSession) keyNumber() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key
}

var errOlderKey = errors.New("the session has another key now")

// pairedWith takes the session key of a PAKE of the key numbered key: the
// session is paired, and the relay is told. A pairing of a key that has
// been replaced, or while a new one is being asked for, is refused.
func (s *agentSession) pairedWith(key int, sessionKey []byte) error {
	s.mu.Lock()
	if key != s.key || s.rekeying || s.rec.State != appdb.StateWaiting {
		s.mu.Unlock()
		return errOlderKey
	}
	s.rec.State = appdb.StateActive // from here on NewKey refuses
	s.mu.Unlock()
	if err := s.paired(sessionKey); err != nil {
		return err
	}
	go s.con.tellPaired(s.id)
	return nil
}

// tellPaired tells the relay the session paired, so that its sweep leaves
// it alone. A word lost with the connection is said again at the next
// attach (tellPairedAgain).
// It is said again, waiting longer each time, while the relay does not
// answer: a word lost on a connection that stays up would let the sweep
// burn a session that paired.
func (c *Console) tellPaired(id string) {
	wait := time.Second
	for {
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		_, err := c.rc.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_Paired{Paired: &pb.Paired{Session: id}}})
		cancel()
		var re *relayclient.Error
		if err == nil || errors.As(err, &re) {
			if err != nil { // the relay's answer: burned already, or gone
				c.log.Info("the relay refused the pairing's word", "session", id, "err", err)
			}
			return
		}
		c.log.Info("telling the relay of the pairing; again soon", "session", id, "err", err)
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// tellPairedAgain is for attach: the relay has the session joined but not
// paired, and here it is paired.
func (c *Console) tellPairedAgain(id string) {
	s, err := c.session(id)
	if err != nil {
		return
	}
	s.mu.Lock()
	active := s.rec.State == appdb.StateActive
	s.mu.Unlock()
	if active {
		c.tellPaired(id)
	}
}

// keyBurned takes the word (the relay's, or the console's own at start:
// code says which) that the key numbered key of s was used up without
// pairing: the PAKE it was waiting for is off, and the session waits for a
// new key.
func (c *Console) keyBurned(s *agentSession, key int, code string) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	s.mu.Lock()
	if key == s.key && s.rec.State == appdb.StateActive {
		// Paired here, but the relay never heard so in time and cut the
		// customer off: the session cannot go on.
		s.mu.Unlock()
		go c.endSession(c.ctx, s.id, "the relay did not hear of the pairing in time and cut the customer off", true)
		return
	}
	if key != s.key || s.rec.State != appdb.StateWaiting {
		s.mu.Unlock()
		return // ended, renewed, or told already
	}
	msg := msgNotPaired
	switch code {
	case protocol.CodeNotPaired:
	case ReasonPakeInterrupted:
		msg = msgPakeInterrupted
	case ReasonKeyOutdated:
		msg = msgKeyOutdated
	default:
		msg = "the key was used up without pairing (" + code + ")"
	}
	side, stop := s.side, s.stop
	s.rec.State, s.rec.Secret, s.rec.BurnedWhy = StateBurned, "", msg
	rec := s.rec
	s.mu.Unlock()
	side.Stop()
	stop()
	if err := c.db.PutSession(&rec); err != nil {
		c.log.Error("saving a burned session", "session", s.id, "err", err)
	}
	c.publish(KeyBurned{Session: s.id, Reason: code, Message: msg})
}

// burnedAway is for attach: the relay burned the session's key while the
// console was away.
func (c *Console) burnedAway(id, code string) {
	s, err := c.session(id)
	if err != nil {
		return
	}
	s.mu.Lock()
	key, state := s.key, s.rec.State
	s.mu.Unlock()
	switch state {
	case appdb.StateWaiting:
		c.keyBurned(s, key, code)
	case appdb.StateActive:
		// Paired here, but the relay never heard so in time and cut the
		// customer off: the session cannot go on.
		go c.endSession(c.ctx, id, "the relay did not hear of the pairing in time and cut the customer off", true)
	}
}

// NewKey gives a session nobody has paired with (waiting, or burned) a
// fresh key: the relay gives it a new nameplate and expiry and retires the
// old one, cutting off whoever joined with it; a new secret is made here.
// It is told as a KeyIssued for the same session, and the session waits
// for its customer again. A session the customer has paired with keeps
// its key (not_allowed).
func (c *Console) NewKey(ctx context.Context, id string) (*appdb.Session, error) {
	if err := protocol.ValidSessionID(id); err != nil {
		return nil, &Error{Code: protocol.CodeBadRequest, Message: "a session id is 32 hexadecimal digits"}
	}
	s, err := c.session(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	switch {
	case s.rec.State == appdb.StateActive:
		s.mu.Unlock()
		return nil, &Error{Code: protocol.CodeNotAllowed, Message: "the customer has paired with this session; its key cannot change"}
	case s.rekeying:
		s.mu.Unlock()
		return nil, &Error{Code: protocol.CodeBusy, Message: "a new key for this session is on its way already"}
	}
	s.rekeying = true
	s.mu.Unlock()
	rep, err := c.rc.Request(ctx, &pb.ClientMsg{Body: &pb.ClientMsg_NewKey{NewKey: &pb.NewKey{Session: id}}})
	sc := rep.GetSessionCreated()
	if err == nil && (sc == nil || sc.Session != id) {
		err = &Error{Code: protocol.CodeInternal, Message: "unexpected answer from the relay"}
	}
	s.keyMu.Lock() // until the new key is stored and told
	defer s.keyMu.Unlock()
	s.mu.Lock()
	s.rekeying = false
	if err == nil && s.rec.State == appdb.StateEnded {
		err = &Error{Code: protocol.CodeNotFound, Message: "the session has ended"}
	}
	if err != nil {
		s.mu.Unlock()
		return nil, asError(err)
	}
	old, stop := s.side, s.stop
	s.key++
	s.rec.State, s.rec.Nameplate, s.rec.Secret, s.rec.PakeTaken, s.rec.BurnedWhy = appdb.StateWaiting, sc.Nameplate, randomSecret(), false, ""
	s.rec.KeyExpires, s.rec.Channel = time.UnixMilli(sc.ExpiresUnixMs).UTC(), sc.RelayChannel
	rec := s.rec
	// The old key's mailbox goes with its side: signals of its joiner
	// that arrived before the relay's answer cannot reach the new PAKE.
	s.keyUp(rec)
	s.mu.Unlock()
	old.Stop()
	stop()
	if err := c.db.PutSession(&rec); err != nil {
		return nil, err
	}
	c.publish(session.KeyIssued{Record: rec})
	return &rec, nil
}

func randomSecret() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	return fmt.Sprintf("%06d", n.Int64())
}
