// Package pb is the code protoc-gen-go generates from ../porthole.proto
// (make proto). Nothing here is written by hand: the framing, the caps and
// the validation of these messages are in package protocol.
package pb
