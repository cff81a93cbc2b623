package transfer

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

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
