// Package store opens Porthole's bbolt databases and keeps their schema
// version. Each database has a "meta" bucket whose key "schema" holds the
// schema version as a decimal string; Open applies, in order and each in its
// own transaction, the migrations a database has not had yet. The schemas
// themselves are documented by the packages that own them (relay, and the
// apps' logic packages).
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// OpenTimeout is how long Open waits for another process to release the
// database before it gives up with ErrLocked.
var OpenTimeout = 2 * time.Second

// ErrLocked means another process has the database open.
var ErrLocked = errors.New("the data folder is in use by another Porthole process")

// ErrTooNew means the database was written by a newer build.
var ErrTooNew = errors.New("the data folder was written by a newer version of Porthole")

var (
	bucketMeta = []byte("meta")
	keySchema  = []byte("schema")
)

// Migration moves a database from schema version To-1 to To.
type Migration struct {
	To    int
	Name  string
	Apply func(tx *bolt.Tx) error
}

// Open opens (creating if needed) the bbolt file at path with mode 0600 and
// brings its schema up to the last migration's version.
func Open(path string, migrations []Migration) (*bolt.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating data folder: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: OpenTimeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%w (%s)", ErrLocked, filepath.Dir(path))
		}
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := Migrate(db, migrations); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Version returns the schema version of db (0 for a new database).
func Version(db *bolt.DB) (int, error) {
	v := 0
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = versionTx(tx)
		return err
	})
	return v, err
}

func versionTx(tx *bolt.Tx) (int, error) {
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return 0, nil
	}
	raw := b.Get(keySchema)
	if raw == nil {
		return 0, nil
	}
	v, err := strconv.Atoi(string(raw))
	if err != nil {
		return 0, fmt.Errorf("corrupt schema version %q", raw)
	}
	return v, nil
}

// Migrate applies the migrations db has not had yet.
func Migrate(db *bolt.DB, migrations []Migration) error {
	for i, m := range migrations {
		if m.To != i+1 {
			return fmt.Errorf("migration %q has version %d, want %d", m.Name, m.To, i+1)
		}
	}
	cur, err := Version(db)
	if err != nil {
		return err
	}
	if cur > len(migrations) {
		return fmt.Errorf("%w (schema %d, this build knows %d)", ErrTooNew, cur, len(migrations))
	}
	for _, m := range migrations[cur:] {
		err := db.Update(func(tx *bolt.Tx) error {
			if err := m.Apply(tx); err != nil {
				return err
			}
			meta, err := tx.CreateBucketIfNotExists(bucketMeta)
			if err != nil {
				return err
			}
			return meta.Put(keySchema, []byte(strconv.Itoa(m.To)))
		})
		if err != nil {
			return fmt.Errorf("migrating to schema %d (%s): %w", m.To, m.Name, err)
		}
	}
	return nil
}

// CreateBuckets returns a migration step that creates top-level buckets.
func CreateBuckets(names ...string) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		for _, n := range names {
			if _, err := tx.CreateBucketIfNotExists([]byte(n)); err != nil {
				return err
			}
		}
		return nil
	}
}
