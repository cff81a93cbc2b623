package transfer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/porthole-dev/porthole/shared/peer"
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

func sortByCreated(ts []*Transfer) {
	slices.SortFunc(ts, func(a, b *Transfer) int { return a.Created.Compare(b.Created) })
}
