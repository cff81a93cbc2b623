package transfer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// smallDisk mounts a file system of size bytes (tmpfs) on a new folder.
// Mounting needs root; the test is skipped without it.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("porthole-test", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// fill writes a file in dir until the disk is full.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Error(err)
			}
			return
		}
	}
}

// The disk fills up while a file arrives: both sides say so, no partial
// file is left, the file received before is untouched, and once there is
// room again the file comes.
func TestDiskFullWhileReceiving(t *testing.T) {
	disk := smallDisk(t, 1<<20)
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept, n.down = AcceptAny, disk })
	connect(t, agent, cust)
	src := t.TempDir()
	firstPath, first := randomFile(t, src, "first.txt", 100<<10)
	done := cust.expect(EventDone, forID(sendOne(t, agent, firstPath).ID)).Transfer

	path, data := randomFile(t, src, "second.bin", 600<<10)
	var once sync.Once
	hookReceived = func(string, int64) { once.Do(func() { fill(t, disk) }) }
	defer func() { hookReceived = nil }()
	tr := sendOne(t, agent, path)
	if f := cust.expect(EventFailed, forID(tr.ID)).Transfer; f.Why != "the receiver could not write the file: the disk is full" {
		t.Fatalf("receiver's reason %q", f.Why)
	}
	if f := agent.expect(EventFailed, forID(tr.ID)).Transfer; !strings.Contains(f.Why, "the disk is full") {
		t.Fatalf("sender's reason %q", f.Why)
	}
	noPartials(t, disk)
	checkFile(t, done.Path, first)

	hookReceived = nil
	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	checkFile(t, cust.expect(EventDone, forID(sendOne(t, agent, path).ID)).Transfer.Path, data)
}

// A file bigger than the room left fails before any byte is written, with
// both sizes.
func TestFileLargerThanTheRoomLeft(t *testing.T) {
	disk := smallDisk(t, 1<<20)
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept, n.down = AcceptAny, disk })
	connect(t, agent, cust)
	path, _ := randomFile(t, t.TempDir(), "big.bin", 2<<20)
	tr := sendOne(t, agent, path)
	f := cust.expect(EventFailed, forID(tr.ID)).Transfer
	if !strings.HasPrefix(f.Why, "the receiver cannot write the file: the disk is full (the file needs 2.1 MB, ") {
		t.Fatalf("receiver's reason %q", f.Why)
	}
	if f.Done != 0 {
		t.Fatalf("%d bytes were written first", f.Done)
	}
	agent.expect(EventFailed, forID(tr.ID))
	noPartials(t, disk)
}

// fsImmutable is FS_IMMUTABLE_FL of <linux/fs.h>.
const fsImmutable = 0x10

// unwritable makes dir refuse new files: read-only for a user, immutable
// for root (whom permissions do not stop). It is undone when the test ends.
func unwritable(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		return
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err == nil {
		err = unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags|fsImmutable))
	}
	if err != nil {
		t.Skipf("cannot make a folder immutable here: %v", err)
	}
	t.Cleanup(func() {
		if fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0); err == nil {
			unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags))
			unix.Close(fd)
		}
	})
}

// A download folder that refuses new files: both sides say why, nothing
// received before is lost, and the file comes once the folder takes it.
func TestDownloadFolderRefusesFiles(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	connect(t, agent, cust)
	src := t.TempDir()
	firstPath, first := randomFile(t, src, "first.txt", 10<<10)
	done := cust.expect(EventDone, forID(sendOne(t, agent, firstPath).ID)).Transfer
	folder := filepath.Dir(done.Path)

	// The folder takes files again when the subtest ends.
	t.Run("refused", func(t *testing.T) {
		unwritable(t, folder)
		path, _ := randomFile(t, src, "second.txt", 10<<10)
		tr := sendOne(t, agent, path)
		why := cust.expect(EventFailed, forID(tr.ID)).Transfer.Why
		if why != "the receiver cannot write the file: permission denied" && why != "the receiver cannot write the file: operation not permitted" {
			t.Fatalf("receiver's reason %q", why)
		}
		if f := agent.expect(EventFailed, forID(tr.ID)).Transfer; f.Why != why {
			t.Fatalf("sender's reason %q, the receiver's %q", f.Why, why)
		}
	})
	checkFile(t, done.Path, first)
	noPartials(t, folder)
	path, data := randomFile(t, src, "third.txt", 10<<10)
	checkFile(t, cust.expect(EventDone, forID(sendOne(t, agent, path).ID)).Transfer.Path, data)
}
