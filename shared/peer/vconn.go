package peer

import (
	"net"
	"os"
	"sync"
	"syscall"
	"time"
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
	for {
		c.mu.Lock()
		dl, wake := c.deadline, c.wake
		c.mu.Unlock()
		var timer <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			t := time.NewTimer(d)
			defer t.Stop()
			timer = t.C
		}
		select {
		case b := <-c.in:
			n := copy(p, b)
			putBuf(b)
			return n, c.relay, nil
		case <-c.closed:
			return 0, nil, net.ErrClosed
		case <-timer:
			return 0, nil, os.ErrDeadlineExceeded
		case <-wake:
		}
	}
}

func (c *vconn) WriteTo(p []byte, _ net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	buf := getBuf()
	buf = append(buf[:0], packetRelayed)
	buf = appendChannel(buf, c.channel)
	buf = append(buf, p...)
	c.e.tr.WriteTo(buf, c.relay) // a lost packet is QUIC's to recover
	putBuf(buf)
	return len(p), nil
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

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) < 2048 {
		return
	}
	b = b[:0]
	bufPool.Put(&b)
}
