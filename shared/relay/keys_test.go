package relay

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// Issue 14, finding 2: a key can be burned without the agent knowing. The
// tests here join as an attacker does (join, and never a PAKE), and check
// that the agent is told and can give the session a new key.

// pair says, as the session's owner, that the PAKE completed.
func (th *testHub) pair(owner *fakeClient, sc *pb.SessionCreated) {
	th.t.Helper()
	wantOk(th.t, th.h.paired(owner.client, &pb.Paired{Session: sc.Session}))
}

func burnedPresence(id string) *pb.RelayMsg {
	return &pb.RelayMsg{Body: &pb.RelayMsg_Presence{Presence: &pb.PeerPresence{Session: id, Burned: protocol.CodeNotPaired}}}
}

// attached is the relay's word on one session at attach.
func (th *testHub) attached(a *fakeClient, id string) *pb.AttachedSession {
	th.t.Helper()
	as := th.h.attach(a.client, &pb.Attach{Sessions: []string{id}}).GetAttached().GetSessions()
	if len(as) != 1 {
		th.t.Fatalf("attach of %s: %v", id, as)
	}
	return as[0]
}

// TestJoinWithoutPairingIsBurnedAtExpiry: a join that no PAKE follows
// uses the key up (the real customer gets "used"), and at the key's expiry
// the sweep cuts the joiner off and tells the agent the key is burned. The
// session stays, for a new key. Before, the agent heard nothing, and the
// session stayed "joined" for good.
func TestJoinWithoutPairingIsBurnedAtExpiry(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	thief := th.newClient()
	j := th.join(thief, a, sc) // the agent is told of the join: presence online
	wantErr(t, th.h.join(th.newClient().client, &pb.Join{Nameplate: sc.Nameplate}), protocol.CodeUsed)

	// Not before the expiry.
	th.clock.advance(th.cfg.KeyLifetime - time.Nanosecond)
	th.h.sweep()
	wantMsgs(t, a)
	wantMsgs(t, thief)

	th.clock.advance(time.Nanosecond)
	th.h.sweep()
	wantMsgs(t, a, burnedPresence(sc.Session))
	if e := wantEnded(t, thief, sc.Session); e.Reason == "" {
		t.Fatal("the joiner was cut off without a reason")
	}
	if len(thief.sessions) != 0 {
		t.Fatal("the joiner is still bound to the session")
	}
	th.noForward(sc.RelayChannel, thief.addr)
	wantErr(t, th.h.signal(thief.client, &pb.Signal{Session: sc.Session, Payload: []byte{1}}), protocol.CodeNotAllowed)
	wantErr(t, th.h.rejoin(th.newClient().client, &pb.Rejoin{Session: sc.Session, Token: j.RejoinToken}), protocol.CodeNotAllowed)
	if n, _ := th.h.stats(); n != 1 {
		t.Fatalf("sessions = %d, want the burned one kept", n)
	}
	// Told once; and an agent that was away hears it at attach, after a
	// restart too.
	th.h.sweep()
	wantMsgs(t, a)
	th.restart()
	a2 := th.agent("alice")
	if as := th.attached(a2, sc.Session); !as.Open || !as.Joined || as.Paired || as.Burned != protocol.CodeNotPaired {
		t.Fatalf("attach of the burned session after a restart = %v", as)
	}
	th.h.sweep()
	wantMsgs(t, a2)
}

// TestJoinJustBeforeExpiryHasTimeToPair: a customer who joins a moment
// before the key expires still gets PairGrace to pair.
func TestJoinJustBeforeExpiryHasTimeToPair(t *testing.T) {
	th := newTestHub(t, func(c *Config) { c.PairGrace = time.Minute })
	a := th.agent("alice")
	sc := th.newSession(a)
	th.clock.advance(th.cfg.KeyLifetime - time.Second)
	th.join(th.newClient(), a, sc)
	th.clock.advance(time.Minute - time.Nanosecond)
	th.h.sweep()
	wantMsgs(t, a)
	th.clock.advance(time.Nanosecond)
	th.h.sweep()
	wantMsgs(t, a, burnedPresence(sc.Session))
}

// TestPairedSessionsAreNotSwept: once the owner says it paired, the
// session outlives its key, whatever the sweep.
func TestPairedSessionsAreNotSwept(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	cust := th.newClient()
	th.join(cust, a, sc)
	th.pair(a, sc)
	th.pair(a, sc) // said again (a reconnected agent does): still fine
	for range 3 {
		th.clock.advance(th.cfg.KeyLifetime + th.h.cfg.PairGrace)
		th.h.sweep()
	}
	wantMsgs(t, a)
	wantMsgs(t, cust)
	th.forwards(sc.RelayChannel, a, cust)
	if as := th.attached(a, sc.Session); !as.Open || !as.Paired || as.Burned != "" {
		t.Fatalf("attach of a paired session = %v", as)
	}
	wantMsgs(t, cust, presence(sc.Session, true, false))
	// Paired survives a restart.
	th.restart()
	a2 := th.agent("alice")
	if as := th.attached(a2, sc.Session); !as.Paired || as.Burned != "" {
		t.Fatalf("attach after a restart = %v", as)
	}
	th.clock.advance(th.cfg.KeyLifetime)
	th.h.sweep()
	wantMsgs(t, a2)
}

// TestPairedIsTheOwnersToSay: nobody but the owner can save a session
// from the sweep: not another agent, not the customer connection, not a
// client that has not signed in; and not before anybody joined.
func TestPairedIsTheOwnersToSay(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	wantErr(t, th.h.paired(a.client, &pb.Paired{Session: sc.Session}), protocol.CodeNotAllowed) // nobody joined
	thief := th.newClient()
	th.join(thief, a, sc)
	for name, c := range map[string]*fakeClient{
		"another agent": th.agent("bob"), "the joiner": thief, "a client not signed in": th.newClient(),
	} {
		if code := errCode(th.h.paired(c.client, &pb.Paired{Session: sc.Session})); code != protocol.CodeNotAllowed {
			t.Fatalf("paired from %s: %q, want %q", name, code, protocol.CodeNotAllowed)
		}
	}
	wantErr(t, th.h.paired(a.client, &pb.Paired{Session: "0123456789abcdef0123456789abcdef"}), protocol.CodeNotFound)
	// Nothing of that counted: the key is burned at its expiry.
	th.clock.advance(th.cfg.KeyLifetime)
	th.h.sweep()
	wantMsgs(t, a, burnedPresence(sc.Session))
	// Too late for the owner, too.
	wantErr(t, th.h.paired(a.client, &pb.Paired{Session: sc.Session}), protocol.CodeNotAllowed)
}

// TestUnpairedJoinerCannotEndTheSession: a joiner nobody paired with only
// leaves the session when it ends it; the agent's session stays, and the
// agent is told at the expiry. (A paired customer ends it for everybody:
// TestEndSession.)
func TestUnpairedJoinerCannotEndTheSession(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	thief := th.newClient()
	j := th.join(thief, a, sc)
	wantOk(t, th.h.endSession(thief.client, &pb.EndSession{Session: sc.Session, Reason: "pairing failed: wrong session key"}))
	wantMsgs(t, a, presence(sc.Session, false, false))
	if len(thief.sessions) != 0 {
		t.Fatal("the joiner is still bound")
	}
	wantErr(t, th.h.rejoin(th.newClient().client, &pb.Rejoin{Session: sc.Session, Token: j.RejoinToken}), protocol.CodeNotAllowed)
	if as := th.attached(a, sc.Session); !as.Open || !as.Joined || as.CustomerOnline {
		t.Fatalf("attach after the joiner left = %v", as)
	}
	th.clock.advance(th.cfg.KeyLifetime)
	th.h.sweep()
	wantMsgs(t, a, burnedPresence(sc.Session))
	wantMsgs(t, thief)
	// The owner can still end it.
	wantOk(t, th.h.endSession(a.client, &pb.EndSession{Session: sc.Session}))
	if n, _ := th.h.stats(); n != 0 {
		t.Fatalf("sessions = %d after the owner ended it", n)
	}
}

// TestCustomerEndingBeforePairedIsKept: the customer pairs and ends the
// session at once, and its end_session reaches the relay before the
// agent's paired. The relay cannot tell it from a guesser's, so the joiner
// only leaves; when the owner then says paired, the end was the real
// customer's, and the session ends with its reason, the agent told.
func TestCustomerEndingBeforePairedIsKept(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	cust := th.newClient()
	th.join(cust, a, sc)
	wantOk(t, th.h.endSession(cust.client, &pb.EndSession{Session: sc.Session, Reason: "the customer closed the session"}))
	wantMsgs(t, a, presence(sc.Session, false, false))
	if n, _ := th.h.stats(); n != 1 {
		t.Fatalf("sessions = %d: the joiner ended the session before anyone paired", n)
	}
	wantOk(t, th.h.paired(a.client, &pb.Paired{Session: sc.Session}))
	wantMsgs(t, a, sessionEnded(sc.Session, "the customer closed the session"))
	if n, _ := th.h.stats(); n != 0 {
		t.Fatalf("sessions = %d after the owner said it paired with the customer who ended it", n)
	}
	// A new key forgets the earlier joiner's wish: its joiner is another.
	sc2 := th.newSession(a)
	thief := th.newClient()
	th.join(thief, a, sc2)
	wantOk(t, th.h.endSession(thief.client, &pb.EndSession{Session: sc2.Session}))
	wantMsgs(t, a, presence(sc2.Session, false, false))
	nk := th.h.newKey(a.client, &pb.NewKey{Session: sc2.Session}).GetSessionCreated()
	if nk == nil {
		t.Fatal("no new key")
	}
	th.join(th.newClient(), a, nk)
	wantOk(t, th.h.paired(a.client, &pb.Paired{Session: sc2.Session}))
	wantMsgs(t, a)
	if as := th.attached(a, sc2.Session); !as.Open || !as.Paired {
		t.Fatalf("attach after pairing with the new key's customer = %v", as)
	}
}

// TestNewKey: the owner gives a session nobody paired with a fresh key,
// whatever its state (waiting, joined without pairing, burned): a new
// nameplate and expiry for the same session and channel; the old
// nameplate is retired and its joiner cut off. The new key works.
func TestNewKey(t *testing.T) {
	for _, state := range []string{"waiting", "joined", "burned"} {
		t.Run(state, func(t *testing.T) {
			th := newTestHub(t)
			a := th.agent("alice")
			sc := th.newSession(a)
			var thief *fakeClient
			if state != "waiting" {
				thief = th.newClient()
				th.join(thief, a, sc)
			}
			if state == "burned" {
				th.clock.advance(th.cfg.KeyLifetime)
				th.h.sweep()
				wantMsgs(t, a, burnedPresence(sc.Session))
				thief.take()
			}
			th.clock.advance(time.Minute)
			r := th.h.newKey(a.client, &pb.NewKey{Session: sc.Session})
			nk := r.GetSessionCreated()
			if nk == nil {
				t.Fatalf("new key: %v", r)
			}
			if nk.Session != sc.Session || nk.RelayChannel != sc.RelayChannel || nk.Nameplate == sc.Nameplate {
				t.Fatalf("new key %v for %v: want the same session and channel, another nameplate", nk, sc)
			}
			if want := th.clock.now().Add(th.cfg.KeyLifetime).UnixMilli(); nk.ExpiresUnixMs != want {
				t.Fatalf("new key expires %d, want %d", nk.ExpiresUnixMs, want)
			}
			if state == "joined" {
				wantEnded(t, thief, sc.Session)
				if len(thief.sessions) != 0 {
					t.Fatal("the old key's joiner is still bound")
				}
			}
			if thief != nil {
				wantMsgs(t, thief)
				th.noForward(sc.RelayChannel, thief.addr)
			}
			wantMsgs(t, a)
			want := &pb.AttachedSession{Session: sc.Session, Open: true, RelayChannel: sc.RelayChannel, Nameplate: nk.Nameplate, ExpiresUnixMs: nk.ExpiresUnixMs}
			if as := th.attached(a, sc.Session); !proto.Equal(as, want) {
				t.Fatalf("attach after the new key = %v, want %v", as, want)
			}
			// The old key is dead, whatever it was.
			old := errCode(th.h.join(th.newClient().client, &pb.Join{Nameplate: sc.Nameplate}))
			if old != protocol.CodeUsed && old != protocol.CodeExpired {
				t.Fatalf("join with the old nameplate: %q", old)
			}
			// The new one takes a customer, who pairs; the session then
			// outlives the new key too.
			cust := th.newClient()
			th.join(cust, a, nk)
			wantOk(t, th.h.paired(a.client, &pb.Paired{Session: sc.Session}))
			th.clock.advance(th.cfg.KeyLifetime + th.h.cfg.PairGrace)
			th.h.sweep()
			wantMsgs(t, a)
			wantMsgs(t, cust)
			th.forwards(sc.RelayChannel, cust, a)
		})
	}
}

// TestNewKeyRefused: not for a paired session, not from anyone but the
// owner, not for an unknown or ended session; a refusal changes nothing.
func TestNewKeyRefused(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	cust := th.newClient()
	th.join(cust, a, sc)
	th.pair(a, sc)
	waiting := th.newSession(a)
	for name, tc := range map[string]struct {
		c    *fakeClient
		id   string
		code string
	}{
		"a paired session":          {a, sc.Session, protocol.CodeNotAllowed},
		"another agent":             {th.agent("bob"), waiting.Session, protocol.CodeNotAllowed},
		"the customer":              {cust, waiting.Session, protocol.CodeNotAllowed},
		"a client not signed in":    {th.newClient(), waiting.Session, protocol.CodeNotAllowed},
		"an unknown session":        {a, "0123456789abcdef0123456789abcdef", protocol.CodeNotFound},
		"another agent, paired":     {th.agent("bob"), sc.Session, protocol.CodeNotAllowed},
		"the customer, own session": {cust, sc.Session, protocol.CodeNotAllowed},
	} {
		if code := errCode(th.h.newKey(tc.c.client, &pb.NewKey{Session: tc.id})); code != tc.code {
			t.Fatalf("new key, %s: %q, want %q", name, code, tc.code)
		}
	}
	wantMsgs(t, cust)
	wantMsgs(t, a)
	th.forwards(sc.RelayChannel, cust, a)
	th.join(th.newClient(), a, waiting) // its key is unchanged
	wantOk(t, th.h.endSession(a.client, &pb.EndSession{Session: sc.Session}))
	wantErr(t, th.h.newKey(a.client, &pb.NewKey{Session: sc.Session}), protocol.CodeSessionEnded)
}

// TestNewKeyQuotas: a new key is a key: renewing one session in a loop
// cannot take the nameplates (each old one stays retired and counts for
// the account), and a burned session renewed is waiting again.
func TestNewKeyQuotas(t *testing.T) {
	th := newTestHub(t, func(c *Config) { c.MaxWaitingPerAgent, c.MaxKeysPerAgent = 2, 5 })
	a := th.agent("alice")
	one := th.newSession(a)
	th.newSession(a)
	// Renewing a waiting key does not need another waiting place...
	for range 3 {
		if r := th.h.newKey(a.client, &pb.NewKey{Session: one.Session}); r.GetSessionCreated() == nil {
			t.Fatalf("new key: %v", r)
		}
	}
	// ...but each takes a key: 2 waiting + 3 retired.
	wantQuota(t, th.h.newKey(a.client, &pb.NewKey{Session: one.Session}), "5 session keys")

	th2 := newTestHub(t, func(c *Config) { c.MaxWaitingPerAgent = 1 })
	a = th2.agent("alice")
	burned := th2.newSession(a)
	th2.join(th2.newClient(), a, burned)
	th2.clock.advance(th2.cfg.KeyLifetime)
	th2.h.sweep()
	th2.newSession(a) // the one waiting place: a burned session waits for no customer
	// A new key would.
	wantQuota(t, th2.h.newKey(a.client, &pb.NewKey{Session: burned.Session}), "1 sessions waiting")
}

// TestUpgradeBurnsNoSession: a session a relay before protocol 3 stored
// joined (no join time, no paired flag) is taken as paired: an upgrade
// does not burn the sessions under way.
func TestUpgradeBurnsNoSession(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	th.join(th.newClient(), a, sc)
	th.h.mu.Lock()
	s := th.h.sessions[sc.Session]
	s.JoinedAt = time.Time{} // as an older relay stored it
	th.h.saveSession(s)
	th.h.mu.Unlock()
	th.clock.advance(th.cfg.KeyLifetime + time.Hour) // the relay was down past the key's expiry
	th.restart()
	a2 := th.agent("alice")
	if as := th.attached(a2, sc.Session); !as.Open || !as.Joined || as.Paired {
		t.Fatalf("attach of an old joined session = %v, want joined and not yet said paired", as)
	}
	// The agent says it paired within the grace after the restart: kept.
	th.clock.advance(th.h.cfg.PairGrace / 2)
	th.h.sweep()
	wantMsgs(t, a2)
	wantOk(t, th.h.paired(a2.client, &pb.Paired{Session: sc.Session}))
	th.clock.advance(th.h.cfg.PairGrace)
	th.h.sweep()
	wantMsgs(t, a2)
}

// After a restart every joined, unpaired session has the grace to be said
// paired, even one whose deadline passed while the relay was down.
func TestRestartGivesTheGraceToSayPaired(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	th.join(th.newClient(), a, sc)
	th.clock.advance(th.cfg.KeyLifetime + time.Hour)
	th.restart()
	a2 := th.agent("alice")
	th.attached(a2, sc.Session)
	th.h.sweep() // at once: not burned yet
	wantMsgs(t, a2)
	wantOk(t, th.h.paired(a2.client, &pb.Paired{Session: sc.Session}))
	th.clock.advance(2 * th.h.cfg.PairGrace)
	th.h.sweep()
	wantMsgs(t, a2)
}
