package relay

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/argon2"

	"github.com/porthole-dev/porthole/shared/protocol"
)

// Argon2id parameters for new password hashes (OWASP's second
// recommendation: 19 MiB, two passes, one lane). Stored with each hash, so
// they can change without breaking existing accounts.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// ErrNoAccount is returned for an unknown agent name.
var ErrNoAccount = errors.New("no such agent account")

// ErrAccountExists is returned when adding a name that is taken.
var ErrAccountExists = errors.New("an agent account with that name exists")

// Account is an agent account as stored in the "agents" bucket.
type Account struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Hash    []byte    `json:"hash"`
	Salt    []byte    `json:"salt"`
	Time    uint32    `json:"t"`
	Memory  uint32    `json:"m"`
	Threads uint8     `json:"p"`
}

func hashPassword(password string) (Account, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return Account{}, err
	}
	return Account{
		Hash: argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen),
		Salt: salt, Time: argonTime, Memory: argonMemory, Threads: argonThreads,
	}, nil
}

func (a *Account) check(password string) bool {
	got := argon2.IDKey([]byte(password), a.Salt, a.Time, a.Memory, a.Threads, uint32(len(a.Hash)))
	return subtle.ConstantTimeCompare(got, a.Hash) == 1
}

// Accounts manages agent accounts in the relay's database.
type Accounts struct{ db *bolt.DB }

// NewAccounts wraps an open relay database (see OpenDB).
func NewAccounts(db *bolt.DB) *Accounts { return &Accounts{db: db} }

func validPassword(pw string) error {
	if len(pw) < 8 {
		return fmt.Errorf("%w: a password has at least 8 characters", protocol.ErrInvalid)
	}
	if len(pw) > protocol.MaxPassword {
		return fmt.Errorf("%w: password longer than %d bytes", protocol.ErrInvalid, protocol.MaxPassword)
	}
	return nil
}

// Add creates an account.
func (s *Accounts) Add(name, password string) error {
	return s.put(name, password, false)
}

// SetPassword changes an existing account's password.
func (s *Accounts) SetPassword(name, password string) error {
	return s.put(name, password, true)
}

func (s *Accounts) put(name, password string, mustExist bool) error {
	if err := protocol.ValidName(name); err != nil {
		return err
	}
	if err := validPassword(password); err != nil {
		return err
	}
	acct, err := hashPassword(password)
	if err != nil {
		return err
	}
	acct.Name = name
	acct.Created = time.Now().UTC()
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAgents)
		old := b.Get([]byte(name))
		switch {
		case mustExist && old == nil:
			return fmt.Errorf("%w: %s", ErrNoAccount, name)
		case !mustExist && old != nil:
			return fmt.Errorf("%w: %s", ErrAccountExists, name)
		case old != nil:
			var prev Account
			if json.Unmarshal(old, &prev) == nil {
				acct.Created = prev.Created
			}
		}
		raw, err := json.Marshal(acct)
		if err != nil {
			return err
		}
		return b.Put([]byte(name), raw)
	})
}

// Remove deletes an account.
func (s *Accounts) Remove(name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAgents)
		if b.Get([]byte(name)) == nil {
			return fmt.Errorf("%w: %s", ErrNoAccount, name)
		}
		return b.Delete([]byte(name))
	})
}

// List returns every account, sorted by name, without hashes.
func (s *Accounts) List() ([]Account, error) {
	var out []Account
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAgents).ForEach(func(k, v []byte) error {
			var a Account
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("account %q: %w", k, err)
			}
			a.Hash, a.Salt = nil, nil
			out = append(out, a)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// Verify checks a name and password. Unknown names take as long as wrong
// passwords, so the timing does not tell which names exist.
func (s *Accounts) Verify(name, password string) (bool, error) {
	var acct Account
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketAgents).Get([]byte(name))
		if raw == nil {
			return nil
		}
		found = true
		return json.Unmarshal(raw, &acct)
	})
	if err != nil {
		return false, err
	}
	if !found {
		dummy := Account{Salt: make([]byte, 16), Hash: make([]byte, argonKeyLen), Time: argonTime, Memory: argonMemory, Threads: argonThreads}
		dummy.check(password)
		return false, nil
	}
	return acct.check(password), nil
}
