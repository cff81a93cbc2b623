//go:build !linux

package udpgso

import "net"

// Supported is false: segmentation offload is Linux's.
func Supported(*net.UDPConn) bool { return false }

// AppendSegmentSize is never called where Supported is false.
func AppendSegmentSize(oob []byte, _ int) []byte { return oob }

// SegmentSize finds no segment size off Linux.
func SegmentSize([]byte) int { return 0 }

// EnableGRO does nothing off Linux.
func EnableGRO(*net.UDPConn) bool { return false }

// GROSize finds nothing off Linux.
func GROSize(oob, dst []byte) (int, []byte) { return 0, append(dst, oob...) }
