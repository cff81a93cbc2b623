package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"time"

	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	bolt "go.etcd.io/bbolt"
)

// The sender's hashing: ahead while the receiver decides, behind after a
// big file arrived, and first when the receiver may hold the content.

// hashAhead hashes a file while the receiver decides on its offer, and
// offers it again with its SHA-256 when that is done first: a receiver that
// holds the content then need not get it again. The first byte never waits
// for this: once the file moves, hashing ahead stops.
func (e *Engine) hashAhead(t *Transfer) {
	e.mu.Lock()
	if e.ahead[t.ID] { // one hash of a file at a time
		e.mu.Unlock()
		return
	}
	ok := e.holdLocked()
	if ok {
		e.ahead[t.ID] = true
	}
	e.mu.Unlock()
	if !ok {
		return
	}
	e.background(func() {

		offered := func() bool {
			e.mu.Lock()
			defer e.mu.Unlock()
			return t.State == Offered && t.SHA256 == "" && e.ctx.Err() == nil
		}
		if !offered() {
			e.mu.Lock()
			delete(e.ahead, t.ID)
			e.mu.Unlock()
			return
		}
		if hookHashAhead != nil {
			hookHashAhead(t.ID)
		}
		sum := hashFile(t.Source, t.Size, t.ModTime, offered)
		e.mu.Lock()
		// One step: a hashFirst from now on starts a hash of its own.
		delete(e.ahead, t.ID)
		w, waited := e.firstWait[t.ID]
		delete(e.firstWait, t.ID)
		e.mu.Unlock()
		if sum == "" {
			if waited {
				e.move(t, w.l, 0, w.check)
			}
			return
		}
		e.mu.Lock()
		if t.State != Offered || t.SHA256 != "" {
			e.mu.Unlock()
			return
		}
		t.SHA256 = sum
		snap := *t
		e.mu.Unlock()
		key := hashKey(snap.Source, snap.Size, snap.ModTime)
		e.commit.async(func(tx *bolt.Tx) error {
			if err := putTransfer(tx, &snap); err != nil {
				return err
			}
			return tx.Bucket(bucketHashes).Put(key, []byte(sum))
		}, nil)
		if l := e.link(snap.Session, snap.Peer); l != nil {
			l.Send(offerMsg(&snap))
		}
	})
}

// behindLocked starts to count the hashing of a file this side sent
// without knowing its hash, once the receiver has it (hashBehind): Settle
// waits for it, and an offer of the same file made meanwhile waits for its
// hash (askBehindLocked), so sending a file again right after it arrived
// still moves no bytes to a receiver that kept it. It returns nil when that
// file is being hashed already, or the engine has stopped. Callers hold
// e.mu.
func (e *Engine) behindLocked(key string) *behind {
	if old := e.behind[key]; old != nil && !old.done {
		return nil
	}
	if !e.holdLocked() {
		return nil
	}
	b := &behind{waiting: map[string]*Transfer{}}
	e.behind[key] = b
	return b
}

// hashBehind hashes the file b stands for and remembers its hash: the next
// offer of the same file, to any receiver, carries it. The receiver's own
// report of the hash is not used for that, as a hostile receiver could
// lie. The offers that waited for the hash go out then.
func (e *Engine) hashBehind(b *behind, source string, size int64, mod time.Time) {
	e.background(func() {
		if hookHashBehind != nil {
			hookHashBehind(source)
		}
		sum := hashFile(source, size, mod, func() bool { return e.ctx.Err() == nil })
		if sum != "" {
			key := hashKey(source, size, mod)
			e.commit.async(func(tx *bolt.Tx) error { return tx.Bucket(bucketHashes).Put(key, []byte(sum)) }, nil)
		}
		e.mu.Lock()
		b.done, b.sum = true, sum
		var offers []Transfer
		for _, t := range b.waiting {
			if t.State == Offered && t.SHA256 == "" {
				t.SHA256 = sum // "" if the file could not be hashed: offered without
				offers = append(offers, *t)
			}
		}
		b.waiting = nil
		e.mu.Unlock()
		for _, snap := range offers {
			if snap.SHA256 != "" {
				e.commit.async(func(tx *bolt.Tx) error { return putTransfer(tx, &snap) }, nil)
			}
			if l := e.link(snap.Session, snap.Peer); l != nil {
				l.Send(offerMsg(&snap))
			}
		}
	})
}

// askBehindLocked looks for a new offer t's file among the files hashed
// after they were sent: when its hash was just found (the database may not
// have it yet), t gets it (learnt); while it is being found, t's offer waits
// for it (withheld). Callers hold e.mu.
func (e *Engine) askBehindLocked(t *Transfer) (learnt, withheld bool) {
	if t.SHA256 != "" {
		return false, false
	}
	b := e.behind[string(hashKey(t.Source, t.Size, t.ModTime))]
	switch {
	case b == nil:
		return false, false
	case !b.done:
		b.waiting[t.ID] = t
		return false, true
	case b.sum != "":
		t.SHA256 = b.sum
		return true, false
	}
	return false, false
}

// withheld says whether t's offer waits for hashBehind. Callers hold e.mu.
func (e *Engine) withheld(t *Transfer) bool {
	if t.Dir != Out || t.State != Offered || t.SHA256 != "" {
		return false
	}
	b := e.behind[string(hashKey(t.Source, t.Size, t.ModTime))]
	return b != nil && !b.done && b.waiting[t.ID] != nil
}

// holdLocked counts a piece of background hashing about to start, for
// Settle and Close; it says no once the engine has stopped. Callers hold
// e.mu, and start the work with background.
func (e *Engine) holdLocked() bool {
	if e.closed {
		return false
	}
	if e.hashing == 0 {
		e.hashIdle = make(chan struct{})
	}
	e.hashing++
	e.wg.Add(1)
	return true
}

// background runs fn, counted by holdLocked, on a goroutine of its own, at
// most two at once (hashSem).
func (e *Engine) background(fn func()) {
	go func() {
		defer e.wg.Done()
		defer func() {
			e.mu.Lock()
			if e.hashing--; e.hashing == 0 {
				close(e.hashIdle)
			}
			e.mu.Unlock()
		}()
		select {
		case e.hashSem <- struct{}{}:
			defer func() { <-e.hashSem }()
		case <-e.ctx.Done():
			return
		}
		fn()
	}()
}

// Settle waits until this side hashes no file in the background (hashAhead,
// hashBehind): every file it sent is then known by its hash, and offering
// it again costs no bytes to a receiver that holds it.
func (e *Engine) Settle(ctx context.Context) error {
	for {
		e.mu.Lock()
		n, idle := e.hashing, e.hashIdle
		e.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// hashFile returns the SHA-256 of the file at path in hex, or "" when it
// cannot be read, going says to stop, or the file is not the one of that
// size and modification time.
func hashFile(path string, size int64, mod time.Time, going func() bool) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil || !going() {
			return ""
		}
	}
	if info, err := f.Stat(); err != nil || info.Size() != size || !info.ModTime().Equal(mod) {
		return "" // changed: sending it will say so
	}
	return hex.EncodeToString(h.Sum(nil))
}

// hashFirst answers a receiver that may hold the file (hash_first): the
// offer goes again with the file's SHA-256 before any byte moves, and the
// receiver answers have, or asks for the bytes. hashAhead offers it again
// when its hash is done (a big file is hashed ahead already); a known hash
// goes at once.
func (e *Engine) hashFirst(t *Transfer, l *peer.Link, check pb.FileCheck) {
	e.mu.Lock()
	snap := *t
	if snap.SHA256 == "" {
		// If the hash cannot be made (the file went, or changed), the
		// bytes go as the answer asked: nothing waits for ever.
		e.firstWait[t.ID] = firstWait{l, check}
	}
	e.mu.Unlock()
	if snap.SHA256 != "" {
		l.Send(offerMsg(&snap))
		return
	}
	e.hashAhead(t) // unless it is hashed ahead already
}

// firstWait is a file whose receiver asked for its hash first (hash_first).
type firstWait struct {
	l     *peer.Link
	check pb.FileCheck
}
