package transfer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// State is where a file is in its life.
type State string

// States. Offered, Accepted, Sending and Waiting are unfinished; the rest
// are final.
const (
	Offered   State = "offered"   // offered; the receiver has not answered
	Accepted  State = "accepted"  // accepted; no byte has moved yet
	Sending   State = "sending"   // bytes are moving
	Waiting   State = "waiting"   // cut off; continues when the peers are connected again
	Done      State = "done"      // stored and checked by the receiver
	Refused   State = "refused"   // the receiver said no (Why says how)
	Failed    State = "failed"    // went wrong (Why says what)
	Cancelled State = "cancelled" // stopped by one side
)

// Final says whether nothing more happens to a file in state s.
func (s State) Final() bool {
	return s == Done || s == Refused || s == Failed || s == Cancelled
}

// Directions.
const (
	Out = "out" // this side sends
	In  = "in"  // this side receives
)

// Transfer is one file, as one side sees it.
type Transfer struct {
	ID          string    `json:"id"`
	Session     string    `json:"session"`
	Dir         string    `json:"dir"`  // Out or In
	Peer        string    `json:"peer"` // the other side's name
	Name        string    `json:"name"` // relative, "/"-separated; In: cleaned
	Group       string    `json:"group,omitempty"`
	Size        int64     `json:"size"`
	ContentType string    `json:"content_type,omitempty"`
	SHA256      string    `json:"sha256,omitempty"` // hex, once known
	Edges       string    `json:"edges,omitempty"`  // hex EdgesHash (Out: read at Send; In: of the stored file)
	State       State     `json:"state"`
	Why         string    `json:"why,omitempty"`  // refused, failed, cancelled: in words
	Done        int64     `json:"done,omitempty"` // bytes moved (In: bytes safely written)
	Created     time.Time `json:"created"`
	Finished    time.Time `json:"finished,omitzero"`

	// Out.
	Source  string    `json:"source,omitempty"` // the local file
	ModTime time.Time `json:"mod_time,omitzero"`

	// In.
	Folder    string `json:"folder,omitempty"`     // the session's download folder
	Path      string `json:"path,omitempty"`       // Done: the file
	Deduped   bool   `json:"deduped,omitempty"`    // Done: the content was here already, at Path
	HashState []byte `json:"hash_state,omitempty"` // SHA-256 state after Done bytes
}

var (
	bucketTransfers = []byte("transfers")
	bucketContents  = []byte("contents")
	bucketTrust     = []byte("trust")
	bucketHashes    = []byte("hashes")
	bucketSettings  = []byte("settings")
)

func putTransfer(tx *bolt.Tx, t *Transfer) error {
	raw, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketTransfers).Put([]byte(t.ID), raw)
}

func getTransfer(tx *bolt.Tx, id string) (*Transfer, error) {
	raw := tx.Bucket(bucketTransfers).Get([]byte(id))
	if raw == nil {
		return nil, nil
	}
	var t Transfer
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("transfer %s: %w", id, err)
	}
	return &t, nil
}

// addContent records that transfer id holds content sum.
func addContent(tx *bolt.Tx, sum, id string) error {
	b := tx.Bucket(bucketContents)
	var ids []string
	if raw := b.Get([]byte(sum)); raw != nil {
		if err := json.Unmarshal(raw, &ids); err != nil {
			return err
		}
	}
	for _, have := range ids {
		if have == id {
			return nil
		}
	}
	raw, err := json.Marshal(append(ids, id))
	if err != nil {
		return err
	}
	return b.Put([]byte(sum), raw)
}

func contentHolders(tx *bolt.Tx, sum string) []string {
	var ids []string
	if raw := tx.Bucket(bucketContents).Get([]byte(sum)); raw != nil {
		json.Unmarshal(raw, &ids)
	}
	return ids
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), raw)
}

func hashKey(path string, size int64, mod time.Time) []byte {
	return []byte(path + "\x00" + strconv.FormatInt(size, 10) + "\x00" + strconv.FormatInt(mod.UnixNano(), 10))
}

func getSetting(tx *bolt.Tx, key string) string {
	return string(tx.Bucket(bucketSettings).Get([]byte(key)))
}

func putSetting(tx *bolt.Tx, key, value string) error {
	return tx.Bucket(bucketSettings).Put([]byte(key), []byte(value))
}

// committer runs database updates in groups: each update waits for its
// group's transaction, and a group is whatever queued while the previous
// transaction ran. Many small files then share commits without any delay
// added to a lone one. An update that fails must have written nothing; the
// others of its group still commit.
type committer struct {
	db   *bolt.DB
	q    chan commitReq
	stop chan struct{} // closed by close: run commits what is queued and returns
	done chan struct{} // closed when run has returned

	mu     sync.Mutex
	closed bool
}

type commitReq struct {
	fn   func(*bolt.Tx) error
	done func(error) // runs on the committer's goroutine: must not block
}

var errStopped = errors.New("the transfer engine has stopped")

func newCommitter(db *bolt.DB) *committer {
	c := &committer{db: db, q: make(chan commitReq, 4096), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

func (c *committer) run() {
	defer close(c.done)
	for {
		var first commitReq
		select {
		case first = <-c.q:
		case <-c.stop:
			// Nothing new comes (close holds the lock async takes);
			// what is queued is still written.
			for {
				select {
				case r := <-c.q:
					c.commit([]commitReq{r})
				default:
					return
				}
			}
		}
		group := []commitReq{first}
	drain:
		for len(group) < 1000 {
			select {
			case r := <-c.q:
				group = append(group, r)
			default:
				break drain
			}
		}
		c.commit(group)
	}
}

// commit runs a group of updates in one transaction.
func (c *committer) commit(group []commitReq) {
	errs := make([]error, len(group))
	err := c.db.Update(func(tx *bolt.Tx) error {
		for i, r := range group {
			errs[i] = r.fn(tx)
		}
		return nil
	})
	for i, r := range group {
		if err != nil {
			errs[i] = err
		}
		if r.done != nil {
			r.done(errs[i])
		}
	}
}

// do runs fn in a group and waits until it is committed.
func (c *committer) do(fn func(*bolt.Tx) error) error {
	ch := make(chan error, 1)
	c.async(fn, func(err error) { ch <- err })
	return <-ch
}

// async runs fn in a group and calls done once it is committed; done may
// be nil. After close, fn does not run and done gets errStopped at once.
func (c *committer) async(fn func(*bolt.Tx) error, done func(error)) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		if done != nil {
			done(errStopped)
		}
		return
	}
	c.q <- commitReq{fn: fn, done: done}
	c.mu.Unlock()
}

// close commits what is queued and stops.
func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.stop)
	}
	c.mu.Unlock()
	<-c.done
}
