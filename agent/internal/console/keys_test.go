package console

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/headless"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/relay"
	"github.com/porthole-dev/porthole/shared/relayclient"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

// Issue 14, finding 2: a key can be burned without the agent knowing.

// relayLog keeps the messages the relay logs, for a test to wait on what
// the relay did (it tells the console nothing of some of it).
type relayLog struct {
	mu      sync.Mutex
	msgs    []string
	changed chan struct{}
}

func newRelayLog() *relayLog { return &relayLog{changed: make(chan struct{})} }

func (l *relayLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *relayLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *relayLog) WithGroup(string) slog.Handler            { return l }
func (l *relayLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	return nil
}

// wait returns once the relay has logged msg n times in all.
func (l *relayLog) wait(t *testing.T, msg string, n int) {
	t.Helper()
	deadline := time.After(testpeer.Timeout)
	for {
		l.mu.Lock()
		seen := 0
		for _, m := range l.msgs {
			if m == msg {
				seen++
			}
		}
		changed := l.changed
		l.mu.Unlock()
		if seen >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("the relay did not log %q %d times within %v", msg, n, testpeer.Timeout)
		}
	}
}

// keyWorld is a console on a relay whose keys live 2 s, swept often, with
// the relay's log kept.
type keyWorld struct {
	*world
	log *relayLog
}

const shortKey = 2 * time.Second

func startKeyWorld(t *testing.T) *keyWorld {
	t.Helper()
	l := newRelayLog()
	_, addr, fp := testpeer.StartRelay(t, testpeer.WithRelayLog(slog.New(l)), testpeer.WithConfig(func(c *relay.Config) {
		c.KeyLifetime, c.PairGrace, c.SweepEvery = shortKey, time.Millisecond, 20*time.Millisecond
	}))
	w := &keyWorld{world: &world{addr: addr, fp: fp}, log: l}
	w.startOn(t, t.TempDir())
	return w
}

// startOn starts a console with its data in dir (again, after Close).
func (w *keyWorld) startOn(t *testing.T, dir string) {
	t.Helper()
	w.ev = testpeer.NewEvents()
	con, err := New(Config{
		Relay: w.addr, Fingerprint: w.fp, Name: testpeer.AgentName, Password: testpeer.AgentPassword,
		DataDir: dir, Listen: "127.0.0.1:0", Emit: w.ev.Emit,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(con.Close)
	if err := con.Start(ctxFor(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	w.con = con
}

// steal joins a key's nameplate as someone who guessed it: a join, and
// never a PAKE.
func (w *keyWorld) steal(t *testing.T, key string) *testpeer.Customer {
	t.Helper()
	np, _, err := protocol.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	thief := testpeer.NewCustomer(t, testpeer.CustomerOptions{Relay: w.addr, Fingerprint: w.fp})
	rep, err := thief.RC.Request(ctxFor(t), &pb.ClientMsg{Body: &pb.ClientMsg_Join{Join: &pb.Join{Nameplate: np}}})
	if err != nil || rep.GetJoined() == nil {
		t.Fatalf("the thief's join: %v %v", rep, err)
	}
	return thief
}

func wantErrCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ce *Error
	var re *relayclient.Error
	switch {
	case errors.As(err, &ce) && ce.Code == code:
	case errors.As(err, &re) && re.Code == code:
	default:
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

func (w *world) state(id string) string {
	for _, s := range w.con.Sessions() {
		if s.ID == id {
			return s.State
		}
	}
	return ""
}

// TestKeyUsedWithoutPairingIsBurnedAndRenewed: someone joins with the
// key's nameplate and never runs the PAKE. The real customer gets "used";
// at the key's expiry the console is told (key_burned, not_paired), and
// one new_key later the same session has a key the customer joins and
// pairs with. Before, the console heard nothing, and the session stayed
// "waiting" past its key's expiry.
func TestKeyUsedWithoutPairingIsBurnedAndRenewed(t *testing.T) {
	w := startKeyWorld(t)
	sid, key := w.newSession(t)
	w.steal(t, key)
	honest := testpeer.NewCustomer(t, testpeer.CustomerOptions{Relay: w.addr, Fingerprint: w.fp, Key: key})
	wantErrCode(t, "the customer's join after the thief's", honest.Join(ctxFor(t)), protocol.CodeUsed)

	b := w.ev.Expect(t, "key_burned", inSession(sid))
	if b.Reason != protocol.CodeNotPaired || b.Message == "" {
		t.Fatalf("key_burned %+v, want reason %s and a message", b, protocol.CodeNotPaired)
	}
	if st := w.state(sid); st != StateBurned {
		t.Fatalf("the session is %q, want %q", st, StateBurned)
	}
	if w.ev.Seen("session_ended") {
		t.Fatal("the burned session ended; it should wait for a new key")
	}
	wantErrCode(t, "chat in a burned session", w.con.Chat(sid, "hello?"), "not_joined")

	rec, err := w.con.NewKey(ctxFor(t), sid)
	if err != nil {
		t.Fatalf("NewKey: %v", err)
	}
	k := w.ev.Expect(t, "session_key", inSession(sid))
	if k.Key == key || k.Key != protocol.FormatKey(rec.Nameplate, rec.Secret) || rec.ID != sid || rec.State != "waiting" {
		t.Fatalf("session_key %+v, record %+v after NewKey; the old key was %s", k, rec, key)
	}
	c := testpeer.JoinCustomer(t, testpeer.CustomerOptions{Relay: w.addr, Fingerprint: w.fp, Key: k.Key})
	if c.Session != sid {
		t.Fatalf("the customer joined %s, want %s", c.Session, sid)
	}
	w.ev.Expect(t, "customer_joined", inSession(sid))
	w.log.wait(t, "session paired", 1) // the relay knows: its sweep leaves the session alone
	if err := w.con.Chat(sid, "hello again"); err != nil {
		t.Fatal(err)
	}
	if m := testpeer.Receive(t, c.Messages, "the agent's line"); m.Text != "hello again" {
		t.Fatalf("the customer got %q", m.Text)
	}
	wantErrCode(t, "NewKey of a paired session", errOnly(w.con.NewKey(ctxFor(t), sid)), protocol.CodeNotAllowed)
	if n := count(w.ev, "key_burned"); n != 1 {
		t.Fatalf("%d key_burned events, want 1", n)
	}
}

func errOnly[T any](_ T, err error) error { return err }

func count(ev *testpeer.Events, name string) int {
	n := 0
	for _, e := range ev.Since(0) {
		if e.Event == name {
			n++
		}
	}
	return n
}

// TestWrongSecretBurnsTheKey: a PAKE that fails is a key_burned with
// reason pake_failed, before the error and the end of the session (one
// online guess per key).
func TestWrongSecretBurnsTheKey(t *testing.T) {
	w := startConsole(t, false)
	sid, key := w.newSession(t)
	c := testpeer.NewCustomer(t, testpeer.CustomerOptions{Relay: w.addr, Fingerprint: w.fp, Key: wrongSecret(key, 0)})
	if err := c.Join(ctxFor(t)); !errors.Is(err, peer.ErrPakeFailed) {
		t.Fatalf("customer with a wrong secret: %v, want ErrPakeFailed", err)
	}
	b := w.ev.Expect(t, "key_burned", inSession(sid))
	if b.Reason != protocol.CodePakeFailed || b.Message == "" {
		t.Fatalf("key_burned %+v, want reason %s", b, protocol.CodePakeFailed)
	}
	w.ev.Expect(t, "session_ended", inSession(sid))
	evs := w.ev.Since(0)
	burned := slices.IndexFunc(evs, func(e headless.Event) bool { return e.Event == "key_burned" })
	ended := slices.IndexFunc(evs, func(e headless.Event) bool { return e.Event == "session_ended" })
	if burned > ended {
		t.Fatalf("key_burned came after session_ended: %+v", evs)
	}
	again := testpeer.NewCustomer(t, testpeer.CustomerOptions{Relay: w.addr, Fingerprint: w.fp, Key: key})
	wantErrCode(t, "the right key after a wrong guess", again.Join(ctxFor(t)), protocol.CodeUsed)
}

// TestNewKeyReplacesAWaitingKey: a waiting session's key can be replaced
// too: the old key is dead, the new one pairs. new_key checks its session
// first.
func TestNewKeyReplacesAWaitingKey(t *testing.T) {
	w := startConsole(t, false)
	sid, key := w.newSession(t)
	wantErrCode(t, "NewKey of a bad id", errOnly(w.con.NewKey(ctxFor(t), "nope")), protocol.CodeBadRequest)
	wantErrCode(t, "NewKey of an unknown session", errOnly(w.con.NewKey(ctxFor(t), "0123456789abcdef0123456789abcdef")), protocol.CodeNotFound)
	if _, err := w.con.NewKey(ctxFor(t), sid); err != nil {
		t.Fatalf("NewKey: %v", err)
	}
	k := w.ev.Expect(t, "session_key", inSession(sid))
	old := testpeer.NewCustomer(t, testpeer.CustomerOptions{Relay: w.addr, Fingerprint: w.fp, Key: key})
	wantErrCode(t, "a join with the replaced key", old.Join(ctxFor(t)), protocol.CodeExpired)
	c := testpeer.JoinCustomer(t, testpeer.CustomerOptions{Relay: w.addr, Fingerprint: w.fp, Key: k.Key})
	if c.Session != sid {
		t.Fatalf("the customer joined %s, want %s", c.Session, sid)
	}
	w.ev.Expect(t, "customer_joined", inSession(sid))
	if w.ev.Seen("key_burned") || w.ev.Seen("error") {
		t.Fatalf("events: %+v", w.ev.Since(0))
	}
}

// TestKeyBurnedWhileAwayIsToldAtAttach: a console that was not running
// when the relay burned its key hears of it when it attaches again, even
// though the key has expired by then.
func TestKeyBurnedWhileAwayIsToldAtAttach(t *testing.T) {
	w := startKeyWorld(t)
	dir := t.TempDir()
	w.con.Close()
	w.startOn(t, dir)
	sid, key := w.newSession(t)
	w.steal(t, key)
	w.con.Close()
	w.log.wait(t, "session key burned", 1)
	w.startOn(t, dir)
	if b := w.ev.Expect(t, "key_burned", inSession(sid)); b.Reason != protocol.CodeNotPaired {
		t.Fatalf("key_burned %+v", b)
	}
	if _, err := w.con.NewKey(ctxFor(t), sid); err != nil {
		t.Fatalf("NewKey after the restart: %v", err)
	}
	k := w.ev.Expect(t, "session_key", inSession(sid))
	testpeer.JoinCustomer(t, testpeer.CustomerOptions{Relay: w.addr, Fingerprint: w.fp, Key: k.Key})
	w.ev.Expect(t, "customer_joined", inSession(sid))
}

// sendOnly sends a session's signals and hears none: a customer that
// stalls after the PAKE's first message.
type sendOnly struct{ *relayclient.Signals }

func (s sendOnly) Recv(ctx context.Context) (*pb.PeerSignal, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestPakeInterruptedByARestartBurnsTheKey: a key has one PAKE. The console
// records that it has begun before answering it, so a console that stops
// before the PAKE ends does not take another with the same key when it
// starts again: the key is burned, and the session waits for a new one.
func TestPakeInterruptedByARestartBurnsTheKey(t *testing.T) {
	_, addr, fp := testpeer.StartRelay(t) // keys live 20 minutes: the relay burns nothing here
	w := &keyWorld{world: &world{addr: addr, fp: fp}, log: newRelayLog()}
	dir := t.TempDir()
	w.startOn(t, dir)
	sid, key := w.newSession(t)
	np, secret, err := protocol.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	joiner := w.steal(t, key)
	mb := joiner.Mailbox(sid)
	ctx, cancel := context.WithCancel(ctxFor(t))
	stalled := make(chan error, 1)
	go func() {
		_, err := peer.PairCustomer(ctx, sendOnly{mb}, sid, np, secret)
		stalled <- err
	}()
	s, err := w.con.session(sid)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(testpeer.Timeout)
	for {
		s.mu.Lock()
		taken := s.rec.PakeTaken
		s.mu.Unlock()
		if taken {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the console did not record the PAKE it began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.con.Close()
	cancel()
	<-stalled

	w.startOn(t, dir)
	b := w.ev.Expect(t, "key_burned", inSession(sid))
	if b.Reason != ReasonPakeInterrupted || b.Message == "" {
		t.Fatalf("key_burned %+v after the restart, want reason %s", b, ReasonPakeInterrupted)
	}
	if st := w.state(sid); st != StateBurned {
		t.Fatalf("the session is %q, want %q", st, StateBurned)
	}
	// No second try, even with the right secret: the burned key's
	// signalling has stopped, so the PAKE gets no answer (a burned key
	// answers nothing, as when the relay burns it).
	mb.Drain()
	short, cancelShort := context.WithTimeout(ctxFor(t), 2*time.Second)
	defer cancelShort()
	if k, err := peer.PairCustomer(short, mb, sid, np, secret); err == nil || k != nil {
		t.Fatal("the key took a second PAKE after the restart")
	}
	if w.ev.Seen("customer_joined") {
		t.Fatal("the console paired with the key after the restart")
	}
	if st := w.state(sid); st != StateBurned {
		t.Fatalf("after a second PAKE the session is %q, want %q", st, StateBurned)
	}
	rec, err := w.con.NewKey(ctxFor(t), sid)
	if err != nil || rec.PakeTaken || rec.State != "waiting" {
		t.Fatalf("NewKey after the burn: %+v, %v; want a waiting key with no PAKE taken", rec, err)
	}
	c := testpeer.JoinCustomer(t, testpeer.CustomerOptions{Relay: w.addr, Fingerprint: w.fp, Key: w.ev.Expect(t, "session_key", inSession(sid)).Key})
	if c.Session != sid {
		t.Fatalf("the customer joined %s, want %s", c.Session, sid)
	}
	w.ev.Expect(t, "customer_joined", inSession(sid))
}

// TestOutdatedKeyIsBurnedAtStart: a waiting key stored by a Porthole of
// protocol 3 has a 4-digit nameplate, which no customer can enter now. The
// console says so when it starts, and the session waits for a new key.
func TestOutdatedKeyIsBurnedAtStart(t *testing.T) {
	_, addr, fp := testpeer.StartRelay(t)
	w := &keyWorld{world: &world{addr: addr, fp: fp}, log: newRelayLog()}
	dir := t.TempDir()
	db, err := appdb.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const sid = "0123456789abcdef0123456789abcdef"
	old := &appdb.Session{ID: sid, State: appdb.StateWaiting, Created: time.Now().UTC(), Relay: addr, Channel: 7,
		Nameplate: "4821", Secret: "305617", KeyExpires: time.Now().Add(10 * time.Minute).UTC()}
	if err := db.PutSession(old); err != nil {
		t.Fatal(err)
	}
	db.Close()
	w.startOn(t, dir)
	b := w.ev.Expect(t, "key_burned", inSession(sid))
	if b.Reason != ReasonKeyOutdated || b.Message == "" {
		t.Fatalf("key_burned %+v, want reason %s", b, ReasonKeyOutdated)
	}
	// This relay never had the session (its relay's did), so the console
	// ends it when it attaches; why the key was burned is kept all the same,
	// for the window to say.
	w.ev.Expect(t, "session_ended", inSession(sid))
	w.con.Close()
	db, err = appdb.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rec, err := db.Session(sid)
	if err != nil {
		t.Fatal(err)
	}
	if rec.BurnedWhy != b.Message {
		t.Fatalf("the record keeps %q as why the key was burned, want %q", rec.BurnedWhy, b.Message)
	}
}
