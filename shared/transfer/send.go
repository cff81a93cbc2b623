package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	bolt "go.etcd.io/bbolt"

	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// MaxFilesPerSend caps the files of one Send (a folder tree).
const MaxFilesPerSend = 100000

// Send offers a file, or every file of a folder as a tree, to the other
// side of a session. The offers go now if the session is connected, else
// when it is. A customer's files are checked against the agent's policy
// first: a file that is not allowed comes back refused (Why says why) and
// nothing of it moves; when no file may be sent at all, the error says why.
// The files go to the session's only peer; see SendTo.
func (e *Engine) Send(session, path string) ([]Transfer, error) {
	return e.SendTo(session, "", path)
}

// SendTo is Send to one peer of the session, by name ("": the session's
// only peer, or whoever connects first when none is connected).
func (e *Engine) SendTo(session, to, path string) ([]Transfer, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(path)
	base := filepath.Base(path) // the name the receiver sees, even for a link to a folder
	if err == nil && info.IsDir() {
		// The folder given may itself be a link to one: it is walked where
		// it leads (links inside it are still not followed).
		if real, rerr := filepath.EvalSymlinks(path); rerr == nil {
			path = real
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cannot send %s: %w", path, err)
	}
	if err := e.mayOffer(session); err != nil {
		return nil, err
	}
	type item struct {
		path, name string
		info       fs.FileInfo
	}
	var items []item
	var skipped []Skipped
	skippedCount := 0
	group := ""
	if info.IsDir() {
		group = newID()
		err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil // folders are made by their files
			}
			rel, err := filepath.Rel(path, p)
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() { // links and devices are not sent: the sender is told
				why := "not a regular file (a device, socket or pipe)"
				if d.Type()&fs.ModeSymlink != 0 {
					why = "a symbolic link; links are not followed"
				}
				if skippedCount++; len(skipped) < MaxSkippedListed {
					skipped = append(skipped, Skipped{Name: base + "/" + filepath.ToSlash(rel), Why: why})
				}
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if len(items) == MaxFilesPerSend {
				return fmt.Errorf("more than %d files", MaxFilesPerSend)
			}
			items = append(items, item{p, base + "/" + filepath.ToSlash(rel), fi})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("cannot send the folder %s: %w", path, err)
		}
		if skippedCount > 0 {
			e.cfg.Events(Event{Kind: EventSkipped, Session: session, Folder: path, Skipped: skipped, Count: skippedCount})
		}
		if len(items) == 0 {
			if skippedCount > 0 {
				return nil, fmt.Errorf("the folder %s has no files to send (%d links or special files are not sent)", path, skippedCount)
			}
			return nil, fmt.Errorf("the folder %s has no files to send", path)
		}
	} else if info.Mode().IsRegular() {
		items = append(items, item{path, filepath.Base(path), info})
	} else {
		return nil, fmt.Errorf("cannot send %s: not a file or folder", path)
	}

	peerName := to
	if l := e.link(session, to); l != nil {
		peerName = l.Remote.Name
	}
	// The files go out in slices: the first offers leave while the sender
	// still looks at the rest, so the receiver starts at once.
	now := time.Now().UTC()
	out := make([]Transfer, 0, len(items))
	sent := -1 // files this customer already sent the agent; -1 until counted
	for chunk := range slices.Chunk(items, offerChunk) {
		ts := make([]*Transfer, 0, len(chunk))
		for _, it := range chunk {
			t := &Transfer{
				ID: newID(), Session: session, Dir: Out, Peer: peerName, Name: it.name, Group: group,
				Size: it.info.Size(), State: Offered, Created: now, Source: it.path, ModTime: it.info.ModTime(),
			}
			look(t)
			ts = append(ts, t)
		}
		refused := map[*Transfer]string{}
		if e.cfg.Role == pb.Role_ROLE_CUSTOMER {
			p, _ := e.PeerPolicy(session)
			if sent < 0 {
				sent = e.sentToAgent(session)
			}
			for _, t := range ts {
				if err := p.Check(t.Name, t.Size, t.ContentType, sent); err != nil {
					refused[t] = err.Error()
					continue
				}
				sent++
			}
		}
		err = e.commit.do(func(tx *bolt.Tx) error {
			for _, t := range ts {
				if why, no := refused[t]; no {
					t.State, t.Why, t.Finished = Refused, why, now
				} else if sum := tx.Bucket(bucketHashes).Get(hashKey(t.Source, t.Size, t.ModTime)); sum != nil && t.SHA256 == "" {
					t.SHA256 = string(sum)
				}
				if err := putTransfer(tx, t); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			if len(out) > 0 {
				return out, fmt.Errorf("cannot record the files to send (%d of %d were offered): %w", len(out), len(items), err)
			}
			return nil, fmt.Errorf("cannot record the files to send: %w", err)
		}
		l := e.link(session, peerName)
		for _, t := range ts {
			if t.State == Refused {
				out = append(out, *t)
				e.cfg.Events(Event{Kind: EventRefused, Transfer: *t})
				continue
			}
			e.mu.Lock()
			e.live[t.ID] = t // once live, the movers own t
			learnt, withheld := e.askBehindLocked(t)
			snap := *t
			e.mu.Unlock()
			out = append(out, snap)
			if learnt {
				e.commit.async(func(tx *bolt.Tx) error { return putTransfer(tx, &snap) }, nil)
			}
			e.cfg.Events(Event{Kind: EventProgress, Transfer: snap})
			if withheld {
				continue // offered when its hash is known (hashBehind)
			}
			if l != nil {
				l.Send(offerMsg(&snap))
			}
			if snap.SHA256 == "" && snap.Size >= HashAheadMin {
				e.hashAhead(t)
			}
		}
	}
	return out, nil
}

// offerChunk is how many files of one Send are looked at, recorded and
// offered together.
const offerChunk = 64

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

// mayOffer says why this side may not send files in a session, if so.
func (e *Engine) mayOffer(session string) error {
	if e.cfg.Role != pb.Role_ROLE_CUSTOMER {
		return nil // agents may send anything
	}
	p, known := e.PeerPolicy(session)
	if !known {
		return errors.New("the agent has not said yet which files it accepts; wait until you are connected")
	}
	if !p.Enabled {
		return fmt.Errorf("%w: files from customers (the agent's relay does not accept any)", ErrNotAllowed)
	}
	if p.InvitationRequired && time.Now().After(e.Invitation(session)) {
		return fmt.Errorf("%w: sending files without an invitation (ask the agent to request files)", ErrNotAllowed)
	}
	return nil
}

// sentToAgent counts the files this side (customer) offered in a session
// that were not refused, for the policy's count.
func (e *Engine) sentToAgent(session string) int {
	n := 0
	for _, t := range e.Transfers(session) {
		if t.Dir == Out && t.State != Refused {
			n++
		}
	}
	return n
}

// look reads what an offer of t says of its content, in one open: the
// content type from its name and first bytes; for a small file (up to two
// edges, 128 KiB) the SHA-256 of the whole of it, read anyway; for a
// bigger one its edges hash (EdgesHash), whose whole hash may take seconds.
func look(t *Transfer) {
	f, err := os.Open(t.Source)
	if err != nil {
		t.ContentType = DetectType(t.Source, nil)
		return
	}
	defer f.Close()
	if t.Size <= 2*EdgeSize {
		buf := make([]byte, t.Size)
		n, err := io.ReadFull(f, buf)
		t.ContentType = DetectType(t.Source, buf[:min(n, 512)])
		// A copy found on the other side is shown where it is: fine for a
		// file sent alone, but a folder's tree must arrive whole (its
		// empty __init__.py, its LICENSE), so a folder's small files are
		// offered without the hash. An empty file has nothing to save.
		if err == nil && t.Group == "" && t.Size > 0 {
			s := sha256.Sum256(buf)
			t.SHA256 = hex.EncodeToString(s[:])
		}
		return
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	t.ContentType = DetectType(t.Source, head[:n])
	if h, err := EdgesHash(f, t.Size); err == nil {
		t.Edges = hex.EncodeToString(h)
	}
}

func (e *Engine) onAnswer(session string, l *peer.Link, a *pb.FileAnswer) {
	e.mu.Lock()
	t := e.live[a.Id]
	e.mu.Unlock()
	if t == nil || t.Dir != Out || t.Session != session {
		return // cancelled meanwhile, or not ours
	}
	switch {
	case !a.Accepted:
		e.finish(t, Refused, refusalWords(a.Why))
	case a.Have:
		e.mu.Lock()
		t.Done = t.Size
		e.mu.Unlock()
		e.finish(t, Done, "")
	case a.HashFirst && a.Offset == 0:
		e.hashFirst(t, l, a.Check)
	case a.Offset > uint64(t.Size):
		e.finish(t, Failed, "the receiver asked for a byte past the end of the file")
	default:
		e.move(t, l, int64(a.Offset), a.Check)
	}
}

// move sends t's bytes from offset on l, taking over from a mover on an
// older connection.
func (e *Engine) move(t *Transfer, l *peer.Link, offset int64, check pb.FileCheck) {
	e.mu.Lock()
	old := e.movers[t.ID]
	e.mu.Unlock()
	if old != nil && old.link == l {
		return // a repeated answer on the same connection: already moving
	}
	if old != nil { // still moving on an older connection: this one takes over
		old.stop(errSuperseded)
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if old != nil {
			<-old.done
		}
		e.mu.Lock()
		m := e.startMover(t, l)
		if m == nil || t.State.Final() {
			e.mu.Unlock()
			return
		}
		t.State, t.Done = Sending, offset
		snap := *t
		e.mu.Unlock()
		defer close(m.done)
		defer e.endMover(t, m)
		e.cfg.Events(Event{Kind: EventProgress, Transfer: snap})
		e.push(m, l, t, offset, check)
	}()
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

// refusalWords says why a receiver refused, for the sender.
func refusalWords(why string) string {
	switch why {
	case "refused", "":
		return "refused by the receiver"
	case "refused_always":
		return "the receiver refuses all files from you"
	case "blocked":
		return "the receiver blocked files from you"
	case "reception_off":
		return "the receiver has turned off receiving files"
	}
	if what, ok := strings.CutPrefix(why, "not_allowed: "); ok {
		return "not allowed: " + what // the receiver's policy, or a name it cannot use
	}
	return why
}

// push sends a file's bytes from offset on a stream of its own, then the
// check the receiver asked for; the receiver's FileDone finishes it.
//
// A receiver that asks for a CRC-32C hashes the file with SHA-256 itself,
// and the sender does not hash a big file on its way out: the two hashes
// were most of the processor time a transfer adds to its connection, and
// a connection's two ends often share a machine's cores. hashBehind hashes
// it once it arrived. A small file costs less to hash now than to read
// again later.
func (e *Engine) push(m *mover, l *peer.Link, t *Transfer, offset int64, check pb.FileCheck) {
	ctx := m.ctx
	select {
	case e.sem <- struct{}{}:
		defer func() { <-e.sem }()
	case <-ctx.Done():
		e.stopped(t, m)
		return
	}
	f, err := os.Open(t.Source)
	if err != nil {
		e.sendFail(l, t, "cannot read the file: "+plainErr(err))
		return
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || info.Size() != t.Size || !info.ModTime().Equal(t.ModTime) {
		e.sendFail(l, t, "the file changed after it was offered; send it again")
		return
	}
	var sum []byte
	var h hash.Hash     // SHA-256, when this side does not know it yet and hashes it now
	var crc hash.Hash32 // CRC-32C, when the receiver asked for it
	var sums []io.Writer
	e.mu.Lock()
	known := t.SHA256
	e.mu.Unlock()
	if known != "" {
		sum, _ = hex.DecodeString(known)
	}
	if check == pb.FileCheck_FILE_CHECK_CRC32C {
		crc = crc32.New(castagnoli)
		sums = append(sums, crc)
	} else {
		check = pb.FileCheck_FILE_CHECK_SHA256 // what every receiver knows
	}
	if known == "" && (check == pb.FileCheck_FILE_CHECK_SHA256 || t.Size < HashAheadMin) {
		h = sha256.New()
		sums = append(sums, h)
	}
	if offset > 0 && len(sums) > 0 { // the bytes already there count too
		if _, err := io.Copy(io.MultiWriter(sums...), io.NewSectionReader(f, 0, offset)); err != nil {
			e.sendFail(l, t, "cannot read the file: "+plainErr(err))
			return
		}
	}
	str, err := l.Conn.OpenStreamSync(ctx)
	if err != nil {
		e.cutOff(t, m)
		return
	}
	if hookPush != nil {
		hookPush(t.ID, offset)
	}
	stop := context.AfterFunc(ctx, func() { str.CancelWrite(stopCode(m)) })
	defer stop()
	err = protocol.WriteHeader(str, protocol.StreamFile)
	if err == nil {
		err = protocol.WriteFrame(str, &pb.FileStreamHead{Id: t.ID, Offset: uint64(offset), Check: check}, protocol.MaxControlFrame)
	}
	if err == nil {
		var src io.Reader = io.NewSectionReader(f, offset, t.Size-offset)
		if len(sums) > 0 {
			src = io.TeeReader(src, io.MultiWriter(sums...))
		}
		err = e.copyCounting(str, src, t, offset)
	}
	if err == nil {
		if h != nil {
			sum = h.Sum(nil)
			e.mu.Lock()
			t.SHA256 = hex.EncodeToString(sum)
			e.mu.Unlock()
		}
		if crc != nil {
			_, err = str.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32()))
		} else {
			_, err = str.Write(sum)
		}
	}
	if err == nil {
		err = str.Close()
	}
	if err != nil {
		var se *quic.StreamError
		switch {
		case ctx.Err() != nil:
			e.stopped(t, m)
		case errors.As(err, &se) && se.Remote && se.ErrorCode == codeStopped:
			// The receiver stopped it; its FileCancel says so too.
			e.finish(t, Cancelled, "stopped by the receiver")
		case errors.As(err, &se) && se.Remote && se.ErrorCode == codeFailed:
			// The receiver failed; its FileDone says why.
		default:
			e.cutOff(t, m)
		}
		return
	}
	// All sent: the receiver's FileDone finishes it (onDone).
}

// copyCounting copies the file's bytes to the stream, reporting progress.
// Reading (and hashing, when src hashes) overlaps with writing: a writer
// goroutine takes the chunks read. A write error comes back as it is (the
// receiver's stream codes matter to the caller).
func (e *Engine) copyCounting(dst io.Writer, src io.Reader, t *Transfer, offset int64) error {
	if t.Size-offset <= 256<<10 { // one chunk: nothing to overlap
		b, err := io.ReadAll(src)
		if err != nil {
			return fmt.Errorf("reading the file: %w", err)
		}
		_, err = dst.Write(b)
		return err
	}
	type chunk struct {
		b []byte
		n int
	}
	free, work := make(chan []byte, 3), make(chan chunk, 3)
	for range 3 {
		free <- make([]byte, 256<<10)
	}
	var (
		writeErr error
		failed   atomic.Bool
		writer   sync.WaitGroup
	)
	writer.Add(1)
	go func() {
		defer writer.Done()
		p := newProgress(offset)
		sent := offset
		for c := range work {
			if writeErr == nil {
				if _, err := dst.Write(c.b[:c.n]); err != nil {
					writeErr = err
					failed.Store(true)
				} else {
					sent += int64(c.n)
					if p.due(sent) {
						e.progress(t, sent, p)
					}
				}
			}
			free <- c.b
		}
	}()
	var readErr error
	for !failed.Load() {
		b := <-free
		n, err := src.Read(b)
		if n > 0 {
			work <- chunk{b, n}
		} else {
			free <- b
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = fmt.Errorf("reading the file: %w", err)
			break
		}
	}
	close(work)
	writer.Wait()
	if writeErr != nil {
		return writeErr
	}
	return readErr
}

// progress records and reports bytes moved.
func (e *Engine) progress(t *Transfer, done int64, p *progress) {
	e.mu.Lock()
	if t.State.Final() {
		e.mu.Unlock()
		return
	}
	t.Done = done
	snap := *t
	e.mu.Unlock()
	rate := p.rate()
	var left time.Duration
	if rate > 0 {
		left = time.Duration(float64(snap.Size-done) / rate * float64(time.Second))
	}
	e.cfg.Events(Event{Kind: EventProgress, Transfer: snap, Rate: rate, Left: left})
}

// sendFail fails a file this side sends and tells the receiver.
func (e *Engine) sendFail(l *peer.Link, t *Transfer, why string) {
	l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileCancel{FileCancel: &pb.FileCancel{Id: t.ID, Why: why}}})
	e.finish(t, Failed, why)
}

// stopped finishes a transfer whose mover was stopped: by a person
// (cancelled), for a newer connection (nothing to do), or because the
// engine is closing (it waits for a restart).
func (e *Engine) stopped(t *Transfer, m *mover) {
	cause := context.Cause(m.ctx)
	switch {
	case errors.Is(cause, errSuperseded):
	case errors.Is(cause, errStopped) || e.ctx.Err() != nil:
		e.wait(t, m)
	default:
		why := "stopped"
		if cause != nil && cause != context.Canceled && cause.Error() != "" {
			why = cause.Error()
		}
		e.finish(t, Cancelled, why)
	}
}

// cutOff: the link went down with bytes moving; the file waits for the
// next link (unless its mover was stopped meanwhile).
func (e *Engine) cutOff(t *Transfer, m *mover) {
	if m.ctx.Err() != nil {
		e.stopped(t, m)
		return
	}
	e.wait(t, m)
}

// wait records that t waits for the next link; a superseded mover leaves
// t alone.
func (e *Engine) wait(t *Transfer, m *mover) {
	e.mu.Lock()
	if e.movers[t.ID] != m || t.State.Final() {
		e.mu.Unlock()
		return
	}
	delete(e.movers, t.ID)
	t.State = Waiting
	snap := *t
	e.mu.Unlock()
	e.commit.do(func(tx *bolt.Tx) error { return putTransfer(tx, &snap) })
	e.cfg.Events(Event{Kind: EventProgress, Transfer: snap})
}

// onDone: the receiver's last word on a file this side sent.
func (e *Engine) onDone(session string, d *pb.FileDone) {
	e.mu.Lock()
	t := e.live[d.Id]
	e.mu.Unlock()
	if t == nil || t.Dir != Out || t.Session != session {
		return
	}
	if !d.Ok {
		why := d.Why
		if why == "" {
			why = "the receiver could not store the file"
		}
		e.finish(t, Failed, why)
		return
	}
	e.mu.Lock()
	t.Done = t.Size
	source, size, mod, sum := t.Source, t.Size, t.ModTime, t.SHA256
	snap, ok := e.finishLocked(t, Done, "")
	var b *behind
	if ok && sum == "" {
		if len(d.Sha256) == sha256.Size {
			// Shown as the receiver's word on what it stored, in the
			// event and the record; never offered.
			snap.SHA256 = hex.EncodeToString(d.Sha256)
		}
		// Counted before the done is told: who reacts to it finds
		// the hashing under way.
		b = e.behindLocked(string(hashKey(source, size, mod)))
	}
	e.mu.Unlock()
	if !ok {
		return
	}
	// Remember the hash: sending the file again costs no bytes.
	if sum != "" {
		key := hashKey(source, size, mod)
		e.commit.async(func(tx *bolt.Tx) error { return tx.Bucket(bucketHashes).Put(key, []byte(sum)) }, nil)
	}
	e.publish(snap)
	if b != nil {
		e.hashBehind(b, source, size, mod)
	}
}

// onCancel: the other side stopped a file, either direction.
func (e *Engine) onCancel(session string, c *pb.FileCancel) {
	e.mu.Lock()
	t := e.live[c.Id]
	m := e.movers[c.Id]
	e.mu.Unlock()
	if t == nil || t.Session != session {
		return
	}
	who := "the receiver"
	if t.Dir == In {
		who = "the sender"
	}
	why := "stopped by " + who
	if c.Why != "" && c.Why != "stopped" {
		why += ": " + c.Why
	}
	if m != nil {
		m.stop(errors.New(why))
		return
	}
	if t.Dir == In {
		e.removePartial(t)
	}
	e.finish(t, Cancelled, why)
}

// plainErr is an OS error without the operation and path Go puts in front.
func plainErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		err = le.Err
	}
	if nr := (*noRoomError)(nil); errors.As(err, &nr) {
		return nr.Error()
	}
	s := err.Error()
	if strings.Contains(s, "no space left") {
		return "the disk is full"
	}
	if strings.Contains(s, "quota exceeded") {
		return "the disk quota is used up"
	}
	if strings.Contains(s, "permission denied") {
		return "permission denied"
	}
	return s
}

// progress paces progress reports and measures the rate.
type progress struct {
	start     time.Time
	startDone int64
	last      time.Time
	lastDone  int64
}

func newProgress(done int64) *progress {
	now := time.Now()
	return &progress{start: now, startDone: done, last: now}
}

// ProgressEvery is the interval between progress reports of one file.
var ProgressEvery = 250 * time.Millisecond

func (p *progress) due(done int64) bool {
	now := time.Now()
	if now.Sub(p.last) < ProgressEvery {
		return false
	}
	p.last = now
	p.lastDone = done
	return true
}

func (p *progress) rate() float64 {
	secs := time.Since(p.start).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(p.lastDone-p.startDone) / secs
}
