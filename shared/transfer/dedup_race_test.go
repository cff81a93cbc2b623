package transfer

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

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
