package relay

import (
	"net"
	"net/netip"

	"github.com/porthole-dev/porthole/shared/internal/udpgso"
)

// forwarder sends on the relayed packets of one read batch. Packets of a
// batch that go to the same peer, all of one size but the last, leave in
// one system call with segmentation offload where the socket has it; a
// bulk transfer's packets are like that. It runs only on the socket's read
// goroutine (see nonquic), so it needs no lock.
type forwarder struct {
	udp     *net.UDPConn
	gso     bool
	pending []outPacket
	buf     []byte
	oob     []byte
}

type outPacket struct {
	b   []byte // the read buffer's packet, valid until flush returns
	dst netip.AddrPort
}

func newForwarder(udp *net.UDPConn) *forwarder {
	return &forwarder{udp: udp, gso: udpgso.Supported(udp), buf: make([]byte, 0, udpgso.MaxBytes)}
}

func (f *forwarder) add(b []byte, dst netip.AddrPort) {
	f.pending = append(f.pending, outPacket{b, dst})
}

// flush sends what add collected. A lost packet is the peers' QUIC's to
// recover, so send errors are not reported.
func (f *forwarder) flush() {
	p := f.pending
	for i := 0; i < len(p); {
		j := i + 1
		if f.gso {
			j = f.run(p, i)
		}
		if j-i == 1 {
			f.udp.WriteToUDPAddrPort(p[i].b, p[i].dst)
			i = j
			continue
		}
		buf := f.buf[:0]
		for _, q := range p[i:j] {
			buf = append(buf, q.b...)
		}
		f.oob = udpgso.AppendSegmentSize(f.oob[:0], len(p[i].b))
		if _, _, err := f.udp.WriteMsgUDPAddrPort(buf, f.oob, p[i].dst); err != nil {
			// Whatever failed, the packets go one by one; when that works,
			// segmenting was the trouble (EIO: the device cannot) and is
			// not tried again.
			sent := false
			for _, q := range p[i:j] {
				if _, err := f.udp.WriteToUDPAddrPort(q.b, q.dst); err == nil {
					sent = true
				}
			}
			if sent {
				f.gso = false
			}
		}
		i = j
	}
	clear(p) // drop the references to the read buffers
	f.pending = p[:0]
}

// run is the end of the longest run of packets from p[i] that can leave in
// one send: same destination, the size of p[i] (the last may be shorter),
// within the kernel's limits.
func (f *forwarder) run(p []outPacket, i int) int {
	size, total := len(p[i].b), len(p[i].b)
	j := i + 1
	for j < len(p) && j-i < udpgso.MaxSegments && p[j].dst == p[i].dst {
		n := len(p[j].b)
		if n > size || total+n > udpgso.MaxBytes {
			break
		}
		total += n
		j++
		if n < size {
			break
		}
	}
	return j
}
