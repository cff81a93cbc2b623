package relay

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/porthole-dev/porthole/shared/protocol"
)

func openTestDB(t *testing.T, dir string) *bolt.DB {
	t.Helper()
	db, err := OpenDB(dir)
	if err != nil {
		t.Fatalf("OpenDB: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newTestAccounts(t *testing.T) (*Accounts, *bolt.DB) {
	t.Helper()
	db := openTestDB(t, t.TempDir())
	return NewAccounts(db), db
}

func mustVerify(t *testing.T, a *Accounts, name, password string, want bool) {
	t.Helper()
	ok, err := a.Verify(name, password)
	if err != nil {
		t.Fatalf("Verify(%q): %v", name, err)
	}
	if ok != want {
		t.Fatalf("Verify(%q, %q) = %v, want %v", name, password, ok, want)
	}
}

func rawAccount(t *testing.T, db *bolt.DB, name string) (Account, bool) {
	t.Helper()
	var a Account
	found := false
	err := db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketAgents).Get([]byte(name))
		if raw == nil {
			return nil
		}
		found = true
		return json.Unmarshal(raw, &a)
	})
	if err != nil {
		t.Fatalf("reading account %q: %v", name, err)
	}
	return a, found
}

func TestAccountsAddVerify(t *testing.T) {
	a, db := newTestAccounts(t)
	if err := a.Add("alice", "correct horse"); err != nil {
		t.Fatalf("Add: %v", err)
	}
	mustVerify(t, a, "alice", "correct horse", true)
	mustVerify(t, a, "alice", "correct hors", false)
	mustVerify(t, a, "alice", "Correct horse", false)
	mustVerify(t, a, "alice", "", false)
	mustVerify(t, a, "Alice", "correct horse", false) // names are exact
	mustVerify(t, a, "bob", "correct horse", false)   // unknown name: false, no error

	stored, ok := rawAccount(t, db, "alice")
	if !ok {
		t.Fatal("account not stored")
	}
	if bytes.Contains(mustJSON(t, stored), []byte("correct horse")) {
		t.Fatal("the stored account contains the plaintext password")
	}
	if stored.Name != "alice" || len(stored.Hash) != argonKeyLen || len(stored.Salt) != 16 ||
		stored.Time != argonTime || stored.Memory != argonMemory || stored.Threads != argonThreads {
		t.Fatalf("stored account = %+v", stored)
	}
	if stored.Created.IsZero() {
		t.Fatal("Created not set")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAccountsSamePasswordDifferentSalt(t *testing.T) {
	a, db := newTestAccounts(t)
	for _, n := range []string{"alice", "bob"} {
		if err := a.Add(n, "same password"); err != nil {
			t.Fatalf("Add(%s): %v", n, err)
		}
	}
	x, _ := rawAccount(t, db, "alice")
	y, _ := rawAccount(t, db, "bob")
	if bytes.Equal(x.Salt, y.Salt) || bytes.Equal(x.Hash, y.Hash) {
		t.Fatal("two accounts with the same password share a salt or hash")
	}
	mustVerify(t, a, "alice", "same password", true)
	mustVerify(t, a, "bob", "same password", true)
}

func TestAccountsAddRejectsBadInput(t *testing.T) {
	tests := []struct {
		name, user, password string
	}{
		{"empty password", "alice", ""},
		{"7-byte password", "alice", "1234567"},
		{"too long password", "alice", strings.Repeat("x", protocol.MaxPassword+1)},
		{"empty name", "", "long enough"},
		{"blank name", "   ", "long enough"},
		{"control char in name", "al\x00ice", "long enough"},
		{"newline in name", "al\nice", "long enough"},
		{"too long name", strings.Repeat("a", protocol.MaxName+1), "long enough"},
		{"invalid utf-8 name", "al\xffice", "long enough"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, db := newTestAccounts(t)
			err := a.Add(tc.user, tc.password)
			if !errors.Is(err, protocol.ErrInvalid) {
				t.Fatalf("Add(%q, %d-byte password) = %v, want ErrInvalid", tc.user, len(tc.password), err)
			}
			if _, found := rawAccount(t, db, tc.user); found {
				t.Fatal("rejected account was stored")
			}
			if err := a.SetPassword(tc.user, tc.password); !errors.Is(err, protocol.ErrInvalid) {
				t.Fatalf("SetPassword = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestAccountsPasswordLengthLimits(t *testing.T) {
	a, _ := newTestAccounts(t)
	for name, pw := range map[string]string{
		"eight": "12345678",
		"max":   strings.Repeat("p", protocol.MaxPassword),
	} {
		if err := a.Add(name, pw); err != nil {
			t.Fatalf("Add(%s, %d bytes): %v", name, len(pw), err)
		}
		mustVerify(t, a, name, pw, true)
	}
	name := strings.Repeat("n", protocol.MaxName)
	if err := a.Add(name, "long enough"); err != nil {
		t.Fatalf("Add with a %d-byte name: %v", protocol.MaxName, err)
	}
}

func TestAccountsDuplicateAdd(t *testing.T) {
	a, db := newTestAccounts(t)
	if err := a.Add("alice", "first password"); err != nil {
		t.Fatal(err)
	}
	before, _ := rawAccount(t, db, "alice")
	err := a.Add("alice", "second password")
	if !errors.Is(err, ErrAccountExists) {
		t.Fatalf("second Add = %v, want ErrAccountExists", err)
	}
	after, _ := rawAccount(t, db, "alice")
	if !bytes.Equal(before.Hash, after.Hash) {
		t.Fatal("a refused Add changed the stored hash")
	}
	mustVerify(t, a, "alice", "first password", true)
	mustVerify(t, a, "alice", "second password", false)
}

func TestAccountsSetPassword(t *testing.T) {
	a, db := newTestAccounts(t)
	if err := a.Add("alice", "old password"); err != nil {
		t.Fatal(err)
	}
	before, _ := rawAccount(t, db, "alice")
	if err := a.SetPassword("alice", "new password"); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	mustVerify(t, a, "alice", "old password", false)
	mustVerify(t, a, "alice", "new password", true)
	after, _ := rawAccount(t, db, "alice")
	if !after.Created.Equal(before.Created) {
		t.Fatalf("SetPassword changed Created from %v to %v", before.Created, after.Created)
	}
	if bytes.Equal(before.Salt, after.Salt) {
		t.Fatal("SetPassword kept the old salt")
	}

	// A too-short new password is refused and the old one keeps working.
	if err := a.SetPassword("alice", "short"); !errors.Is(err, protocol.ErrInvalid) {
		t.Fatalf("SetPassword(short) = %v, want ErrInvalid", err)
	}
	mustVerify(t, a, "alice", "new password", true)

	// An unknown account is not created by SetPassword.
	if err := a.SetPassword("bob", "whatever password"); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("SetPassword(unknown) = %v, want ErrNoAccount", err)
	}
	if _, found := rawAccount(t, db, "bob"); found {
		t.Fatal("SetPassword created an unknown account")
	}
	mustVerify(t, a, "bob", "whatever password", false)
}

func TestAccountsRemove(t *testing.T) {
	a, _ := newTestAccounts(t)
	for _, n := range []string{"alice", "bob"} {
		if err := a.Add(n, "password "+n); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Remove("alice"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	mustVerify(t, a, "alice", "password alice", false)
	mustVerify(t, a, "bob", "password bob", true)
	if err := a.Remove("alice"); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("second Remove = %v, want ErrNoAccount", err)
	}
	if err := a.Remove("carol"); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("Remove(unknown) = %v, want ErrNoAccount", err)
	}
	list, err := a.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "bob" {
		t.Fatalf("List after Remove = %+v", list)
	}
	// The name is free again.
	if err := a.Add("alice", "another password"); err != nil {
		t.Fatalf("Add after Remove: %v", err)
	}
	mustVerify(t, a, "alice", "another password", true)
	mustVerify(t, a, "alice", "password alice", false)
}

func TestAccountsList(t *testing.T) {
	a, _ := newTestAccounts(t)
	list, err := a.List()
	if err != nil || len(list) != 0 {
		t.Fatalf("List of an empty database = %v, %v", list, err)
	}
	for _, n := range []string{"carol", "alice", "bob"} {
		if err := a.Add(n, "password "+n); err != nil {
			t.Fatal(err)
		}
	}
	list, err = a.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, acct := range list {
		names = append(names, acct.Name)
		if acct.Hash != nil || acct.Salt != nil {
			t.Errorf("List leaks the hash or salt of %s", acct.Name)
		}
		if acct.Created.IsZero() || acct.Time != argonTime || acct.Memory != argonMemory || acct.Threads != argonThreads {
			t.Errorf("List entry %+v lacks metadata", acct)
		}
	}
	if got, want := strings.Join(names, ","), "alice,bob,carol"; got != want {
		t.Fatalf("List names = %s, want %s", got, want)
	}
	// List must not have scrubbed the stored hashes.
	mustVerify(t, a, "bob", "password bob", true)
}

func TestAccountsPersist(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := NewAccounts(db).Add("alice", "durable password"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	a := NewAccounts(openTestDB(t, dir))
	mustVerify(t, a, "alice", "durable password", true)
	if err := a.Add("alice", "durable password"); !errors.Is(err, ErrAccountExists) {
		t.Fatalf("Add after reopen = %v, want ErrAccountExists", err)
	}
}
