package transfer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"errors"
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

// Receiving a file's bytes: the stream, its checks, the checkpoints, and
// what happens when it is cut.

// receive takes a stream the other side opened: a file's bytes.
func (e *Engine) receive(session string, l *peer.Link, str *quic.Stream, r *bufio.Reader) {
	str.Close() // nothing goes back on it
	str.SetReadDeadline(time.Now().Add(10 * time.Second))
	var head pb.FileStreamHead
	if err := protocol.ReadFrame(r, &head, 1024); err != nil {
		str.CancelRead(codeRejected)
		return
	}
	str.SetReadDeadline(time.Time{})
	e.mu.Lock()
	t := e.live[head.Id]
	var m *mover
	if t != nil && t.Dir == In && t.Session == session &&
		(t.State == Accepted || t.State == Waiting) && int64(head.Offset) == t.Done {
		m = e.startMover(t, l)
	}
	if m != nil {
		t.State = Sending
	}
	e.mu.Unlock()
	if m == nil {
		str.CancelRead(codeRejected)
		return
	}
	defer close(m.done)
	defer e.endMover(t, m)
	stop := context.AfterFunc(m.ctx, func() { str.CancelRead(stopCode(m)) })
	defer stop()
	e.take(m, l, t, str, r, int64(head.Offset), head.Check)
}

// take writes a file's bytes into its partial file, checks them, and puts
// the file in place.
func (e *Engine) take(m *mover, l *peer.Link, t *Transfer, str *quic.Stream, r io.Reader, offset int64, check pb.FileCheck) {
	var f *os.File
	fail := func(why string) {
		str.CancelRead(codeFailed) // the sender stops; FileDone says why
		l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileDone{FileDone: &pb.FileDone{Id: t.ID, Why: why}}})
		if f != nil {
			f.Close() // before removing it: Windows keeps open files
		}
		e.removePartial(t)
		e.finish(t, Failed, why)
	}
	root, err := os.OpenRoot(t.Folder)
	if err != nil {
		fail("the receiver cannot open its download folder: " + plainErr(err))
		return
	}
	defer root.Close()
	flags := os.O_RDWR | os.O_CREATE
	if offset == 0 {
		flags |= os.O_TRUNC // one call for what a resumed file needs two
	}
	f, err = root.OpenFile(PartialName(t.ID), flags, 0o600)
	if err != nil {
		f = nil
		fail("the receiver cannot write the file: " + plainErr(err))
		return
	}
	defer f.Close()
	var trailer []byte // the check that ends the stream
	switch check {
	case pb.FileCheck_FILE_CHECK_SHA256:
		trailer = make([]byte, sha256.Size)
	case pb.FileCheck_FILE_CHECK_CRC32C:
		trailer = make([]byte, 4)
	default:
		fail("the sender's version of Porthole checks files in a way this one does not know; update Porthole")
		return
	}
	h := sha256.New()
	// The CRC-32C of a resumed file is taken when it is read back whole.
	var crc hash.Hash32
	if check == pb.FileCheck_FILE_CHECK_CRC32C && offset == 0 {
		crc = crc32.New(castagnoli)
	}
	if offset > 0 {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(t.HashState); err != nil {
			fail("the receiver lost track of the part it had; send the file again")
			return
		}
		if err := f.Truncate(offset); err != nil {
			fail("the receiver cannot write the file: " + plainErr(err))
			return
		}
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			fail("the receiver cannot write the file: " + plainErr(err))
			return
		}
	}
	if err := reserve(f, offset, t.Size-offset); err != nil {
		fail("the receiver cannot write the file: " + plainErr(err))
		return
	}

	p := newProgress(offset)
	e.cfg.Events(Event{Kind: EventProgress, Transfer: e.setState(t, Sending)})
	// Reading the stream and writing plus hashing overlap: a writer
	// goroutine takes the chunks the reader fills.
	type chunk struct {
		b []byte
		n int
	}
	// A small file gets one buffer its size: many small files must not
	// each allocate the big ones.
	nbuf, size := 4, int64(256<<10)
	if left := t.Size - offset; left <= size {
		nbuf, size = 1, max(left, 1)
	}
	free, work := make(chan []byte, nbuf), make(chan chunk, nbuf)
	for range nbuf {
		free <- make([]byte, size)
	}
	var (
		written   = offset // bytes written and hashed (the writer's; read after it ends)
		writeErr  error
		writeFail atomic.Bool
		writer    sync.WaitGroup
	)
	writer.Add(1)
	go func() {
		defer writer.Done()
		wb := newWriteback(f, offset)
		defer wb.stop()
		mark := offset
		for c := range work {
			if writeErr == nil {
				if _, err := f.Write(c.b[:c.n]); err != nil {
					writeErr = err
					writeFail.Store(true)
				} else {
					h.Write(c.b[:c.n])
					if crc != nil {
						crc.Write(c.b[:c.n])
					}
					written += int64(c.n)
					if hookReceived != nil {
						hookReceived(t.ID, written)
					}
					if written-mark >= CheckpointEvery {
						wb.upTo(written)
						mark = written
						e.checkpoint(t, written, h, false)
					}
					if p.due(written) {
						e.progress(t, written, p)
					}
				}
			}
			free <- c.b
		}
	}()
	done := offset
	var sniffed bool
	var headBytes []byte
	var readErr error
	var refused string
	for done < t.Size && !writeFail.Load() {
		b := <-free
		n, err := r.Read(b[:min(int64(len(b)), t.Size-done)])
		if n > 0 && !sniffed {
			headBytes = append(headBytes, b[:min(n, 512-len(headBytes))]...)
			if len(headBytes) == 512 || done+int64(n) == t.Size || offset > 0 {
				sniffed = true
				refused = e.checkContent(t, headBytes, offset)
			}
		}
		if refused != "" {
			free <- b
			break
		}
		if n > 0 {
			done += int64(n)
			work <- chunk{b, n}
		} else {
			free <- b
		}
		if err != nil {
			if done < t.Size {
				readErr = err
			}
			break
		}
	}
	close(work)
	writer.Wait()
	switch {
	case writeErr != nil:
		fail("the receiver could not write the file: " + plainErr(writeErr))
		return
	case refused != "":
		fail(refused)
		return
	case readErr != nil:
		e.cut(m, t, f, written, h, readErr)
		return
	}
	if _, err := io.ReadFull(r, trailer); err != nil {
		e.cut(m, t, f, done, h, err)
		return
	}
	if n, _ := r.Read(make([]byte, 1)); n > 0 {
		fail("the sender sent more bytes than it offered")
		return
	}
	sum := h.Sum(nil)
	// The hash so far covered what an earlier run wrote, not what is on the
	// disk now: a resumed file is read back whole, so a part lost when the
	// computer stopped, or changed meanwhile, cannot pass for the file.
	if offset > 0 {
		if check == pb.FileCheck_FILE_CHECK_CRC32C {
			crc = crc32.New(castagnoli)
		}
		if ok, err := sameOnDisk(f, t.Size, sum, crc); err != nil || !ok {
			fail("the part received before the break was damaged; send the file again")
			return
		}
	}
	if !checkMatches(check, trailer, sum, crc) {
		fail("the file arrived damaged (its checksum does not match); send it again")
		return
	}
	if t.SHA256 != "" && t.SHA256 != hex.EncodeToString(sum) {
		fail("the file is not the one offered (its checksum differs from the offer)")
		return
	}
	// A resumed stream did not start with the first bytes: the content
	// check runs on what is in the file.
	if offset > 0 && e.cfg.Role == pb.Role_ROLE_AGENT {
		head := make([]byte, SniffLen)
		n, _ := f.ReadAt(head, 0)
		if why := e.checkContent(t, head[:n], 0); why != "" {
			fail(why)
			return
		}
	}
	if hookPlacing != nil {
		hookPlacing(t.ID)
	}
	if err := f.Sync(); err != nil {
		fail("the receiver could not write the file: " + plainErr(err))
		return
	}
	var mod time.Time
	if info, err := f.Stat(); err == nil {
		mod = info.ModTime() // a rename keeps it; dedup later checks the file is unchanged
	}
	f.Close()
	if err := e.place(root, t, hex.EncodeToString(sum), mod); err != nil {
		fail("the receiver could not put the file in place: " + plainErr(err))
		return
	}
	l.Send(&pb.PeerMsg{Body: &pb.PeerMsg_FileDone{FileDone: &pb.FileDone{Id: t.ID, Ok: true, Sha256: sum}}})
	e.finishPlaced(t)
}

// checkContent checks the first bytes of a customer's file against this
// side's policy (the offer's content type is the sender's word).
// sameOnDisk reports whether the first size bytes of f hash to sum. When
// crc is not nil, those bytes go through it too.
func sameOnDisk(f *os.File, size int64, sum []byte, crc hash.Hash32) (bool, error) {
	var h hash.Hash = sha256.New()
	var w io.Writer = h
	if crc != nil {
		w = io.MultiWriter(h, crc)
	}
	if _, err := io.CopyBuffer(w, io.NewSectionReader(f, 0, size), make([]byte, 1<<20)); err != nil {
		return false, err
	}
	return bytes.Equal(h.Sum(nil), sum), nil
}

// castagnoli is CRC-32C's table: the hardware computes it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkMatches reports whether the trailer a sender ended a file stream
// with is the check of the file received: its SHA-256 sum, or the CRC-32C
// in crc.
func checkMatches(check pb.FileCheck, trailer, sum []byte, crc hash.Hash32) bool {
	if check == pb.FileCheck_FILE_CHECK_CRC32C {
		return binary.BigEndian.Uint32(trailer) == crc.Sum32()
	}
	return bytes.Equal(trailer, sum)
}

func (e *Engine) checkContent(t *Transfer, head []byte, offset int64) string {
	e.mu.Lock()
	p, fromCustomer := e.policy, e.cfg.Role == pb.Role_ROLE_AGENT
	e.mu.Unlock()
	if !fromCustomer || offset > 0 {
		return ""
	}
	ct := DetectType(t.Name, head)
	if err := p.Check(t.Name, t.Size, ct, 0); err != nil {
		return "not allowed: " + notAllowedWhat(err)
	}
	e.mu.Lock()
	t.ContentType = ct
	e.mu.Unlock()
	return ""
}

// checkpoint records how far a file got (the bytes before done are in the
// partial file, h has hashed them).
func (e *Engine) checkpoint(t *Transfer, done int64, h hash.Hash, wait bool) {
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return
	}
	e.mu.Lock()
	if t.State.Final() { // finished meanwhile (a copy here, say): its record stays
		e.mu.Unlock()
		return
	}
	t.Done, t.HashState = done, state
	snap := *t
	e.mu.Unlock()
	put := func(tx *bolt.Tx) error { return putTransfer(tx, &snap) }
	if wait {
		e.commit.do(put)
	} else {
		e.commit.async(put, nil)
	}
}

// cut: the stream ended early. Stopped by a person: the partial file goes;
// the link went down, a newer link took over or the engine is closing: the
// file waits, from exactly here.
func (e *Engine) cut(m *mover, t *Transfer, f *os.File, done int64, h hash.Hash, err error) {
	var se *quic.StreamError
	cause := context.Cause(m.ctx)
	switch {
	case m.ctx.Err() != nil && !errors.Is(cause, errSuperseded) && !errors.Is(cause, errStopped) && e.ctx.Err() == nil:
		why := "stopped"
		if cause != nil && cause != context.Canceled {
			why = cause.Error()
		}
		f.Close()
		e.removePartial(t)
		e.finish(t, Cancelled, why)
	case m.ctx.Err() == nil && errors.As(err, &se) && se.Remote && se.ErrorCode == codeStopped:
		f.Close()
		e.removePartial(t)
		e.finish(t, Cancelled, "stopped by the sender")
	default:
		// The blocks set aside past what arrived go back to the disk while
		// the file waits, perhaps for days; resuming sets them aside again.
		f.Truncate(done)
		e.checkpoint(t, done, h, true)
		e.mu.Lock()
		superseded := errors.Is(cause, errSuperseded)
		if superseded && !t.State.Final() {
			t.State = Waiting // the newer link's answer continues it
			delete(e.movers, t.ID)
		}
		e.mu.Unlock()
		if !superseded {
			e.wait(t, m)
		}
	}
}
