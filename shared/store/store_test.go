package store_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/porthole-dev/porthole/shared/store"
)

// recorder builds migrations that log when they run and check that they
// run on a database at the previous version.
type recorder struct {
	t   *testing.T
	ran []int
}

func (r *recorder) migrations(n int) []store.Migration {
	ms := make([]store.Migration, n)
	for i := range ms {
		to := i + 1
		ms[i] = store.Migration{To: to, Name: fmt.Sprintf("step %d", to), Apply: func(tx *bolt.Tx) error {
			if got := schemaTx(tx); got != to-1 {
				r.t.Errorf("migration %d ran on schema %d, want %d", to, got, to-1)
			}
			r.ran = append(r.ran, to)
			_, err := tx.CreateBucket([]byte(fmt.Sprintf("bucket%d", to)))
			return err
		}}
	}
	return ms
}

// schemaTx reads meta/schema the way the package documents it.
func schemaTx(tx *bolt.Tx) int {
	b := tx.Bucket([]byte("meta"))
	if b == nil {
		return 0
	}
	raw := b.Get([]byte("schema"))
	if raw == nil {
		return 0
	}
	var v int
	if _, err := fmt.Sscanf(string(raw), "%d", &v); err != nil {
		return -1
	}
	return v
}

func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "test.db") }

func mustOpen(t *testing.T, path string, ms []store.Migration) *bolt.DB {
	t.Helper()
	db, err := store.Open(path, ms)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func mustVersion(t *testing.T, db *bolt.DB) int {
	t.Helper()
	v, err := store.Version(db)
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	return v
}

// rawVersion opens path with bbolt directly (no migrations) and returns the
// schema version stored in it.
func rawVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	defer db.Close()
	return mustVersion(t, db)
}

func hasBucket(t *testing.T, db *bolt.DB, name string) bool {
	t.Helper()
	found := false
	if err := db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket([]byte(name)) != nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return found
}

func TestOpenCreatesSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "test.db")
	r := &recorder{t: t}
	db := mustOpen(t, path, r.migrations(3))
	defer db.Close()

	if want := []int{1, 2, 3}; !reflect.DeepEqual(r.ran, want) {
		t.Fatalf("migrations ran %v, want %v", r.ran, want)
	}
	if v := mustVersion(t, db); v != 3 {
		t.Fatalf("Version = %d, want 3", v)
	}
	for _, b := range []string{"meta", "bucket1", "bucket2", "bucket3"} {
		if !hasBucket(t, db, b) {
			t.Errorf("bucket %q missing", b)
		}
	}
	// The version is stored as a decimal string, as documented.
	if err := db.View(func(tx *bolt.Tx) error {
		if got := string(tx.Bucket([]byte("meta")).Get([]byte("schema"))); got != "3" {
			t.Errorf("meta/schema = %q, want \"3\"", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("database file mode %v, want no group or other access", perm)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if perm := di.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("created folder mode %v, want no group or other access", perm)
	}
}

func TestOpenWithoutMigrations(t *testing.T) {
	db := mustOpen(t, dbPath(t), nil)
	defer db.Close()
	if v := mustVersion(t, db); v != 0 {
		t.Fatalf("Version of a new database = %d, want 0", v)
	}
}

func TestReopenDoesNotRerunMigrations(t *testing.T) {
	path := dbPath(t)
	r := &recorder{t: t}
	mustOpen(t, path, r.migrations(2)).Close()
	if want := []int{1, 2}; !reflect.DeepEqual(r.ran, want) {
		t.Fatalf("first Open ran %v, want %v", r.ran, want)
	}

	r.ran = nil
	db := mustOpen(t, path, r.migrations(2))
	if len(r.ran) != 0 {
		t.Fatalf("reopening ran migrations %v again", r.ran)
	}
	if v := mustVersion(t, db); v != 2 {
		t.Fatalf("Version after reopen = %d, want 2", v)
	}
	db.Close()

	// A newer build with one more migration runs only that one.
	r.ran = nil
	db = mustOpen(t, path, r.migrations(4))
	defer db.Close()
	if want := []int{3, 4}; !reflect.DeepEqual(r.ran, want) {
		t.Fatalf("upgrade ran %v, want %v", r.ran, want)
	}
	if v := mustVersion(t, db); v != 4 {
		t.Fatalf("Version after upgrade = %d, want 4", v)
	}
}

func TestMigrateOnOpenDatabase(t *testing.T) {
	path := dbPath(t)
	r := &recorder{t: t}
	db := mustOpen(t, path, r.migrations(1))
	defer db.Close()
	if err := store.Migrate(db, r.migrations(3)); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := store.Migrate(db, r.migrations(3)); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if want := []int{1, 2, 3}; !reflect.DeepEqual(r.ran, want) {
		t.Fatalf("migrations ran %v, want %v", r.ran, want)
	}
}

func TestOpenTooNew(t *testing.T) {
	path := dbPath(t)
	r := &recorder{t: t}
	mustOpen(t, path, r.migrations(3)).Close()

	r.ran = nil
	db, err := store.Open(path, r.migrations(2))
	if !errors.Is(err, store.ErrTooNew) {
		t.Fatalf("Open with an older build = %v, %v; want ErrTooNew", db, err)
	}
	if db != nil {
		t.Fatal("Open returned a database with an error")
	}
	if len(r.ran) != 0 {
		t.Fatalf("Open of a newer database ran migrations %v", r.ran)
	}
	// The refused Open closed the file and left it as it was: it opens
	// again (it would time out if the failed Open had kept it locked) and
	// still has the newer schema.
	if v := rawVersion(t, path); v != 3 {
		t.Fatalf("schema after a refused Open = %d, want 3", v)
	}
}

func TestFailingMigrationKeepsPreviousVersion(t *testing.T) {
	path := dbPath(t)
	boom := errors.New("boom")
	ran3 := false
	ms := []store.Migration{
		{To: 1, Name: "one", Apply: store.CreateBuckets("one")},
		{To: 2, Name: "two", Apply: func(tx *bolt.Tx) error {
			// Changes made before the failure must be rolled back.
			if _, err := tx.CreateBucket([]byte("partial")); err != nil {
				return err
			}
			return boom
		}},
		{To: 3, Name: "three", Apply: func(tx *bolt.Tx) error { ran3 = true; return nil }},
	}
	db, err := store.Open(path, ms)
	if !errors.Is(err, boom) {
		t.Fatalf("Open with a failing migration = %v, want it to wrap %v", err, boom)
	}
	if db != nil {
		t.Fatal("Open returned a database with an error")
	}
	if ran3 {
		t.Fatal("a migration after the failing one ran")
	}

	raw, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("reopening after a failed migration: %v", err)
	}
	if v := mustVersion(t, raw); v != 1 {
		t.Errorf("schema after failed migration 2 = %d, want 1", v)
	}
	if !hasBucket(t, raw, "one") {
		t.Error("bucket of the successful migration is missing")
	}
	if hasBucket(t, raw, "partial") {
		t.Error("the failed migration's changes were not rolled back")
	}
	raw.Close()

	// Fixed, the migration runs and the database reaches the last version.
	ms[1].Apply = store.CreateBuckets("two")
	db = mustOpen(t, path, ms)
	defer db.Close()
	if v := mustVersion(t, db); v != 3 {
		t.Fatalf("schema after the fix = %d, want 3", v)
	}
	if !ran3 || !hasBucket(t, db, "two") {
		t.Fatal("migrations after the fix did not run")
	}
}

func TestFailingFirstMigration(t *testing.T) {
	path := dbPath(t)
	boom := errors.New("boom")
	_, err := store.Open(path, []store.Migration{{To: 1, Name: "bad", Apply: func(*bolt.Tx) error { return boom }}})
	if !errors.Is(err, boom) {
		t.Fatalf("Open = %v, want it to wrap %v", err, boom)
	}
	if v := rawVersion(t, path); v != 0 {
		t.Fatalf("schema after a failed first migration = %d, want 0", v)
	}
}

func TestMisnumberedMigrations(t *testing.T) {
	noop := func(*bolt.Tx) error { return nil }
	tests := []struct {
		name string
		tos  []int
	}{
		{"starts at 0", []int{0}},
		{"starts at 2", []int{2}},
		{"gap", []int{1, 3}},
		{"duplicate", []int{1, 1}},
		{"descending", []int{2, 1}},
		{"bad at the end", []int{1, 2, 3, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := dbPath(t)
			ran := false
			var ms []store.Migration
			for _, to := range tt.tos {
				ms = append(ms, store.Migration{To: to, Name: fmt.Sprint("m", to), Apply: func(*bolt.Tx) error { ran = true; return nil }})
			}
			db, err := store.Open(path, ms)
			if err == nil {
				db.Close()
				t.Fatalf("Open accepted migrations numbered %v", tt.tos)
			}
			if ran {
				t.Fatal("a migration ran although the list is misnumbered")
			}
			if v := rawVersion(t, path); v != 0 {
				t.Fatalf("schema = %d, want 0", v)
			}

			// Migrate checks the numbering too, even when the database is
			// already past the bad entries.
			good := mustOpen(t, path, []store.Migration{{To: 1, Name: "one", Apply: noop}, {To: 2, Name: "two", Apply: noop}})
			defer good.Close()
			if err := store.Migrate(good, ms); err == nil {
				t.Fatalf("Migrate accepted migrations numbered %v", tt.tos)
			}
		})
	}
}

func TestOpenLocked(t *testing.T) {
	old := store.OpenTimeout
	store.OpenTimeout = 50 * time.Millisecond
	t.Cleanup(func() { store.OpenTimeout = old })

	path := dbPath(t)
	ms := []store.Migration{{To: 1, Name: "one", Apply: store.CreateBuckets("one")}}
	first := mustOpen(t, path, ms)

	second, err := store.Open(path, ms)
	if !errors.Is(err, store.ErrLocked) {
		if second != nil {
			second.Close()
		}
		first.Close()
		t.Fatalf("second Open while the first is open = %v, want ErrLocked", err)
	}
	if second != nil {
		t.Fatal("Open returned a database with an error")
	}

	// Once the first is closed the file opens again.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third := mustOpen(t, path, ms)
	third.Close()
}

func TestOpenNotADatabase(t *testing.T) {
	path := dbPath(t)
	junk := make([]byte, 8192)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(path, nil)
	if err == nil {
		db.Close()
		t.Fatal("Open of a file that is not a database succeeded")
	}
	if errors.Is(err, store.ErrLocked) || errors.Is(err, store.ErrTooNew) {
		t.Fatalf("Open of a junk file = %v, want neither ErrLocked nor ErrTooNew", err)
	}
}

func TestCorruptSchemaVersion(t *testing.T) {
	path := dbPath(t)
	raw, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("schema"), []byte("one"))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Version(raw); err == nil {
		t.Error("Version of a corrupt schema value succeeded")
	}
	raw.Close()

	ran := false
	db, err := store.Open(path, []store.Migration{{To: 1, Name: "one", Apply: func(*bolt.Tx) error { ran = true; return nil }}})
	if err == nil {
		db.Close()
		t.Fatal("Open of a database with a corrupt schema version succeeded")
	}
	if ran {
		t.Fatal("a migration ran on a database with a corrupt schema version")
	}
}

func TestCreateBuckets(t *testing.T) {
	path := dbPath(t)
	ms := []store.Migration{
		{To: 1, Name: "a b", Apply: store.CreateBuckets("a", "b")},
		// Creating a bucket that exists is not an error.
		{To: 2, Name: "b c", Apply: store.CreateBuckets("b", "c")},
	}
	db := mustOpen(t, path, ms)
	defer db.Close()
	for _, b := range []string{"a", "b", "c"} {
		if !hasBucket(t, db, b) {
			t.Errorf("bucket %q missing", b)
		}
	}
	if err := db.Update(func(tx *bolt.Tx) error { return store.CreateBuckets("")(tx) }); err == nil {
		t.Error("CreateBuckets with an empty name succeeded")
	}
}
