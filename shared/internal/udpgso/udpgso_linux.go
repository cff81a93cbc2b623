package udpgso

import (
	"encoding/binary"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Supported reports whether conn's socket accepts UDP_SEGMENT.
func Supported(conn *net.UDPConn) bool {
	raw, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		_, serr = unix.GetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT)
	}); err != nil {
		return false
	}
	return serr == nil
}

// AppendSegmentSize appends the control message that asks the kernel to cut
// the buffer into packets of size bytes.
func AppendSegmentSize(oob []byte, size int) []byte {
	start := len(oob)
	oob = append(oob, make([]byte, unix.CmsgSpace(2))...)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[start]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[start+unix.CmsgLen(0):], uint16(size))
	return oob
}

// SegmentSize is the size of a UDP_SEGMENT control message in oob, or 0
// when there is none.
func SegmentSize(oob []byte) int {
	for len(oob) >= unix.SizeofCmsghdr { // x/sys reads a header before it checks the length
		h, body, remainder, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return 0
		}
		if h.Level == unix.SOL_UDP && h.Type == unix.UDP_SEGMENT && len(body) >= 2 {
			return int(binary.NativeEndian.Uint16(body))
		}
		oob = remainder
	}
	return 0
}
