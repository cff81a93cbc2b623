package appdb_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/store"
)

func open(t *testing.T, dir string) *appdb.DB {
	t.Helper()
	db, err := appdb.Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return db
}

// openTemp opens a database in a fresh folder, closed when the test ends.
func openTemp(t *testing.T) *appdb.DB {
	t.Helper()
	db := open(t, t.TempDir())
	t.Cleanup(func() { db.Close() })
	return db
}

var base = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))

func sid(i int) string { return fmt.Sprintf("%032x", i) }

func fullSession() *appdb.Session {
	return &appdb.Session{
		ID:          sid(1),
		State:       appdb.StateActive,
		Created:     base,
		Ended:       base.Add(time.Hour),
		PeerName:    "Bob",
		Relay:       "relay.example.net:4433",
		Channel:     1<<63 + 5,
		SessionKey:  []byte{0, 1, 2, 0xff},
		Nameplate:   "1234",
		Secret:      "567890",
		KeyExpires:  base.Add(10 * time.Minute),
		Key:         "1234-5678-123-456",
		RejoinToken: bytes.Repeat([]byte{0xab}, 32),
	}
}

func sameSession(t *testing.T, got, want *appdb.Session) {
	t.Helper()
	if got == nil {
		t.Fatalf("session %s: got nil", want.ID)
	}
	if got.ID != want.ID || got.State != want.State || got.PeerName != want.PeerName ||
		got.Relay != want.Relay || got.Channel != want.Channel || got.Nameplate != want.Nameplate ||
		got.Secret != want.Secret || got.Key != want.Key ||
		!bytes.Equal(got.SessionKey, want.SessionKey) || !bytes.Equal(got.RejoinToken, want.RejoinToken) ||
		!got.Created.Equal(want.Created) || !got.Ended.Equal(want.Ended) || !got.KeyExpires.Equal(want.KeyExpires) {
		t.Fatalf("session round trip:\n got %+v\nwant %+v", got, want)
	}
}

func TestSessionRoundTrip(t *testing.T) {
	db := openTemp(t)

	want := fullSession()
	if err := db.PutSession(want); err != nil {
		t.Fatalf("PutSession: %v", err)
	}
	got, err := db.Session(want.ID)
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	sameSession(t, got, want)

	// A minimal session keeps its zero times zero.
	small := &appdb.Session{ID: sid(2), State: appdb.StateWaiting, Created: base}
	if err := db.PutSession(small); err != nil {
		t.Fatal(err)
	}
	got, err = db.Session(small.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameSession(t, got, small)
	if !got.Ended.IsZero() || !got.KeyExpires.IsZero() {
		t.Fatalf("zero times came back as %v, %v", got.Ended, got.KeyExpires)
	}

	// Putting a session again replaces it.
	want.State = appdb.StateEnded
	want.PeerName = "Robert"
	want.RejoinToken = nil
	if err := db.PutSession(want); err != nil {
		t.Fatal(err)
	}
	got, err = db.Session(want.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameSession(t, got, want)
	all, err := db.Sessions()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Fatalf("Sessions returned %d sessions after an update, want 2", len(all))
	}
}

func TestSessionNotFound(t *testing.T) {
	db := openTemp(t)
	s, err := db.Session(sid(9))
	if !errors.Is(err, appdb.ErrNotFound) {
		t.Fatalf("Session of an unknown id = %v, %v; want ErrNotFound", s, err)
	}
	if s != nil {
		t.Fatalf("Session of an unknown id returned %+v", s)
	}
	all, err := db.Sessions()
	if err != nil || len(all) != 0 {
		t.Fatalf("Sessions of an empty database = %v, %v", all, err)
	}
}

// The returned session is a copy: changing it does not change the database.
func TestSessionIsACopy(t *testing.T) {
	db := openTemp(t)
	s := fullSession()
	if err := db.PutSession(s); err != nil {
		t.Fatal(err)
	}
	s.PeerName = "changed after put"
	got, err := db.Session(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PeerName != "Bob" {
		t.Fatalf("PeerName = %q: the stored session shares memory with the caller's", got.PeerName)
	}
	got.SessionKey[0] = 0x42
	again, err := db.Session(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.SessionKey[0] != 0 {
		t.Fatal("changing a returned session changed the stored one")
	}
}

func TestSessionsOldestFirst(t *testing.T) {
	db := openTemp(t)
	// Ids in key order are not in creation order.
	created := map[string]time.Time{
		sid(5): base.Add(1 * time.Minute),
		sid(1): base.Add(3 * time.Minute),
		sid(9): base.Add(-1 * time.Hour),
		sid(3): base.Add(2 * time.Minute),
		sid(7): base.Add(time.Nanosecond),
	}
	for id, at := range created {
		if err := db.PutSession(&appdb.Session{ID: id, State: appdb.StateActive, Created: at}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := db.Sessions()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{sid(9), sid(7), sid(5), sid(3), sid(1)}
	if len(all) != len(want) {
		t.Fatalf("Sessions returned %d sessions, want %d", len(all), len(want))
	}
	for i, s := range all {
		if s.ID != want[i] {
			t.Fatalf("Sessions()[%d] = %s, want %s (order %v)", i, s.ID, want[i], ids(all))
		}
		if !s.Created.Equal(created[s.ID]) {
			t.Errorf("session %s Created = %v, want %v", s.ID, s.Created, created[s.ID])
		}
	}
}

func ids(ss []*appdb.Session) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func msg(id, text string, outgoing bool) *appdb.Message {
	return &appdb.Message{ID: id, From: "Alice", FromRole: "agent", Text: text, At: base, Outgoing: outgoing}
}

func mustAdd(t *testing.T, db *appdb.DB, session string, m *appdb.Message) {
	t.Helper()
	added, err := db.AddMessage(session, m)
	if err != nil {
		t.Fatalf("AddMessage(%s, %s): %v", session, m.ID, err)
	}
	if !added {
		t.Fatalf("AddMessage(%s, %s) = false for a new message", session, m.ID)
	}
}

func mustMessages(t *testing.T, db *appdb.DB, session string) []appdb.Message {
	t.Helper()
	ms, err := db.Messages(session)
	if err != nil {
		t.Fatalf("Messages(%s): %v", session, err)
	}
	return ms
}

func msgIDs(ms []appdb.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestAddMessageRoundTrip(t *testing.T) {
	db := openTemp(t)
	want := appdb.Message{
		ID: "m-1", From: "Bob", FromRole: "customer", To: "Alice",
		Text: "line one\nline two ✓", At: base, Outgoing: false,
	}
	m := want
	mustAdd(t, db, sid(1), &m)
	if m.Seq == 0 {
		t.Fatal("AddMessage did not set Seq")
	}
	ms := mustMessages(t, db, sid(1))
	if len(ms) != 1 {
		t.Fatalf("Messages returned %d, want 1", len(ms))
	}
	got := ms[0]
	if got.Seq != m.Seq || got.ID != want.ID || got.From != want.From || got.FromRole != want.FromRole ||
		got.To != want.To || got.Text != want.Text || !got.At.Equal(want.At) || got.Outgoing != want.Outgoing || got.Acked {
		t.Fatalf("message round trip:\n got %+v\nwant %+v (seq %d)", got, want, m.Seq)
	}
}

func TestAddMessageDedup(t *testing.T) {
	db := openTemp(t)
	first := msg("dup", "original", true)
	mustAdd(t, db, sid(1), first)
	mustAdd(t, db, sid(1), msg("other", "second", false))

	again := msg("dup", "a different text with the same id", false)
	added, err := db.AddMessage(sid(1), again)
	if err != nil {
		t.Fatalf("AddMessage of a duplicate: %v", err)
	}
	if added {
		t.Fatal("AddMessage of a duplicate id returned true")
	}
	ms := mustMessages(t, db, sid(1))
	if got := msgIDs(ms); len(got) != 2 || got[0] != "dup" || got[1] != "other" {
		t.Fatalf("messages after a duplicate = %v, want [dup other]", got)
	}
	if ms[0].Text != "original" || !ms[0].Outgoing || ms[0].Seq != first.Seq {
		t.Fatalf("the duplicate changed the stored message: %+v", ms[0])
	}

	// The same id in another session is a different message.
	mustAdd(t, db, sid(2), msg("dup", "in another session", false))
	if n := len(mustMessages(t, db, sid(2))); n != 1 {
		t.Fatalf("session 2 has %d messages, want 1", n)
	}
	if n := len(mustMessages(t, db, sid(1))); n != 2 {
		t.Fatalf("session 1 has %d messages after adding to session 2, want 2", n)
	}

	// After the duplicate, the next new message still gets the next sequence.
	next := msg("next", "third", false)
	mustAdd(t, db, sid(1), next)
	ms = mustMessages(t, db, sid(1))
	if len(ms) != 3 || ms[2].ID != "next" || ms[2].Seq != next.Seq || ms[2].Seq <= ms[1].Seq {
		t.Fatalf("messages = %+v", ms)
	}
}

// Messages come back in the order they were added, whatever their
// timestamps, also past sequence number 255 (where a key encoding that
// does not sort numerically would go wrong).
func TestMessagesOrder(t *testing.T) {
	db := openTemp(t)
	const n = 300
	for i := 0; i < n; i++ {
		m := msg(fmt.Sprintf("id-%03d", n-i), fmt.Sprint("text ", i), i%2 == 0)
		m.At = base.Add(-time.Duration(i) * time.Second) // newest first in time
		mustAdd(t, db, sid(1), m)
		if m.Seq != uint64(i+1) {
			t.Fatalf("message %d got Seq %d, want %d", i, m.Seq, i+1)
		}
	}
	ms := mustMessages(t, db, sid(1))
	if len(ms) != n {
		t.Fatalf("Messages returned %d, want %d", len(ms), n)
	}
	for i, m := range ms {
		if m.Seq != uint64(i+1) || m.Text != fmt.Sprint("text ", i) {
			t.Fatalf("Messages()[%d] = seq %d %q, want seq %d %q", i, m.Seq, m.Text, i+1, fmt.Sprint("text ", i))
		}
	}
}

func TestMessagesUnknownSession(t *testing.T) {
	db := openTemp(t)
	mustAdd(t, db, sid(1), msg("a", "hi", true))
	ms, err := db.Messages(sid(2))
	if err != nil || len(ms) != 0 {
		t.Fatalf("Messages of a session without messages = %v, %v", ms, err)
	}
	p, err := db.Pending(sid(2))
	if err != nil || len(p) != 0 {
		t.Fatalf("Pending of a session without messages = %v, %v", p, err)
	}
}

func TestAckAndPending(t *testing.T) {
	db := openTemp(t)
	s := sid(1)
	mustAdd(t, db, s, msg("out1", "one", true))
	mustAdd(t, db, s, msg("in1", "two", false))
	mustAdd(t, db, s, msg("out2", "three", true))
	mustAdd(t, db, s, msg("out3", "four", true))

	pending := func() []string {
		t.Helper()
		p, err := db.Pending(s)
		if err != nil {
			t.Fatalf("Pending: %v", err)
		}
		for _, m := range p {
			if !m.Outgoing || m.Acked {
				t.Fatalf("Pending returned %+v", m)
			}
		}
		return msgIDs(p)
	}
	eq := func(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

	if got := pending(); !eq(got, []string{"out1", "out2", "out3"}) {
		t.Fatalf("Pending = %v, want [out1 out2 out3]", got)
	}

	if err := db.AckMessage(s, "out2"); err != nil {
		t.Fatalf("AckMessage: %v", err)
	}
	if got := pending(); !eq(got, []string{"out1", "out3"}) {
		t.Fatalf("Pending after ack out2 = %v, want [out1 out3]", got)
	}
	// Acking again, acking an incoming message, an unknown id or an
	// unknown session changes nothing and is not an error.
	for _, c := range [][2]string{{s, "out2"}, {s, "in1"}, {s, "nope"}, {sid(2), "out1"}} {
		if err := db.AckMessage(c[0], c[1]); err != nil {
			t.Fatalf("AckMessage(%s, %s): %v", c[0], c[1], err)
		}
	}
	if got := pending(); !eq(got, []string{"out1", "out3"}) {
		t.Fatalf("Pending after no-op acks = %v, want [out1 out3]", got)
	}

	ms := mustMessages(t, db, s)
	if got := msgIDs(ms); !eq(got, []string{"out1", "in1", "out2", "out3"}) {
		t.Fatalf("acking reordered messages: %v", got)
	}
	for _, m := range ms {
		wantAcked := m.ID == "out2"
		if m.Acked != wantAcked {
			t.Errorf("message %s Acked = %v, want %v", m.ID, m.Acked, wantAcked)
		}
	}
	// The acked message is otherwise unchanged.
	if m := ms[2]; m.Text != "three" || !m.Outgoing || m.From != "Alice" || !m.At.Equal(base) || m.Seq != 3 {
		t.Fatalf("acked message changed: %+v", m)
	}

	for _, id := range []string{"out1", "out3"} {
		if err := db.AckMessage(s, id); err != nil {
			t.Fatal(err)
		}
	}
	if got := pending(); len(got) != 0 {
		t.Fatalf("Pending after acking everything = %v", got)
	}
}

// Everything survives closing and reopening the database.
func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	sess := fullSession()
	if err := db.PutSession(sess); err != nil {
		t.Fatal(err)
	}
	s := sess.ID
	mustAdd(t, db, s, msg("a", "first", true))
	mustAdd(t, db, s, msg("b", "second", true))
	mustAdd(t, db, s, msg("c", "third", false))
	if err := db.AckMessage(s, "a"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "porthole.db")); err != nil {
		t.Fatalf("database file: %v", err)
	}

	db = open(t, dir)
	defer db.Close()
	got, err := db.Session(s)
	if err != nil {
		t.Fatalf("Session after reopen: %v", err)
	}
	sameSession(t, got, sess)
	all, err := db.Sessions()
	if err != nil || len(all) != 1 {
		t.Fatalf("Sessions after reopen = %v, %v", ids(all), err)
	}

	ms := mustMessages(t, db, s)
	if got := msgIDs(ms); fmt.Sprint(got) != "[a b c]" {
		t.Fatalf("messages after reopen = %v, want [a b c]", got)
	}
	if !ms[0].Acked || ms[1].Acked || ms[2].Acked {
		t.Fatalf("acks after reopen: %+v", ms)
	}
	p, err := db.Pending(s)
	if err != nil || len(p) != 1 || p[0].ID != "b" {
		t.Fatalf("Pending after reopen = %v, %v; want [b]", msgIDs(p), err)
	}

	// The dedup index survived too, and sequences carry on.
	added, err := db.AddMessage(s, msg("b", "resent", true))
	if err != nil || added {
		t.Fatalf("AddMessage of a known id after reopen = %v, %v; want false, nil", added, err)
	}
	d := msg("d", "fourth", false)
	mustAdd(t, db, s, d)
	if d.Seq != 4 {
		t.Fatalf("first message after reopen got Seq %d, want 4", d.Seq)
	}
}

func TestSecondOpenFails(t *testing.T) {
	old := store.OpenTimeout
	store.OpenTimeout = 10 * time.Millisecond
	t.Cleanup(func() { store.OpenTimeout = old })

	dir := t.TempDir()
	first := open(t, dir)
	defer first.Close()
	second, err := appdb.Open(dir)
	if err == nil {
		second.Close()
		t.Fatal("a second Open of the same folder succeeded")
	}
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
}

// A message without an id cannot be stored (an empty bbolt key) and nothing
// of it is left behind.
func TestAddMessageEmptyID(t *testing.T) {
	db := openTemp(t)
	if _, err := db.AddMessage(sid(1), msg("", "no id", true)); err == nil {
		t.Fatal("AddMessage with an empty id succeeded")
	}
	if ms := mustMessages(t, db, sid(1)); len(ms) != 0 {
		t.Fatalf("a failed AddMessage left %d messages behind", len(ms))
	}
}

// A version 1 database (before files) keeps its chat and gains the file
// buckets.
func TestMigrateVersion1(t *testing.T) {
	dir := t.TempDir()
	old, err := store.Open(filepath.Join(dir, "porthole.db"), []store.Migration{
		{To: 1, Name: "initial", Apply: store.CreateBuckets("sessions", "chat", "chatids")},
	})
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	db := open(t, dir)
	defer db.Close()
	if err := db.PutSession(&appdb.Session{ID: "s1", State: appdb.StateActive}); err != nil {
		t.Fatal(err)
	}
	if v, err := store.Version(db.Bolt()); err != nil || v != 4 {
		t.Fatalf("schema version %d, %v; want 4", v, err)
	}
	err = db.Bolt().View(func(tx *bolt.Tx) error {
		for _, b := range []string{"transfers", "contents", "trust", "hashes", "settings", "edges", "links", "linktrust"} {
			if tx.Bucket([]byte(b)) == nil {
				return fmt.Errorf("no bucket %q", b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A version 2 database (files, before edges) keeps its files and gains the
// edges and links buckets.
func TestMigrateVersion2(t *testing.T) {
	dir := t.TempDir()
	old, err := store.Open(filepath.Join(dir, "porthole.db"), []store.Migration{
		{To: 1, Name: "initial", Apply: store.CreateBuckets("sessions", "chat", "chatids")},
		{To: 2, Name: "files", Apply: store.CreateBuckets("transfers", "contents", "trust", "hashes", "settings")},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = old.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("transfers")).Put([]byte("f1"), []byte(`{"id":"f1"}`))
	})
	old.Close()
	if err != nil {
		t.Fatal(err)
	}
	db := open(t, dir)
	defer db.Close()
	if v, err := store.Version(db.Bolt()); err != nil || v != 4 {
		t.Fatalf("schema version %d, %v; want 4", v, err)
	}
	err = db.Bolt().View(func(tx *bolt.Tx) error {
		for _, b := range []string{"edges", "links", "linktrust"} {
			if tx.Bucket([]byte(b)) == nil {
				return fmt.Errorf("no bucket %q", b)
			}
		}
		if tx.Bucket([]byte("transfers")).Get([]byte("f1")) == nil {
			return fmt.Errorf("the file record was lost")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
