// Package nonquic lets a QUIC transport and Porthole's own packets share one
// UDP socket. Porthole's packets (relayed QUIC packets and hole punches)
// start with a byte whose two high bits are clear, which no QUIC packet does.
// Conn is the socket as quic-go sees it: quic-go reads through its ReadBatch,
// and Conn hands Porthole's packets to a handler right there and empties
// their slots (N = 0, which quic-go skips). quic-go's own non-QUIC queue
// holds only 32 packets and drops the rest, too few for a relayed bulk
// transfer.
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
}

// New wraps udp. handle runs on quic-go's read goroutine for every
// non-QUIC packet; b is only valid during the call and handle must be quick.
func New(udp *net.UDPConn, handle func(b []byte, from net.Addr)) *Conn {
	return &Conn{UDPConn: udp, pc: ipv4.NewPacketConn(udp), handle: handle}
}

// ReadBatch reads a batch for quic-go, keeping Porthole's packets out of it.
func (c *Conn) ReadBatch(ms []ipv4.Message, flags int) (int, error) {
	n, err := c.pc.ReadBatch(ms, flags)
	for i := range n {
		m := &ms[i]
		if m.N > 0 && Is(m.Buffers[0][:m.N]) {
			c.handle(m.Buffers[0][:m.N], m.Addr)
			m.N = 0
		}
	}
	return n, err
}
