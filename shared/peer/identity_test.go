package peer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/protocol"
)

func newKey(t *testing.T) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func mustIdentity(t *testing.T, key []byte, session string, isAgent bool) *Identity {
	t.Helper()
	id, err := NewIdentity(key, session, isAgent)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type handshakeResult struct {
	server, client error
	serverName     string // as the server saw it
	alpn           string
}

// handshake runs a real crypto/tls handshake over TCP on loopback, then one
// byte from server to client, so a refusal by either side reaches both.
func handshake(t *testing.T, server, client *tls.Config) handshakeResult {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type srv struct {
		err  error
		name string
	}
	done := make(chan srv, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			done <- srv{err: err}
			return
		}
		raw.SetDeadline(time.Now().Add(20 * time.Second))
		tc := tls.Server(raw, server)
		defer tc.Close()
		if err := tc.HandshakeContext(ctx); err != nil {
			done <- srv{err: err}
			return
		}
		_, err = tc.Write([]byte{1})
		done <- srv{err: err, name: tc.ConnectionState().ServerName}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(20 * time.Second))
	tc := tls.Client(raw, client)
	defer tc.Close()
	var r handshakeResult
	if r.client = tc.HandshakeContext(ctx); r.client == nil {
		// TLS 1.3 clients finish before the server has checked their
		// certificate; the first read tells whether it was accepted.
		var b [1]byte
		_, r.client = io.ReadFull(tc, b[:])
		r.alpn = tc.ConnectionState().NegotiatedProtocol
	}
	s := <-done
	r.server, r.serverName = s.err, s.name
	return r
}

func TestIdentitiesFromTheSameKeyAcceptEachOther(t *testing.T) {
	key := newKey(t)
	agent, cust := mustIdentity(t, key, testSession, true), mustIdentity(t, key, testSession, false)
	r := handshake(t, agent.ServerTLS(), cust.ClientTLS())
	if r.server != nil || r.client != nil {
		t.Fatalf("handshake: server %v, client %v", r.server, r.client)
	}
	if r.serverName != testSession || r.alpn != protocol.ALPNPeer {
		t.Fatalf("server name %q, ALPN %q; want %q, %q", r.serverName, r.alpn, testSession, protocol.ALPNPeer)
	}
	// Deriving again gives the same keys: a restarted app finds its peer.
	again := mustIdentity(t, key, testSession, false)
	if !bytes.Equal(again.peerKey, cust.peerKey) {
		t.Fatal("identity derivation is not deterministic")
	}
	if bytes.Equal(agent.peerKey, cust.peerKey) {
		t.Fatal("agent and customer have the same key")
	}
}

func TestMismatchedIdentitiesAreRefused(t *testing.T) {
	key, other := newKey(t), newKey(t)
	agent := mustIdentity(t, key, testSession, true)
	cust := mustIdentity(t, key, testSession, false)
	// An impostor who knows the agent's public key (it is no secret) but
	// not the session key: it pins the agent correctly and presents a
	// certificate of its own.
	impostor := &Identity{Session: testSession, cert: mustIdentity(t, other, testSession, false).cert, peerKey: cust.peerKey}
	for _, tc := range []struct {
		name           string
		server, client *tls.Config
		refusedBy      string // the side that must report ErrWrongPeer
	}{
		{"customer derived from another key", agent.ServerTLS(), mustIdentity(t, other, testSession, false).ClientTLS(), "client"},
		{"agent derived from another key", mustIdentity(t, other, testSession, true).ServerTLS(), cust.ClientTLS(), "client"},
		{"same key, other session", agent.ServerTLS(), mustIdentity(t, key, "fedcba9876543210fedcba9876543210", false).ClientTLS(), "client"},
		{"customer reflects the agent's identity", agent.ServerTLS(), agent.ClientTLS(), "client"},
		{"customer presents a foreign certificate", agent.ServerTLS(), impostor.ClientTLS(), "server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := handshake(t, tc.server, tc.client)
			if r.server == nil || r.client == nil {
				t.Fatalf("both sides must fail: server %v, client %v", r.server, r.client)
			}
			refusal := r.client
			if tc.refusedBy == "server" {
				refusal = r.server
			}
			if !errors.Is(refusal, ErrWrongPeer) {
				t.Fatalf("%s error %v, want ErrWrongPeer", tc.refusedBy, refusal)
			}
		})
	}
}

func TestClientWithoutCertificateIsRefused(t *testing.T) {
	key := newKey(t)
	agent := mustIdentity(t, key, testSession, true)
	anon := mustIdentity(t, key, testSession, false).ClientTLS()
	anon.Certificates = nil
	if r := handshake(t, agent.ServerTLS(), anon); r.server == nil || r.client == nil {
		t.Fatalf("a client without a certificate got in: server %v, client %v", r.server, r.client)
	}
}

func TestIdentityCertificateCarriesTheDerivedKey(t *testing.T) {
	key := newKey(t)
	agent := mustIdentity(t, key, testSession, true)
	cust := mustIdentity(t, key, testSession, false)
	if err := cust.verify(agent.cert.Certificate, nil); err != nil {
		t.Fatalf("customer does not accept the agent's certificate: %v", err)
	}
	if err := agent.verify(cust.cert.Certificate, nil); err != nil {
		t.Fatalf("agent does not accept the customer's certificate: %v", err)
	}
	if err := cust.verify(nil, nil); !errors.Is(err, ErrWrongPeer) {
		t.Fatalf("no certificate: %v", err)
	}
	if err := cust.verify([][]byte{[]byte("not a certificate")}, nil); !errors.Is(err, ErrWrongPeer) {
		t.Fatalf("garbage certificate: %v", err)
	}
	if pub := agent.cert.PrivateKey.(ed25519.PrivateKey).Public().(ed25519.PublicKey); !bytes.Equal(pub, cust.peerKey) {
		t.Fatal("the customer pins a key the agent does not hold")
	}
}

func TestNewIdentityRefusesShortKeys(t *testing.T) {
	if _, err := NewIdentity(make([]byte, 31), testSession, true); err == nil {
		t.Fatal("a 31-byte session key was accepted")
	}
}

func TestConfirmMACsDifferByRoleAndSession(t *testing.T) {
	key := newKey(t)
	a, c := confirmMAC(key, testSession, "agent"), confirmMAC(key, testSession, "customer")
	o := confirmMAC(key, "fedcba9876543210fedcba9876543210", "agent")
	if bytes.Equal(a, c) || bytes.Equal(a, o) || len(a) != 32 {
		t.Fatal("confirmation MACs must differ by role and session (a reflected confirm would pass)")
	}
}
