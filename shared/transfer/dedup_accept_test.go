package transfer

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
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
