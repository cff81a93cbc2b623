package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/quic-go/quic-go"
	bolt "go.etcd.io/bbolt"
)

// Sending a file's bytes: the stream, its progress, and what happens when
// it is stopped or cut.

// push sends a file's bytes from offset on a stream of its own, then the
// check the receiver asked for; the receiver's FileDone finishes it.
//
// A receiver that asks for a CRC-32C hashes the file with SHA-256 itself,
// and the sender does not hash a big file on its way out: the two hashes
// were most of the processor time a transfer adds to its connection, and
// a connection's two ends often share a machine's cores. hashBehind hashes
// it once it arrived. A small file costs less to hash now than to read
// again later.
func (e *Engine) push(m *mover, l *peer.Link, t *Transfer, offset int64, check pb.FileCheck) {
	ctx := m.ctx
	select {
	case e.sem <- struct{}{}:
		defer func() { <-e.sem }()
	case <-ctx.Done():
		e.stopped(t, m)
		return
	}
	f, err := os.Open(t.Source)
	if err != nil {
		e.sendFail(l, t, "cannot read the file: "+plainErr(err))
		return
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || info.Size() != t.Size || !info.ModTime().Equal(t.ModTime) {
		e.sendFail(l, t, "the file changed after it was offered; send it again")
		return
	}
	var sum []byte
	var h hash.Hash     // SHA-256, when this side does not know it yet and hashes it now
	var crc hash.Hash32 // CRC-32C, when the receiver asked for it
	var sums []io.Writer
	e.mu.Lock()
	known := t.SHA256
	e.mu.Unlock()
	if known != "" {
		sum, _ = hex.DecodeString(known)
	}
	if check == pb.FileCheck_FILE_CHECK_CRC32C {
		crc = crc32.New(castagnoli)
		sums = append(sums, crc)
	} else {
		check = pb.FileCheck_FILE_CHECK_SHA256 // what every receiver knows
	}
	if known == "" && (check == pb.FileCheck_FILE_CHECK_SHA256 || t.Size < HashAheadMin) {
		h = sha256.New()
		sums = append(sums, h)
	}
	if offset > 0 && len(sums) > 0 { // the bytes already there count too
		if _, err := io.Copy(io.MultiWriter(sums...), io.NewSectionReader(f, 0, offset)); err != nil {
			e.sendFail(l, t, "cannot read the file: "+plainErr(err))
			return
		}
	}
	str, err := l.Conn.OpenStreamSync(ctx)
	if err != nil {
		e.cutOff(t, m)
		return
	}
	if hookPush != nil {
		hookPush(t.ID, offset)
	}
	stop := context.AfterFunc(ctx, func() { str.CancelWrite(stopCode(m)) })
	defer stop()
	err = protocol.WriteHeader(str, protocol.StreamFile)
	if err == nil {
		err = protocol.WriteFrame(str, &pb.FileStreamHead{Id: t.ID, Offset: uint64(offset), Check: check}, protocol.MaxControlFrame)
	}
	if err == nil {
		var src io.Reader = io.NewSectionReader(f, offset, t.Size-offset)
		if len(sums) > 0 {
			src = io.TeeReader(src, io.MultiWriter(sums...))
		}
		err = e.copyCounting(str, src, t, offset)
	}
	if err == nil {
		if h != nil {
			sum = h.Sum(nil)
			e.mu.Lock()
			t.SHA256 = hex.EncodeToString(sum)
			e.mu.Unlock()
		}
		if crc != nil {
			_, err = str.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32()))
		} else {
			_, err = str.Write(sum)
		}
	}
	if err == nil {
		err = str.Close()
	}
	if err != nil {
		var se *quic.StreamError
		switch {
		case ctx.Err() != nil:
			e.stopped(t, m)
		case errors.As(err, &se) && se.Remote && se.ErrorCode == codeStopped:
			// The receiver stopped it; its FileCancel says so too.
			e.finish(t, Cancelled, "stopped by the receiver")
		case errors.As(err, &se) && se.Remote && se.ErrorCode == codeFailed:
			// The receiver failed; its FileDone says why.
		default:
			e.cutOff(t, m)
		}
		return
	}
	// All sent: the receiver's FileDone finishes it (onDone).
}

// copyCounting copies the file's bytes to the stream, reporting progress.
// Reading (and hashing, when src hashes) overlaps with writing: a writer
// goroutine takes the chunks read. A write error comes back as it is (the
// receiver's stream codes matter to the caller).
func (e *Engine) copyCounting(dst io.Writer, src io.Reader, t *Transfer, offset int64) error {
	if t.Size-offset <= 256<<10 { // one chunk: nothing to overlap
		b, err := io.ReadAll(src)
		if err != nil {
			return fmt.Errorf("reading the file: %w", err)
		}
		_, err = dst.Write(b)
		return err
	}
	type chunk struct {
		b []byte
		n int
	}
	free, work := make(chan []byte, 3), make(chan chunk, 3)
	for range 3 {
		free <- make([]byte, 256<<10)
	}
	var (
		writeErr error
		failed   atomic.Bool
		writer   sync.WaitGroup
	)
	writer.Add(1)
	go func() {
		defer writer.Done()
		p := newProgress(offset)
		sent := offset
		for c := range work {
			if writeErr == nil {
				if _, err := dst.Write(c.b[:c.n]); err != nil {
					writeErr = err
					failed.Store(true)
				} else {
					sent += int64(c.n)
					if p.due(sent) {
						e.progress(t, sent, p)
					}
				}
			}
			free <- c.b
		}
	}()
	var readErr error
	for !failed.Load() {
		b := <-free
		n, err := src.Read(b)
		if n > 0 {
			work <- chunk{b, n}
		} else {
			free <- b
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = fmt.Errorf("reading the file: %w", err)
			break
		}
	}
	close(work)
	writer.Wait()
	if writeErr != nil {
		return writeErr
	}
	return readErr
}

// progress records and reports bytes moved.
func (e *Engine) progress(t *Transfer, done int64, p *progress) {
	e.mu.Lock()
	if t.State.Final() {
		e.mu.Unlock()
		return
	}
	t.Done = done
	snap := *t
	e.mu.Unlock()
	rate := p.rate()
	var left time.Duration
	if rate > 0 {
		left = time.Duration(float64(snap.Size-done) / rate * float64(time.Second))
	}
	e.cfg.Events(Event{Kind: EventProgress, Transfer: snap, Rate: rate, Left: left})
}

// sendFail fails a file this side sends and tells the receiver.
func (e *Engine) sendFail(l *peer.Link, t *Transfer, why string) {
	l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileCancel{FileCancel: &pb.FileCancel{Id: t.ID, Why: why}}})
	e.finish(t, Failed, why)
}

// stopped finishes a transfer whose mover was stopped: by a person
// (cancelled), for a newer connection (nothing to do), or because the
// engine is closing (it waits for a restart).
func (e *Engine) stopped(t *Transfer, m *mover) {
	cause := context.Cause(m.ctx)
	switch {
	case errors.Is(cause, errSuperseded):
	case errors.Is(cause, errStopped) || e.ctx.Err() != nil:
		e.wait(t, m)
	default:
		why := "stopped"
		if cause != nil && cause != context.Canceled && cause.Error() != "" {
			why = cause.Error()
		}
		e.finish(t, Cancelled, why)
	}
}

// cutOff: the link went down with bytes moving; the file waits for the
// next link (unless its mover was stopped meanwhile).
func (e *Engine) cutOff(t *Transfer, m *mover) {
	if m.ctx.Err() != nil {
		e.stopped(t, m)
		return
	}
	e.wait(t, m)
}

// wait records that t waits for the next link; a superseded mover leaves
// t alone.
func (e *Engine) wait(t *Transfer, m *mover) {
	e.mu.Lock()
	if e.movers[t.ID] != m || t.State.Final() {
		e.mu.Unlock()
		return
	}
	delete(e.movers, t.ID)
	t.State = Waiting
	snap := *t
	e.mu.Unlock()
	e.commit.do(func(tx *bolt.Tx) error { return putTransfer(tx, &snap) })
	e.cfg.Events(Event{Kind: EventProgress, Transfer: snap})
}

// progress paces progress reports and measures the rate.
type progress struct {
	start     time.Time
	startDone int64
	last      time.Time
	lastDone  int64
}

func newProgress(done int64) *progress {
	now := time.Now()
	return &progress{start: now, startDone: done, last: now}
}

// ProgressEvery is the interval between progress reports of one file.
var ProgressEvery = 250 * time.Millisecond

func (p *progress) due(done int64) bool {
	now := time.Now()
	if now.Sub(p.last) < ProgressEvery {
		return false
	}
	p.last = now
	p.lastDone = done
	return true
}

func (p *progress) rate() float64 {
	secs := time.Since(p.start).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(p.lastDone-p.startDone) / secs
}
