// In-process integration tests of the peer connection: a real relay, a
// test agent and a test customer over QUIC on loopback.
package testpeer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/relayclient"
	"github.com/porthole-dev/porthole/shared/testpeer"
)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testpeer.Timeout)
	t.Cleanup(cancel)
	return ctx
}

func wantMessage(t *testing.T, ch <-chan appdb.Message, text, from, role string) appdb.Message {
	t.Helper()
	m := testpeer.Receive(t, ch, fmt.Sprintf("chat %.40q", text))
	if m.Text != text || m.From != from || m.FromRole != role || m.Outgoing {
		t.Fatalf("received %q from %q (%s, outgoing %v); want %.40q from %q (%s), in order",
			m.Text, m.From, m.FromRole, m.Outgoing, text, from, role)
	}
	return m
}

func say(t *testing.T, say func(string) (appdb.Message, error), text string) {
	t.Helper()
	if _, err := say(text); err != nil {
		t.Fatalf("saying %.40q: %v", text, err)
	}
}

// chatBothWays sends lines each way and checks they arrive in order and
// that every line the other side received was acknowledged.
func chatBothWays(t *testing.T, a *testpeer.Agent, c *testpeer.Customer, tag string) {
	t.Helper()
	for i := range 3 {
		say(t, a.Conv.Say, fmt.Sprintf("%s agent line %d", tag, i))
	}
	for i := range 3 {
		wantMessage(t, c.Messages, fmt.Sprintf("%s agent line %d", tag, i), testpeer.AgentName, "agent")
	}
	for i := range 3 {
		say(t, c.Conv.Say, fmt.Sprintf("%s customer line %d", tag, i))
	}
	for i := range 3 {
		wantMessage(t, a.Messages, fmt.Sprintf("%s customer line %d", tag, i), testpeer.CustomerName, "customer")
	}
	// The customer acknowledged the agent's lines before it sent its own on
	// the same ordered stream, so the agent has stored those acks by now.
	if p, err := a.DB.Pending(a.Session); err != nil || len(p) != 0 {
		t.Fatalf("agent lines not acknowledged: %v %v", p, err)
	}
	say(t, a.Conv.Say, tag+" over")
	wantMessage(t, c.Messages, tag+" over", testpeer.AgentName, "agent")
	if p, err := c.DB.Pending(c.Session); err != nil || len(p) != 0 {
		t.Fatalf("customer lines not acknowledged: %v %v", p, err)
	}
}

func TestChatOverEachPath(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		agentForce, custForce bool
		want                  peer.Path
	}{
		{"direct", false, false, peer.PathDirect},
		{"customer forces relay", false, true, peer.PathRelayed},
		{"agent forces relay", true, false, peer.PathRelayed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, addr, fp := testpeer.StartRelay(t)
			a := testpeer.StartAgent(t, testpeer.AgentOptions{Relay: addr, Fingerprint: fp, ForceRelay: tc.agentForce})
			c := testpeer.JoinCustomer(t, testpeer.CustomerOptions{Relay: addr, Fingerprint: fp, Key: a.Key, ForceRelay: tc.custForce})
			l := a.WaitLink(t)
			if c.Path != tc.want || l.Path != tc.want {
				t.Fatalf("paths: customer %s, agent %s; want %s", c.Path, l.Path, tc.want)
			}
			if l.Remote.Name != testpeer.CustomerName || c.Link.Remote.Name != testpeer.AgentName {
				t.Fatalf("hello names: agent saw %q, customer saw %q", l.Remote.Name, c.Link.Remote.Name)
			}
			if c.Session != a.Session || c.AgentName != testpeer.AgentName {
				t.Fatalf("customer joined %s of %q, want %s of %q", c.Session, c.AgentName, a.Session, testpeer.AgentName)
			}
			key, err := a.Paired(ctxFor(t))
			if err != nil || !bytes.Equal(key, c.SessionKey) {
				t.Fatalf("session keys differ (agent err %v)", err)
			}
			before := srv.RelayedBytes()
			chatBothWays(t, a, c, tc.name)
			relayed := srv.RelayedBytes() > before
			if relayed != (tc.want == peer.PathRelayed) {
				t.Fatalf("on the %s path the relay forwarded %d chat bytes", tc.want, srv.RelayedBytes()-before)
			}
		})
	}
}

func wrongSecret(key string) string {
	np, secret, _ := protocol.ParseKey(key)
	d := []byte(secret)
	d[0] = '0' + (d[0]-'0'+1)%10
	return protocol.FormatKey(np, string(d))
}

func TestWrongSecretFailsBothSidesAndBurnsTheKey(t *testing.T) {
	_, addr, fp := testpeer.StartRelay(t)
	a := testpeer.StartAgent(t, testpeer.AgentOptions{Relay: addr, Fingerprint: fp})
	c := testpeer.NewCustomer(t, testpeer.CustomerOptions{Relay: addr, Fingerprint: fp, Key: wrongSecret(a.Key)})
	err := c.Join(ctxFor(t))
	if !errors.Is(err, peer.ErrPakeFailed) {
		t.Fatalf("customer with a wrong secret: %v, want ErrPakeFailed", err)
	}
	if c.SessionKey != nil {
		t.Fatal("customer has a session key after a failed pairing")
	}
	if key, err := a.Paired(ctxFor(t)); !errors.Is(err, peer.ErrPakeFailed) || key != nil {
		t.Fatalf("agent after a wrong secret: key %x, %v; want ErrPakeFailed", key, err)
	}
	// One guess burned the key: the right secret no longer gets in.
	again := testpeer.NewCustomer(t, testpeer.CustomerOptions{Relay: addr, Fingerprint: fp, Key: a.Key})
	var re *relayclient.Error
	if err := again.Join(ctxFor(t)); !errors.As(err, &re) || re.Code != protocol.CodeUsed {
		t.Fatalf("right key after a wrong guess: %v, want relay error %q", err, protocol.CodeUsed)
	}
}

func randomKey(t *testing.T) []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

func TestImpostorIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name              string
		agentKey, custKey bool
		forceRelay        bool
	}{
		{"customer identity from another key, direct", false, true, false},
		{"agent identity from another key, direct", true, false, false},
		{"customer identity from another key, relayed", false, true, true},
		{"agent identity from another key, relayed", true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr, fp := testpeer.StartRelay(t)
			ao := testpeer.AgentOptions{Relay: addr, Fingerprint: fp}
			if tc.agentKey {
				ao.IdentityKey = randomKey(t)
			}
			a := testpeer.StartAgent(t, ao)
			co := testpeer.CustomerOptions{Relay: addr, Fingerprint: fp, Key: a.Key, ForceRelay: tc.forceRelay}
			if tc.custKey {
				co.IdentityKey = randomKey(t)
			}
			c := testpeer.NewCustomer(t, co)
			ctx := ctxFor(t)
			if err := c.Join(ctx); err != nil {
				t.Fatalf("pairing: %v", err)
			}
			err := c.Connect(ctx)
			if err == nil {
				t.Fatalf("connected over the %s path with mismatched identities", c.Path)
			}
			if l := a.Router.Only(); l != nil {
				t.Fatalf("the agent accepted a link from an impostor (path %s)", l.Path)
			}
			if !errors.Is(err, peer.ErrWrongPeer) {
				t.Fatalf("connecting with mismatched identities: %v, want ErrWrongPeer", err)
			}
		})
	}
}

// TestRelayOnlySeesCiphertext proves the relay handles nothing but
// ciphertext: every packet it forwards is tapped, and neither the chat text
// nor the session key nor its secret appears in any of them.
func TestRelayOnlySeesCiphertext(t *testing.T) {
	var (
		mu      sync.Mutex
		packets [][]byte
	)
	tap := func(p []byte) {
		mu.Lock()
		packets = append(packets, bytes.Clone(p))
		mu.Unlock()
	}
	srv, addr, fp := testpeer.StartRelay(t, testpeer.WithTap(tap))
	a := testpeer.StartAgent(t, testpeer.AgentOptions{Relay: addr, Fingerprint: fp, ForceRelay: true})
	c := testpeer.JoinCustomer(t, testpeer.CustomerOptions{Relay: addr, Fingerprint: fp, Key: a.Key, ForceRelay: true})
	if l := a.WaitLink(t); c.Path != peer.PathRelayed || l.Path != peer.PathRelayed {
		t.Fatalf("paths %s/%s, want relayed", c.Path, l.Path)
	}

	nonce := make([]byte, 8)
	rand.Read(nonce)
	marker := "PORTHOLE-TAP-MARKER-" + hex.EncodeToString(nonce)
	long := strings.Repeat(marker+" ", (protocol.MaxChatText-100)/(len(marker)+1))
	lines := []string{marker + " from the agent", long, marker + " from the customer", "customer: " + long}
	say(t, a.Conv.Say, lines[0])
	say(t, a.Conv.Say, lines[1])
	say(t, c.Conv.Say, lines[2])
	say(t, c.Conv.Say, lines[3])
	wantMessage(t, c.Messages, lines[0], testpeer.AgentName, "agent")
	wantMessage(t, c.Messages, lines[1], testpeer.AgentName, "agent")
	wantMessage(t, a.Messages, lines[2], testpeer.CustomerName, "customer")
	wantMessage(t, a.Messages, lines[3], testpeer.CustomerName, "customer")

	mu.Lock()
	tapped := slices.Clone(packets)
	mu.Unlock()
	if len(tapped) == 0 {
		t.Fatal("the tap saw no packets on the relayed path")
	}
	var payload int
	for _, p := range tapped {
		if len(p) <= 9 || p[0] != 0 || binary.BigEndian.Uint64(p[1:9]) != a.Channel {
			t.Fatalf("tapped packet is not a relayed packet of the session's channel: % x", p[:min(len(p), 9)])
		}
		payload += len(p) - 9
	}
	if payload < 2*len(long) {
		t.Fatalf("the relay forwarded %d bytes, less than the %d bytes of chat", payload, 2*len(long))
	}
	secrets := map[string][]byte{
		"chat marker":      []byte(marker),
		"marker nonce":     []byte(hex.EncodeToString(nonce)),
		"session key":      c.SessionKey,
		"typed key":        []byte(a.Key),
		"secret":           []byte(a.Secret),
		"key with no dash": []byte(a.Nameplate + a.Secret),
	}
	for i, p := range tapped {
		for what, s := range secrets {
			if bytes.Contains(p, s) {
				t.Fatalf("tapped packet %d of %d contains the %s in plaintext", i, len(tapped), what)
			}
		}
	}
	t.Logf("%d packets, %d payload bytes tapped; relay counted %d", len(tapped), payload, srv.RelayedBytes())
}
