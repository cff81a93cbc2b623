package screenbench

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// A viewer's bytes: the 3.8 handshake with security None, the messages
// TigerVNC's viewer sends first, a full request and two incremental ones.
func viewerBytes() []byte {
	var b []byte
	b = append(b, "RFB 003.008\n"...)
	b = append(b, 1)                                       // security None
	b = append(b, 1)                                       // ClientInit: shared
	b = append(b, make([]byte, 20)...)                     // SetPixelFormat
	b = append(b, 2, 0, 0, 3)                              // SetEncodings, 3 of them
	b = append(b, make([]byte, 12)...)                     //
	b = append(b, 3, 0, 0, 0, 0, 0, 7, 128, 4, 56)         // FramebufferUpdateRequest, full
	b = append(b, 6, 0, 0, 0, 0xff, 0xff, 0xff, 0xfc)      // ClientCutText, extended: 4 bytes
	b = append(b, 0, 0, 0, 1)                              //
	b = append(b, 248, 0, 0, 0, 0, 0, 0, 0, 2, 0xaa, 0xbb) // Fence, 2 bytes
	b = append(b, 3, 1, 0, 0, 0, 0, 7, 128, 4, 56)         // incremental
	b = append(b, 5, 0, 0, 10, 0, 20)                      // PointerEvent
	b = append(b, 3, 1, 0, 0, 0, 0, 7, 128, 4, 56)         // incremental
	return b
}

func TestRFBClientSplitAnyhow(t *testing.T) {
	all := viewerBytes()
	for _, size := range []int{1, 2, 3, 7, 64, len(all)} {
		var inc, full int
		r := rfbClient{onRequest: func(i bool) {
			if i {
				inc++
			} else {
				full++
			}
		}, onLost: func() { t.Errorf("size %d: lost", size) }}
		for b := all; len(b) > 0; {
			n := min(size, len(b))
			r.feed(b[:n])
			b = b[n:]
		}
		if inc != 2 || full != 1 || r.state != rfbMessages || len(r.buf) != 0 {
			t.Errorf("size %d: %d incremental, %d full, state %d, %d left", size, inc, full, r.state, len(r.buf))
		}
	}
}

func TestRFBClientLost(t *testing.T) {
	for name, b := range map[string][]byte{
		"unknown message":   append(viewerBytes(), 99, 0, 0, 0),
		"version 3.3":       []byte("RFB 003.003\n"),
		"security VeNCrypt": append([]byte("RFB 003.008\n"), 19),
	} {
		lost := false
		r := rfbClient{onLost: func() { lost = true }}
		r.feed(b)
		r.feed([]byte{3, 1, 0, 0, 0, 0, 0, 1, 0, 1}) // ignored once lost
		if !lost || r.state != rfbLost {
			t.Errorf("%s: not lost", name)
		}
	}
}

// The proxy counts what goes each way and sees when the viewer has its
// first whole picture.
func TestProxyCounts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	down := bytes.Repeat([]byte("picture "), 40000)
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := c.Write(down); err != nil {
			return
		}
		b, _ := io.ReadAll(c)
		got <- b
	}()
	p, err := NewProxy(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := net.DialTCP("tcp", nil, p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	up := viewerBytes()
	if _, err := c.Write(up); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitSettled(ctx); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, len(down))
	if _, err := io.ReadFull(c, b); err != nil || !bytes.Equal(b, down) {
		t.Fatalf("the client read %v", err)
	}
	c.CloseWrite()
	if b := <-got; !bytes.Equal(b, up) {
		t.Fatalf("the server got %d bytes, want %d", len(b), len(up))
	}
	st := p.Stats()
	if st.Down != int64(len(down)) || st.Up != int64(len(up)) || st.Conns != 1 || st.Requests != 2 || st.Full != 1 || st.AfterFull != 2 || st.Lost {
		t.Errorf("stats %+v; want %d down, %d up, 1 conn, 2 incremental, 1 full", st, len(down), len(up))
	}
}
