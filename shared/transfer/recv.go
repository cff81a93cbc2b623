package transfer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	bolt "go.etcd.io/bbolt"

	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// HashAheadMin is the smallest file a sender hashes while the receiver
// decides (smaller ones cost little to send again).
var HashAheadMin int64 = 1 << 20

// Test hooks.
var (
	hookReceived   func(id string, done int64)   // after each write of received bytes
	hookPush       func(id string, offset int64) // a file's bytes start moving from offset
	hookPlacing    func(id string)               // every byte in and checked, before the sync
	hookHashAhead  func(id string)               // hashing a file ahead starts
	hookHashBehind func(source string)           // hashing a sent file after it arrived starts
)

// CheckpointEvery is how many bytes a receiver writes between two records
// of its progress (a cut connection records the exact byte at once; this
// bounds what a crash costs).
var CheckpointEvery int64 = 8 << 20

// onOffer decides on an offer: again for a file it knows (a reconnect or
// restart), by the settings and trust for a new one, or by asking.
func (e *Engine) onOffer(session string, l *peer.Link, o *pb.FileOffer) {
	e.mu.Lock()
	t := e.live[o.Id]
	e.mu.Unlock()
	if t == nil {
		e.db.View(func(tx *bolt.Tx) error {
			t, _ = getTransfer(tx, o.Id)
			return nil
		})
	}
	if t != nil {
		e.offeredAgain(session, l, t, o)
		return
	}
	sender := l.Remote.Name
	t = &Transfer{
		ID: o.Id, Session: session, Dir: In, Peer: sender, Name: o.Name, Group: o.Group,
		Size: int64(o.Size), ContentType: o.ContentType, State: Offered, Created: time.Now().UTC(),
	}
	if len(o.Sha256) == sha256.Size {
		t.SHA256 = hex.EncodeToString(o.Sha256)
	}
	if len(o.Edges) == sha256.Size {
		t.Edges = hex.EncodeToString(o.Edges)
	}
	if o.Size > 1<<62 {
		e.refuse(l, t, "not_allowed: a file of impossible size")
		return
	}
	name, err := CleanName(o.Name)
	if err != nil {
		e.refuse(l, t, "not_allowed: "+err.Error())
		return
	}
	t.Name = name
	trust := e.Trust(sender)
	switch {
	case !e.Receiving():
		e.refuse(l, t, "reception_off")
		return
	case trust == Blocked:
		// Not even shown or kept: a blocked sender's offers cost nothing.
		answer(l, t.ID, false, "blocked", 0, false)
		return
	case e.openOfferCount(session) >= MaxOpenOffers:
		answer(l, t.ID, false, "busy: too many files wait for an answer; offer it again later", 0, false)
		return
	case trust == RefuseAlways:
		e.refuse(l, t, "refused_always")
		return
	}
	if why := e.inboundPolicy(session, l, t); why != "" {
		e.refuse(l, t, why)
		return
	}
	e.mu.Lock()
	e.live[t.ID] = t
	snap := *t
	e.mu.Unlock()
	if e.cfg.Accept == AcceptAny || trust == AcceptAll {
		e.accept(l, t)
		return
	}
	e.commit.async(func(tx *bolt.Tx) error { return putTransfer(tx, &snap) }, nil)
	e.cfg.Events(Event{Kind: EventOffer, Transfer: snap})
}

// inboundPolicy checks a customer's file against this side's (agent's)
// policy; it says why not, or "".
func (e *Engine) inboundPolicy(session string, l *peer.Link, t *Transfer) string {
	if e.cfg.Role != pb.Role_ROLE_AGENT || l.Remote.Role != pb.Role_ROLE_CUSTOMER {
		return ""
	}
	e.mu.Lock()
	p := e.policy
	until := e.invites[session]
	e.mu.Unlock()
	if !p.Enabled {
		return "not_allowed: files from customers (the relay does not accept any)"
	}
	if p.InvitationRequired && time.Now().After(until) {
		return "not_allowed: files without an invitation (the agent has to request files first)"
	}
	n := e.receivedCount(session)
	if err := p.Check(t.Name, t.Size, t.ContentType, n); err != nil {
		return "not_allowed: " + notAllowedWhat(err)
	}
	e.mu.Lock()
	e.inCount[session]++ // this one counts from now on
	e.mu.Unlock()
	return ""
}

// receivedCount is how many files a session's customer offered that were
// not refused: counted once from the database, then kept up in memory (a
// flood of offers must not read the whole database each).
func (e *Engine) receivedCount(session string) int {
	e.mu.Lock()
	n, ok := e.inCount[session]
	e.mu.Unlock()
	if ok {
		return n
	}
	n = 0
	for _, x := range e.Transfers(session) {
		if x.Dir == In && x.State != Refused {
			n++
		}
	}
	e.mu.Lock()
	if _, counted := e.inCount[session]; !counted {
		e.inCount[session] = n
	}
	n = e.inCount[session]
	e.mu.Unlock()
	return n
}

// MaxOpenOffers caps the unanswered offers of one session: more are
// refused as "busy" until some are answered.
var MaxOpenOffers = 1000

// openOfferCount counts a session's unanswered offers.
func (e *Engine) openOfferCount(session string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, t := range e.live {
		if t.Dir == In && t.State == Offered && t.Session == session {
			n++
		}
	}
	return n
}

// notAllowedWhat is the part of a policy error after "not allowed: ".
func notAllowedWhat(err error) string {
	s := err.Error()
	prefix := ErrNotAllowed.Error() + ": "
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return s
}

// offeredAgain answers an offer of a file this side knows already.
func (e *Engine) offeredAgain(session string, l *peer.Link, t *Transfer, o *pb.FileOffer) {
	if t.Dir != In || t.Session != session {
		answer(l, t.ID, false, "not_allowed: a file id that is already in use", 0, false)
		return
	}
	e.mu.Lock()
	if live := e.live[t.ID]; live != nil {
		t = live
	} else if !t.State.Final() {
		e.live[t.ID] = t
	}
	m := e.movers[t.ID]
	// A repeated offer on the link that already has the answer (the sender
	// hashed the file meanwhile) needs none again.
	sameLink := e.answered[t.ID] == l
	hashed := false
	if t.State == Offered && t.SHA256 == "" && len(o.Sha256) == sha256.Size && int64(o.Size) == t.Size {
		// The sender hashed the file while the person decides: now an
		// accepting answer can find a copy here.
		t.SHA256, hashed = hex.EncodeToString(o.Sha256), true
	}
	// The hash this side asked for (hash_first), or one that came before
	// any byte did: the copy here, if it is one, ends the file now.
	gotHash := e.askedHash[t.ID] && t.State == Accepted && m == nil && t.Done == 0 && len(o.Sha256) == sha256.Size && int64(o.Size) == t.Size
	if gotHash {
		delete(e.askedHash, t.ID) // answered once
		t.SHA256 = hex.EncodeToString(o.Sha256)
	} else if t.State == Accepted && t.SHA256 == "" && len(o.Sha256) == sha256.Size && int64(o.Size) == t.Size {
		t.SHA256 = hex.EncodeToString(o.Sha256) // not asked for: only checked against the bytes
	}
	snap := *t
	e.mu.Unlock()
	switch {
	case gotHash:
		e.hashArrived(l, t)
	case hashed:
		e.commit.async(func(tx *bolt.Tx) error { return putTransfer(tx, &snap) }, nil)
	case sameLink && (snap.State == Accepted || snap.State == Sending):
	case snap.State == Offered:
		e.cfg.Events(Event{Kind: EventOffer, Transfer: snap}) // still to be answered
	case m != nil && !snap.State.Final():
		// Still moving on an older connection: stop that, then go on
		// from where it stopped on this one. It may have had every byte
		// already and put the file in place meanwhile.
		m.stop(errSuperseded)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			<-m.done
			e.answerResume(l, t)
		}()
	default:
		e.answerResume(l, t)
	}
}

// hashArrived answers an accepted file whose sender has sent its hash
// before its bytes: from the copy here when there is one, else the bytes
// are asked for.
func (e *Engine) hashArrived(l *peer.Link, t *Transfer) {
	e.mu.Lock()
	sum, size := t.SHA256, t.Size
	e.mu.Unlock()
	if have := e.holder(sum, size); have != "" {
		e.mu.Lock()
		if t.State != Accepted || e.movers[t.ID] != nil { // bytes came meanwhile: they finish it
			e.mu.Unlock()
			return
		}
		t.Path, t.Deduped, t.Done = have, true, size
		snap, _ := e.finishLocked(t, Done, "") // final at once: a stream arriving now is turned away
		e.mu.Unlock()
		answer(l, t.ID, true, "", 0, true)
		e.publish(snap)
		return
	}
	e.mu.Lock()
	e.answered[t.ID] = l
	e.mu.Unlock()
	answer(l, t.ID, true, "", 0, false)
}

// answerResume answers a known file offered again on link l: done already,
// over, or accepted again from where it stopped.
func (e *Engine) answerResume(l *peer.Link, t *Transfer) {
	e.mu.Lock()
	state, why := t.State, t.Why
	e.mu.Unlock()
	switch {
	case state == Done:
		answer(l, t.ID, true, "", 0, true)
		return
	case state.Final():
		answer(l, t.ID, false, "not_allowed: "+why, 0, false)
		return
	}
	off := e.resumePoint(t)
	e.mu.Lock()
	e.answered[t.ID] = l
	e.mu.Unlock()
	answer(l, t.ID, true, "", uint64(off), false)
}

// resumePoint is the byte a file continues from: what was recorded, if the
// partial file still holds it, else the start.
func (e *Engine) resumePoint(t *Transfer) int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t.Done == 0 {
		return 0
	}
	info, err := os.Stat(filepath.Join(t.Folder, PartialName(t.ID)))
	if err != nil || info.Size() < t.Done || len(t.HashState) == 0 {
		t.Done, t.HashState = 0, nil
	}
	return t.Done
}

// answer answers an offer. An accepting answer asks for a CRC-32C after
// the bytes: the receiver hashes what it stores with SHA-256 itself, so
// the sender need not hash the file on its way out (see push).
func answer(l *peer.Link, id string, ok bool, why string, offset uint64, have bool) {
	a := &pb.FileAnswer{Id: id, Accepted: ok, Why: why, Offset: offset, Have: have}
	if ok && !have {
		a.Check = pb.FileCheck_FILE_CHECK_CRC32C
	}
	l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileAnswer{FileAnswer: a}})
}

// answerHashFirst accepts an offer, asking for the whole file's SHA-256
// before the bytes (the receiver may hold the content).
func answerHashFirst(l *peer.Link, id string) {
	l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileAnswer{FileAnswer: &pb.FileAnswer{
		Id: id, Accepted: true, HashFirst: true, Check: pb.FileCheck_FILE_CHECK_CRC32C,
	}}})
}

// refuse says no to an offer and records it.
func (e *Engine) refuse(l *peer.Link, t *Transfer, why string) {
	answer(l, t.ID, false, why, 0, false)
	e.mu.Lock()
	e.live[t.ID] = t // finish takes it out again
	e.mu.Unlock()
	e.finish(t, Refused, refusalWordsIn(why, t.Peer))
}

// refusalWordsIn says why an offer was refused, for the receiver.
func refusalWordsIn(why, sender string) string {
	switch why {
	case "refused":
		return "refused"
	case "refused_always":
		return "refused: you refuse all files from " + sender
	case "blocked":
		return "refused: you blocked files from " + sender
	case "reception_off":
		return "refused: receiving files is turned off"
	}
	if len(why) > len("not_allowed: ") && why[:len("not_allowed: ")] == "not_allowed: " {
		return "not allowed: " + why[len("not_allowed: "):]
	}
	return why
}

// Answer is the person's answer to an offer: Accept, AcceptAll, Refuse or
// RefuseAlways. The "all" and "always" answers are remembered for the
// sender and apply at once to the sender's other open offers.
func (e *Engine) Answer(id, decision string) error {
	e.mu.Lock()
	t := e.live[id]
	var state State
	if t != nil {
		state = t.State
	}
	e.mu.Unlock()
	if t == nil || t.Dir != In {
		return ErrUnknown
	}
	if state != Offered {
		return fmt.Errorf("the file %s was answered already", t.Name)
	}
	l := e.link(t.Session, t.Peer)
	if l == nil {
		return errors.New("the sender is not connected; answer when they are back")
	}
	switch decision {
	case Accept:
		e.accept(l, t)
	case Refuse:
		e.refuse(l, t, "refused")
	case AcceptAll, RefuseAlways:
		if err := e.SetTrust(t.Peer, decision); err != nil {
			return err
		}
		for _, o := range e.openOffers(t.Peer) {
			if ol := e.link(o.Session, o.Peer); ol != nil {
				if decision == AcceptAll {
					e.accept(ol, o)
				} else {
					e.refuse(ol, o, "refused_always")
				}
			}
		}
	default:
		return fmt.Errorf("unknown answer %q (accept, accept_all, refuse, refuse_always)", decision)
	}
	return nil
}

// openOffers are the unanswered offers from sender, oldest first.
func (e *Engine) openOffers(sender string) []*Transfer {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*Transfer
	for _, t := range e.live {
		if t.Dir == In && t.State == Offered && t.Peer == sender {
			out = append(out, t)
		}
	}
	sortByCreated(out)
	return out
}

// accept takes an offer: from the copy already here when the content is
// known, else the bytes are asked for.
func (e *Engine) accept(l *peer.Link, t *Transfer) {
	e.mu.Lock()
	open, sum := t.State == Offered, t.SHA256 // a repeated offer may bring the hash meanwhile
	e.mu.Unlock()
	if !open { // cancelled meanwhile
		return
	}
	if have := e.holder(sum, t.Size); have != "" {
		e.mu.Lock()
		t.Path, t.Deduped, t.Done = have, true, t.Size
		e.mu.Unlock()
		answer(l, t.ID, true, "", 0, true)
		e.finish(t, Done, "")
		return
	}
	folder, err := e.folderFor(t.Session, t.Peer)
	if err != nil {
		why := "the receiver cannot make its download folder: " + plainErr(err)
		answer(l, t.ID, false, why, 0, false)
		e.finish(t, Failed, why)
		return
	}
	// A file here has the offer's edges: the content may be here too. The
	// sender learns that only now, in this accepting answer, and hashes the
	// whole file before any byte moves (offeredAgain takes its hash).
	hashFirst := sum == "" && e.mayHold(t.Size, t.Edges)
	e.mu.Lock()
	t.Folder = folder
	t.State = Accepted
	if t.SHA256 != "" {
		hashFirst = false // the hash came meanwhile: the bytes are asked for
	}
	if hashFirst {
		e.askedHash[t.ID] = true
	}
	snap := *t
	e.mu.Unlock()
	e.cfg.Events(Event{Kind: EventProgress, Transfer: snap})
	// The answer goes at once; the record follows in a shared commit (a
	// crash before it only means the offer is answered again).
	e.mu.Lock()
	e.answered[t.ID] = l
	e.mu.Unlock()
	if hashFirst {
		answerHashFirst(l, t.ID)
	} else {
		answer(l, t.ID, true, "", 0, false)
	}
	e.commit.async(func(tx *bolt.Tx) error { return putTransfer(tx, &snap) }, func(err error) {
		if err != nil && !errors.Is(err, errStopped) {
			go e.Cancel(t.ID, "the receiver cannot record the file: "+err.Error())
		}
	})
}

// holder is the path of a received file with content sum and the given
// size that is still there, or "".
func (e *Engine) holder(sum string, size int64) string {
	if sum == "" {
		return ""
	}
	var held []*Transfer
	e.db.View(func(tx *bolt.Tx) error {
		for _, id := range contentHolders(tx, sum) {
			if t, _ := getTransfer(tx, id); t != nil && t.State == Done && t.Path != "" && !t.Deduped {
				held = append(held, t)
			}
		}
		return nil
	})
	var gone []string
	defer func() {
		// A file deleted or changed since is no holder: forget it, so the
		// list does not grow with every copy that came and went.
		if len(gone) > 0 {
			e.commit.async(func(tx *bolt.Tx) error {
				for _, id := range gone {
					if err := dropContent(tx, sum, id); err != nil {
						return err
					}
				}
				return nil
			}, nil)
		}
	}()
	for _, t := range held {
		// Still the file that arrived: same size, and not changed since
		// (a file edited in place no longer has this content).
		info, err := os.Stat(t.Path)
		if err == nil && info.Mode().IsRegular() && info.Size() == size && (t.ModTime.IsZero() || info.ModTime().Equal(t.ModTime)) {
			return t.Path
		}
		if errors.Is(err, fs.ErrNotExist) || err == nil && (!info.Mode().IsRegular() || !t.ModTime.IsZero() && !info.ModTime().Equal(t.ModTime)) {
			gone = append(gone, t.ID) // deleted or changed for good; not a passing error
		}
	}
	return ""
}

// folderFor is a session's download folder, made on its first file.
func (e *Engine) folderFor(session, sender string) (string, error) {
	if f := e.SessionFolder(session); f != "" {
		return f, os.MkdirAll(f, 0o755)
	}
	name := session
	if e.cfg.FolderName != nil {
		name = e.cfg.FolderName(session, sender)
	}
	name, err := CleanName(name)
	if err != nil || path.Dir(name) != "." {
		name = "Porthole session"
	}
	if err := os.MkdirAll(e.cfg.Downloads, 0o755); err != nil {
		return "", err
	}
	var folder string
	for i := 1; ; i++ {
		try := name
		if i > 1 {
			try = fmt.Sprintf("%s (%d)", name, i)
		}
		folder = filepath.Join(e.cfg.Downloads, try)
		err := os.Mkdir(folder, 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i == 1000 {
			return "", err
		}
	}
	err = e.commit.do(func(tx *bolt.Tx) error {
		if f := getSetting(tx, "folder/"+session); f != "" { // made meanwhile
			folder = f
			return nil
		}
		return putSetting(tx, "folder/"+session, folder)
	})
	return folder, err
}

// senderDir is the subfolder for a sender's files: none for the session's
// first sender, the sender's name for the others.
func (e *Engine) senderDir(session, sender string) (string, error) {
	var first string
	e.db.View(func(tx *bolt.Tx) error {
		first = getSetting(tx, "first/"+session)
		return nil
	})
	if first == sender {
		return "", nil // the common case: no write, no commit to wait for
	}
	var dir string
	err := e.commit.do(func(tx *bolt.Tx) error {
		first := getSetting(tx, "first/"+session)
		if first == "" {
			return putSetting(tx, "first/"+session, sender)
		}
		if first != sender {
			d, err := CleanName(sender)
			if err != nil || path.Dir(d) != "." {
				d = "Other sender"
			}
			dir = d
		}
		return nil
	})
	return dir, err
}

// receive takes a stream the other side opened: a file's bytes.
func (e *Engine) receive(session string, l *peer.Link, str *quic.Stream, r *bufio.Reader) {
	str.Close() // nothing goes back on it
	str.SetReadDeadline(time.Now().Add(10 * time.Second))
	var head pb.FileStreamHead
	if err := protocol.ReadFrame(r, &head, 1024); err != nil {
		str.CancelRead(codeRejected)
		return
	}
	str.SetReadDeadline(time.Time{})
	e.mu.Lock()
	t := e.live[head.Id]
	var m *mover
	if t != nil && t.Dir == In && t.Session == session &&
		(t.State == Accepted || t.State == Waiting) && int64(head.Offset) == t.Done {
		m = e.startMover(t, l)
	}
	if m != nil {
		t.State = Sending
	}
	e.mu.Unlock()
	if m == nil {
		str.CancelRead(codeRejected)
		return
	}
	defer close(m.done)
	defer e.endMover(t, m)
	stop := context.AfterFunc(m.ctx, func() { str.CancelRead(stopCode(m)) })
	defer stop()
	e.take(m, l, t, str, r, int64(head.Offset), head.Check)
}

// take writes a file's bytes into its partial file, checks them, and puts
// the file in place.
func (e *Engine) take(m *mover, l *peer.Link, t *Transfer, str *quic.Stream, r io.Reader, offset int64, check pb.FileCheck) {
	var f *os.File
	fail := func(why string) {
		str.CancelRead(codeFailed) // the sender stops; FileDone says why
		l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileDone{FileDone: &pb.FileDone{Id: t.ID, Why: why}}})
		if f != nil {
			f.Close() // before removing it: Windows keeps open files
		}
		e.removePartial(t)
		e.finish(t, Failed, why)
	}
	root, err := os.OpenRoot(t.Folder)
	if err != nil {
		fail("the receiver cannot open its download folder: " + plainErr(err))
		return
	}
	defer root.Close()
	flags := os.O_RDWR | os.O_CREATE
	if offset == 0 {
		flags |= os.O_TRUNC // one call for what a resumed file needs two
	}
	f, err = root.OpenFile(PartialName(t.ID), flags, 0o600)
	if err != nil {
		f = nil
		fail("the receiver cannot write the file: " + plainErr(err))
		return
	}
	defer f.Close()
	var trailer []byte // the check that ends the stream
	switch check {
	case pb.FileCheck_FILE_CHECK_SHA256:
		trailer = make([]byte, sha256.Size)
	case pb.FileCheck_FILE_CHECK_CRC32C:
		trailer = make([]byte, 4)
	default:
		fail("the sender's version of Porthole checks files in a way this one does not know; update Porthole")
		return
	}
	h := sha256.New()
	// The CRC-32C of a resumed file is taken when it is read back whole.
	var crc hash.Hash32
	if check == pb.FileCheck_FILE_CHECK_CRC32C && offset == 0 {
		crc = crc32.New(castagnoli)
	}
	if offset > 0 {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(t.HashState); err != nil {
			fail("the receiver lost track of the part it had; send the file again")
			return
		}
		if err := f.Truncate(offset); err != nil {
			fail("the receiver cannot write the file: " + plainErr(err))
			return
		}
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			fail("the receiver cannot write the file: " + plainErr(err))
			return
		}
	}
	if err := reserve(f, offset, t.Size-offset); err != nil {
		fail("the receiver cannot write the file: " + plainErr(err))
		return
	}

	p := newProgress(offset)
	e.cfg.Events(Event{Kind: EventProgress, Transfer: e.setState(t, Sending)})
	// Reading the stream and writing plus hashing overlap: a writer
	// goroutine takes the chunks the reader fills.
	type chunk struct {
		b []byte
		n int
	}
	// A small file gets one buffer its size: many small files must not
	// each allocate the big ones.
	nbuf, size := 4, int64(256<<10)
	if left := t.Size - offset; left <= size {
		nbuf, size = 1, max(left, 1)
	}
	free, work := make(chan []byte, nbuf), make(chan chunk, nbuf)
	for range nbuf {
		free <- make([]byte, size)
	}
	var (
		written   = offset // bytes written and hashed (the writer's; read after it ends)
		writeErr  error
		writeFail atomic.Bool
		writer    sync.WaitGroup
	)
	writer.Add(1)
	go func() {
		defer writer.Done()
		wb := newWriteback(f, offset)
		defer wb.stop()
		mark := offset
		for c := range work {
			if writeErr == nil {
				if _, err := f.Write(c.b[:c.n]); err != nil {
					writeErr = err
					writeFail.Store(true)
				} else {
					h.Write(c.b[:c.n])
					if crc != nil {
						crc.Write(c.b[:c.n])
					}
					written += int64(c.n)
					if hookReceived != nil {
						hookReceived(t.ID, written)
					}
					if written-mark >= CheckpointEvery {
						wb.upTo(written)
						mark = written
						e.checkpoint(t, written, h, false)
					}
					if p.due(written) {
						e.progress(t, written, p)
					}
				}
			}
			free <- c.b
		}
	}()
	done := offset
	var sniffed bool
	var headBytes []byte
	var readErr error
	var refused string
	for done < t.Size && !writeFail.Load() {
		b := <-free
		n, err := r.Read(b[:min(int64(len(b)), t.Size-done)])
		if n > 0 && !sniffed {
			headBytes = append(headBytes, b[:min(n, 512-len(headBytes))]...)
			if len(headBytes) == 512 || done+int64(n) == t.Size || offset > 0 {
				sniffed = true
				refused = e.checkContent(t, headBytes, offset)
			}
		}
		if refused != "" {
			free <- b
			break
		}
		if n > 0 {
			done += int64(n)
			work <- chunk{b, n}
		} else {
			free <- b
		}
		if err != nil {
			if done < t.Size {
				readErr = err
			}
			break
		}
	}
	close(work)
	writer.Wait()
	switch {
	case writeErr != nil:
		fail("the receiver could not write the file: " + plainErr(writeErr))
		return
	case refused != "":
		fail(refused)
		return
	case readErr != nil:
		e.cut(m, t, f, written, h, readErr)
		return
	}
	if _, err := io.ReadFull(r, trailer); err != nil {
		e.cut(m, t, f, done, h, err)
		return
	}
	if n, _ := r.Read(make([]byte, 1)); n > 0 {
		fail("the sender sent more bytes than it offered")
		return
	}
	sum := h.Sum(nil)
	// The hash so far covered what an earlier run wrote, not what is on the
	// disk now: a resumed file is read back whole, so a part lost when the
	// computer stopped, or changed meanwhile, cannot pass for the file.
	if offset > 0 {
		if check == pb.FileCheck_FILE_CHECK_CRC32C {
			crc = crc32.New(castagnoli)
		}
		if ok, err := sameOnDisk(f, t.Size, sum, crc); err != nil || !ok {
			fail("the part received before the break was damaged; send the file again")
			return
		}
	}
	if !checkMatches(check, trailer, sum, crc) {
		fail("the file arrived damaged (its checksum does not match); send it again")
		return
	}
	if t.SHA256 != "" && t.SHA256 != hex.EncodeToString(sum) {
		fail("the file is not the one offered (its checksum differs from the offer)")
		return
	}
	// A resumed stream did not start with the first bytes: the content
	// check runs on what is in the file.
	if offset > 0 && e.cfg.Role == pb.Role_ROLE_AGENT {
		head := make([]byte, SniffLen)
		n, _ := f.ReadAt(head, 0)
		if why := e.checkContent(t, head[:n], 0); why != "" {
			fail(why)
			return
		}
	}
	if hookPlacing != nil {
		hookPlacing(t.ID)
	}
	if err := f.Sync(); err != nil {
		fail("the receiver could not write the file: " + plainErr(err))
		return
	}
	var mod time.Time
	if info, err := f.Stat(); err == nil {
		mod = info.ModTime() // a rename keeps it; dedup later checks the file is unchanged
	}
	f.Close()
	if err := e.place(root, t, hex.EncodeToString(sum), mod); err != nil {
		fail("the receiver could not put the file in place: " + plainErr(err))
		return
	}
	l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileDone{FileDone: &pb.FileDone{Id: t.ID, Ok: true, Sha256: sum}}})
	e.finishPlaced(t)
}

// checkContent checks the first bytes of a customer's file against this
// side's policy (the offer's content type is the sender's word).
// sameOnDisk reports whether the first size bytes of f hash to sum. When
// crc is not nil, those bytes go through it too.
func sameOnDisk(f *os.File, size int64, sum []byte, crc hash.Hash32) (bool, error) {
	var h hash.Hash = sha256.New()
	var w io.Writer = h
	if crc != nil {
		w = io.MultiWriter(h, crc)
	}
	if _, err := io.CopyBuffer(w, io.NewSectionReader(f, 0, size), make([]byte, 1<<20)); err != nil {
		return false, err
	}
	return bytes.Equal(h.Sum(nil), sum), nil
}

// castagnoli is CRC-32C's table: the hardware computes it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkMatches reports whether the trailer a sender ended a file stream
// with is the check of the file received: its SHA-256 sum, or the CRC-32C
// in crc.
func checkMatches(check pb.FileCheck, trailer, sum []byte, crc hash.Hash32) bool {
	if check == pb.FileCheck_FILE_CHECK_CRC32C {
		return binary.BigEndian.Uint32(trailer) == crc.Sum32()
	}
	return bytes.Equal(trailer, sum)
}

func (e *Engine) checkContent(t *Transfer, head []byte, offset int64) string {
	e.mu.Lock()
	p, fromCustomer := e.policy, e.cfg.Role == pb.Role_ROLE_AGENT
	e.mu.Unlock()
	if !fromCustomer || offset > 0 {
		return ""
	}
	ct := DetectType(t.Name, head)
	if err := p.Check(t.Name, t.Size, ct, 0); err != nil {
		return "not allowed: " + notAllowedWhat(err)
	}
	e.mu.Lock()
	t.ContentType = ct
	e.mu.Unlock()
	return ""
}

// checkpoint records how far a file got (the bytes before done are in the
// partial file, h has hashed them).
func (e *Engine) checkpoint(t *Transfer, done int64, h hash.Hash, wait bool) {
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return
	}
	e.mu.Lock()
	if t.State.Final() { // finished meanwhile (a copy here, say): its record stays
		e.mu.Unlock()
		return
	}
	t.Done, t.HashState = done, state
	snap := *t
	e.mu.Unlock()
	put := func(tx *bolt.Tx) error { return putTransfer(tx, &snap) }
	if wait {
		e.commit.do(put)
	} else {
		e.commit.async(put, nil)
	}
}

// cut: the stream ended early. Stopped by a person: the partial file goes;
// the link went down, a newer link took over or the engine is closing: the
// file waits, from exactly here.
func (e *Engine) cut(m *mover, t *Transfer, f *os.File, done int64, h hash.Hash, err error) {
	var se *quic.StreamError
	cause := context.Cause(m.ctx)
	switch {
	case m.ctx.Err() != nil && !errors.Is(cause, errSuperseded) && !errors.Is(cause, errStopped) && e.ctx.Err() == nil:
		why := "stopped"
		if cause != nil && cause != context.Canceled {
			why = cause.Error()
		}
		f.Close()
		e.removePartial(t)
		e.finish(t, Cancelled, why)
	case m.ctx.Err() == nil && errors.As(err, &se) && se.Remote && se.ErrorCode == codeStopped:
		f.Close()
		e.removePartial(t)
		e.finish(t, Cancelled, "stopped by the sender")
	default:
		// The blocks set aside past what arrived go back to the disk while
		// the file waits, perhaps for days; resuming sets them aside again.
		f.Truncate(done)
		e.checkpoint(t, done, h, true)
		e.mu.Lock()
		superseded := errors.Is(cause, errSuperseded)
		if superseded && !t.State.Final() {
			t.State = Waiting // the newer link's answer continues it
			delete(e.movers, t.ID)
		}
		e.mu.Unlock()
		if !superseded {
			e.wait(t, m)
		}
	}
}

// place renames a checked partial file to its name in the session's
// folder (in the sender's subfolder when it is not the first sender) and
// records it as done; mod is the file's modification time, which dedup
// later compares to tell the copy is unchanged.
func (e *Engine) place(root *os.Root, t *Transfer, sum string, mod time.Time) error {
	dir, err := e.senderDir(t.Session, t.Peer)
	if err != nil {
		return err
	}
	rel := t.Name
	if dir != "" {
		rel = dir + "/" + rel
	}
	e.mu.Lock()
	stopped := t.State.Final()
	e.mu.Unlock()
	if stopped {
		return errors.New("the file was stopped")
	}
	// The Namer counts the name it gives as taken at once, so files placed
	// at the same time get different names without a lock around the
	// rename.
	final, err := e.namer.Unique(root, t.Folder, rel)
	if err == nil {
		err = root.Rename(PartialName(t.ID), final)
		if errors.Is(err, fs.ErrNotExist) { // its folder went meanwhile
			e.namer.Forget()
			if final, err = e.namer.Unique(root, t.Folder, rel); err == nil {
				err = root.Rename(PartialName(t.ID), final)
			}
		}
	}
	if err != nil {
		return err
	}
	path := filepath.Join(t.Folder, filepath.FromSlash(final))
	edges := "" // of what is stored, read back: never the sender's word
	if t.Size <= 2*EdgeSize {
		// A small file is offered with its SHA-256 (the sender reads it
		// whole anyway): the contents index finds it.
	} else if f, err := root.Open(final); err == nil {
		if h, err := EdgesHash(f, t.Size); err == nil {
			edges = hex.EncodeToString(h)
		}
		f.Close()
	}
	e.mu.Lock()
	t.Path, t.SHA256, t.Done, t.HashState, t.ModTime, t.Edges = path, sum, t.Size, nil, mod, edges
	snap := *t
	e.mu.Unlock()
	return e.commit.do(func(tx *bolt.Tx) error {
		snap.State, snap.Finished = Done, time.Now().UTC()
		if err := putTransfer(tx, &snap); err != nil {
			return err
		}
		if err := addEdges(tx, snap.Size, edges, snap.ID); err != nil {
			return err
		}
		return addContent(tx, sum, snap.ID)
	})
}

// finishPlaced reports a placed file done (place stored it already).
func (e *Engine) finishPlaced(t *Transfer) {
	e.mu.Lock()
	t.State, t.Finished = Done, time.Now().UTC()
	delete(e.live, t.ID)
	delete(e.movers, t.ID)
	delete(e.answered, t.ID)
	snap := *t
	e.mu.Unlock()
	e.cfg.Events(Event{Kind: EventDone, Transfer: snap})
}

func (e *Engine) removePartial(t *Transfer) {
	if t.Folder == "" {
		return
	}
	if root, err := os.OpenRoot(t.Folder); err == nil {
		root.Remove(PartialName(t.ID))
		root.Close()
	}
}

func sortByCreated(ts []*Transfer) {
	slices.SortFunc(ts, func(a, b *Transfer) int { return a.Created.Compare(b.Created) })
}
