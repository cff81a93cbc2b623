// Package failure turns the errors of the shared packages into what the
// apps show and the headless mode prints: a stable code (protocol.Code*, or
// a few local ones) and a message meant for a person.
package failure

import (
	"context"
	"errors"

	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/relayclient"
)

// Codes used by the apps besides protocol's.
const (
	CodeRelayUntrusted = "relay_untrusted" // the relay's certificate did not match the pin
	CodeDataFolder     = "data_folder"     // the data folder cannot be used (e.g. in use)
	CodeNotJoined      = "not_joined"      // no customer in the session yet
)

// Error is a failure with a stable code.
type Error struct{ Code, Message string }

func (e *Error) Error() string { return e.Message }

// New makes an Error.
func New(code, message string) *Error { return &Error{Code: code, Message: message} }

// From classifies err.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var re *relayclient.Error
	if errors.As(err, &re) {
		return &Error{Code: re.Code, Message: re.Message}
	}
	var ae *peer.AbortError
	switch {
	case errors.Is(err, peer.ErrPakeFailed):
		return &Error{Code: protocol.CodePakeFailed, Message: peer.ErrPakeFailed.Error()}
	case errors.As(err, &ae):
		return &Error{Code: ae.Code, Message: ae.Message}
	case errors.Is(err, relayclient.ErrFingerprint), errors.Is(err, relayclient.ErrUntrusted):
		return &Error{Code: CodeRelayUntrusted, Message: err.Error()}
	case errors.Is(err, relayclient.ErrDisconnected), errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: protocol.CodeRelayUnreachable, Message: "cannot reach the relay: " + err.Error()}
	case errors.Is(err, protocol.ErrVersionMismatch):
		return &Error{Code: protocol.CodeVersionMismatch, Message: err.Error()}
	}
	return &Error{Code: protocol.CodeInternal, Message: err.Error()}
}
