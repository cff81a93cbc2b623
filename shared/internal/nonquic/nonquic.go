// Package nonquic lets a QUIC transport and Porthole's own packets share one
// UDP socket. Porthole's packets (relayed QUIC packets and hole punches)
// start with a byte whose two high bits are clear, which no QUIC packet does.
// Conn is the socket as quic-go sees it: quic-go reads through its ReadBatch,
// and Conn hands Porthole's packets to a handler right there. After a batch
// that had any, it calls flush, so a handler can send what it collected in
// one go. quic-go's own non-QUIC queue holds only 32 packets and drops the
// rest, too few for a relayed bulk transfer.
//
// The batch quic-go gets back holds only its QUIC packets, moved to the
// front. A slot left empty instead would cost an allocation per packet:
// quic-go drops an empty packet without returning its buffer to its pool.
package nonquic

import (
	"net"

	"golang.org/x/net/ipv4"
)

// Is reports whether b is one of Porthole's own packets rather than QUIC.
func Is(b []byte) bool { return len(b) > 0 && b[0]&0xc0 == 0 }

// Conn wraps a UDP socket for a quic.Transport.
type Conn struct {
	*net.UDPConn
	pc     *ipv4.PacketConn
	handle func(b []byte, from net.Addr)
	flush  func()
}

// New wraps udp. handle runs on quic-go's read goroutine for every
// non-QUIC packet and must be quick. b stays valid until flush returns;
// flush may be nil, and then b is only valid during the call.
func New(udp *net.UDPConn, handle func(b []byte, from net.Addr), flush func()) *Conn {
	return &Conn{UDPConn: udp, pc: ipv4.NewPacketConn(udp), handle: handle, flush: flush}
}

// ReadBatch reads a batch for quic-go, keeping Porthole's packets out of it.
// It returns only once it has a QUIC packet for quic-go, or an error.
func (c *Conn) ReadBatch(ms []ipv4.Message, flags int) (int, error) {
	for {
		n, err := c.pc.ReadBatch(ms, flags)
		handled := false
		for i := range n {
			if m := &ms[i]; Is(m.Buffers[0][:m.N]) {
				c.handle(m.Buffers[0][:m.N], m.Addr)
				handled = true
			}
		}
		if !handled {
			return n, err
		}
		if c.flush != nil {
			c.flush()
		}
		k := compact(ms[:n])
		if k > 0 || err != nil {
			return k, err
		}
	}
}

// compact moves the QUIC packets of ms to its front, copying their bytes
// into the slots of Porthole's packets (each slot keeps its own buffers,
// which quic-go tracks by position), and says how many there are.
func compact(ms []ipv4.Message) int {
	k := 0
	for i := range ms {
		m := &ms[i]
		if m.N == 0 || Is(m.Buffers[0][:m.N]) {
			continue
		}
		if k != i {
			d := &ms[k]
			d.N = copy(d.Buffers[0], m.Buffers[0][:m.N])
			d.NN = copy(d.OOB, m.OOB[:m.NN])
			d.Flags, d.Addr = m.Flags, m.Addr
		}
		k++
	}
	return k
}
