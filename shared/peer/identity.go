package peer

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/porthole-dev/porthole/shared/protocol"
)

// ErrWrongPeer means the other side of a peer connection did not prove
// knowledge of the session's PAKE key.
var ErrWrongPeer = errors.New("the other side is not the one this session was paired with")

// Identity is one side's end-to-end identity for a session: an ed25519 key
// derived from the PAKE session key, and the public key the other side must
// present. Both sides derive both keys, so each pins the other without any
// certificate authority and the relay cannot stand in between.
type Identity struct {
	Session string
	cert    tls.Certificate
	peerKey ed25519.PublicKey
}

func deriveKey(sessionKey []byte, sessionID, role string) (ed25519.PrivateKey, error) {
	seed, err := hkdf.Key(sha256.New, sessionKey, []byte(sessionID), "porthole/v1 identity "+role, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// NewIdentity derives the identity of one side ("agent" or "customer").
func NewIdentity(sessionKey []byte, sessionID string, isAgent bool) (*Identity, error) {
	if len(sessionKey) < 32 {
		return nil, errors.New("session key too short")
	}
	mine, theirs := "customer", "agent"
	if isAgent {
		mine, theirs = theirs, mine
	}
	priv, err := deriveKey(sessionKey, sessionID, mine)
	if err != nil {
		return nil, err
	}
	peerPriv, err := deriveKey(sessionKey, sessionID, theirs)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "porthole " + mine},
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{sessionID},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return nil, err
	}
	return &Identity{
		Session: sessionID,
		cert:    tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv},
		peerKey: peerPriv.Public().(ed25519.PublicKey),
	}, nil
}

func (id *Identity) verify(rawCerts [][]byte, _ [][]*x509.Certificate) error {
	if len(rawCerts) == 0 {
		return ErrWrongPeer
	}
	c, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWrongPeer, err)
	}
	pk, ok := c.PublicKey.(ed25519.PublicKey)
	if !ok || !bytes.Equal(pk, id.peerKey) {
		return ErrWrongPeer
	}
	return nil
}

// ServerTLS is the agent's TLS configuration for the session.
func (id *Identity) ServerTLS() *tls.Config {
	return &tls.Config{
		Certificates:          []tls.Certificate{id.cert},
		ClientAuth:            tls.RequireAnyClientCert,
		VerifyPeerCertificate: id.verify,
		NextProtos:            []string{protocol.ALPNPeer},
		MinVersion:            tls.VersionTLS13,
	}
}

// ClientTLS is the customer's TLS configuration for the session. The server
// name carries the session id so an agent with many sessions on one socket
// picks the right identity.
func (id *Identity) ClientTLS() *tls.Config {
	return &tls.Config{
		Certificates:          []tls.Certificate{id.cert},
		ServerName:            id.Session,
		InsecureSkipVerify:    true, // replaced by VerifyPeerCertificate's key pin
		VerifyPeerCertificate: id.verify,
		NextProtos:            []string{protocol.ALPNPeer},
		MinVersion:            tls.VersionTLS13,
	}
}

// confirmMAC is the key confirmation a side sends after the PAKE.
func confirmMAC(sessionKey []byte, sessionID, role string) []byte {
	m := hmac.New(sha256.New, sessionKey)
	m.Write([]byte("porthole/v1 confirm " + role + " " + sessionID))
	return m.Sum(nil)
}
