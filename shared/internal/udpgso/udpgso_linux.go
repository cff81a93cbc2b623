package udpgso

import (
	"encoding/binary"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Supported reports whether conn's socket accepts UDP_SEGMENT.
func Supported(conn *net.UDPConn) bool {
	return onSocket(conn, func(fd int) error {
		_, err := unix.GetsockoptInt(fd, unix.SOL_UDP, unix.UDP_SEGMENT)
		return err
	})
}

// onSocket runs fn on conn's socket and reports whether it succeeded.
func onSocket(conn *net.UDPConn, fn func(fd int) error) bool {
	raw, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	var ferr error
	if err := raw.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return false
	}
	return ferr == nil
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

// EnableGRO asks the kernel to hand over packets of one flow that arrive
// together as one buffer (UDP_GRO), with their size in a control message
// (see GROSize). It reports whether the socket does that now.
func EnableGRO(conn *net.UDPConn) bool {
	return onSocket(conn, func(fd int) error { return unix.SetsockoptInt(fd, unix.SOL_UDP, unix.UDP_GRO, 1) })
}

// GROSize is the size of the packets a coalesced buffer holds (the last
// may be shorter), from its UDP_GRO control message in oob, or 0 when
// there is none. rest is oob without that message, appended to dst.
func GROSize(oob, dst []byte) (size int, rest []byte) {
	rest = dst
	for len(oob) >= unix.SizeofCmsghdr {
		h, body, remainder, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			break
		}
		if h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO && len(body) >= 2 {
			size = int(binary.NativeEndian.Uint16(body))
		} else {
			rest = append(rest, oob[:len(oob)-len(remainder)]...)
		}
		oob = remainder
	}
	return size, rest
}
