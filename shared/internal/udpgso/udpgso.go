// Package udpgso sends many UDP packets in one system call with Linux's
// generic segmentation offload (UDP_SEGMENT): the packets, all of one size
// but the last, go to the kernel as one buffer and the kernel cuts them
// apart. On the relayed path this saves a system call per packet twice,
// once in the peer that sends and once in the relay that forwards.
//
// Elsewhere (and on Linux before 4.18) Supported is false and callers send
// packets one at a time.
package udpgso

// MaxSegments is the most packets one send may carry (the kernel's
// UDP_MAX_SEGMENTS is 64 on older kernels).
const MaxSegments = 64

// MaxBytes is the most bytes one send may carry: a UDP datagram's limit,
// less the IPv6 and UDP headers.
const MaxBytes = 65535 - 40 - 8
