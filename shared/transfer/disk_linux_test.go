package transfer

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Blocks set aside for the rest of a file leave its size alone: a resumed
// file continues from its size.
func TestReserveKeepsTheSize(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "part"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := reserve(f, 1000, 8<<20); err != nil {
		t.Fatal(err)
	}
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != 1000 {
		t.Fatalf("size %d after reserve, want 1000", info.Size())
	}
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if blocks := info.Sys().(*syscall.Stat_t).Blocks * 512; blocks < 8<<20 {
		t.Logf("only %d bytes set aside: this file system (type %#x) cannot set blocks aside", blocks, st.Type)
	}
	// A cut gives them back: the size is what arrived.
	if err := f.Truncate(1000); err != nil {
		t.Fatal(err)
	}
	info, _ = f.Stat()
	if blocks := info.Sys().(*syscall.Stat_t).Blocks * 512; blocks >= 8<<20 {
		t.Fatalf("%d bytes still set aside after the truncate", blocks)
	}
}

func TestReserveNoRoom(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "part"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = reserve(f, 0, 1<<60)
	var nr *noRoomError
	if !errors.As(err, &nr) || nr.need != 1<<60 {
		t.Fatalf("reserve of 1 EiB: %v", err)
	}
	if got := plainErr(err); got != nr.Error() {
		t.Fatalf("plainErr = %q", got)
	}
}

func TestFreeBytes(t *testing.T) {
	for _, tc := range []struct {
		avail uint64
		bsize int64
		free  int64
		ok    bool
	}{
		{10, 4096, 40960, true},
		{0, 4096, 0, true},
		{10, 0, 0, false},                // no block size
		{math.MaxUint64, 4096, 0, false}, // "unlimited"
		{math.MaxInt64 / 4096, 4096, math.MaxInt64 / 4096 * 4096, true},
		{math.MaxInt64/4096 + 1, 4096, 0, false},
	} {
		free, ok := freeBytes(tc.avail, tc.bsize)
		if free != tc.free || ok != tc.ok {
			t.Errorf("freeBytes(%d, %d) = %d, %v; want %d, %v", tc.avail, tc.bsize, free, ok, tc.free, tc.ok)
		}
	}
}
