package benchkit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// PlainPair is the baseline: a plain quic-go connection on loopback
// (quic.ListenAddr and quic.DialAddr, each on its own socket) with exactly
// peer.PeerQUICConfig's settings, flow-control windows included.
type PlainPair struct {
	ln             *quic.Listener
	Client, Server *quic.Conn
}

const plainALPN = "porthole-bench-plain"

// NewPlainPair connects a plain quic-go client to a plain quic-go server.
func NewPlainPair(ctx context.Context) (*PlainPair, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"bench"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return nil, err
	}
	cfg := peer.PeerQUICConfig
	ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: priv}},
		NextProtos:   []string{plainALPN}, MinVersion: tls.VersionTLS13,
	}, &cfg)
	if err != nil {
		return nil, err
	}
	p := &PlainPair{ln: ln}
	accepted := make(chan *quic.Conn, 1)
	go func() {
		c, err := ln.Accept(ctx)
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	ccfg := peer.PeerQUICConfig
	p.Client, err = quic.DialAddr(ctx, ln.Addr().String(), &tls.Config{
		InsecureSkipVerify: true, ServerName: "bench", NextProtos: []string{plainALPN}, MinVersion: tls.VersionTLS13,
	}, &ccfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	var ok bool
	if p.Server, ok = <-accepted; !ok {
		p.Client.CloseWithError(0, "")
		ln.Close()
		return nil, errors.New("plain quic: accept failed")
	}
	return p, nil
}

// Close closes both connections and the listener.
func (p *PlainPair) Close() {
	p.Client.CloseWithError(0, "")
	p.Server.CloseWithError(0, "")
	p.ln.Close()
}

// BulkResult is one bulk transfer.
type BulkResult struct {
	Bytes   int64
	Elapsed time.Duration // from opening the stream until the receiver read EOF
	// Sender-side QUIC counters over the transfer.
	PacketsSent, PacketsLost, BytesSent uint64
}

// MBps is the goodput in 10^6 bytes per second.
func (r BulkResult) MBps() float64 { return float64(r.Bytes) / r.Elapsed.Seconds() / 1e6 }

// LossPct is the share of sent packets the sender declared lost.
func (r BulkResult) LossPct() float64 {
	if r.PacketsSent == 0 {
		return 0
	}
	return 100 * float64(r.PacketsLost) / float64(r.PacketsSent)
}

// AvgPacket is the average QUIC packet size the sender used.
func (r BulkResult) AvgPacket() float64 {
	if r.PacketsSent == 0 {
		return 0
	}
	return float64(r.BytesSent) / float64(r.PacketsSent)
}

// Bulk sends n bytes on a new stream of from and reads them on to, which
// must not have anybody else accepting streams.
func Bulk(ctx context.Context, from, to *quic.Conn, n int64) (BulkResult, error) {
	type result struct {
		got int64
		end time.Time
		err error
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	done := make(chan result, 1)
	go func() {
		str, err := to.AcceptStream(ctx)
		if err != nil {
			done <- result{err: err}
			return
		}
		got, err := io.CopyBuffer(io.Discard, str, make([]byte, 256<<10))
		done <- result{got, time.Now(), err}
	}()
	before := from.ConnectionStats()
	start := time.Now()
	str, err := from.OpenStreamSync(ctx)
	if err != nil {
		return BulkResult{}, err
	}
	buf := make([]byte, 1<<20)
	for left := n; left > 0; {
		chunk := buf[:min(int64(len(buf)), left)]
		w, err := str.Write(chunk)
		if err != nil {
			str.CancelWrite(0)
			return BulkResult{}, fmt.Errorf("bulk write: %w", err)
		}
		left -= int64(w)
	}
	if err := str.Close(); err != nil {
		return BulkResult{}, err
	}
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		return BulkResult{}, ctx.Err()
	}
	if r.err != nil {
		return BulkResult{}, fmt.Errorf("bulk read: %w", r.err)
	}
	if r.got != n {
		return BulkResult{}, fmt.Errorf("bulk: received %d of %d bytes", r.got, n)
	}
	after := from.ConnectionStats()
	return BulkResult{
		Bytes: n, Elapsed: r.end.Sub(start),
		PacketsSent: after.PacketsSent - before.PacketsSent,
		PacketsLost: after.PacketsLost - before.PacketsLost,
		BytesSent:   after.BytesSent - before.BytesSent,
	}, nil
}

// ChatRTT sends n chat messages from one side of a link to the other; the
// other side acknowledges each one, as the chat does. It returns the round
// trip of each (send until the ack is read). Nobody else may read from
// either link meanwhile.
func ChatRTT(ctx context.Context, from, to *peer.Link, n int) ([]time.Duration, error) {
	echoErr := make(chan error, 1)
	go func() {
		for i := 0; i < n; {
			m, err := to.Recv()
			if err != nil {
				echoErr <- err
				return
			}
			if c := m.GetChat(); c != nil {
				if err := to.Send(&pb.PeerMsg{Body: &pb.PeerMsg_ChatAck{ChatAck: &pb.ChatAck{Id: c.Id}}}); err != nil {
					echoErr <- err
					return
				}
				i++
			}
		}
		echoErr <- nil
	}()
	out := make([]time.Duration, 0, n)
	for i := range n {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		id := fmt.Sprintf("rtt%021d", i)
		start := time.Now()
		err := from.Send(&pb.PeerMsg{Body: &pb.PeerMsg_Chat{Chat: &pb.Chat{
			Id: id, From: "bench", FromRole: pb.Role_ROLE_AGENT, Text: "ping " + id, AtUnixMs: start.UnixMilli(),
		}}})
		if err != nil {
			return out, err
		}
		for {
			m, err := from.Recv()
			if err != nil {
				return out, err
			}
			if a := m.GetChatAck(); a != nil && a.Id == id {
				break
			}
		}
		out = append(out, time.Since(start))
	}
	return out, <-echoErr
}

// Summary is a distribution of durations.
type Summary struct {
	N                       int
	Min, P50, P90, P99, Max time.Duration
	Mean                    time.Duration
}

// Summarize computes nearest-rank percentiles.
func Summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	pct := func(p float64) time.Duration {
		i := int(math.Ceil(p/100*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return Summary{N: len(s), Min: s[0], P50: pct(50), P90: pct(90), P99: pct(99), Max: s[len(s)-1], Mean: sum / time.Duration(len(s))}
}

// Ms formats a duration in milliseconds.
func Ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
