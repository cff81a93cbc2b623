package peer

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// ErrNotSealed is Open's error for a signal that did not come sealed with
// the session's key: one the relay made up, changed, or sent back.
var ErrNotSealed = errors.New("the signal is not sealed with the session's key")

// Sealer seals the signals one side of a session sends once it holds the
// session key, and opens those it receives. The relay carries them, and
// learns from them only their padded size: not the addresses in
// Candidates, nor whether the path is direct or relayed.
//
// Each direction has a key of its own, derived from the session key, so a
// side's own signals sent back to it do not open, and the session id is
// the additional data, so neither do another session's. Sealing does not
// stop the relay from dropping, delaying or replaying a signal; it could
// stop the session by dropping them anyway, and every answer is tied to
// its connection attempt. Methods are safe for concurrent use.
type Sealer struct {
	seal, open cipher.AEAD
	ad         []byte
}

// NewSealer makes the sealer of one side of a session (agent true for the
// agent's) from the session key the PAKE gave.
func NewSealer(sessionKey []byte, sessionID string, agent bool) (*Sealer, error) {
	if len(sessionKey) == 0 {
		return nil, errors.New("sealing signals: no session key")
	}
	toCustomer, err := signalAEAD(sessionKey, sessionID, "agent to customer")
	if err != nil {
		return nil, err
	}
	toAgent, err := signalAEAD(sessionKey, sessionID, "customer to agent")
	if err != nil {
		return nil, err
	}
	if agent {
		return &Sealer{seal: toCustomer, open: toAgent, ad: []byte(sessionID)}, nil
	}
	return &Sealer{seal: toAgent, open: toCustomer, ad: []byte(sessionID)}, nil
}

func signalAEAD(sessionKey []byte, sessionID, direction string) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, sessionKey, []byte(sessionID), "porthole/v4 signals "+direction, 32)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// sealable reports whether a signal may travel sealed: the PAKE and key
// confirmation cannot (they make the key), nor can a Sealed.
func sealable(ps *pb.PeerSignal) bool {
	switch ps.Body.(type) {
	case *pb.PeerSignal_Candidates, *pb.PeerSignal_UseRelay, *pb.PeerSignal_RelayReady, *pb.PeerSignal_Abort:
		return true
	}
	return false
}

// Seal returns ps sealed. Only Candidates, UseRelay, RelayReady and Abort
// are sealed; anything else is an error.
func (s *Sealer) Seal(ps *pb.PeerSignal) (*pb.PeerSignal, error) {
	if !sealable(ps) {
		return nil, fmt.Errorf("sealing signals: a %T is not sealed", ps.Body)
	}
	inner, err := proto.Marshal(ps)
	if err != nil {
		return nil, err
	}
	if len(inner) > 0xffff {
		return nil, errors.New("sealing signals: the signal is too long")
	}
	n := 2 + len(inner)
	plain := make([]byte, (n+protocol.SealPad-1)/protocol.SealPad*protocol.SealPad)
	binary.BigEndian.PutUint16(plain, uint16(len(inner)))
	copy(plain[2:], inner)
	nonce := make([]byte, protocol.SealNonceLen)
	rand.Read(nonce)
	box := s.seal.Seal(nil, nonce, plain, s.ad)
	if len(box) > protocol.MaxSealedBox {
		return nil, errors.New("sealing signals: the signal is too long")
	}
	return &pb.PeerSignal{Body: &pb.PeerSignal_Sealed{Sealed: &pb.Sealed{Nonce: nonce, Box: box}}}, nil
}

// Open returns the signal sealed in ps, checked as any received signal is.
// A signal that is not a Sealed, or does not open with the other side's
// key, or holds something that is never sealed, is an error matching
// ErrNotSealed.
func (s *Sealer) Open(ps *pb.PeerSignal) (*pb.PeerSignal, error) {
	sealed := ps.GetSealed()
	if sealed == nil || len(sealed.Nonce) != s.open.NonceSize() {
		return nil, ErrNotSealed
	}
	plain, err := s.open.Open(nil, sealed.Nonce, sealed.Box, s.ad)
	if err != nil || len(plain) < 2 {
		return nil, ErrNotSealed
	}
	n := int(binary.BigEndian.Uint16(plain))
	if n > len(plain)-2 {
		return nil, fmt.Errorf("%w: its length is wrong", ErrNotSealed)
	}
	var inner pb.PeerSignal
	if err := proto.Unmarshal(plain[2:2+n], &inner); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotSealed, err)
	}
	if inner.Body == nil || !sealable(&inner) {
		return nil, fmt.Errorf("%w: it holds no signal that is sealed", ErrNotSealed)
	}
	if err := protocol.ValidatePeerSignal(&inner); err != nil {
		return nil, err
	}
	return &inner, nil
}

// SealSignals wraps a session's Signaler once the session key is known:
// what is sent is sealed, and Recv returns only the signals that open,
// dropping every other one (the relay's, or a stray PAKE's).
func SealSignals(sig Signaler, s *Sealer) Signaler {
	return &sealedSignals{sig: sig, s: s}
}

type sealedSignals struct {
	sig Signaler
	s   *Sealer
}

func (ss *sealedSignals) Send(ps *pb.PeerSignal) error {
	sealed, err := ss.s.Seal(ps)
	if err != nil {
		return err
	}
	return ss.sig.Send(sealed)
}

func (ss *sealedSignals) Recv(ctx context.Context) (*pb.PeerSignal, error) {
	for {
		ps, err := ss.sig.Recv(ctx)
		if err != nil {
			return nil, err
		}
		if inner, err := ss.s.Open(ps); err == nil {
			return inner, nil
		}
	}
}
