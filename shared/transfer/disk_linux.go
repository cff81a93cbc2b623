package transfer

import (
	"errors"
	"os"
	"syscall"
)

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writing back the
// range's dirty pages, do not wait.
const syncFileRangeWrite = 2

// startWriteback asks the kernel to start writing a range of f to disk,
// so the sync before a received file is renamed into place finds little
// left to do. Errors do not matter: the sync still runs.
func startWriteback(f *os.File, off, n int64) {
	syscall.SyncFileRange(int(f.Fd()), off, n, syncFileRangeWrite)
}

// fallocKeepSize is FALLOC_FL_KEEP_SIZE: set blocks aside past the end
// without making the file longer (its size stays what was written, which
// resuming relies on).
const fallocKeepSize = 1

// reserve makes room on the disk for the n bytes f gets from off on. A
// disk without room for them is an error at once, before any byte moves,
// rather than halfway through; otherwise the file system sets the blocks
// aside, which also lays the file out in fewer, larger pieces. File
// systems that cannot set blocks aside are fine: the writes find out.
func reserve(f *os.File, off, n int64) error {
	if n <= 0 {
		return nil
	}
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(int(f.Fd()), &st); err == nil {
		// Checked first: asking for more than there is would fill the
		// disk for everyone before it failed.
		if free := int64(st.Bavail) * st.Bsize; free >= 0 && n > free {
			return &noRoomError{need: n, free: free}
		}
	}
	err := syscall.Fallocate(int(f.Fd()), fallocKeepSize, off, n)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EFBIG):
		return &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
	}
	return nil // not supported here (EOPNOTSUPP, EINVAL, ...)
}
