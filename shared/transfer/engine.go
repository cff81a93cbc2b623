package transfer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	bolt "go.etcd.io/bbolt"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// Decisions a receiver can take on an offer.
const (
	Accept       = "accept"        // this file
	AcceptAll    = "accept_all"    // this file and all future files from its sender
	Refuse       = "refuse"        // this file
	RefuseAlways = "refuse_always" // this file and all future files from its sender
	Blocked      = "blocked"       // a trust setting: no files from this sender, not even offers shown
)

// Accept modes for Config.Accept.
const (
	AskAlways = "ask"  // ask the person (trust settings apply)
	AcceptAny = "all"  // accept every file
	RefuseAny = "none" // refuse every file
)

// Event kinds.
const (
	EventOffer     = "offer"     // a file is offered; answer with Answer
	EventProgress  = "progress"  // bytes moved (also: a transfer started or is waiting)
	EventDone      = "done"      // stored and checked (In: Transfer.Path is the file)
	EventRefused   = "refused"   // the receiver said no
	EventFailed    = "failed"    // it went wrong (Transfer.Why)
	EventCancelled = "cancelled" // one side stopped it
	EventInvite    = "invite"    // the customer may send files until Event.Until
	EventPolicy    = "policy"    // the agent's policy for files from customers arrived
	EventSkipped   = "skipped"   // a sent folder held things that are not sent (Event.Skipped)
)

// Event is something that happened to a file (or the session's file
// settings), for the app to show.
type Event struct {
	Kind     string
	Transfer Transfer
	Rate     float64       // progress: bytes per second, recent
	Left     time.Duration // progress: estimated time left; 0: unknown
	Session  string        // invite, policy
	Until    time.Time     // invite: when the invitation expires
	Policy   Policy        // policy; invite (customer side): the agent's policy, if it came
	Folder   string        // skipped: the folder that was sent
	Skipped  []Skipped     // skipped: what was left out of it (at most MaxSkippedListed)
	Count    int           // skipped: how many were left out in all
}

// Skipped is one thing in a sent folder that is not sent: a symbolic link
// (links are not followed, so a folder never sends what lies outside it)
// or a device, socket or pipe.
type Skipped struct {
	Name string // in the folder, as the receiver would have seen it
	Why  string
}

// MaxSkippedListed caps how many skipped items one event names.
const MaxSkippedListed = 100

// Config configures an Engine.
type Config struct {
	DB   *appdb.DB
	Role pb.Role // this side
	// Downloads is the folder under which each session's received files get
	// a folder of their own.
	Downloads string
	// FolderName names a session's download folder (a single cleaned path
	// component is made of it). Nil: the session id.
	FolderName func(session, peer string) string
	// Accept overrides the person's answers: AskAlways (default),
	// AcceptAny or RefuseAny (the customer's --accept-files).
	Accept string
	// Policy is what this side accepts from customers (agent side; from
	// the relay). Nil: any file.
	Policy *Policy
	Events func(Event)
	Log    *slog.Logger
}

// Engine runs the file transfers of one app across its sessions. Its
// methods are safe from any goroutine.
type Engine struct {
	cfg     Config
	db      *bolt.DB
	commit  *committer
	ctx     context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
	sem     chan struct{} // bounds the files sent at once
	hashSem chan struct{} // bounds the files hashed in the background at once

	namer Namer // remembers the download folders' names

	mu       sync.Mutex
	links    map[string]map[string]*peer.Link // session -> peer name -> current link
	live     map[string]*Transfer             // unfinished transfers, by id
	answered map[string]*peer.Link            // In: the link an accepting answer went on
	// pendingCancels are cancels made while a peer was not connected, sent
	// on its next link: by session, then peer name ("": whoever connects
	// first).
	pendingCancels map[string]map[string][]*pb.PeerMsg
	inCount        map[string]int       // agent: files a session's customer offered, not refused
	movers         map[string]*mover    // transfers with bytes moving
	invites        map[string]time.Time // session -> invitation expiry (both sides)
	policies       map[string]Policy    // customer side: session -> the agent's policy
	policy         Policy               // agent side: what customers may send
	closed         bool                 // Close was called: no new background work
	hashing        int                  // files hashed in the background, running or waiting
	hashIdle       chan struct{}        // closed when hashing falls to 0
	behind         map[string]*behind   // hashKey -> a sent file's hash after it arrived (hashBehind)
	ahead          map[string]bool      // transfers hashAhead hashes now, by id
	firstWait      map[string]firstWait // sent files whose receiver asked for the hash first
	askedHash      map[string]bool      // received files this side asked the hash of first (hash_first)
}

// behind is one file hashBehind hashes or hashed. Until it is done, new
// offers of the same file wait for the hash (withheld).
type behind struct {
	done    bool
	sum     string               // when done: the hash, or "" (the file could not be read, or changed)
	waiting map[string]*Transfer // until done: the offers withheld, by id
}

// SendConcurrency is how many files of one engine move at once.
var SendConcurrency = 16

// New starts an engine. Unfinished transfers found in the database wait
// for their session's next link.
func New(cfg Config) (*Engine, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Events == nil {
		cfg.Events = func(Event) {}
	}
	if cfg.Accept == "" {
		cfg.Accept = AskAlways
	}
	if cfg.Downloads == "" {
		return nil, errors.New("transfer: no downloads folder")
	}
	ctx, stop := context.WithCancel(context.Background())
	e := &Engine{
		cfg: cfg, db: cfg.DB.Bolt(), ctx: ctx, stop: stop,
		sem: make(chan struct{}, SendConcurrency), hashSem: make(chan struct{}, 2),
		links: map[string]map[string]*peer.Link{}, live: map[string]*Transfer{}, movers: map[string]*mover{}, answered: map[string]*peer.Link{}, pendingCancels: map[string]map[string][]*pb.PeerMsg{}, inCount: map[string]int{},
		invites: map[string]time.Time{}, policies: map[string]Policy{}, policy: DefaultPolicy(),
		behind: map[string]*behind{}, ahead: map[string]bool{}, firstWait: map[string]firstWait{}, askedHash: map[string]bool{},
	}
	if cfg.Policy != nil {
		e.policy = *cfg.Policy
	}
	e.commit = newCommitter(e.db)
	// What was moving when the app stopped waits for the next link.
	err := e.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTransfers).ForEach(func(k, v []byte) error {
			t, err := getTransfer(tx, string(k))
			if err != nil || t.State.Final() {
				return err
			}
			if t.State == Sending || t.State == Accepted {
				t.State = Waiting
				if err := putTransfer(tx, t); err != nil {
					return err
				}
			}
			e.live[t.ID] = t
			return nil
		})
	})
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("transfer: reading unfinished transfers: %w", err)
	}
	return e, nil
}

// Close stops every transfer (they continue after a restart) and waits.
func (e *Engine) Close() {
	e.stop()
	e.mu.Lock()
	e.closed = true
	for _, m := range e.movers {
		m.stop(errStopped)
	}
	e.mu.Unlock()
	e.wg.Wait()
	e.commit.close()
}

// Transfers lists a session's files, oldest first ("" : every session).
func (e *Engine) Transfers(session string) []Transfer {
	var out []Transfer
	e.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTransfers).ForEach(func(k, _ []byte) error {
			t, err := getTransfer(tx, string(k))
			if err == nil && (session == "" || t.Session == session) {
				out = append(out, *t)
			}
			return nil
		})
	})
	e.mu.Lock()
	for i, t := range out {
		if l := e.live[t.ID]; l != nil {
			out[i] = *l
		}
	}
	e.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// Get returns one transfer.
func (e *Engine) Get(id string) (Transfer, bool) {
	e.mu.Lock()
	if t := e.live[id]; t != nil {
		defer e.mu.Unlock()
		return *t, true
	}
	e.mu.Unlock()
	var t *Transfer
	e.db.View(func(tx *bolt.Tx) error {
		t, _ = getTransfer(tx, id)
		return nil
	})
	if t == nil {
		return Transfer{}, false
	}
	return *t, true
}

// ErrUnknown is returned for a transfer id the engine does not know.
var ErrUnknown = errors.New("no such file transfer")

// Cancel stops an unfinished transfer, either direction, and tells the
// other side. A partly received file is deleted.
func (e *Engine) Cancel(id, why string) error {
	if why == "" {
		why = "stopped"
	}
	e.mu.Lock()
	t := e.live[id]
	if t == nil {
		e.mu.Unlock()
		return ErrUnknown
	}
	m := e.movers[id]
	var snap Transfer
	var finished bool
	if m == nil { // final at once: a stream arriving now is turned away
		snap, finished = e.finishLocked(t, Cancelled, why)
	}
	session, peerName := t.Session, t.Peer
	e.mu.Unlock()
	msg := &pb.PeerMsg{Body: &pb.PeerMsg_FileCancel{FileCancel: &pb.FileCancel{Id: id, Why: why}}}
	if l := e.link(session, peerName); l == nil || l.Send(msg) != nil { // told when the other side is back
		e.mu.Lock()
		if e.pendingCancels[session] == nil {
			e.pendingCancels[session] = map[string][]*pb.PeerMsg{}
		}
		e.pendingCancels[session][peerName] = append(e.pendingCancels[session][peerName], msg)
		e.mu.Unlock()
	}
	if m != nil {
		m.stop(errors.New(why)) // the mover finishes the job
		return nil
	}
	if finished {
		if snap.Dir == In {
			e.removePartial(&snap)
		}
		e.publish(snap)
	}
	return nil
}

// CancelSession stops every unfinished transfer of a session (it is
// ending).
func (e *Engine) CancelSession(session, why string) {
	e.mu.Lock()
	var ids []string
	for id, t := range e.live {
		if t.Session == session {
			ids = append(ids, id)
		}
	}
	e.mu.Unlock()
	for _, id := range ids {
		e.Cancel(id, why)
	}
}

// finish makes t final, stores it and reports it.
func (e *Engine) finish(t *Transfer, s State, why string) {
	e.mu.Lock()
	snap, ok := e.finishLocked(t, s, why)
	e.mu.Unlock()
	if ok {
		e.publish(snap)
	}
}

// finishLocked makes t final in memory (e.mu held); publish stores and
// reports it. A mover still running for t stops without touching it.
func (e *Engine) finishLocked(t *Transfer, s State, why string) (Transfer, bool) {
	if t.State.Final() {
		return Transfer{}, false
	}
	t.State, t.Why, t.Finished = s, why, time.Now().UTC()
	delete(e.live, t.ID)
	delete(e.answered, t.ID)
	delete(e.firstWait, t.ID)
	delete(e.askedHash, t.ID)
	if m := e.movers[t.ID]; m != nil {
		delete(e.movers, t.ID)
		m.stop(errSuperseded)
	}
	return *t, true
}

// publish stores a final transfer and reports it once stored. It does not
// wait: the many files of a folder share commits (a file left unrecorded by
// a crash is offered again, and the receiver knows it).
func (e *Engine) publish(snap Transfer) {
	kind := map[State]string{Done: EventDone, Refused: EventRefused, Failed: EventFailed, Cancelled: EventCancelled}[snap.State]
	e.commit.async(func(tx *bolt.Tx) error { return putTransfer(tx, &snap) }, func(err error) {
		if err != nil && !errors.Is(err, errStopped) {
			e.cfg.Log.Error("storing a finished transfer", "id", snap.ID, "err", err)
		}
		e.cfg.Events(Event{Kind: kind, Transfer: snap})
	})
}

// setState changes an unfinished transfer's state (in memory; what must
// survive a restart is stored by the caller).
func (e *Engine) setState(t *Transfer, s State) Transfer {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !t.State.Final() { // a final state stays
		t.State = s
	}
	return *t
}

// mover is the goroutine moving a file's bytes (sending or receiving).
type mover struct {
	ctx  context.Context
	stop context.CancelCauseFunc // with why: a person's words; errSuperseded; errStopped
	done chan struct{}           // closed when it has returned
	link *peer.Link              // the connection it moves bytes on
}

// errSuperseded stops a mover whose link was replaced: a newer one takes
// over from where it stopped.
var errSuperseded = errors.New("continued on a newer connection")

// startMover registers a mover for t, unless one is registered (then nil).
func (e *Engine) startMover(t *Transfer, l *peer.Link) *mover {
	if e.movers[t.ID] != nil {
		return nil
	}
	ctx, cancel := context.WithCancelCause(e.ctx)
	m := &mover{ctx: ctx, stop: cancel, done: make(chan struct{}), link: l}
	e.movers[t.ID] = m
	return m
}

// endMover forgets m when it returns: the next answer may start another.
// A sender whose bytes all went out leaves its file "sending" until the
// receiver's last word (or Detach makes it wait).
func (e *Engine) endMover(t *Transfer, m *mover) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.movers[t.ID] == m {
		delete(e.movers, t.ID)
	}
}

// newID makes a file id: 32 lowercase hex digits.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Stream error codes of file streams.
const (
	codeStopped  quic.StreamErrorCode = 0x10 // cancelled by a person or the session ending
	codeRejected quic.StreamErrorCode = 0x11 // a stream the receiver does not expect
	codeFailed   quic.StreamErrorCode = 0x12 // the receiver could not store the file
	codePaused   quic.StreamErrorCode = 0x13 // continues later (a newer connection, a restart)
)

// stopCode is the stream error code for a stopped mover.
func stopCode(m *mover) quic.StreamErrorCode {
	if c := context.Cause(m.ctx); errors.Is(c, errSuperseded) || errors.Is(c, errStopped) {
		return codePaused
	}
	return codeStopped
}

func offerMsg(t *Transfer) *pb.PeerMsg {
	o := &pb.FileOffer{
		Id: t.ID, Name: t.Name, Size: uint64(t.Size), ContentType: t.ContentType,
		ModifiedUnixMs: t.ModTime.UnixMilli(), Group: t.Group,
	}
	if t.SHA256 != "" {
		o.Sha256, _ = hex.DecodeString(t.SHA256)
	}
	if t.Edges != "" {
		o.Edges, _ = hex.DecodeString(t.Edges)
	}
	return &pb.PeerMsg{Body: &pb.PeerMsg_FileOffer{FileOffer: o}}
}
