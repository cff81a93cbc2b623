package peer

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/schollz/pake/v3"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// ErrPakeFailed means the two sides did not share the secret part of the
// session key: somebody typed it wrong, or somebody guessed.
var ErrPakeFailed = errors.New("the session key did not match: check the digits, or ask for a new key")

// AbortError is an Abort the other side sent.
type AbortError struct{ Code, Message string }

func (e *AbortError) Error() string { return e.Message }

// Is maps a pake_failed abort onto ErrPakeFailed.
func (e *AbortError) Is(target error) bool {
	return target == ErrPakeFailed && e.Code == protocol.CodePakeFailed
}

const pakeCurve = "p256"

// Signaler carries peer signals through the relay for one session.
type Signaler interface {
	Send(*pb.PeerSignal) error
	Recv(ctx context.Context) (*pb.PeerSignal, error)
}

// pakePassword is the PAKE's password: the whole key, in a form of its own
// (the key's display may change without changing it).
func pakePassword(nameplate, secret string) []byte {
	return []byte("porthole/v4 key " + nameplate + "-" + secret)
}

func sessionKey(pakeKey []byte, sessionID string) ([]byte, error) {
	return hkdf.Key(sha256.New, pakeKey, []byte(sessionID), "porthole/v1 session key", 32)
}

// msgKeyUsed is the Abort message for a Pake with a spent session key.
const msgKeyUsed = "this session key was used already"

func abort(code, msg string) *pb.PeerSignal {
	return &pb.PeerSignal{Body: &pb.PeerSignal_Abort{Abort: &pb.Abort{Code: code, Message: msg}}}
}

// PairCustomer runs the customer's side of the PAKE and key confirmation and
// returns the session key. On a wrong secret both sides fail.
func PairCustomer(ctx context.Context, sig Signaler, sessionID, nameplate, secret string) ([]byte, error) {
	p, err := pake.InitCurve(pakePassword(nameplate, secret), 0, pakeCurve)
	if err != nil {
		return nil, err
	}
	if err := sig.Send(&pb.PeerSignal{Body: &pb.PeerSignal_Pake{Pake: &pb.Pake{Message: p.Bytes()}}}); err != nil {
		return nil, err
	}
	var key []byte
	for {
		s, err := sig.Recv(ctx)
		if err != nil {
			return nil, err
		}
		switch b := s.Body.(type) {
		case *pb.PeerSignal_Abort:
			return nil, &AbortError{Code: b.Abort.Code, Message: b.Abort.Message}
		case *pb.PeerSignal_Pake:
			if key != nil {
				continue
			}
			if err := p.Update(b.Pake.Message); err != nil {
				sig.Send(abort(protocol.CodePakeFailed, "pairing failed"))
				return nil, ErrPakeFailed
			}
			k, _ := p.SessionKey()
			if key, err = sessionKey(k, sessionID); err != nil {
				return nil, err
			}
		case *pb.PeerSignal_Confirm:
			if key == nil {
				continue
			}
			if !hmac.Equal(b.Confirm.Mac, confirmMAC(key, sessionID, "agent")) {
				sig.Send(abort(protocol.CodePakeFailed, "the session key did not match"))
				return nil, ErrPakeFailed
			}
			mac := confirmMAC(key, sessionID, "customer")
			if err := sig.Send(&pb.PeerSignal{Body: &pb.PeerSignal_Confirm{Confirm: &pb.KeyConfirm{Mac: mac}}}); err != nil {
				return nil, err
			}
			return key, nil
		}
	}
}

// AgentPairing is the agent's side of the PAKE for one session key. Feed it
// the customer's signals with Handle. It accepts exactly one attempt: the key
// is single-use, and a wrong guess burns it.
type AgentPairing struct {
	sessionID, nameplate, secret string
	pending                      []byte
	used                         bool
}

// NewAgentPairing prepares the agent's side of a session key.
func NewAgentPairing(sessionID, nameplate, secret string) *AgentPairing {
	return &AgentPairing{sessionID: sessionID, nameplate: nameplate, secret: secret}
}

// Handle processes one signal. It returns signals to send back, and the
// session key once the customer has confirmed it. A non-nil error ends the
// pairing (ErrPakeFailed when the customer had the wrong secret).
func (a *AgentPairing) Handle(s *pb.PeerSignal) (replies []*pb.PeerSignal, key []byte, err error) {
	switch b := s.Body.(type) {
	case *pb.PeerSignal_Pake:
		if a.used {
			return []*pb.PeerSignal{abort(protocol.CodeUsed, msgKeyUsed)}, nil, ErrPakeFailed
		}
		a.used = true
		p, err := pake.InitCurve(pakePassword(a.nameplate, a.secret), 1, pakeCurve)
		if err != nil {
			return nil, nil, err
		}
		if err := p.Update(b.Pake.Message); err != nil {
			return []*pb.PeerSignal{abort(protocol.CodePakeFailed, "pairing failed")}, nil, ErrPakeFailed
		}
		k, _ := p.SessionKey()
		if a.pending, err = sessionKey(k, a.sessionID); err != nil {
			return nil, nil, err
		}
		mac := confirmMAC(a.pending, a.sessionID, "agent")
		return []*pb.PeerSignal{
			{Body: &pb.PeerSignal_Pake{Pake: &pb.Pake{Message: p.Bytes()}}},
			{Body: &pb.PeerSignal_Confirm{Confirm: &pb.KeyConfirm{Mac: mac}}},
		}, nil, nil
	case *pb.PeerSignal_Confirm:
		if a.pending == nil {
			return nil, nil, nil
		}
		if !hmac.Equal(b.Confirm.Mac, confirmMAC(a.pending, a.sessionID, "customer")) {
			return []*pb.PeerSignal{abort(protocol.CodePakeFailed, "the session key did not match")}, nil, ErrPakeFailed
		}
		key, a.pending = a.pending, nil
		return nil, key, nil
	case *pb.PeerSignal_Abort:
		if b.Abort.Code == protocol.CodePakeFailed {
			return nil, nil, ErrPakeFailed
		}
		return nil, nil, fmt.Errorf("the customer gave up: %s", b.Abort.Message)
	}
	return nil, nil, nil
}
