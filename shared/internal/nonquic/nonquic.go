// Package nonquic lets a QUIC transport and Porthole's own packets share one
// UDP socket. Porthole's packets (relayed QUIC packets and hole punches)
// start with a byte whose two high bits are clear, which no QUIC packet does.
// Conn is the socket as quic-go sees it: quic-go reads through its ReadBatch,
// and Conn hands Porthole's packets to a handler right there. After a batch
// that had any, it calls flush, so a handler can send what it collected in
// one go. quic-go's own non-QUIC queue holds only 32 packets and drops the
// rest, too few for a relayed bulk transfer.
//
// The batch quic-go gets back holds only its QUIC packets, at the front. A
// slot left empty instead would cost an allocation per packet: quic-go drops
// an empty packet without returning its buffer to its pool.
//
// Where the kernel can (Linux), the socket receives with UDP_GRO: packets of
// one flow that arrive together come up as one buffer, which Conn cuts
// apart. A peer that sends with segmentation offload (quic-go does, and so
// do Porthole's relayed path and relay) then costs one read for many
// packets, and on loopback the kernel never cuts them apart at all. Conn
// reads such batches into its own buffers and copies quic-go's packets into
// quic-go's.
package nonquic

import (
	"net"

	"golang.org/x/net/ipv4"

	"github.com/porthole-dev/porthole/shared/internal/udpgso"
)

// Is reports whether b is one of Porthole's own packets rather than QUIC.
func Is(b []byte) bool { return len(b) > 0 && b[0]&0xc0 == 0 }

// Conn wraps a UDP socket for a quic.Transport.
type Conn struct {
	*net.UDPConn
	pc     *ipv4.PacketConn
	handle func(b []byte, from net.Addr)
	flush  func()

	// With GRO: the batch Conn reads into, and the QUIC packets read but
	// not yet handed to quic-go (they point into the batch's buffers, so
	// nothing is read until they are gone).
	gro   bool
	ms    []ipv4.Message
	oobs  [][]byte // each message's control messages without UDP_GRO
	queue []packet
	next  int
}

type packet struct {
	b, oob []byte
	addr   net.Addr
}

const (
	groBatch = 4        // messages per read; each can hold dozens of packets
	groBuf   = 64 << 10 // the most one coalesced read can hold
	oobBuf   = 128      // quic-go's size for control messages
)

// New wraps udp. handle runs on quic-go's read goroutine for every
// non-QUIC packet and must be quick. b stays valid until flush returns;
// flush may be nil, and then b is only valid during the call.
func New(udp *net.UDPConn, handle func(b []byte, from net.Addr), flush func()) *Conn {
	c := &Conn{UDPConn: udp, pc: ipv4.NewPacketConn(udp), handle: handle, flush: flush}
	if udpgso.EnableGRO(udp) {
		c.gro = true
		c.ms = make([]ipv4.Message, groBatch)
		c.oobs = make([][]byte, groBatch)
		for i := range c.ms {
			c.ms[i].Buffers = [][]byte{make([]byte, groBuf)}
			c.ms[i].OOB = make([]byte, oobBuf)
			c.oobs[i] = make([]byte, 0, oobBuf)
		}
	}
	return c
}

// ReadBatch reads a batch for quic-go, keeping Porthole's packets out of it.
// It returns only once it has a QUIC packet for quic-go, or an error.
func (c *Conn) ReadBatch(ms []ipv4.Message, flags int) (int, error) {
	if c.gro {
		return c.readCoalesced(ms, flags)
	}
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

// readCoalesced is ReadBatch on a socket with GRO.
func (c *Conn) readCoalesced(ms []ipv4.Message, flags int) (int, error) {
	for c.next == len(c.queue) {
		c.queue, c.next = c.queue[:0], 0
		n, err := c.pc.ReadBatch(c.ms, flags)
		handled := false
		for i := range n {
			m := &c.ms[i]
			data := m.Buffers[0][:m.N]
			size, oob := udpgso.GROSize(m.OOB[:m.NN], c.oobs[i][:0])
			c.oobs[i] = oob
			if size <= 0 || size > len(data) {
				size = len(data)
			}
			for off := 0; off < len(data); off += size {
				p := data[off:min(off+size, len(data))]
				if Is(p) {
					c.handle(p, m.Addr)
					handled = true
				} else {
					c.queue = append(c.queue, packet{p, oob, m.Addr})
				}
			}
		}
		if handled && c.flush != nil {
			c.flush()
		}
		if err != nil {
			if c.next == len(c.queue) {
				return 0, err
			}
			break // hand over what came; the error comes again on the next read
		}
	}
	k := 0
	for ; k < len(ms) && c.next < len(c.queue); k++ {
		p, d := &c.queue[c.next], &ms[k]
		d.N = copy(d.Buffers[0], p.b)
		d.NN = 0
		if len(p.oob) <= len(d.OOB) { // never half a control message
			d.NN = copy(d.OOB, p.oob)
		}
		d.Flags, d.Addr = 0, p.addr
		*p = packet{}
		c.next++
	}
	return k, nil
}
