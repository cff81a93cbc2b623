package transfer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/porthole-dev/porthole/shared/peer"
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
// content type from its name and first bytes; for a small file sent alone
// (up to two edges, 128 KiB) the SHA-256 of the whole of it, read anyway;
// for a bigger one its edges hash (EdgesHash), whose whole hash may take
// seconds.
func look(t *Transfer) {
	f, err := os.Open(t.Source)
	if err != nil {
		t.ContentType = DetectType(t.Source, nil)
		return
	}
	defer f.Close()
	// A copy found on the other side is shown where it is: fine for a file
	// sent alone, but a folder's tree must arrive whole (its empty
	// __init__.py, its LICENSE), so a folder's files are offered with
	// neither, and only their first bytes are read. An empty file has
	// nothing to save.
	if t.Group == "" && t.Size > 0 && t.Size <= 2*EdgeSize {
		buf := make([]byte, t.Size)
		n, err := io.ReadFull(f, buf)
		t.ContentType = DetectType(t.Source, buf[:min(n, 512)])
		if err == nil {
			s := sha256.Sum256(buf)
			t.SHA256 = hex.EncodeToString(s[:])
		}
		return
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	t.ContentType = DetectType(t.Source, head[:n])
	if t.Group == "" && t.Size > 2*EdgeSize {
		if h, err := EdgesHash(f, t.Size); err == nil {
			t.Edges = hex.EncodeToString(h)
		}
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
