// Package appdb is the local database of the agent console and the customer
// client: DATA/porthole.db, one bbolt file per app instance, opened with a
// timeout so a second instance on the same folder fails fast.
//
// Schema (version 4):
//
//	meta                 "schema" -> "4"
//	sessions             session id -> JSON Session
//	chat/<session id>    8-byte big-endian sequence -> JSON Message
//	chatids/<session id> message id -> 8-byte sequence (deduplication)
//	transfers            file id -> JSON transfer record (package transfer)
//	contents             hex SHA-256 -> JSON list of received files with that content
//	trust                sender -> decision ("accept_all", "refuse_always", "blocked")
//	hashes               sender side: path, size, mtime -> SHA-256 already computed
//	settings             name -> value (the "receive files" switch, ...)
//	edges                size + edges hash -> JSON list of received files with those edges
//	links                link id -> JSON shared link (package weblink)
//	linktrust            sender -> decision for their links ("always_open", "never")
//
// Version 2 added the file buckets; package transfer owns their contents
// and documents them. Version 3 added edges (files received before it are
// found by their content hash only). Version 4 added the shared links;
// package weblink owns them.
//
// Values are JSON so that the schema is readable with bbolt's own tools;
// everything is copied out of transactions before it is returned.
package appdb

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/porthole-dev/porthole/shared/store"
)

var (
	bucketSessions = []byte("sessions")
	bucketChat     = []byte("chat")
	bucketChatIDs  = []byte("chatids")
)

var migrations = []store.Migration{
	{To: 1, Name: "initial", Apply: store.CreateBuckets("sessions", "chat", "chatids")},
	{To: 2, Name: "files", Apply: store.CreateBuckets("transfers", "contents", "trust", "hashes", "settings")},
	{To: 3, Name: "edges", Apply: store.CreateBuckets("edges")},
	{To: 4, Name: "links", Apply: store.CreateBuckets("links", "linktrust")},
}

// Session states.
const (
	StateWaiting = "waiting" // key issued, nobody joined yet
	StateActive  = "active"  // paired; connected or reconnecting
	StateEnded   = "ended"
)

// Session is what an app remembers about one support session.
type Session struct {
	ID         string    `json:"id"`
	State      string    `json:"state"`
	Created    time.Time `json:"created"`
	Ended      time.Time `json:"ended,omitzero"`
	PeerName   string    `json:"peer_name,omitempty"`
	Relay      string    `json:"relay"`
	Channel    uint64    `json:"channel"`
	SessionKey []byte    `json:"session_key,omitempty"` // from the PAKE; binds the peers' identities
	// Agent side, until the customer joins.
	Nameplate  string    `json:"nameplate,omitempty"`
	Secret     string    `json:"secret,omitempty"`
	KeyExpires time.Time `json:"key_expires,omitzero"`
	// PakeTaken: a customer's PAKE with this key was begun. The key has
	// one guess, so an app that stops before the PAKE ends does not take
	// another with it when it starts again.
	PakeTaken bool `json:"pake_taken,omitempty"`
	// BurnedWhy says in words why the key was used up (agent side, for a
	// session waiting for a new key).
	BurnedWhy string `json:"burned_why,omitempty"`
	// Customer side.
	Key         string `json:"key,omitempty"` // the key as typed, to tell a new key from the stored one
	RejoinToken []byte `json:"rejoin_token,omitempty"`
}

// Message is one chat line.
type Message struct {
	Seq      uint64    `json:"-"`
	ID       string    `json:"id"`
	From     string    `json:"from"`
	FromRole string    `json:"from_role"` // "agent" or "customer"
	To       string    `json:"to,omitempty"`
	Text     string    `json:"text"`
	At       time.Time `json:"at"`
	Outgoing bool      `json:"outgoing"`
	Acked    bool      `json:"acked,omitempty"` // outgoing: the other side has it
}

// DB is an app database.
type DB struct{ db *bolt.DB }

// Open opens DIR/porthole.db.
func Open(dir string) (*DB, error) {
	db, err := store.Open(filepath.Join(dir, "porthole.db"), migrations)
	if err != nil {
		return nil, err
	}
	return &DB{db: db}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// Bolt is the underlying database, for packages that own buckets of their
// own (transfer).
func (d *DB) Bolt() *bolt.DB { return d.db }

// ErrNotFound is returned for a session the database does not have.
var ErrNotFound = errors.New("no such session")

// PutSession stores a session record.
func (d *DB) PutSession(s *Session) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return d.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketSessions).Put([]byte(s.ID), raw) })
}

// Session loads one session.
func (d *DB) Session(id string) (*Session, error) {
	var s *Session
	err := d.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketSessions).Get([]byte(id))
		if raw == nil {
			return ErrNotFound
		}
		s = new(Session)
		return json.Unmarshal(raw, s)
	})
	return s, err
}

// Sessions lists every session, oldest first.
func (d *DB) Sessions() ([]*Session, error) {
	var out []*Session
	err := d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			s := new(Session)
			if err := json.Unmarshal(v, s); err != nil {
				return fmt.Errorf("session %s: %w", k, err)
			}
			out = append(out, s)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, err
}

// AddMessage appends a message to a session's history. It returns false
// (and stores nothing) when a message with the same id is there already.
func (d *DB) AddMessage(session string, m *Message) (bool, error) {
	added := false
	err := d.db.Update(func(tx *bolt.Tx) error {
		ids, err := tx.Bucket(bucketChatIDs).CreateBucketIfNotExists([]byte(session))
		if err != nil {
			return err
		}
		if ids.Get([]byte(m.ID)) != nil {
			return nil
		}
		b, err := tx.Bucket(bucketChat).CreateBucketIfNotExists([]byte(session))
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		m.Seq = seq
		raw, err := json.Marshal(m)
		if err != nil {
			return err
		}
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], seq)
		if err := b.Put(k[:], raw); err != nil {
			return err
		}
		if err := ids.Put([]byte(m.ID), k[:]); err != nil {
			return err
		}
		added = true
		return nil
	})
	return added, err
}

// AckMessage marks an outgoing message as delivered.
func (d *DB) AckMessage(session, id string) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		ids := tx.Bucket(bucketChatIDs).Bucket([]byte(session))
		b := tx.Bucket(bucketChat).Bucket([]byte(session))
		if ids == nil || b == nil {
			return nil
		}
		k := ids.Get([]byte(id))
		if k == nil {
			return nil
		}
		var m Message
		if err := json.Unmarshal(b.Get(k), &m); err != nil {
			return err
		}
		if !m.Outgoing || m.Acked {
			return nil
		}
		m.Acked = true
		raw, err := json.Marshal(&m)
		if err != nil {
			return err
		}
		return b.Put(append([]byte(nil), k...), raw)
	})
}

// Messages returns a session's history in order.
func (d *DB) Messages(session string) ([]Message, error) {
	var out []Message
	err := d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketChat).Bucket([]byte(session))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var m Message
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			m.Seq = binary.BigEndian.Uint64(k)
			out = append(out, m)
			return nil
		})
	})
	return out, err
}

// Pending returns the outgoing messages the other side has not acknowledged.
func (d *DB) Pending(session string) ([]Message, error) {
	all, err := d.Messages(session)
	var out []Message
	for _, m := range all {
		if m.Outgoing && !m.Acked {
			out = append(out, m)
		}
	}
	return out, err
}
