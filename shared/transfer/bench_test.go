package transfer_test

// Benchmarks of the file-transfer engine: agent -> customer over a real
// direct peer link on loopback (testpeer.LinkPair), each side with its own
// database and downloads folder. They report numbers only; `make bench`
// (shared/dev/internal/benchcmd) compares the engine with plain quic-go and the
// targets, with a 1 GiB file, the relayed path, memory, dedup and resume.
//
//	go test ./transfer -run '^$' -bench . -benchtime 3x
//
// Each operation is a first-time send: the source's modification time
// changes before it, so the sender does not know the hash and hashes while
// it streams, and the receiver cannot take the file from a copy it has.

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/internal/benchkit"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/testpeer"
	"github.com/porthole-dev/porthole/shared/transfer"
)

type benchPair struct {
	snd, rcv *benchkit.Side
	session  string
}

func newBenchPair(b *testing.B) *benchPair {
	b.Helper()
	dir := b.TempDir()
	snd, err := benchkit.NewSide(benchkit.SideOptions{Name: "alice", Role: pb.Role_ROLE_AGENT, Dir: filepath.Join(dir, "agent")})
	if err != nil {
		b.Fatal(err)
	}
	rcv, err := benchkit.NewSide(benchkit.SideOptions{Name: "bob", Role: pb.Role_ROLE_CUSTOMER, Dir: filepath.Join(dir, "customer"), Accept: transfer.AcceptAny})
	if err != nil {
		snd.Close()
		b.Fatal(err)
	}
	b.Cleanup(func() { snd.Close(); rcv.Close() })
	la, lc := testpeer.LinkPair(b, "alice", "bob")
	p := &benchPair{snd: snd, rcv: rcv, session: benchkit.NewSessionID()}
	snd.Attach(p.session, la)
	rcv.Attach(p.session, lc)
	return p
}

// send sends path and waits until the sender has heard every file arrived.
func (p *benchPair) send(b *testing.B, path string) {
	ids, _, err := p.snd.SendAll(p.session, path)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := p.snd.WaitDone(ctx, ids); err != nil {
		b.Fatal(err)
	}
}

// touch gives the files new modification times: the sender no longer knows
// their hashes.
func touch(b *testing.B, paths ...string) {
	now := time.Now()
	for _, p := range paths {
		now = now.Add(time.Millisecond)
		if err := os.Chtimes(p, now, now); err != nil {
			b.Fatal(err)
		}
	}
}

// emptyFolder waits until the sender has hashed what it sent (not timed:
// it comes after the receiver has the file), then deletes what the
// receiver received in the session.
func (p *benchPair) emptyFolder(b *testing.B) {
	if err := p.snd.Engine.Settle(b.Context()); err != nil {
		b.Fatal(err)
	}
	f := p.rcv.Engine.SessionFolder(p.session)
	if f == "" {
		return
	}
	entries, _ := os.ReadDir(f)
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(f, e.Name())); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendFile sends one 64 MiB file.
func BenchmarkSendFile(b *testing.B) {
	const size = 64 << 20
	p := newBenchPair(b)
	src := filepath.Join(b.TempDir(), "file.bin")
	if err := benchkit.WriteRandomFile(src, size); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		p.emptyFolder(b) // first: it waits for the hashing of the last send
		touch(b, src)
		b.StartTimer()
		p.send(b, src)
	}
}

// BenchmarkSendSmallFiles sends a folder of 200 files of 4 KiB as a tree.
func BenchmarkSendSmallFiles(b *testing.B) {
	const n, size = 200, 4 << 10
	p := newBenchPair(b)
	src := filepath.Join(b.TempDir(), "tree")
	paths, err := benchkit.WriteTree(src, n, size, true)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(n * size)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		p.emptyFolder(b)
		touch(b, paths...)
		b.StartTimer()
		p.send(b, src)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "files/s")
}
