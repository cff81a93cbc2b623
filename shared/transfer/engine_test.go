package transfer

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	router "github.com/porthole-dev/porthole/shared/session"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

const (
	session = "0123456789abcdef0123456789abcdef"
	timeout = 20 * time.Second
)

// end is one side: an engine on its own database and downloads folder.
type end struct {
	t      *testing.T
	name   string
	role   pb.Role
	data   string
	down   string
	db     *appdb.DB
	e      *Engine
	policy *Policy
	accept string
	links  []*peer.Link // closed with the engine, as a process exit would

	mu     sync.Mutex
	events []Event
	more   chan struct{}
}

func newEnd(t *testing.T, role pb.Role, name string, opts ...func(*end)) *end {
	t.Helper()
	n := &end{t: t, name: name, role: role, data: t.TempDir(), down: t.TempDir(), more: make(chan struct{}, 1)}
	for _, o := range opts {
		o(n)
	}
	n.open()
	t.Cleanup(n.close)
	return n
}

func (n *end) open() {
	n.t.Helper()
	db, err := appdb.Open(n.data)
	if err != nil {
		n.t.Fatal(err)
	}
	n.db = db
	n.e, err = New(Config{
		DB: db, Role: n.role, Downloads: n.down, Policy: n.policy, Accept: n.accept,
		FolderName: func(_, peer string) string { return "Support with " + peer },
		Events: func(ev Event) {
			n.mu.Lock()
			n.events = append(n.events, ev)
			n.mu.Unlock()
			select {
			case n.more <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		n.t.Fatal(err)
	}
}

func (n *end) close() {
	for _, l := range n.links {
		l.Close(0, "gone")
	}
	n.links = nil
	if n.e != nil {
		n.e.Close()
		n.db.Close()
		n.e = nil
	}
}

// expect waits for an event of kind that match accepts (nil: any), from
// the first not yet returned by expect.
func (n *end) expect(kind string, match func(Event) bool) Event {
	n.t.Helper()
	deadline := time.After(timeout)
	for {
		n.mu.Lock()
		for i, ev := range n.events {
			if ev.Kind == kind && (match == nil || match(ev)) {
				n.events = append(n.events[:i:i], n.events[i+1:]...)
				n.mu.Unlock()
				return ev
			}
		}
		n.mu.Unlock()
		select {
		case <-n.more:
		case <-deadline:
			n.t.Fatalf("%s: no %s event within %v", n.name, kind, timeout)
		}
	}
}

// has says whether an event of kind arrived for file id (and leaves it).
func (n *end) has(kind, id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ev := range n.events {
		if ev.Kind == kind && ev.Transfer.ID == id {
			return true
		}
	}
	return false
}

func forID(id string) func(Event) bool { return func(ev Event) bool { return ev.Transfer.ID == id } }

// connect links two ends' engines over a new real peer connection, each
// through a session router of its own, as the apps do.
func connect(t *testing.T, agent, customer *end) (la, lc *peer.Link) {
	t.Helper()
	la, lc = testpeer.LinkPair(t, agent.name, customer.name)
	serve(t, agent, la)
	serve(t, customer, lc)
	return la, lc
}

// serve gives l to a new router of n's session, with n's engine as its
// file service.
func serve(t *testing.T, n *end, l *peer.Link) {
	t.Helper()
	r := router.New(router.Config{Session: session})
	n.e.Serve(r)
	n.links = append(n.links, l)
	if err := r.Attach(l); err != nil {
		t.Fatal(err)
	}
}

func randomFile(t *testing.T, dir, name string, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func sendOne(t *testing.T, n *end, path string) Transfer {
	t.Helper()
	ts, err := n.e.Send(session, path)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(ts) != 1 {
		t.Fatalf("Send gave %d transfers", len(ts))
	}
	return ts[0]
}

func checkFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes, not the %d sent", path, len(got), len(want))
	}
}

func noPartials(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), PartialPrefix) {
			t.Errorf("a partial file is left: %s", p)
		}
		return nil
	})
}

func TestAgentSendsCustomerAccepts(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob")
	connect(t, agent, cust)
	path, data := randomFile(t, t.TempDir(), "report.pdf", 3<<20+17)
	sent := sendOne(t, agent, path)

	offer := cust.expect(EventOffer, forID(sent.ID))
	if o := offer.Transfer; o.Name != "report.pdf" || o.Size != int64(len(data)) || o.Peer != "alice" || o.Dir != In {
		t.Fatalf("offer %+v", o)
	}
	if err := cust.e.Answer(sent.ID, Accept); err != nil {
		t.Fatal(err)
	}
	got := cust.expect(EventDone, forID(sent.ID)).Transfer
	want := filepath.Join(cust.down, "Support with alice", "report.pdf")
	if got.Path != want || got.SHA256 != sum(data) {
		t.Fatalf("received at %q (sha256 %s), want %q (%s)", got.Path, got.SHA256, want, sum(data))
	}
	checkFile(t, got.Path, data)
	if d := agent.expect(EventDone, forID(sent.ID)).Transfer; d.Done != d.Size {
		t.Fatalf("sender done with %d of %d bytes", d.Done, d.Size)
	}
	noPartials(t, cust.down)
	if f := cust.e.SessionFolder(session); f != filepath.Dir(want) {
		t.Fatalf("session folder %q", f)
	}
	// Both sides keep the record.
	if tr, ok := cust.e.Get(sent.ID); !ok || tr.State != Done {
		t.Fatalf("receiver's record %+v", tr)
	}
}

func TestCustomerSendsAgentAccepts(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob")
	connect(t, agent, cust)
	cust.expect(EventPolicy, nil)
	path, data := randomFile(t, t.TempDir(), "screenshot.png", 100<<10)
	sent := sendOne(t, cust, path)
	agent.expect(EventOffer, forID(sent.ID))
	if err := agent.e.Answer(sent.ID, Accept); err != nil {
		t.Fatal(err)
	}
	checkFile(t, agent.expect(EventDone, forID(sent.ID)).Transfer.Path, data)
	cust.expect(EventDone, forID(sent.ID))
}

func TestRefuseAndRememberedAnswers(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob")
	connect(t, agent, cust)
	dir := t.TempDir()
	p1, _ := randomFile(t, dir, "one.txt", 10)
	p2, d2 := randomFile(t, dir, "two.txt", 20)
	p3, d3 := randomFile(t, dir, "three.txt", 30)

	// Refuse this file: the sender hears it, the next offer asks again.
	a := sendOne(t, agent, p1)
	cust.expect(EventOffer, forID(a.ID))
	cust.e.Answer(a.ID, Refuse)
	if r := agent.expect(EventRefused, forID(a.ID)).Transfer; r.Why != "refused by the receiver" {
		t.Fatalf("sender told %q", r.Why)
	}
	cust.expect(EventRefused, forID(a.ID))

	// Accept all future files: this one and the next without asking.
	b := sendOne(t, agent, p2)
	cust.expect(EventOffer, forID(b.ID))
	cust.e.Answer(b.ID, AcceptAll)
	checkFile(t, cust.expect(EventDone, forID(b.ID)).Transfer.Path, d2)
	c := sendOne(t, agent, p3)
	checkFile(t, cust.expect(EventDone, forID(c.ID)).Transfer.Path, d3)
	if cust.has(EventOffer, c.ID) {
		t.Fatal("asked about a file from a sender whose files are all accepted")
	}
	if got := cust.e.Trust("alice"); got != AcceptAll {
		t.Fatalf("trust %q", got)
	}

	// Changed in the per-sender settings: refuse always.
	if err := cust.e.SetTrust("alice", RefuseAlways); err != nil {
		t.Fatal(err)
	}
	d := sendOne(t, agent, p1)
	if r := agent.expect(EventRefused, forID(d.ID)).Transfer; r.Why != "the receiver refuses all files from you" {
		t.Fatalf("sender told %q", r.Why)
	}
	// Blocked.
	cust.e.SetTrust("alice", Blocked)
	e := sendOne(t, agent, p1)
	if r := agent.expect(EventRefused, forID(e.ID)).Transfer; r.Why != "the receiver blocked files from you" {
		t.Fatalf("sender told %q", r.Why)
	}
	// Receiving turned off, whatever the trust.
	cust.e.SetTrust("alice", "")
	cust.e.SetReceiving(false)
	f := sendOne(t, agent, p1)
	if r := agent.expect(EventRefused, forID(f.ID)).Transfer; r.Why != "the receiver has turned off receiving files" {
		t.Fatalf("sender told %q", r.Why)
	}
	// The remembered answers outlive the app.
	cust.e.SetTrust("alice", RefuseAlways)
	cust.e.SetTrust("carol", AcceptAll)
	cust.close()
	cust.open()
	if cust.e.Receiving() {
		t.Fatal("receiving came back on after a restart")
	}
	if a, c := cust.e.Trust("alice"), cust.e.Trust("carol"); a != RefuseAlways || c != AcceptAll {
		t.Fatalf("after a restart: alice %q, carol %q", a, c)
	}
	cust.e.SetReceiving(true)
	connect(t, agent, cust)
	g := sendOne(t, agent, p1)
	if r := agent.expect(EventRefused, forID(g.ID)).Transfer; r.Why != "the receiver refuses all files from you" {
		t.Fatalf("after a restart, sender told %q", r.Why)
	}
}

func TestRefuseAlwaysAnswersOpenOffers(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob")
	connect(t, agent, cust)
	dir := t.TempDir()
	p1, _ := randomFile(t, dir, "a.txt", 10)
	p2, _ := randomFile(t, dir, "b.txt", 10)
	a, b := sendOne(t, agent, p1), sendOne(t, agent, p2)
	cust.expect(EventOffer, forID(a.ID))
	cust.expect(EventOffer, forID(b.ID))
	cust.e.Answer(a.ID, RefuseAlways)
	agent.expect(EventRefused, forID(a.ID))
	agent.expect(EventRefused, forID(b.ID))
}

func TestFolderTree(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	connect(t, agent, cust)
	src := filepath.Join(t.TempDir(), "logs")
	files := map[string][]byte{}
	for _, rel := range []string{"a.txt", "sub/b.txt", "sub/deeper/c.bin"} {
		_, data := randomFile(t, src, rel, 1000+len(rel))
		files[rel] = data
	}
	ts, err := agent.e.Send(session, src)
	if err != nil || len(ts) != 3 {
		t.Fatalf("Send: %d, %v", len(ts), err)
	}
	for _, tr := range ts {
		cust.expect(EventDone, forID(tr.ID))
		agent.expect(EventDone, forID(tr.ID))
	}
	for rel, data := range files {
		checkFile(t, filepath.Join(cust.down, "Support with alice", "logs", rel), data)
	}
}

func TestManySmallFilesPipelined(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	connect(t, agent, cust)
	src := filepath.Join(t.TempDir(), "many")
	for i := range 300 {
		randomFile(t, src, strings.Repeat("d/", i%3)+"f"+hex.EncodeToString([]byte{byte(i), byte(i >> 8)}), 4096)
	}
	ts, err := agent.e.Send(session, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range ts {
		agent.expect(EventDone, forID(tr.ID))
	}
	n := 0
	filepath.WalkDir(filepath.Join(cust.down, "Support with alice"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if n != 300 {
		t.Fatalf("%d files arrived, want 300", n)
	}
}

// Many small files do not pay a round trip each: every offer of a batch
// reaches the receiver before it answered any, and files move side by
// side rather than one after another.
func TestSmallFilesDoNotWaitForEachOther(t *testing.T) {
	// Reset after the engines stopped (cleanups run last first): their
	// goroutines read the hooks.
	t.Cleanup(func() { hookPush, hookReceived = nil, nil })
	// The first file to arrive holds its receiver until others are moving.
	var mu sync.Mutex
	pushed := map[string]bool{}
	hookPush = func(id string, _ int64) {
		mu.Lock()
		pushed[id] = true
		mu.Unlock()
	}
	var first sync.Once
	hookReceived = func(string, int64) {
		first.Do(func() {
			deadline := time.Now().Add(timeout)
			for {
				mu.Lock()
				n := len(pushed)
				mu.Unlock()
				if n >= 4 {
					return
				}
				if time.Now().After(deadline) {
					t.Errorf("only %d files moving while the first one waits", n)
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob") // asks: nothing is answered yet
	connect(t, agent, cust)
	src := filepath.Join(t.TempDir(), "batch")
	for i := range 40 {
		randomFile(t, src, fmt.Sprintf("f%02d.txt", i), 4096)
	}
	ts, err := agent.e.Send(session, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range ts {
		cust.expect(EventOffer, forID(tr.ID))
	}
	for _, tr := range ts {
		if err := cust.e.Answer(tr.ID, Accept); err != nil {
			t.Fatal(err)
		}
	}
	for _, tr := range ts {
		agent.expect(EventDone, forID(tr.ID))
	}
}

// Files from a second agent in the same session go to a folder named
// after that agent; the first one's stay at the top.
func TestSecondSenderGetsAFolder(t *testing.T) {
	alice := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	carol := newEnd(t, pb.Role_ROLE_AGENT, "carol")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	connect(t, alice, cust)
	connect(t, carol, cust)
	src := t.TempDir()
	pa, da := randomFile(t, src, "a/notes.txt", 100)
	pc, dc := randomFile(t, src, "c/notes.txt", 200)
	fromAlice := cust.expect(EventDone, forID(sendOne(t, alice, pa).ID)).Transfer
	fromCarol := cust.expect(EventDone, forID(sendOne(t, carol, pc).ID)).Transfer
	folder := filepath.Join(cust.down, "Support with alice")
	if want := filepath.Join(folder, "notes.txt"); fromAlice.Path != want {
		t.Fatalf("alice's file at %s, want %s", fromAlice.Path, want)
	}
	if want := filepath.Join(folder, "carol", "notes.txt"); fromCarol.Path != want {
		t.Fatalf("carol's file at %s, want %s", fromCarol.Path, want)
	}
	checkFile(t, fromAlice.Path, da)
	checkFile(t, fromCarol.Path, dc)
}

// A file the sender never sent before, whose content the receiver holds
// already (from another file): the sender hashes it while the person
// decides, so accepting it moves no byte.
func TestFirstTimeSendDedupsWhileThePersonDecides(t *testing.T) {
	t.Cleanup(func() { hookPush = nil })
	var moved sync.Map
	hookPush = func(id string, _ int64) { moved.Store(id, true) }
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob")
	connect(t, agent, cust)
	src := t.TempDir()
	path, data := randomFile(t, src, "setup.iso", 4<<20)
	first := sendOne(t, agent, path)
	cust.expect(EventOffer, forID(first.ID))
	cust.e.Answer(first.ID, Accept)
	kept := cust.expect(EventDone, forID(first.ID)).Transfer

	// The same bytes under another name: new to the sender.
	copyPath := filepath.Join(src, "setup-copy.iso")
	if err := os.WriteFile(copyPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	again := sendOne(t, agent, copyPath)
	if again.SHA256 != "" {
		t.Fatal("the sender knew the hash of a file it never sent")
	}
	cust.expect(EventOffer, forID(again.ID))
	// While the person decides, the offer comes again with the hash.
	deadline := time.Now().Add(timeout)
	for {
		if tr, _ := cust.e.Get(again.ID); tr.SHA256 == sum(data) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sender did not offer the hash while the receiver decided")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cust.e.Answer(again.ID, Accept)
	got := cust.expect(EventDone, forID(again.ID)).Transfer
	if !got.Deduped || got.Path != kept.Path {
		t.Fatalf("deduped %v at %q, want the copy at %q", got.Deduped, got.Path, kept.Path)
	}
	if _, ok := moved.Load(again.ID); ok {
		t.Fatal("the file's bytes moved although the receiver had them")
	}
}

// A first-time send to a receiver that accepts at once does not wait for
// the file's hash: the hashing ahead is held here until the bytes move.
func TestFirstByteDoesNotWaitForTheHash(t *testing.T) {
	t.Cleanup(func() { hookPush, hookHashAhead = nil, nil })
	pushed := make(chan string, 4)
	hookPush = func(id string, _ int64) { pushed <- id }
	hookHashAhead = func(id string) {
		select {
		case got := <-pushed:
			if got != id {
				t.Errorf("pushed %s, hashing %s", got, id)
			}
		case <-time.After(timeout):
			t.Errorf("the bytes waited for the hash")
		}
	}
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	connect(t, agent, cust)
	path, data := randomFile(t, t.TempDir(), "disk.img", 2<<20)
	tr := sendOne(t, agent, path)
	checkFile(t, cust.expect(EventDone, forID(tr.ID)).Transfer.Path, data)
	agent.expect(EventDone, forID(tr.ID))
}

func TestDedupSendsNoBytes(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob")
	connect(t, agent, cust)
	path, data := randomFile(t, t.TempDir(), "big.iso", 1<<20)
	first := sendOne(t, agent, path)
	cust.expect(EventOffer, forID(first.ID))
	cust.e.Answer(first.ID, Accept)
	kept := cust.expect(EventDone, forID(first.ID)).Transfer
	agent.expect(EventDone, forID(first.ID))
	// The sender hashes a file of this size after it arrived.
	if err := agent.e.Settle(t.Context()); err != nil {
		t.Fatal(err)
	}

	var moved sync.Map
	hookPush = func(id string, _ int64) { moved.Store(id, true) }
	defer func() { hookPush = nil }()
	again := sendOne(t, agent, path)
	if again.SHA256 != sum(data) {
		t.Fatalf("the second offer does not carry the known hash (%q)", again.SHA256)
	}
	// The receiver is still asked: the sender learns nothing before that.
	cust.expect(EventOffer, forID(again.ID))
	if tr, _ := agent.e.Get(again.ID); tr.State != Offered {
		t.Fatalf("sender's state before the answer: %s", tr.State)
	}
	cust.e.Answer(again.ID, Accept)
	got := cust.expect(EventDone, forID(again.ID)).Transfer
	if !got.Deduped || got.Path != kept.Path {
		t.Fatalf("second copy: deduped %v at %q, want the first at %q", got.Deduped, got.Path, kept.Path)
	}
	agent.expect(EventDone, forID(again.ID))
	if _, ok := moved.Load(again.ID); ok {
		t.Fatal("the file's bytes moved again")
	}
	// The deleted copy is no proof of content: then the bytes move.
	os.Remove(kept.Path)
	third := sendOne(t, agent, path)
	cust.expect(EventOffer, forID(third.ID))
	cust.e.Answer(third.ID, Accept)
	checkFile(t, cust.expect(EventDone, forID(third.ID)).Transfer.Path, data)
}

// hashAheadAfterPush holds hashing ahead until a file's bytes move, when it
// stops: for tests in which the sender must not know a big file's hash
// before it moves. onPush, if not nil, hears of every push too.
func hashAheadAfterPush(t *testing.T, onPush func(id string)) {
	pushed := make(chan struct{})
	closePushed := sync.OnceFunc(func() { close(pushed) })
	t.Cleanup(func() { hookPush, hookHashAhead = nil, nil })
	hookPush = func(id string, _ int64) {
		closePushed()
		if onPush != nil {
			onPush(id)
		}
	}
	hookHashAhead = func(string) {
		select {
		case <-pushed:
		case <-time.After(timeout):
		}
	}
}

// cutRawSend plays, on lc, a customer's sender that offers file id with
// offer, sends first on a stream whose head names check, and is cut off:
// the agent keeps those bytes. It then connects again and offers the file
// again, and returns the new link, on which the agent has answered to go
// on from len(first).
func cutRawSend(t *testing.T, agent, cust *end, lc *peer.Link, id string, offer func(*peer.Link), check pb.FileCheck, first []byte) *peer.Link {
	t.Helper()
	offer(lc)
	agent.expect(EventProgress, func(ev Event) bool { return ev.Transfer.ID == id && ev.Transfer.State == Accepted })
	str, err := lc.Conn.OpenStreamSync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	writeHead(t, str, id, 0, check)
	str.Write(first)
	time.Sleep(200 * time.Millisecond)
	str.CancelWrite(0x99)
	w := agent.expect(EventProgress, func(ev Event) bool { return ev.Transfer.ID == id && ev.Transfer.State == Waiting })
	if w.Transfer.Done != int64(len(first)) {
		t.Fatalf("kept %d bytes, not %d", w.Transfer.Done, len(first))
	}
	_, lc = connect(t, agent, cust)
	offer(lc)
	time.Sleep(200 * time.Millisecond) // the answer: from byte len(first)
	return lc
}

// A resumed stream's closing CRC-32C covers the whole file, the part kept
// from before the break too: the receiver reads that part back for it.
func TestResumedStreamCRCCoversTheKeptPart(t *testing.T) {
	content := []byte("the customer's log file, sent in two parts")
	const kept = 10
	for _, tt := range []struct {
		name  string
		crcOf []byte
		ok    bool
	}{
		{"whole file", content, true},
		{"the resumed part only", content[kept:], false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			agent := newEnd(t, pb.Role_ROLE_AGENT, "alice", func(n *end) { n.accept = AcceptAny })
			cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob")
			_, lc := connect(t, agent, cust)
			id := newID()
			offer := func(l *peer.Link) {
				l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileOffer{FileOffer: &pb.FileOffer{Id: id, Name: "log.txt", Size: uint64(len(content))}}})
			}
			lc = cutRawSend(t, agent, cust, lc, id, offer, pb.FileCheck_FILE_CHECK_CRC32C, content[:kept])
			crc := binary.BigEndian.AppendUint32(nil, crc32.Checksum(tt.crcOf, castagnoli))
			sendStream(t, lc, id, kept, pb.FileCheck_FILE_CHECK_CRC32C, content[kept:], crc)
			if tt.ok {
				checkFile(t, agent.expect(EventDone, forID(id)).Transfer.Path, content)
				return
			}
			if f := agent.expect(EventFailed, forID(id)).Transfer; !strings.Contains(f.Why, "damaged") {
				t.Fatalf("receiver's reason %q", f.Why)
			}
			noPartials(t, agent.down)
		})
	}
}

// Sending a file again right after it arrived, while the sender still
// hashes it, waits for that hash: the receiver that kept the file gets no
// byte of it again.
func TestSendAgainWhileHashingBehind(t *testing.T) {
	holding, hold := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var moved sync.Map
	t.Cleanup(func() { hookHashBehind = nil })
	hookHashBehind = func(string) { once.Do(func() { close(holding); <-hold }) }
	hashAheadAfterPush(t, func(id string) { moved.Store(id, true) })
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	release := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release) // before the engines close
	connect(t, agent, cust)
	path, _ := randomFile(t, t.TempDir(), "disk.img", int(HashAheadMin)+1)
	first := sendOne(t, agent, path)
	kept := cust.expect(EventDone, forID(first.ID)).Transfer
	agent.expect(EventDone, forID(first.ID))
	select {
	case <-holding:
	case <-time.After(timeout):
		t.Fatal("the sender did not hash the file after it arrived")
	}
	again := sendOne(t, agent, path)
	if again.SHA256 != "" {
		t.Fatal("the sender knew the hash before hashing the file")
	}
	time.Sleep(100 * time.Millisecond)
	if _, offered := cust.e.Get(again.ID); offered {
		t.Fatal("the file was offered again before the sender knew its hash")
	}
	release()
	got := cust.expect(EventDone, forID(again.ID)).Transfer
	if !got.Deduped || got.Path != kept.Path {
		t.Fatalf("deduped %v at %q, want the copy at %q", got.Deduped, got.Path, kept.Path)
	}
	if _, ok := moved.Load(again.ID); ok {
		t.Fatal("the file's bytes moved again")
	}
	if done := agent.expect(EventDone, forID(again.ID)).Transfer; done.SHA256 != kept.SHA256 {
		t.Fatalf("the sender's done shows %q, want %q", done.SHA256, kept.SHA256)
	}
}

func TestCollidingNamesGetNumbers(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	connect(t, agent, cust)
	p1, d1 := randomFile(t, t.TempDir(), "notes.txt", 100)
	p2, d2 := randomFile(t, t.TempDir(), "Notes.txt", 200)
	a := sendOne(t, agent, p1)
	checkFile(t, cust.expect(EventDone, forID(a.ID)).Transfer.Path, d1)
	b := sendOne(t, agent, p2)
	got := cust.expect(EventDone, forID(b.ID)).Transfer.Path
	if filepath.Base(got) != "Notes (2).txt" {
		t.Fatalf("second file at %q", got)
	}
	checkFile(t, got, d2)
}

// offerRaw sends a hand-made offer, as a hostile peer could.
func offerRaw(l *peer.Link, id, name string, size uint64) {
	l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileOffer{FileOffer: &pb.FileOffer{Id: id, Name: name, Size: size}}})
}

func TestHostileOffers(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	la, _ := connect(t, agent, cust)
	id := newID()
	offerRaw(la, id, "../../../../etc/cron.d/evil", 10)
	if r := cust.expect(EventRefused, forID(id)).Transfer; !strings.HasPrefix(r.Why, "not allowed: ") {
		t.Fatalf("receiver's reason %q", r.Why)
	}
	// A stream for a file nobody accepted is turned away.
	id2 := newID()
	str, err := la.Conn.OpenStreamSync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	writeHead(t, str, id2, 0, pb.FileCheck_FILE_CHECK_SHA256)
	str.Write([]byte("payload"))
	str.Close()
	if _, ok := cust.e.Get(id2); ok {
		t.Fatal("an unoffered stream made a transfer")
	}
	noPartials(t, cust.down)
	// The link survives all of it.
	p, data := randomFile(t, t.TempDir(), "ok.txt", 50)
	ok := sendOne(t, agent, p)
	checkFile(t, cust.expect(EventDone, forID(ok.ID)).Transfer.Path, data)
}

func TestCancelBySenderAndByReceiver(t *testing.T) {
	for _, by := range []string{"sender", "receiver"} {
		t.Run(by, func(t *testing.T) {
			agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
			cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
			connect(t, agent, cust)
			path, _ := randomFile(t, t.TempDir(), "big.bin", 32<<20)
			started := make(chan string, 1)
			release := make(chan struct{})
			hookReceived = func(id string, done int64) {
				select {
				case started <- id:
					<-release
				default:
				}
			}
			defer func() { hookReceived = nil }()
			tr := sendOne(t, agent, path)
			testpeer.Receive(t, started, "the first bytes")
			var err error
			if by == "sender" {
				err = agent.e.Cancel(tr.ID, "")
			} else {
				err = cust.e.Cancel(tr.ID, "")
			}
			if err != nil {
				t.Fatal(err)
			}
			close(release)
			a := agent.expect(EventCancelled, forID(tr.ID)).Transfer
			c := cust.expect(EventCancelled, forID(tr.ID)).Transfer
			t.Logf("sender: %q; receiver: %q", a.Why, c.Why)
			noPartials(t, cust.down)
			if entries, _ := os.ReadDir(filepath.Join(cust.down, "Support with alice")); len(entries) != 0 {
				t.Fatalf("left in the folder: %v", entries)
			}
		})
	}
}

// sendAndCutAtHalf connects the two ends, sends the file at path (size
// bytes) and cuts the connection when the receiver has half of it; it
// returns the file and the receiver's event when both sides wait.
func sendAndCutAtHalf(t *testing.T, agent, cust *end, path string, size int) (Transfer, Event) {
	t.Helper()
	la, _ := connect(t, agent, cust)
	var cut sync.Once
	hookReceived = func(id string, done int64) {
		if done >= int64(size/2) {
			cut.Do(func() { go la.Close(0, "network gone") })
		}
	}
	t.Cleanup(func() { hookReceived = nil })
	tr := sendOne(t, agent, path)
	w := cust.expect(EventProgress, func(ev Event) bool { return ev.Transfer.ID == tr.ID && ev.Transfer.State == Waiting })
	agent.expect(EventProgress, func(ev Event) bool { return ev.Transfer.ID == tr.ID && ev.Transfer.State == Waiting })
	return tr, w
}

func TestResumeAfterCutConnection(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	size := 48 << 20
	path, data := randomFile(t, t.TempDir(), "disk.img", size)
	var offsets []int64
	var mu sync.Mutex
	hookPush = func(id string, off int64) {
		mu.Lock()
		offsets = append(offsets, off)
		mu.Unlock()
	}
	defer func() { hookPush = nil }()
	tr, w := sendAndCutAtHalf(t, agent, cust, path, size)
	if w.Transfer.Done < int64(size/2) {
		t.Fatalf("the receiver recorded %d bytes, it had more than %d", w.Transfer.Done, size/2)
	}
	connect(t, agent, cust)
	checkFile(t, cust.expect(EventDone, forID(tr.ID)).Transfer.Path, data)
	agent.expect(EventDone, forID(tr.ID))
	mu.Lock()
	defer mu.Unlock()
	if len(offsets) != 2 || offsets[0] != 0 || offsets[1] != w.Transfer.Done {
		t.Fatalf("sent from %v; want from 0, then from %d", offsets, w.Transfer.Done)
	}
	noPartials(t, cust.down)
}

// The part of a file kept across a break is read back at the end: if it
// changed on the disk meanwhile (the computer stopped before it was
// written, or someone wrote to it), the file fails instead of passing with
// the hash the receiver kept in memory.
func TestResumedPartDamagedOnDisk(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	size := 8 << 20
	path, _ := randomFile(t, t.TempDir(), "disk.img", size)
	tr, w := sendAndCutAtHalf(t, agent, cust, path, size)
	part := filepath.Join(w.Transfer.Folder, PartialName(tr.ID))
	f, err := os.OpenFile(part, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 4096), 1000); err != nil { // zeros, as a lost write leaves
		t.Fatal(err)
	}
	f.Close()
	connect(t, agent, cust)
	if why := cust.expect(EventFailed, forID(tr.ID)).Transfer.Why; !strings.Contains(why, "damaged") {
		t.Fatalf("receiver's reason %q", why)
	}
	if why := agent.expect(EventFailed, forID(tr.ID)).Transfer.Why; !strings.Contains(why, "damaged") {
		t.Fatalf("sender's reason %q", why)
	}
	noPartials(t, cust.down)
}

func TestResumeAfterReceiverRestart(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	connect(t, agent, cust)
	CheckpointEvery = 1 << 20
	defer func() { CheckpointEvery = 8 << 20 }()
	size := 24 << 20
	path, data := randomFile(t, t.TempDir(), "disk.img", size)
	stopped := make(chan struct{})
	var once sync.Once
	hookReceived = func(id string, done int64) {
		if done >= int64(size/2) {
			once.Do(func() { go func() { cust.close(); close(stopped) }() })
		}
	}
	var offsets []int64
	var mu sync.Mutex
	hookPush = func(id string, off int64) {
		mu.Lock()
		offsets = append(offsets, off)
		mu.Unlock()
	}
	defer func() { hookReceived, hookPush = nil, nil }()
	tr := sendOne(t, agent, path)
	testpeer.Receive(t, stopped, "the receiver stopping")
	hookReceived = nil
	agent.expect(EventProgress, func(ev Event) bool { return ev.Transfer.ID == tr.ID && ev.Transfer.State == Waiting })
	cust.open()
	got, _ := cust.e.Get(tr.ID)
	if got.State != Waiting || got.Done == 0 {
		t.Fatalf("after the restart: %s with %d bytes", got.State, got.Done)
	}
	connect(t, agent, cust)
	checkFile(t, cust.expect(EventDone, forID(tr.ID)).Transfer.Path, data)
	mu.Lock()
	defer mu.Unlock()
	if len(offsets) != 2 || offsets[1] != got.Done {
		t.Fatalf("sent from %v; the second time from the %d bytes the receiver kept", offsets, got.Done)
	}
}

func TestResumeAfterSenderRestart(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	connect(t, agent, cust)
	size := 24 << 20
	path, data := randomFile(t, t.TempDir(), "disk.img", size)
	stopped := make(chan struct{})
	var once sync.Once
	hookReceived = func(id string, done int64) {
		if done >= int64(size/2) {
			once.Do(func() { go func() { agent.close(); close(stopped) }() })
		}
	}
	defer func() { hookReceived = nil }()
	tr := sendOne(t, agent, path)
	testpeer.Receive(t, stopped, "the sender stopping")
	cust.expect(EventProgress, func(ev Event) bool { return ev.Transfer.ID == tr.ID && ev.Transfer.State == Waiting })
	agent.open()
	connect(t, agent, cust)
	checkFile(t, cust.expect(EventDone, forID(tr.ID)).Transfer.Path, data)
	agent.expect(EventDone, forID(tr.ID))
}

func TestChangedFileFails(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob")
	connect(t, agent, cust)
	path, _ := randomFile(t, t.TempDir(), "draft.txt", 1000)
	tr := sendOne(t, agent, path)
	cust.expect(EventOffer, forID(tr.ID))
	os.WriteFile(path, []byte("changed meanwhile"), 0o644)
	cust.e.Answer(tr.ID, Accept)
	if f := agent.expect(EventFailed, forID(tr.ID)).Transfer; !strings.Contains(f.Why, "changed") {
		t.Fatalf("sender's reason %q", f.Why)
	}
	if f := cust.expect(EventCancelled, forID(tr.ID)).Transfer; !strings.Contains(f.Why, "changed") {
		t.Fatalf("receiver's reason %q", f.Why)
	}
}

func TestDeleteSessionFiles(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	connect(t, agent, cust)
	src := filepath.Join(t.TempDir(), "pics")
	randomFile(t, src, "a.jpg", 100)
	randomFile(t, src, "b/c.jpg", 100)
	ts, _ := agent.e.Send(session, src)
	for _, tr := range ts {
		cust.expect(EventDone, forID(tr.ID))
	}
	folder := cust.e.SessionFolder(session)
	if err := cust.e.DeleteSessionFiles(session); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(folder); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the session folder is still there (%v)", err)
	}
}

func writeHead(t *testing.T, w io.Writer, id string, offset uint64, check pb.FileCheck) {
	t.Helper()
	if err := protocol.WriteHeader(w, protocol.StreamFile); err != nil {
		t.Fatal(err)
	}
	if err := protocol.WriteFrame(w, &pb.FileStreamHead{Id: id, Offset: offset, Check: check}, protocol.MaxControlFrame); err != nil {
		t.Fatal(err)
	}
}

// sendStream plays a sender by hand: one whole file stream for id from
// offset, with body and then tail (where the sender puts the check its
// head names).
func sendStream(t *testing.T, l *peer.Link, id string, offset uint64, check pb.FileCheck, body, tail []byte) {
	t.Helper()
	str, err := l.Conn.OpenStreamSync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	writeHead(t, str, id, offset, check)
	str.Write(body)
	str.Write(tail)
	str.Close()
}

// A hostile receiver's answer cannot make the sender read before the file.
func TestHostileAnswerOffset(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob")
	_, lc := connect(t, agent, cust)
	path, _ := randomFile(t, t.TempDir(), "a.bin", 1000)
	tr := sendOne(t, agent, path)
	cust.expect(EventOffer, forID(tr.ID))
	lc.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileAnswer{FileAnswer: &pb.FileAnswer{Id: tr.ID, Accepted: true, Offset: 1 << 63}}})
	if f := agent.expect(EventFailed, forID(tr.ID)).Transfer; !strings.Contains(f.Why, "past the end") {
		t.Fatalf("sender's reason %q", f.Why)
	}
}

// The check that closes a stream catches bytes that are not the sender's,
// in either form: the CRC-32C receivers ask for, and the SHA-256 that
// senders which do not know CRC-32C send.
func TestDamagedStreamFails(t *testing.T) {
	content := []byte("the customer's log file")
	another := []byte("another file")
	good, bad := sha256.Sum256(content), sha256.Sum256(another)
	crc := func(b []byte) []byte { return binary.BigEndian.AppendUint32(nil, crc32.Checksum(b, castagnoli)) }
	for _, tt := range []struct {
		name    string
		check   pb.FileCheck
		tail    []byte
		damaged bool
	}{
		{"CRC-32C", pb.FileCheck_FILE_CHECK_CRC32C, crc(content), false},
		{"wrong CRC-32C", pb.FileCheck_FILE_CHECK_CRC32C, crc(another), true},
		{"SHA-256", pb.FileCheck_FILE_CHECK_SHA256, good[:], false},
		{"wrong SHA-256", pb.FileCheck_FILE_CHECK_SHA256, bad[:], true},
		{"SHA-256 where a CRC-32C belongs", pb.FileCheck_FILE_CHECK_CRC32C, good[:], true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			agent := newEnd(t, pb.Role_ROLE_AGENT, "alice", func(n *end) { n.accept = AcceptAny })
			cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob")
			_, lc := connect(t, agent, cust)
			id := newID()
			lc.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileOffer{FileOffer: &pb.FileOffer{Id: id, Name: "log.txt", Size: uint64(len(content))}}})
			agent.expect(EventProgress, func(ev Event) bool { return ev.Transfer.ID == id && ev.Transfer.State == Accepted })
			sendStream(t, lc, id, 0, tt.check, content, tt.tail)
			if !tt.damaged {
				got := agent.expect(EventDone, forID(id)).Transfer
				checkFile(t, got.Path, content)
				if got.SHA256 != sum(content) {
					t.Fatalf("the receiver's SHA-256 is %q", got.SHA256)
				}
				return
			}
			f := agent.expect(EventFailed, forID(id)).Transfer
			if !strings.Contains(f.Why, "damaged") && !strings.Contains(f.Why, "more bytes") {
				t.Fatalf("receiver's reason %q", f.Why)
			}
			noPartials(t, agent.down)
		})
	}
}

// rawReceiver plays a receiver by hand on lc: it accepts the next offer
// from byte offset, asking for check, reads the file's stream, and answers
// FileDone with claim as the hash of what it stored. It returns the bytes,
// the stream's head and its closing check.
func rawReceiver(t *testing.T, lc *peer.Link, offset uint64, check pb.FileCheck, claim []byte) (body []byte, head *pb.FileStreamHead, tail []byte) {
	t.Helper()
	var offer *pb.FileOffer
	for offer == nil {
		m, err := lc.Recv()
		if err != nil {
			t.Fatal(err)
		}
		offer = m.GetFileOffer()
	}
	lc.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileAnswer{FileAnswer: &pb.FileAnswer{Id: offer.Id, Accepted: true, Offset: offset, Check: check}}})
	str, err := lc.Conn.AcceptStream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(str)
	if kind, err := protocol.ReadHeader(r); err != nil || kind != protocol.StreamFile {
		t.Fatalf("stream kind %v, %v", kind, err)
	}
	head = &pb.FileStreamHead{}
	if err := protocol.ReadFrame(r, head, 1024); err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(all)) < offer.Size-offset {
		t.Fatalf("got %d bytes of %d", len(all), offer.Size-offset)
	}
	body, tail = all[:offer.Size-offset], all[offer.Size-offset:]
	lc.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileDone{FileDone: &pb.FileDone{Id: offer.Id, Ok: true, Sha256: claim}}})
	return body, head, tail
}

// attachOnly links the agent's engine to a link whose other end the test
// plays by hand.
func attachOnly(t *testing.T, agent *end) (lc *peer.Link) {
	t.Helper()
	la, lc := testpeer.LinkPair(t, agent.name, "mallory")
	agent.links = append(agent.links, lc)
	serve(t, agent, la)
	return lc
}

// A big file leaves the sender with a CRC-32C after it, unhashed: the
// receiver asked for that, and hashes what it stores itself. The sender
// hashes the file after it arrived, on its own, for its next offers: what
// the receiver says the hash is shows in the done event, and is never
// offered to anyone. A receiver that asks for no CRC-32C gets the SHA-256.
// Either check covers the whole file, also when the receiver asks for the
// bytes from an offset only (a resume).
func TestSenderHashesBigFilesAfterTheyArrive(t *testing.T) {
	for _, check := range []pb.FileCheck{pb.FileCheck_FILE_CHECK_CRC32C, pb.FileCheck_FILE_CHECK_SHA256} {
		t.Run(check.String(), func(t *testing.T) {
			behind := make(chan string, 4)
			t.Cleanup(func() { hookHashBehind = nil })
			hookHashBehind = func(source string) { behind <- source }
			hashAheadAfterPush(t, nil)
			agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
			lc := attachOnly(t, agent)
			path, data := randomFile(t, t.TempDir(), "disk.img", int(HashAheadMin)+1)
			lie := sha256.Sum256([]byte("a file the receiver would like sent as this one"))
			tr := sendOne(t, agent, path)
			const offset = 1000
			body, head, tail := rawReceiver(t, lc, offset, check, lie[:])
			if !bytes.Equal(body, data[offset:]) {
				t.Fatal("the stream's bytes are not the file's")
			}
			want := sha256.Sum256(data)
			wantTail := want[:]
			if check == pb.FileCheck_FILE_CHECK_CRC32C {
				wantTail = binary.BigEndian.AppendUint32(nil, crc32.Checksum(data, castagnoli))
			}
			if head.Check != check || !bytes.Equal(tail, wantTail) {
				t.Fatalf("the stream ends with %s %x, want %s %x", head.Check, tail, check, wantTail)
			}
			done := agent.expect(EventDone, forID(tr.ID)).Transfer
			if check == pb.FileCheck_FILE_CHECK_CRC32C {
				if done.SHA256 != hex.EncodeToString(lie[:]) {
					t.Fatalf("done shows %q, not the receiver's word", done.SHA256)
				}
				select {
				case <-behind:
				case <-time.After(timeout):
					t.Fatal("the sender did not hash the file after it arrived")
				}
			} else if done.SHA256 != sum(data) {
				t.Fatalf("done shows %q, not the hash the sender sent", done.SHA256)
			}
			if err := agent.e.Settle(t.Context()); err != nil {
				t.Fatal(err)
			}
			if check == pb.FileCheck_FILE_CHECK_SHA256 && len(behind) > 0 {
				t.Fatal("the sender hashed the file again after sending its hash")
			}
			again := sendOne(t, agent, path)
			if again.SHA256 != sum(data) {
				t.Fatalf("the next offer carries %q, want the file's own hash", again.SHA256)
			}
		})
	}
}

// A file bigger than the free space fails at once, with both sizes, before
// the disk fills up for everyone.
func TestFileLargerThanTheDisk(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("free space is checked on Linux only")
	}
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	la, _ := connect(t, agent, cust)
	id := newID()
	offerRaw(la, id, "huge.img", 1<<60)
	cust.expect(EventProgress, func(ev Event) bool { return ev.Transfer.ID == id && ev.Transfer.State == Accepted })
	sendStream(t, la, id, 0, pb.FileCheck_FILE_CHECK_CRC32C, []byte("the first bytes"), nil)
	f := cust.expect(EventFailed, forID(id)).Transfer
	if !strings.Contains(f.Why, "the disk is full (the file needs 1.2 EB, ") {
		t.Fatalf("receiver's reason %q", f.Why)
	}
	noPartials(t, cust.down)
}

// The link drops while the receiver, with every byte in, puts the file in
// place, and the sender offers it again on the next link before that is
// done: the answer says the file is there (it used to say "from byte 0"
// for a file already placed, and the sender then waited for ever).
func TestOfferedAgainWhilePlacing(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	la, _ := connect(t, agent, cust)
	path, data := randomFile(t, t.TempDir(), "report.pdf", 100<<10)
	holding, hold := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hookPlacing = func(string) { once.Do(func() { close(holding); <-hold }) }
	defer func() { hookPlacing = nil }()
	tr := sendOne(t, agent, path)
	<-holding
	la.Close(0, "network gone")
	agent.expect(EventProgress, func(ev Event) bool { return ev.Transfer.ID == tr.ID && ev.Transfer.State == Waiting })
	connect(t, agent, cust) // the sender offers it again
	// Wait until that offer stopped the receiver's mover of the old link.
	deadline := time.Now().Add(timeout)
	for {
		cust.e.mu.Lock()
		m := cust.e.movers[tr.ID]
		cust.e.mu.Unlock()
		if m != nil && m.ctx.Err() != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the offer on the new link did not stop the old mover")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(hold)
	checkFile(t, cust.expect(EventDone, forID(tr.ID)).Transfer.Path, data)
	agent.expect(EventDone, forID(tr.ID))
}

// All bytes sent into the connection's buffers, then the link drops before
// the receiver has them: the file still completes on the next link.
func TestLinkDropsAfterTheLastByteWasSent(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	la, _ := connect(t, agent, cust)
	path, data := randomFile(t, t.TempDir(), "small.bin", 200<<10)
	hold := make(chan struct{})
	var once sync.Once
	hookReceived = func(string, int64) { once.Do(func() { <-hold }) }
	defer func() { hookReceived = nil }()
	tr := sendOne(t, agent, path)
	time.Sleep(300 * time.Millisecond) // the sender writes it all meanwhile
	la.Close(0, "network gone")
	close(hold)
	agent.expect(EventProgress, func(ev Event) bool { return ev.Transfer.ID == tr.ID && ev.Transfer.State == Waiting })
	connect(t, agent, cust)
	checkFile(t, cust.expect(EventDone, forID(tr.ID)).Transfer.Path, data)
	agent.expect(EventDone, forID(tr.ID))
}

// A customer's client that skips its own checks still gets every rule of
// the relay's policy from the agent: invitation, type, size, count, and
// the invitation running out.
func TestAgentEnforcesPolicyOnRawOffers(t *testing.T) {
	policy := Policy{Enabled: true, Extensions: []string{"pdf", "txt"}, MaxSize: 1000, MaxFiles: 2,
		InvitationRequired: true, Invitation: 500 * time.Millisecond}
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice", func(n *end) { n.policy, n.accept = &policy, AcceptAny })
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob")
	_, lc := connect(t, agent, cust)
	refused := func(name string, size uint64, want string) {
		t.Helper()
		id := newID()
		offerRaw(lc, id, name, size)
		if why := agent.expect(EventRefused, forID(id)).Transfer.Why; why != want {
			t.Fatalf("%s: the agent's reason %q, want %q", name, why, want)
		}
	}
	accepted := func(name string, size uint64) {
		t.Helper()
		id := newID()
		offerRaw(lc, id, name, size)
		agent.expect(EventProgress, func(ev Event) bool { return ev.Transfer.ID == id && ev.Transfer.State == Accepted })
	}
	refused("before.pdf", 10, "not allowed: files without an invitation (the agent has to request files first)")
	if _, err := agent.e.Invite(session); err != nil {
		t.Fatal(err)
	}
	refused("tool.exe", 10, "not allowed: files of type .exe")
	refused("big.pdf", 5000, "not allowed: files over 1.0 KB (this one is 5.0 KB)")
	accepted("one.pdf", 10)
	accepted("two.txt", 10)
	refused("three.pdf", 10, "not allowed: more than 2 files in a session")
	time.Sleep(600 * time.Millisecond) // the invitation runs out
	refused("late.pdf", 10, "not allowed: files without an invitation (the agent has to request files first)")

	off := Policy{Enabled: false}
	agent.e.SetPolicy(off)
	refused("any.pdf", 10, "not allowed: files from customers (the relay does not accept any)")
}

// The customer's client counts what it sent: past the policy's number of
// files it refuses at once, and the agent never sees those offers.
func TestCustomerStopsAtMaxFiles(t *testing.T) {
	policy := DefaultPolicy()
	policy.MaxFiles = 2
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice", func(n *end) { n.policy, n.accept = &policy, AcceptAny })
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob")
	connect(t, agent, cust)
	cust.expect(EventPolicy, nil)
	dir := t.TempDir()
	for _, name := range []string{"one.txt", "two.txt"} {
		p, data := randomFile(t, dir, name, 10)
		checkFile(t, agent.expect(EventDone, forID(sendOne(t, cust, p).ID)).Transfer.Path, data)
	}
	p, _ := randomFile(t, dir, "three.txt", 10)
	third := sendOne(t, cust, p)
	if r := cust.expect(EventRefused, forID(third.ID)).Transfer; r.Why != "not allowed: more than 2 files in a session" {
		t.Fatalf("customer's reason %q", r.Why)
	}
	time.Sleep(100 * time.Millisecond)
	if _, ok := agent.e.Get(third.ID); ok {
		t.Fatal("the agent got an offer the customer's client should not have made")
	}
}

// The sender reads the receiver's refusals in words, not wire codes.
func TestRefusalWords(t *testing.T) {
	for why, want := range map[string]string{
		"":               "refused by the receiver",
		"refused":        "refused by the receiver",
		"refused_always": "the receiver refuses all files from you",
		"blocked":        "the receiver blocked files from you",
		"reception_off":  "the receiver has turned off receiving files",
		"not_allowed: more than 2 files in a session": "not allowed: more than 2 files in a session",
		"busy: too many open offers":                  "busy: too many open offers",
	} {
		if got := refusalWords(why); got != want {
			t.Errorf("refusalWords(%q) = %q, want %q", why, got, want)
		}
	}
}

// The agent's content-type rule holds for a file that arrives in two parts:
// the check runs on what is in the file, not only on a stream's first bytes.
func TestResumedFileStillChecked(t *testing.T) {
	policy := DefaultPolicy()
	policy.ContentTypes = []string{"image/png"}
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice", func(n *end) { n.policy, n.accept = &policy, AcceptAny })
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob")
	_, lc := connect(t, agent, cust)
	content := []byte("<html><body>not a picture</body></html>")
	id := newID()
	lie := func(l *peer.Link) { // the offer says it is a picture
		l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileOffer{FileOffer: &pb.FileOffer{Id: id, Name: "cat.png", Size: uint64(len(content)), ContentType: "image/png"}}})
	}
	lc = cutRawSend(t, agent, cust, lc, id, lie, pb.FileCheck_FILE_CHECK_SHA256, content[:1])
	whole := sha256.Sum256(content)
	sendStream(t, lc, id, 1, pb.FileCheck_FILE_CHECK_SHA256, content[1:], whole[:])
	if f := agent.expect(EventFailed, forID(id)).Transfer; !strings.Contains(f.Why, "not allowed") {
		t.Fatalf("agent's reason %q", f.Why)
	}
	noPartials(t, agent.down)
}

// The person deletes a folder that files arrived in; the next files of the
// same tree still arrive (the folder is made again).
func TestFolderDeletedMeanwhile(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	connect(t, agent, cust)
	src := filepath.Join(t.TempDir(), "logs")
	randomFile(t, src, "day1/a.txt", 100)
	ts, _ := agent.e.Send(session, src)
	cust.expect(EventDone, forID(ts[0].ID))
	if err := os.RemoveAll(filepath.Join(cust.down, "Support with alice", "logs")); err != nil {
		t.Fatal(err)
	}
	_, data := randomFile(t, src, "day1/a.txt", 200)
	ts, _ = agent.e.Send(session, src)
	checkFile(t, cust.expect(EventDone, forID(ts[0].ID)).Transfer.Path, data)
}

// A customer who comes back under another name (restarted with another
// --name) is still the agent's one customer: the unfinished file is offered
// on the new link.
func TestFilesAreOfferedAgainToARenamedCustomer(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	bob := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob")
	la, lc := connect(t, agent, bob)
	src, _ := randomFile(t, t.TempDir(), "a.bin", 1000)
	ts, err := agent.e.Send(session, src)
	if err != nil {
		t.Fatal(err)
	}
	bob.expect(EventOffer, forID(ts[0].ID))
	la.Close(0, "gone")
	lc.Close(0, "gone")
	laptop := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob (laptop)")
	connect(t, agent, laptop)
	if ev := laptop.expect(EventOffer, forID(ts[0].ID)); ev.Transfer.Peer != "alice" {
		t.Fatalf("offer from %q", ev.Transfer.Peer)
	}
}

// A cancel made while its agent is away waits for that agent: another
// agent connecting first does not take it.
func TestPendingCancelsWaitForTheirPeer(t *testing.T) {
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob")
	alice := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	gone := make(chan string, 4)
	la, lc := testpeer.LinkPair(t, alice.name, cust.name)
	serve(t, alice, la)
	r := router.New(router.Config{Session: session, Gone: func(l *peer.Link, _ error) { gone <- l.Remote.Name }})
	cust.e.Serve(r)
	cust.links = append(cust.links, lc)
	r.Attach(lc)
	cust.expect(EventPolicy, nil)
	src, _ := randomFile(t, t.TempDir(), "a.bin", 1000)
	ts, err := cust.e.SendTo(session, "alice", src)
	if err != nil {
		t.Fatal(err)
	}
	alice.expect(EventOffer, forID(ts[0].ID))
	la.Close(0, "gone")
	if name := testpeer.Receive(t, gone, "alice's link gone"); name != "alice" {
		t.Fatalf("gone: %s", name)
	}
	if err := cust.e.Cancel(ts[0].ID, "changed my mind"); err != nil {
		t.Fatal(err)
	}
	carol := newEnd(t, pb.Role_ROLE_AGENT, "carol")
	connect(t, carol, cust)
	connect(t, alice, cust)
	if ev := alice.expect(EventCancelled, forID(ts[0].ID)); !strings.Contains(ev.Transfer.Why, "changed my mind") {
		t.Fatalf("alice's cancel: %+v", ev.Transfer)
	}
	if carol.has(EventOffer, ts[0].ID) || carol.has(EventCancelled, ts[0].ID) {
		t.Fatal("carol heard of alice's file")
	}
}

// A symbolic link inside a sent folder is not followed and not sent, and
// the sender is told what was left out; a folder of links alone is not
// sent at all, and the error says why.
func TestLinksInASentFolderAreToldOf(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	connect(t, agent, cust)
	src := t.TempDir()
	p, data := randomFile(t, src, "logs/app.log", 300)
	outside := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(outside, []byte("not for the receiver"), 0o600)
	if err := os.Symlink(outside, filepath.Join(src, "logs", "secret-link")); err != nil {
		t.Fatal(err)
	}
	ts, err := agent.e.Send(session, filepath.Dir(p))
	if err != nil {
		t.Fatal(err)
	}
	sk := agent.expect(EventSkipped, nil)
	if sk.Count != 1 || len(sk.Skipped) != 1 || sk.Skipped[0].Name != "logs/secret-link" || !strings.Contains(sk.Skipped[0].Why, "symbolic link") || sk.Session != session {
		t.Fatalf("skipped event %+v", sk)
	}
	if len(ts) != 1 {
		t.Fatalf("%d files offered, want the one regular file", len(ts))
	}
	checkFile(t, cust.expect(EventDone, forID(ts[0].ID)).Transfer.Path, data)

	onlyLinks := t.TempDir()
	os.Symlink(outside, filepath.Join(onlyLinks, "a"))
	if _, err := agent.e.Send(session, onlyLinks); err == nil || !strings.Contains(err.Error(), "links or special files are not sent") {
		t.Fatalf("a folder of links: %v", err)
	}
	if sk := agent.expect(EventSkipped, nil); sk.Count != 1 {
		t.Fatalf("skipped %+v", sk)
	}
}

// A byte-identical file under another name is not sent again: the offer
// carries the file's edges, the receiver that holds a file with those
// edges says so only in its accepting answer (hash_first), the sender
// hashes the whole file and offers it again with its hash, and the
// receiver takes its copy. A file whose edges match but whose middle
// differs is hashed, found different, and sent whole. Small and big files
// alike, a person answering or all accepted.
func TestSameContentUnderAnotherName(t *testing.T) {
	for _, size := range []int{100 << 10, 300 << 10, int(HashAheadMin) + 1} {
		for _, accept := range []string{AskAlways, AcceptAny} {
			t.Run(fmt.Sprintf("%d bytes, %s", size, accept), func(t *testing.T) {
				t.Cleanup(func() { hookPush = nil })
				var moved sync.Map
				hookPush = func(id string, _ int64) { moved.Store(id, true) }
				agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
				cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = accept })
				connect(t, agent, cust)
				dir := t.TempDir()
				report, data := randomFile(t, dir, "report.pdf", size)
				answer := func(id string) {
					if accept == AskAlways {
						cust.expect(EventOffer, forID(id))
						cust.e.Answer(id, Accept)
					}
				}
				first := sendOne(t, agent, report)
				answer(first.ID)
				kept := cust.expect(EventDone, forID(first.ID)).Transfer

				copyPath := filepath.Join(dir, "copy-of-report.pdf")
				os.WriteFile(copyPath, data, 0o644)
				again := sendOne(t, agent, copyPath)
				if small := int64(size) <= 2*EdgeSize; small != (again.SHA256 != "") || small == (again.Edges != "") {
					// A small file is read whole for its offer, so it is
					// offered with its hash; a big one with its edges.
					t.Fatalf("a first-time send of %d bytes: hash %q, edges %q", size, again.SHA256, again.Edges)
				}
				answer(again.ID)
				got := cust.expect(EventDone, forID(again.ID)).Transfer
				if !got.Deduped || got.Path != kept.Path {
					t.Fatalf("the copy: deduped %v at %q, want the first at %q", got.Deduped, got.Path, kept.Path)
				}
				if _, pushed := moved.Load(again.ID); pushed {
					t.Fatal("bytes of the copy moved")
				}
				if d := agent.expect(EventDone, forID(again.ID)).Transfer; d.Dir != Out {
					t.Fatalf("sender's done %+v", d)
				}

				// Same size and edges, another middle: sent whole.
				other := append([]byte(nil), data...)
				other[len(other)/2] ^= 0xff
				if len(other) > 2*EdgeSize {
					otherPath := filepath.Join(dir, "edited.pdf")
					os.WriteFile(otherPath, other, 0o644)
					third := sendOne(t, agent, otherPath)
					answer(third.ID)
					done := cust.expect(EventDone, forID(third.ID)).Transfer
					if done.Deduped {
						t.Fatal("a file with other content was taken from the copy")
					}
					checkFile(t, done.Path, other)
				}
			})
		}
	}
}

// When the sender cannot make the hash its receiver asked for (the file was
// touched meanwhile), the bytes go as the answer asked, and the send ends
// as a changed file does: the file does not wait for ever.
func TestHashFirstThatCannotBeHashedDoesNotWait(t *testing.T) {
	t.Cleanup(func() { hookHashAhead = nil })
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	connect(t, agent, cust)
	dir := t.TempDir()
	report, data := randomFile(t, dir, "report.pdf", 300<<10)
	first := sendOne(t, agent, report)
	cust.expect(EventDone, forID(first.ID))
	copyPath := filepath.Join(dir, "copy.pdf")
	os.WriteFile(copyPath, data, 0o644)
	hookHashAhead = func(string) { // touched while it is hashed: no hash
		later := time.Now().Add(time.Hour)
		os.Chtimes(copyPath, later, later)
	}
	again := sendOne(t, agent, copyPath)
	if ev := agent.expect(EventFailed, forID(again.ID)); !strings.Contains(ev.Transfer.Why, "changed") {
		t.Fatalf("the touched file failed with %q", ev.Transfer.Why)
	}
}
