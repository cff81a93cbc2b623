package transfer

// Regression tests for what review helpers found in the dedup by edges
// and hash_first: races between an answer and a stream, a second answer,
// a tree with holes, a link to a folder.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

// the hash arrives while accept() runs: hash_first is answered though the
// hash is known, and the sender's answering re-offer gets no answer.
func TestDedupHashDuringAccept(t *testing.T) {
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob")
	la, lc := testpeer.LinkPair(t, "alice", "bob")
	cust.links = append(cust.links, la)
	serve(t, cust, lc)
	content := make([]byte, 300<<10)
	rand.Read(content)
	s := sha256.Sum256(content)
	edges, _ := EdgesHash(bytes.NewReader(content), int64(len(content)))
	crc := binary.BigEndian.AppendUint32(nil, crc32.Checksum(content, castagnoli))
	answers := make(chan *pb.FileAnswer, 100)
	go func() {
		for {
			m, err := la.Recv()
			if err != nil {
				return
			}
			if a := m.GetFileAnswer(); a != nil {
				answers <- a
			}
		}
	}()
	offer := func(id string, withSum bool) {
		o := &pb.FileOffer{Id: id, Name: "a.bin", Size: uint64(len(content)), Edges: edges}
		if withSum {
			o.Sha256 = s[:]
		}
		la.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileOffer{FileOffer: o}})
	}
	id0 := newID()
	offer(id0, false)
	cust.expect(EventOffer, forID(id0))
	cust.e.Answer(id0, Accept)
	<-answers
	sendStream(t, la, id0, 0, pb.FileCheck_FILE_CHECK_CRC32C, content, crc)
	cust.expect(EventDone, forID(id0))
	stalls := 0
	for i := 0; i < 60; i++ {
		id := newID()
		offer(id, false)
		cust.expect(EventOffer, forID(id))
		go cust.e.Answer(id, Accept)
		time.Sleep(time.Duration(i%4) * 50 * time.Microsecond)
		offer(id, true)
		final := false
		timeout := time.After(time.Second)
	wait:
		for {
			select {
			case a := <-answers:
				if a.HashFirst {
					offer(id, true) // what an honest sender does
					continue
				}
				final = true
				break wait
			case <-timeout:
				break wait
			}
		}
		if !final {
			stalls++
			tr, _ := cust.e.Get(id)
			t.Logf("iter %d: STALL, receiver %s sha=%v", i, tr.State, tr.SHA256 != "")
		}
		for len(answers) > 0 {
			<-answers
		}
	}
	if stalls > 0 {
		t.Errorf("%d stalls", stalls)
	}
}

// a sender that sends the hash and streams at once; hashArrived's have races the stream.
func TestDedupHashArrivedRacesStream(t *testing.T) {
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	la, lc := testpeer.LinkPair(t, "alice", "bob")
	cust.links = append(cust.links, la)
	serve(t, cust, lc)
	content := make([]byte, 2<<20)
	rand.Read(content)
	s := sha256.Sum256(content)
	crc := binary.BigEndian.AppendUint32(nil, crc32.Checksum(content, castagnoli))
	offer := func(id string, withSum bool) {
		o := &pb.FileOffer{Id: id, Name: "a.bin", Size: uint64(len(content))}
		if withSum {
			o.Sha256 = s[:]
		}
		la.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileOffer{FileOffer: o}})
	}
	id0 := newID()
	offer(id0, false)
	cust.expect(EventProgress, func(ev Event) bool { return ev.Transfer.ID == id0 && ev.Transfer.State == Accepted })
	sendStream(t, la, id0, 0, pb.FileCheck_FILE_CHECK_CRC32C, content, crc)
	cust.expect(EventDone, forID(id0))
	go func() {
		for {
			if _, err := la.Recv(); err != nil {
				return
			}
		}
	}()
	for i := 0; i < 40; i++ {
		id := newID()
		offer(id, false)
		cust.expect(EventProgress, func(ev Event) bool { return ev.Transfer.ID == id && ev.Transfer.State == Accepted })
		str, err := la.Conn.OpenStreamSync(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		writeHead(t, str, id, 0, pb.FileCheck_FILE_CHECK_CRC32C)
		str.Write(content[:4096])
		offer(id, true)
		time.Sleep(time.Duration(i%5) * time.Millisecond)
		str.Write(content[4096:])
		str.Write(crc)
		str.Close()
		cust.expect(EventDone, forID(id))
		if tr, _ := cust.e.Get(id); tr.State != Done || tr.Done != tr.Size {
			t.Errorf("round %d: the record says state %s, %d of %d bytes, deduped %v", i, tr.State, tr.Done, tr.Size, tr.Deduped)
		}
	}
	noPartials(t, cust.down)
}

// a 0-byte file in a second folder is "deduped" to one in another folder.
func TestDedupEmptyFileInTreeDeduped(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	connect(t, agent, cust)
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "one", "pkg"), 0o755)
	os.WriteFile(filepath.Join(src, "one", "pkg", "__init__.py"), nil, 0o644)
	ts, err := agent.e.Send(session, filepath.Join(src, "one"))
	if err != nil {
		t.Fatal(err)
	}
	cust.expect(EventDone, forID(ts[0].ID))
	os.MkdirAll(filepath.Join(src, "two", "lib"), 0o755)
	os.WriteFile(filepath.Join(src, "two", "lib", "__init__.py"), nil, 0o644)
	ts2, err := agent.e.Send(session, filepath.Join(src, "two"))
	if err != nil {
		t.Fatal(err)
	}
	got := cust.expect(EventDone, forID(ts2[0].ID)).Transfer
	t.Logf("second tree's file: deduped=%v path=%s", got.Deduped, got.Path)
	if _, err := os.Stat(filepath.Join(got.Folder, "two", "lib", "__init__.py")); err != nil {
		t.Errorf("HOLE: two/lib/__init__.py not in the received tree: %v", err)
	}
}

// a plain-accepted file gets a second answer when an offer with sha256 follows.
func TestDedupSecondAnswer(t *testing.T) {
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	la, lc := testpeer.LinkPair(t, "alice", "bob")
	cust.links = append(cust.links, la)
	serve(t, cust, lc)
	id := newID()
	content := []byte(strings.Repeat("x", 1000))
	s := sha256.Sum256(content)
	la.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileOffer{FileOffer: &pb.FileOffer{Id: id, Name: "a.txt", Size: uint64(len(content))}}})
	answers := 0
	go func() {
		time.Sleep(300 * time.Millisecond)
		la.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileOffer{FileOffer: &pb.FileOffer{Id: id, Name: "a.txt", Size: uint64(len(content)), Sha256: s[:]}}})
	}()
	deadline := time.After(2 * time.Second)
	ch := make(chan *pb.FileAnswer, 10)
	go func() {
		for {
			m, err := la.Recv()
			if err != nil {
				return
			}
			if a := m.GetFileAnswer(); a != nil {
				ch <- a
			}
		}
	}()
loop:
	for {
		select {
		case a := <-ch:
			answers++
			t.Logf("answer %d: %+v", answers, a)
		case <-deadline:
			break loop
		}
	}
	if answers > 1 {
		t.Errorf("DOUBLE: %d accepting answers to one offer", answers)
	}
}

func TestSymlinkedRootFolderIsSentWhereItLeads(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	connect(t, agent, cust)
	src := t.TempDir()
	randomFile(t, filepath.Join(src, "real"), "a.txt", 10)
	os.Symlink(filepath.Join(src, "real"), filepath.Join(src, "docs"))
	ts, err := agent.e.Send(session, filepath.Join(src, "docs"))
	t.Logf("Send of a symlinked folder: %d transfers, err %v", len(ts), err)
	for _, ev := range agent.events {
		if ev.Kind == EventSkipped {
			t.Logf("skipped: %+v", ev.Skipped)
		}
	}
}

// A folder arrives whole: a big file in it whose content the receiver
// already holds is offered without its edges, so it is not pointed at the
// copy elsewhere.
func TestFolderFilesAreNotPointedAtCopies(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	connect(t, agent, cust)
	dir := t.TempDir()
	p, data := randomFile(t, dir, "alone/report.pdf", 300<<10)
	first := sendOne(t, agent, p)
	cust.expect(EventDone, forID(first.ID))
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "docs"), 0o755)
	os.WriteFile(filepath.Join(tree, "docs", "report.pdf"), data, 0o644)
	ts, err := agent.e.Send(session, tree)
	if err != nil || len(ts) != 1 || ts[0].Edges != "" || ts[0].SHA256 != "" {
		t.Fatalf("the folder's offer: %+v, %v", ts, err)
	}
	got := cust.expect(EventDone, forID(ts[0].ID)).Transfer
	if got.Deduped || filepath.Base(filepath.Dir(got.Path)) != "docs" {
		t.Fatalf("the folder's file: deduped %v at %s", got.Deduped, got.Path)
	}
	checkFile(t, got.Path, data)
}
