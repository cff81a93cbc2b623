package screenbench

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Proxy forwards each connection made to its loopback listener to a
// target and counts the bytes both ways. It reads what the client sends
// as an RFB (VNC) viewer's messages and counts its framebuffer update
// requests: a viewer asks for the next update once it has the last one,
// so the requests tell how many updates it got, and when the first whole
// picture has arrived.
type Proxy struct {
	ln     net.Listener
	target string
	down   atomic.Int64 // target → client
	up     atomic.Int64 // client → target
	wg     sync.WaitGroup

	mu      sync.Mutex
	st      Stats
	conns   map[net.Conn]struct{}
	closed  bool
	changed chan struct{} // closed (and replaced) when the request counts change
}

// Stats are a Proxy's counts so far.
type Stats struct {
	Down, Up int64 // bytes target → client and client → target
	Conns    int   // connections accepted
	// The viewer's framebuffer update requests: incremental ones (the next
	// update), full ones (the whole picture again), and the incremental
	// ones since the last full one.
	Requests, Full, AfterFull int64
	// Lost: the client's bytes could not be followed as RFB messages (an
	// unknown message or security type); the request counts stopped there.
	Lost bool
}

// NewProxy listens on a free loopback port and forwards to target
// (host:port).
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}, changed: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the listener's address.
func (p *Proxy) Addr() *net.TCPAddr { return p.ln.Addr().(*net.TCPAddr) }

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	st := p.st
	p.mu.Unlock()
	st.Down, st.Up = p.down.Load(), p.up.Load()
	return st
}

// WaitSettled waits until the viewer has had a whole picture: an
// incremental request has come after the last full one.
func (p *Proxy) WaitSettled(ctx context.Context) error {
	for {
		p.mu.Lock()
		st, ch := p.st, p.changed
		p.mu.Unlock()
		switch {
		case st.AfterFull > 0:
			return nil
		case st.Lost:
			return errors.New("the viewer's messages could not be followed")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Close stops listening, ends the connections and waits for them.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	defer client.Close()
	if !p.track(client) {
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	if !p.track(server) {
		return
	}
	p.mu.Lock()
	p.st.Conns++
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(countWriter{client, &p.down}, server)
		client.Close()
	}()
	rfb := rfbClient{onRequest: p.request, onLost: p.lost}
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			p.up.Add(int64(n))
			rfb.feed(buf[:n])
			if _, werr := server.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	server.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

func (p *Proxy) request(incremental bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if incremental {
		p.st.Requests++
		p.st.AfterFull++
	} else {
		p.st.Full++
		p.st.AfterFull = 0
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Proxy) lost() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.Lost = true
	close(p.changed)
	p.changed = make(chan struct{})
}

type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// rfbClient follows the bytes an RFB 3.7 or 3.8 viewer sends (RFC 6143,
// and the extensions TigerVNC's viewer uses): the handshake with security
// None or VNC authentication, then the messages, whole or split anyhow
// across feeds.
type rfbClient struct {
	buf       []byte
	state     int // rfbVersion ... rfbMessages, or rfbLost
	onRequest func(incremental bool)
	onLost    func()
}

const (
	rfbVersion = iota
	rfbSecurity
	rfbAuth
	rfbInit
	rfbMessages
	rfbLost
)

func (r *rfbClient) feed(b []byte) {
	if r.state == rfbLost {
		return
	}
	r.buf = append(r.buf, b...)
	for {
		n := r.next()
		if n == 0 || n > len(r.buf) {
			return // more to come
		}
		if n < 0 || !r.consume(r.buf[:n]) {
			r.state, r.buf = rfbLost, nil
			if r.onLost != nil {
				r.onLost()
			}
			return
		}
		r.buf = r.buf[n:]
	}
}

// next is the length of the next whole unit in r.buf: 0 when more bytes
// are needed to tell, -1 when it is not one the bench knows.
func (r *rfbClient) next() int {
	b := r.buf
	if len(b) == 0 {
		return 0
	}
	switch r.state {
	case rfbVersion:
		return 12
	case rfbSecurity:
		return 1
	case rfbAuth:
		return 16
	case rfbInit:
		return 1
	}
	need := func(n int) bool { return len(b) >= n }
	switch b[0] {
	case 0: // SetPixelFormat
		return 20
	case 2: // SetEncodings
		if !need(4) {
			return 0
		}
		return 4 + 4*int(binary.BigEndian.Uint16(b[2:]))
	case 3: // FramebufferUpdateRequest
		return 10
	case 4: // KeyEvent
		return 8
	case 5: // PointerEvent
		return 6
	case 6: // ClientCutText (a negative length: the extended clipboard's)
		if !need(8) {
			return 0
		}
		l := int32(binary.BigEndian.Uint32(b[4:]))
		if l < 0 {
			l = -l
		}
		if l > 1<<24 {
			return -1
		}
		return 8 + int(l)
	case 150: // EnableContinuousUpdates
		return 10
	case 248: // Fence
		if !need(9) {
			return 0
		}
		return 9 + int(b[8])
	case 251: // SetDesktopSize
		if !need(7) {
			return 0
		}
		return 8 + 16*int(b[6])
	case 250: // xvp
		return 4
	}
	return -1
}

// consume takes one whole unit; false: not one the bench can follow.
func (r *rfbClient) consume(b []byte) bool {
	switch r.state {
	case rfbVersion:
		// "RFB 003.008\n": 3.7 and later choose the security type.
		if string(b[:7]) != "RFB 003" || b[11] != '\n' || string(b[7:10]) != ".00" || b[10] < '7' {
			return false
		}
		r.state = rfbSecurity
	case rfbSecurity:
		switch b[0] {
		case 1: // None
			r.state = rfbInit
		case 2: // VNC authentication: a 16-byte response
			r.state = rfbAuth
		default:
			return false
		}
	case rfbAuth:
		r.state = rfbInit
	case rfbInit:
		r.state = rfbMessages
	case rfbMessages:
		if b[0] == 3 && r.onRequest != nil {
			r.onRequest(b[1] != 0)
		}
	}
	return true
}
