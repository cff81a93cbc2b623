package transfer

import (
	"errors"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing a range of f to disk,
// so the sync before a received file is renamed into place finds little
// left to do. Errors do not matter: the sync still runs.
func startWriteback(f *os.File, off, n int64) {
	unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// reserveFrom is the smallest rest of a file whose blocks are set aside.
const reserveFrom = 1 << 20

// reserve makes room on the disk for the n bytes f gets from off on. A
// disk that reports less free space than that is an error at once, before
// any byte moves, rather than halfway through. For a rest of reserveFrom
// or more the file system then sets the blocks aside, which also lays the
// file out in fewer, larger pieces. Both are best effort: quotas, file
// systems that cannot set blocks aside (the writes find out) and other
// programs writing meanwhile can still fill the disk halfway.
func reserve(f *os.File, off, n int64) error {
	if n <= 0 {
		return nil
	}
	var st unix.Statfs_t
	// Checked first: asking for more than there is would fill the disk for
	// everyone before it failed. Some file systems report no sizes at all
	// (ramfs, some FUSE ones): they are not checked.
	if err := unix.Fstatfs(int(f.Fd()), &st); err == nil && st.Blocks > 0 {
		if free, ok := freeBytes(uint64(st.Bavail), int64(st.Bsize)); ok && n > free {
			return &noRoomError{need: n, free: free}
		}
	}
	if n < reserveFrom {
		return nil // one write lays it out as well
	}
	for {
		// FALLOC_FL_KEEP_SIZE: the file's size stays what was written,
		// which resuming relies on.
		err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, off, n)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EDQUOT), errors.Is(err, unix.EFBIG):
			return &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
		}
		return nil // not supported here (EOPNOTSUPP, EINVAL, ...)
	}
}

// freeBytes is avail blocks of bsize bytes; ok is false when that is not a
// usable number (no block size, or more than an int64 holds: as good as
// unlimited).
func freeBytes(avail uint64, bsize int64) (int64, bool) {
	if bsize <= 0 || avail > math.MaxInt64/uint64(bsize) {
		return 0, false
	}
	return int64(avail) * bsize, true
}
