package peer

import (
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/porthole-dev/porthole/shared/internal/udpgso"
)

// vconn is the relayed path's packet connection: the inner QUIC connection
// writes its packets here, vconn wraps each in the relay header and sends it
// to the relay from the endpoint's socket; packets the relay forwards for this
// channel are delivered to it by the endpoint. Packets are dropped when the
// queue is full, as a router would: QUIC's congestion control copes.
type vconn struct {
	e       *Endpoint
	channel uint64
	relay   *net.UDPAddr
	in      chan []byte

	mu       sync.Mutex
	deadline time.Time
	wake     chan struct{} // closed and replaced when the deadline changes
	closed   chan struct{}
	once     sync.Once
}

const vconnQueue = 2048

func newVconn(e *Endpoint, channel uint64, relay *net.UDPAddr) *vconn {
	return &vconn{e: e, channel: channel, relay: relay, in: make(chan []byte, vconnQueue), wake: make(chan struct{}), closed: make(chan struct{})}
}

func (c *vconn) deliver(p []byte) {
	select {
	case c.in <- p:
	default:
		putBuf(p)
	}
}

func (c *vconn) ReadFrom(p []byte) (int, net.Addr, error) {
	b, err := c.next()
	if err != nil {
		return 0, nil, err
	}
	n := copy(p, b)
	putBuf(b)
	return n, c.relay, nil
}

// ReadMsgUDP is ReadFrom for quic-go's OOBCapablePacketConn: there are
// no control messages on this path.
func (c *vconn) ReadMsgUDP(p, _ []byte) (n, oobn, flags int, addr *net.UDPAddr, err error) {
	n, _, err = c.ReadFrom(p)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	return n, 0, 0, c.relay, nil
}

// ReadBatch hands quic-go every queued packet at once, up to len(ms); it
// waits only for the first.
func (c *vconn) ReadBatch(ms []ipv4.Message, _ int) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	b, err := c.next()
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		m := &ms[n]
		m.N, m.NN, m.Flags, m.Addr = copy(m.Buffers[0], b), 0, 0, c.relay
		putBuf(b)
		if n++; n == len(ms) {
			return n, nil
		}
		select {
		case b = <-c.in:
		default:
			return n, nil
		}
	}
}

// next waits for a packet, until the read deadline.
func (c *vconn) next() ([]byte, error) {
	for {
		c.mu.Lock()
		dl, wake := c.deadline, c.wake
		c.mu.Unlock()
		var timer <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return nil, os.ErrDeadlineExceeded
			}
			t := time.NewTimer(d)
			defer t.Stop()
			timer = t.C
		}
		select {
		case b := <-c.in:
			return b, nil
		case <-c.closed:
			return nil, net.ErrClosed
		case <-timer:
			return nil, os.ErrDeadlineExceeded
		case <-wake:
		}
	}
}

func (c *vconn) WriteTo(p []byte, _ net.Addr) (int, error) {
	_, _, err := c.WriteMsgUDP(p, nil, nil)
	return len(p), err
}

// WriteMsgUDP sends quic-go's packets to the relay, each behind the relay
// header. quic-go hands over several packets in one buffer when the real
// socket does segmentation offload (it asks the socket through
// SyscallConn): the buffer is cut every size bytes, as the kernel would,
// and sent again in one call with each piece behind its header.
func (c *vconn) WriteMsgUDP(p, oob []byte, _ *net.UDPAddr) (int, int, error) {
	select {
	case <-c.closed:
		return 0, 0, net.ErrClosed
	default:
	}
	w := writePool.Get().(*writeBufs)
	defer writePool.Put(w)
	size := udpgso.SegmentSize(oob) // other control messages (ECN marks) do not cross the relay
	if size == 0 || size >= len(p) {
		size = len(p)
	}
	buf := w.buf[:0]
	for off := 0; off < len(p); off += size {
		buf = append(buf, packetRelayed)
		buf = appendChannel(buf, c.channel)
		buf = append(buf, p[off:min(off+size, len(p))]...)
	}
	if size == len(p) {
		// One packet goes through the endpoint's transport, as any packet
		// of Porthole's own: that also starts the transport reading the
		// socket, which is what delivers the relay's packets to vconns.
		c.e.tr.WriteTo(buf, c.relay)
		w.buf = buf
		return len(p), len(oob), nil
	}
	w.oob = udpgso.AppendSegmentSize(w.oob[:0], size+relayHeader)
	_, _, err := c.e.udp.WriteMsgUDP(buf, w.oob, c.relay)
	w.buf = buf
	if err != nil {
		// quic-go takes EIO from sendmsg to mean that the socket cannot
		// segment: it sends these packets again one by one, and no more
		// segmented buffers on this connection.
		return 0, 0, os.NewSyscallError("sendmsg", syscall.EIO)
	}
	return len(p), len(oob), nil // any other loss is QUIC's to recover, as a router's would be
}

func (c *vconn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.e.dropChannel(c.channel, c)
	})
	return nil
}

func (c *vconn) LocalAddr() net.Addr { return c.e.udp.LocalAddr() }

func (c *vconn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *vconn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	close(c.wake)
	c.wake = make(chan struct{})
	c.mu.Unlock()
	return nil
}

func (c *vconn) SetWriteDeadline(time.Time) error { return nil }

// SetReadBuffer and SetWriteBuffer tell QUIC there is no socket buffer to
// size here (the endpoint's real socket has one).
func (c *vconn) SetReadBuffer(int) error  { return nil }
func (c *vconn) SetWriteBuffer(int) error { return nil }

// SyscallConn exposes the endpoint's real socket, so that QUIC sees the
// don't-fragment bit it sets there and runs path MTU discovery on the
// relayed path too (its probes carry the relay header, so what it finds fits).
func (c *vconn) SyscallConn() (syscall.RawConn, error) { return c.e.udp.SyscallConn() }

// writeBufs are what WriteMsgUDP builds: the control message, and the
// packets behind their headers.
type writeBufs struct{ oob, buf []byte }

var writePool = sync.Pool{New: func() any { return &writeBufs{oob: make([]byte, 0, 32), buf: make([]byte, 0, 24<<10)} }}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) < 2048 {
		return
	}
	b = b[:0]
	bufPool.Put(&b)
}
