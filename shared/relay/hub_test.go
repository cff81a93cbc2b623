package relay

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

const testPassword = "correct horse battery"

// fakeClock is a settable clock for hub.now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeClient is a hub client that records what the hub sends it.
type fakeClient struct {
	*client
	mu   sync.Mutex
	msgs []*pb.RelayMsg
}

// take returns the messages received since the last take.
func (f *fakeClient) take() []*pb.RelayMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.msgs
	f.msgs = nil
	return m
}

type testHub struct {
	t        *testing.T
	cfg      Config
	dir      string
	db       *bolt.DB
	clock    *fakeClock
	h        *hub
	nextID   uint64
	nextHost int
	accounts map[string]bool
}

func testConfig() Config {
	return Config{
		KeyLifetime: 20 * time.Minute,
		RetireFor:   time.Hour,
		GuessBurst:  3,
		// The limiter runs on the wall clock (see TestSignInRateLimit), so
		// make sure no token comes back while a test runs.
		GuessEvery: time.Hour,
		// Some tests fill the nameplate table; the quotas' own tests
		// (limits_test.go) set them.
		MaxWaitingPerAgent: -1, MaxKeysPerAgent: -1, MaxWaiting: -1,
	}
}

func newTestHub(t *testing.T, mutate ...func(*Config)) *testHub {
	t.Helper()
	cfg := testConfig()
	for _, m := range mutate {
		m(&cfg)
	}
	th := &testHub{
		t: t, cfg: cfg, dir: t.TempDir(),
		clock:    &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
		accounts: map[string]bool{},
	}
	t.Cleanup(func() {
		if th.db != nil {
			th.db.Close()
		}
	})
	th.open()
	return th
}

// open opens the database and builds a hub over it.
func (th *testHub) open() {
	th.t.Helper()
	db, err := OpenDB(th.dir)
	if err != nil {
		th.t.Fatalf("OpenDB: %v", err)
	}
	th.db = db
	clock = th.clock.now // what it loads is stamped with the test's time
	defer func() { clock = time.Now }()
	h, err := newHub(th.cfg, db, slog.New(slog.DiscardHandler))
	if err != nil {
		th.t.Fatalf("newHub: %v", err)
	}
	h.now = th.clock.now
	// Nameplates come from the first 10,000 of the space, so that a test
	// can take them all (occupyAllBut).
	h.nameplates = testNameplates
	th.h = h
}

const testNameplates = 10000

// restart simulates a relay crash and restart: the database is closed
// without any client being disconnected and a new hub loads it.
func (th *testHub) restart() {
	th.t.Helper()
	if err := th.db.Close(); err != nil {
		th.t.Fatalf("closing database: %v", err)
	}
	th.db = nil
	th.open()
}

// clientAt connects a client with the given address.
func (th *testHub) clientAt(addr string) *fakeClient {
	th.t.Helper()
	th.nextID++
	f := &fakeClient{client: &client{id: th.nextID, addr: netip.MustParseAddrPort(addr)}}
	f.out = func(m *pb.RelayMsg) bool {
		f.mu.Lock()
		f.msgs = append(f.msgs, m)
		f.mu.Unlock()
		return true
	}
	th.h.mu.Lock()
	th.h.connect(f.client)
	th.h.mu.Unlock()
	return f
}

// newClient connects a client from an address no other client uses.
func (th *testHub) newClient() *fakeClient {
	th.nextHost++
	return th.clientAt(fmt.Sprintf("10.%d.%d.1:%d", th.nextHost/250, th.nextHost%250, 40000+th.nextHost))
}

func (th *testHub) addAccount(name string) {
	th.t.Helper()
	if th.accounts[name] {
		return
	}
	if err := th.h.accounts.Add(name, testPassword); err != nil {
		th.t.Fatalf("adding account %s: %v", name, err)
	}
	th.accounts[name] = true
}

// agent connects a client and signs it in as name.
func (th *testHub) agent(name string) *fakeClient {
	th.t.Helper()
	th.addAccount(name)
	c := th.newClient()
	r := th.h.signIn(c.client, &pb.SignIn{Name: name, Password: testPassword})
	if r.GetSignedIn().GetName() != name {
		th.t.Fatalf("signing in %s: %v", name, r)
	}
	return c
}

func (th *testHub) newSession(c *fakeClient) *pb.SessionCreated {
	th.t.Helper()
	r := th.h.newSession(c.client)
	sc := r.GetSessionCreated()
	if sc == nil {
		th.t.Fatalf("newSession: %v", r)
	}
	return sc
}

// join joins nameplate as c and checks the answer and the agent's presence
// message.
func (th *testHub) join(c *fakeClient, agent *fakeClient, sc *pb.SessionCreated) *pb.Joined {
	th.t.Helper()
	r := th.h.join(c.client, &pb.Join{Nameplate: sc.Nameplate})
	j := r.GetJoined()
	if j == nil {
		th.t.Fatalf("join %s: %v", sc.Nameplate, r)
	}
	if agent != nil {
		wantMsgs(th.t, agent, presence(sc.Session, true, false))
	}
	return j
}

// occupyAllBut fills the nameplate table with in-memory placeholder
// sessions for every nameplate but free.
// occupyAllBut takes every nameplate the test hub hands out but free.
func (th *testHub) occupyAllBut(free ...string) {
	th.h.mu.Lock()
	defer th.h.mu.Unlock()
	far := th.clock.now().Add(1000 * time.Hour)
	for i := range th.h.nameplates {
		np := fmt.Sprintf("%0*d", protocol.NameplateLen, i)
		if slices.Contains(free, np) || th.h.byNameplate[np] != nil {
			continue
		}
		th.h.byNameplate[np] = &session{ID: "placeholder" + np, Nameplate: np, KeyExpires: far}
	}
}

func errCode(m *pb.RelayMsg) string {
	if e := m.GetError(); e != nil {
		return e.Code
	}
	return ""
}

func wantErr(t *testing.T, m *pb.RelayMsg, code string) {
	t.Helper()
	if got := errCode(m); got != code {
		t.Fatalf("got %v, want error %q", m, code)
	}
}

func wantOk(t *testing.T, m *pb.RelayMsg) {
	t.Helper()
	if m.GetOk() == nil {
		t.Fatalf("got %v, want Ok", m)
	}
}

// wantMsgs checks that c received exactly want since the last take.
func wantMsgs(t *testing.T, c *fakeClient, want ...*pb.RelayMsg) {
	t.Helper()
	got := c.take()
	if len(got) != len(want) {
		t.Fatalf("client %v got %d messages %v, want %d: %v", c.addr, len(got), got, len(want), want)
	}
	for i := range got {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("client %v message %d = %v, want %v", c.addr, i, got[i], want[i])
		}
	}
}

// wantEnded checks that c received exactly one SessionEnded for id.
func wantEnded(t *testing.T, c *fakeClient, id string) *pb.SessionEnded {
	t.Helper()
	got := c.take()
	if len(got) != 1 || got[0].GetSessionEnded().GetSession() != id {
		t.Fatalf("client %v got %v, want one SessionEnded for %s", c.addr, got, id)
	}
	return got[0].GetSessionEnded()
}

func signalMsg(id string, payload []byte) *pb.RelayMsg {
	return &pb.RelayMsg{Body: &pb.RelayMsg_Signal{Signal: &pb.Signal{Session: id, Payload: payload}}}
}

func (th *testHub) forwards(ch uint64, src, dst *fakeClient) {
	th.t.Helper()
	got, ok := th.h.forward(ch, src.addr)
	if !ok || got != dst.addr {
		th.t.Fatalf("forward(%x, %v) = %v, %v; want %v", ch, src.addr, got, ok, dst.addr)
	}
}

func (th *testHub) noForward(ch uint64, src netip.AddrPort) {
	th.t.Helper()
	if got, ok := th.h.forward(ch, src); ok {
		th.t.Fatalf("forward(%x, %v) = %v, true; want refused", ch, src, got)
	}
}

// --- sign-in ---------------------------------------------------------------

func TestSignIn(t *testing.T) {
	th := newTestHub(t)
	th.addAccount("alice")
	tests := []struct {
		name, user, password string
		wantCode             string
	}{
		{"good", "alice", testPassword, ""},
		{"wrong password", "alice", testPassword + "!", protocol.CodeAuthFailed},
		{"unknown agent", "mallory", testPassword, protocol.CodeAuthFailed},
		{"empty", "", "", protocol.CodeAuthFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := th.newClient()
			r := th.h.signIn(c.client, &pb.SignIn{Name: tc.user, Password: tc.password})
			if tc.wantCode != "" {
				wantErr(t, r, tc.wantCode)
				if c.agent != "" || c.role != pb.Role_ROLE_UNSPECIFIED {
					t.Fatalf("failed sign-in set agent %q role %v", c.agent, c.role)
				}
				wantErr(t, th.h.newSession(c.client), protocol.CodeNotAllowed)
				return
			}
			si := r.GetSignedIn()
			if si == nil || si.Name != tc.user || si.DisplayName != tc.user {
				t.Fatalf("signIn = %v", r)
			}
			if c.agent != tc.user || c.role != pb.Role_ROLE_AGENT {
				t.Fatalf("client agent %q role %v", c.agent, c.role)
			}
		})
	}
}

func TestSignInOnlineCount(t *testing.T) {
	th := newTestHub(t)
	a1 := th.agent("alice")
	a2 := th.agent("alice")
	b := th.agent("bob")
	if _, online := th.h.stats(); online != 2 {
		t.Fatalf("online = %d, want 2", online)
	}
	// Signing in again on the same connection does not count twice.
	th.h.signIn(a1.client, &pb.SignIn{Name: "alice", Password: testPassword})
	th.h.disconnect(a1.client)
	if _, online := th.h.stats(); online != 2 {
		t.Fatalf("online after one of two alice connections left = %d, want 2", online)
	}
	th.h.disconnect(a2.client)
	th.h.disconnect(b.client)
	if _, online := th.h.stats(); online != 0 {
		t.Fatalf("online after everybody left = %d, want 0", online)
	}
}

func TestSignInSendsFilePolicy(t *testing.T) {
	signIn := func(th *testHub, name string) *pb.FilePolicy {
		t.Helper()
		th.addAccount(name)
		r := th.h.signIn(th.newClient().client, &pb.SignIn{Name: name, Password: testPassword})
		if err := protocol.ValidateRelayMsg(r); err != nil {
			t.Fatalf("the sign-in reply would be refused by the client: %v (%v)", err, r)
		}
		if r.GetSignedIn() == nil {
			t.Fatalf("signIn = %v", r)
		}
		return r.GetSignedIn().GetFilePolicy()
	}

	t.Run("default", func(t *testing.T) {
		got := signIn(newTestHub(t), "alice")
		want := &pb.FilePolicy{Enabled: true, InvitationMs: 600_000}
		if !proto.Equal(got, want) || !proto.Equal(DefaultFilePolicy(), want) {
			t.Fatalf("file policy = %v, want %v", got, want)
		}
	})

	t.Run("configured", func(t *testing.T) {
		cfg := &pb.FilePolicy{
			Enabled: true, Extensions: []string{"pdf", "png"}, ContentTypes: []string{"image/*", "application/pdf"},
			MaxSize: 25_000_000, MaxFiles: 10, InvitationRequired: true, InvitationMs: 300_000,
		}
		want := proto.Clone(cfg).(*pb.FilePolicy)
		th := newTestHub(t, func(c *Config) { c.FilePolicy = cfg })
		cfg.Extensions[0] = "exe" // the relay keeps its own copy
		got := signIn(th, "alice")
		if !proto.Equal(got, want) {
			t.Fatalf("file policy = %v, want %v", got, want)
		}
		got.MaxFiles = 99 // nor does one reply share it with the next
		if got := signIn(th, "bob"); !proto.Equal(got, want) {
			t.Fatalf("second agent's file policy = %v, want %v", got, want)
		}
	})

	t.Run("disabled", func(t *testing.T) {
		th := newTestHub(t, func(c *Config) { c.FilePolicy = &pb.FilePolicy{InvitationMs: 600_000} })
		if got := signIn(th, "alice"); got == nil || got.Enabled {
			t.Fatalf("file policy = %v, want a disabled one (present, enabled false)", got)
		}
	})
}

func TestNewRefusesInvalidFilePolicy(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, err := New(Config{DataDir: dir, Listen: "127.0.0.1:0", FilePolicy: &pb.FilePolicy{Enabled: true, Extensions: []string{""}}},
		slog.New(slog.DiscardHandler))
	if !errors.Is(err, protocol.ErrInvalid) {
		t.Fatalf("New with an empty extension = %v, want ErrInvalid", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a refused config created the data folder (%v)", err)
	}
}

func TestSignInRateLimit(t *testing.T) {
	// Note: the limiter uses the wall clock, not hub.now, so the fake clock
	// cannot show tokens coming back; GuessEvery is an hour so none does
	// during the test.
	th := newTestHub(t) // GuessBurst 3
	th.addAccount("alice")
	bad := &pb.SignIn{Name: "alice", Password: "wrong password"}
	good := &pb.SignIn{Name: "alice", Password: testPassword}

	// Different ports of one host share the limit.
	for i := range 3 {
		c := th.clientAt(fmt.Sprintf("198.51.100.7:%d", 1000+i))
		wantErr(t, th.h.signIn(c.client, bad), protocol.CodeAuthFailed)
	}
	c := th.clientAt("198.51.100.7:2000")
	wantErr(t, th.h.signIn(c.client, bad), protocol.CodeRateLimited)
	// Even the right password is refused while limited.
	wantErr(t, th.h.signIn(c.client, good), protocol.CodeRateLimited)
	if c.agent != "" {
		t.Fatal("a rate-limited sign-in signed the client in")
	}

	// Another address is not affected.
	other := th.clientAt("198.51.100.8:1000")
	if r := th.h.signIn(other.client, good); r.GetSignedIn() == nil {
		t.Fatalf("sign-in from another address: %v", r)
	}
	wantErr(t, th.h.signIn(other.client, bad), protocol.CodeAuthFailed)
}

func TestSignInSuccessDoesNotConsumeLimit(t *testing.T) {
	th := newTestHub(t, func(c *Config) { c.GuessBurst = 2 })
	th.addAccount("alice")
	c := th.clientAt("198.51.100.9:1000")
	bad := &pb.SignIn{Name: "alice", Password: "wrong password"}
	good := &pb.SignIn{Name: "alice", Password: testPassword}

	wantErr(t, th.h.signIn(c.client, bad), protocol.CodeAuthFailed)
	for i := range 4 {
		if r := th.h.signIn(c.client, good); r.GetSignedIn() == nil {
			t.Fatalf("good sign-in %d: %v", i, r)
		}
	}
	// One failure of the burst of two is left.
	wantErr(t, th.h.signIn(c.client, bad), protocol.CodeAuthFailed)
	wantErr(t, th.h.signIn(c.client, bad), protocol.CodeRateLimited)
}

// TestSignInRateLimitConcurrent shows that the guess limit for sign-ins is
// checked before the (slow) password check and charged after it, so
// concurrent attempts from one address (one per connection) all pass the
// check: the limit of GuessBurst failures is exceeded.
func TestSignInRateLimitConcurrent(t *testing.T) {
	const burst, attempts = 2, 8
	th := newTestHub(t, func(c *Config) { c.GuessBurst = burst })
	th.addAccount("alice")
	clients := make([]*fakeClient, attempts)
	for i := range clients {
		clients[i] = th.clientAt(fmt.Sprintf("198.51.100.10:%d", 1000+i))
	}
	start := make(chan struct{})
	codes := make([]string, attempts)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			<-start
			codes[i] = errCode(th.h.signIn(c.client, &pb.SignIn{Name: "alice", Password: "guess " + fmt.Sprint(i)}))
		})
	}
	close(start)
	wg.Wait()
	checked := 0
	for _, code := range codes {
		if code == protocol.CodeAuthFailed {
			checked++
		}
	}
	if checked > burst {
		t.Errorf("BUG: %d concurrent wrong passwords from one address were checked (codes %v); the limit is %d", checked, codes, burst)
	}
}

// --- sessions --------------------------------------------------------------

var (
	nameplateRE = regexp.MustCompile(`^[0-9]{8}$`)
	sessionIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

func TestNewSessionRequiresSignIn(t *testing.T) {
	th := newTestHub(t)
	th.addAccount("alice")
	c := th.newClient()
	wantErr(t, th.h.newSession(c.client), protocol.CodeNotAllowed)
	th.h.signIn(c.client, &pb.SignIn{Name: "alice", Password: "wrong password"})
	wantErr(t, th.h.newSession(c.client), protocol.CodeNotAllowed)

	// A customer may not create sessions either.
	a := th.agent("alice")
	sc := th.newSession(a)
	cust := th.newClient()
	th.join(cust, a, sc)
	wantErr(t, th.h.newSession(cust.client), protocol.CodeNotAllowed)
	if n, _ := th.h.stats(); n != 1 {
		t.Fatalf("sessions = %d, want 1", n)
	}
}

func TestNewSession(t *testing.T) {
	th := newTestHub(t)
	th.h.nameplates = nameplateSpace // the relay's own: all of them
	a := th.agent("alice")
	now := th.clock.now()
	nameplates, ids, channels := map[string]bool{}, map[string]bool{}, map[uint64]bool{}
	const n = 200
	high := 0
	for range n {
		sc := th.newSession(a)
		if !nameplateRE.MatchString(sc.Nameplate) {
			t.Fatalf("nameplate %q is not %d digits", sc.Nameplate, protocol.NameplateLen)
		}
		if sc.Nameplate[0] >= '5' {
			high++
		}
		if !sessionIDRE.MatchString(sc.Session) || protocol.ValidSessionID(sc.Session) != nil {
			t.Fatalf("session id %q is not 32 lowercase hex digits", sc.Session)
		}
		if want := now.Add(th.cfg.KeyLifetime).UnixMilli(); sc.ExpiresUnixMs != want {
			t.Fatalf("expires %d, want %d", sc.ExpiresUnixMs, want)
		}
		if sc.RelayChannel == 0 {
			t.Fatal("relay channel 0")
		}
		if nameplates[sc.Nameplate] || ids[sc.Session] || channels[sc.RelayChannel] {
			t.Fatalf("duplicate nameplate, id or channel in %v", sc)
		}
		nameplates[sc.Nameplate], ids[sc.Session], channels[sc.RelayChannel] = true, true, true
	}
	if got, _ := th.h.stats(); got != n {
		t.Fatalf("sessions = %d, want %d", got, n)
	}
	// Spread over the whole space (a chance under 10^-11 of failing).
	if high < n/4 || high > 3*n/4 {
		t.Fatalf("%d of %d nameplates start with 5-9, want about half", high, n)
	}
	if len(a.sessions) != n {
		t.Fatalf("the agent is bound to %d sessions, want %d", len(a.sessions), n)
	}
	// Nobody has joined yet, so nothing can be forwarded.
	for ch := range channels {
		th.noForward(ch, a.addr)
	}
}

func TestNewSessionNameplatesUniqueWhenNearlyFull(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	free := []string{"00000000", "00004711", "00009999"}
	th.occupyAllBut(free...)
	var got []string
	for range free {
		got = append(got, th.newSession(a).Nameplate)
	}
	slices.Sort(got)
	if !slices.Equal(got, free) {
		t.Fatalf("nameplates %v, want the free ones %v", got, free)
	}
	wantErr(t, th.h.newSession(a.client), protocol.CodeInternal)
}

// --- join ------------------------------------------------------------------

func TestJoin(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	cust := th.newClient()
	r := th.h.join(cust.client, &pb.Join{Nameplate: sc.Nameplate})
	j := r.GetJoined()
	if j == nil {
		t.Fatalf("join: %v", r)
	}
	if j.Session != sc.Session || j.AgentName != "alice" || j.RelayChannel != sc.RelayChannel || !j.AgentOnline {
		t.Fatalf("Joined = %v", j)
	}
	if len(j.RejoinToken) != 32 {
		t.Fatalf("rejoin token has %d bytes", len(j.RejoinToken))
	}
	if bytes.Equal(j.RejoinToken, make([]byte, 32)) {
		t.Fatal("rejoin token is all zeros")
	}
	wantMsgs(t, a, presence(sc.Session, true, false))
	wantMsgs(t, cust)
	if cust.role != pb.Role_ROLE_CUSTOMER || cust.sessions[sc.Session] == nil {
		t.Fatalf("customer role %v sessions %v", cust.role, cust.sessions)
	}
	th.forwards(sc.RelayChannel, a, cust)
	th.forwards(sc.RelayChannel, cust, a)

	// Another session's customer gets another token.
	sc2 := th.newSession(a)
	j2 := th.join(th.newClient(), a, sc2)
	if bytes.Equal(j.RejoinToken, j2.RejoinToken) {
		t.Fatal("two sessions got the same rejoin token")
	}
}

func TestJoinErrors(t *testing.T) {
	tests := []struct {
		name string
		// setup returns the nameplate to try; it may advance the clock.
		setup    func(th *testHub, a *fakeClient, sc *pb.SessionCreated) string
		wantCode string
	}{
		{"unknown nameplate", func(th *testHub, a *fakeClient, sc *pb.SessionCreated) string {
			return otherNameplate(sc.Nameplate)
		}, protocol.CodeBadKey},
		{"expired key", func(th *testHub, a *fakeClient, sc *pb.SessionCreated) string {
			th.clock.advance(th.cfg.KeyLifetime)
			return sc.Nameplate
		}, protocol.CodeExpired},
		{"used key", func(th *testHub, a *fakeClient, sc *pb.SessionCreated) string {
			th.join(th.newClient(), a, sc)
			return sc.Nameplate
		}, protocol.CodeUsed},
		{"ended session", func(th *testHub, a *fakeClient, sc *pb.SessionCreated) string {
			wantOk(th.t, th.h.endSession(a.client, &pb.EndSession{Session: sc.Session}))
			return sc.Nameplate
		}, protocol.CodeExpired},
		{"agent offline", func(th *testHub, a *fakeClient, sc *pb.SessionCreated) string {
			th.h.disconnect(a.client)
			return sc.Nameplate
		}, protocol.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			th := newTestHub(t)
			a := th.agent("alice")
			sc := th.newSession(a)
			np := tc.setup(th, a, sc)
			a.take()
			cust := th.newClient()
			wantErr(t, th.h.join(cust.client, &pb.Join{Nameplate: np}), tc.wantCode)
			if len(cust.sessions) != 0 || cust.role == pb.Role_ROLE_CUSTOMER {
				t.Fatalf("a refused join bound the client: role %v sessions %v", cust.role, cust.sessions)
			}
		})
	}
}

func otherNameplate(np string) string {
	for i := range 10000 {
		if s := fmt.Sprintf("%04d", i); s != np {
			return s
		}
	}
	panic("unreachable")
}

func TestJoinExpiry(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	early := th.newSession(a)
	late := th.newSession(a)

	// The key is good until just before KeyLifetime has passed...
	th.clock.advance(th.cfg.KeyLifetime - time.Nanosecond)
	th.join(th.newClient(), a, early)

	// ...and expired from then on. The agent is told the session ended.
	th.clock.advance(time.Nanosecond)
	expiredAt := th.clock.now()
	wantErr(t, th.h.join(th.newClient().client, &pb.Join{Nameplate: late.Nameplate}), protocol.CodeExpired)
	wantEnded(t, a, late.Session)
	if _, ok := a.sessions[late.Session]; ok {
		t.Fatal("the agent is still bound to the expired session")
	}
	if n, _ := th.h.stats(); n != 1 {
		t.Fatalf("sessions = %d, want 1", n)
	}
	th.noForward(late.RelayChannel, a.addr)

	// The key stays "expired" (not "unknown") for RetireFor.
	th.clock.advance(th.cfg.RetireFor - time.Nanosecond)
	wantErr(t, th.h.join(th.newClient().client, &pb.Join{Nameplate: late.Nameplate}), protocol.CodeExpired)
	if !th.clock.now().Before(expiredAt.Add(th.cfg.RetireFor)) {
		t.Fatal("test clock arithmetic is off")
	}
	th.clock.advance(time.Nanosecond)
	wantErr(t, th.h.join(th.newClient().client, &pb.Join{Nameplate: late.Nameplate}), protocol.CodeBadKey)
	wantMsgs(t, a)
}

func TestJoinUsedKeyIsRetired(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	cust := th.newClient()
	th.join(cust, a, sc)
	joinedAt := th.clock.now()

	// A second customer with the same key is told it was used, and the
	// first customer keeps the session.
	wantErr(t, th.h.join(th.newClient().client, &pb.Join{Nameplate: sc.Nameplate}), protocol.CodeUsed)
	th.forwards(sc.RelayChannel, a, cust)
	wantMsgs(t, a)

	// The nameplate is not handed out again while retired, even when it is
	// the only free one.
	th.occupyAllBut(sc.Nameplate)
	th.clock.advance(th.cfg.RetireFor - time.Nanosecond)
	wantErr(t, th.h.join(th.newClient().client, &pb.Join{Nameplate: sc.Nameplate}), protocol.CodeUsed)
	wantErr(t, th.h.newSession(a.client), protocol.CodeInternal)

	// After RetireFor the nameplate is unknown and can be reused.
	th.clock.advance(time.Nanosecond)
	if th.clock.now() != joinedAt.Add(th.cfg.RetireFor) {
		t.Fatal("test clock arithmetic is off")
	}
	wantErr(t, th.h.join(th.newClient().client, &pb.Join{Nameplate: sc.Nameplate}), protocol.CodeBadKey)
	sc2 := th.newSession(a)
	if sc2.Nameplate != sc.Nameplate || sc2.Session == sc.Session {
		t.Fatalf("new session %v, want nameplate %s reused for a new session", sc2, sc.Nameplate)
	}
	// The new key reaches the new session, never the old one.
	j := th.join(th.newClient(), a, sc2)
	if j.Session != sc2.Session {
		t.Fatalf("joined %s, want %s", j.Session, sc2.Session)
	}
}

func TestJoinAgentOfflineDoesNotBurnKey(t *testing.T) {
	th := newTestHub(t, func(c *Config) { c.GuessBurst = 1 })
	a := th.agent("alice")
	sc := th.newSession(a)
	th.h.disconnect(a.client)

	cust := th.clientAt("203.0.113.20:5000")
	for range 3 {
		r := th.h.join(cust.client, &pb.Join{Nameplate: sc.Nameplate})
		wantErr(t, r, protocol.CodeNotFound)
	}
	if len(cust.sessions) != 0 {
		t.Fatal("customer bound to a session its agent is not connected to")
	}
	// Trying a real key while the agent is away is not a failed guess.
	wantErr(t, th.h.join(cust.client, &pb.Join{Nameplate: otherNameplate(sc.Nameplate)}), protocol.CodeBadKey)

	// The agent comes back; the key still works (from another address, as
	// the customer's one-guess burst is spent now).
	a2 := th.agent("alice")
	r := th.h.attach(a2.client, &pb.Attach{Sessions: []string{sc.Session}})
	want := &pb.RelayMsg{Body: &pb.RelayMsg_Attached{Attached: &pb.Attached{Sessions: []*pb.AttachedSession{{
		Session: sc.Session, Open: true, RelayChannel: sc.RelayChannel,
		Nameplate: sc.Nameplate, ExpiresUnixMs: sc.ExpiresUnixMs,
	}}}}}
	if !proto.Equal(r, want) {
		t.Fatalf("attach = %v, want %v", r, want)
	}
	cust2 := th.newClient()
	th.join(cust2, a2, sc)
	th.forwards(sc.RelayChannel, a2, cust2)
}

func TestJoinRateLimit(t *testing.T) {
	th := newTestHub(t) // GuessBurst 3
	a := th.agent("alice")
	sc := th.newSession(a)
	wrong := otherNameplate(sc.Nameplate)

	for i := range 3 {
		c := th.clientAt(fmt.Sprintf("203.0.113.5:%d", 1000+i))
		wantErr(t, th.h.join(c.client, &pb.Join{Nameplate: wrong}), protocol.CodeBadKey)
	}
	c := th.clientAt("203.0.113.5:2000")
	// Limited, even with the right key, and the key is not spent.
	wantErr(t, th.h.join(c.client, &pb.Join{Nameplate: sc.Nameplate}), protocol.CodeRateLimited)
	if len(c.sessions) != 0 {
		t.Fatal("a rate-limited join bound the client")
	}
	wantMsgs(t, a)
	// The limit is per address and shared by sign-ins and rejoins.
	wantErr(t, th.h.rejoin(c.client, &pb.Rejoin{Session: sc.Session, Token: make([]byte, 32)}), protocol.CodeRateLimited)
	th.addAccount("bob")
	wantErr(t, th.h.signIn(c.client, &pb.SignIn{Name: "bob", Password: testPassword}), protocol.CodeRateLimited)

	// Another address can still join with the key.
	th.join(th.clientAt("203.0.113.6:1000"), a, sc)
}

func TestJoinExpiredAndUsedCountAsFailures(t *testing.T) {
	th := newTestHub(t, func(c *Config) { c.GuessBurst = 2 })
	a := th.agent("alice")
	used := th.newSession(a)
	th.join(th.newClient(), a, used)
	c := th.clientAt("203.0.113.30:1000")
	wantErr(t, th.h.join(c.client, &pb.Join{Nameplate: used.Nameplate}), protocol.CodeUsed)
	wantErr(t, th.h.join(c.client, &pb.Join{Nameplate: used.Nameplate}), protocol.CodeUsed)
	wantErr(t, th.h.join(c.client, &pb.Join{Nameplate: used.Nameplate}), protocol.CodeRateLimited)
}

// --- rejoin ----------------------------------------------------------------

func TestRejoin(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	cust := th.newClient()
	j := th.join(cust, a, sc)

	// The customer's connection drops.
	th.h.disconnect(cust.client)
	wantMsgs(t, a, presence(sc.Session, false, false))
	th.noForward(sc.RelayChannel, a.addr)
	th.noForward(sc.RelayChannel, cust.addr)
	wantErr(t, th.h.signal(a.client, &pb.Signal{Session: sc.Session}), protocol.CodePeerUnreachable)

	// It comes back from a new address with its token.
	cust2 := th.newClient()
	r := th.h.rejoin(cust2.client, &pb.Rejoin{Session: sc.Session, Token: j.RejoinToken})
	want := &pb.RelayMsg{Body: &pb.RelayMsg_Joined{Joined: &pb.Joined{
		Session: sc.Session, AgentName: "alice", RejoinToken: j.RejoinToken, RelayChannel: sc.RelayChannel, AgentOnline: true,
	}}}
	if !proto.Equal(r, want) {
		t.Fatalf("rejoin = %v, want %v", r, want)
	}
	wantMsgs(t, a, presence(sc.Session, true, true))
	if cust2.role != pb.Role_ROLE_CUSTOMER {
		t.Fatalf("rejoined client role %v", cust2.role)
	}
	th.forwards(sc.RelayChannel, a, cust2)
	th.forwards(sc.RelayChannel, cust2, a)
	th.noForward(sc.RelayChannel, cust.addr)
	if r := th.h.signal(a.client, &pb.Signal{Session: sc.Session, Payload: []byte("hi")}); r != nil {
		t.Fatalf("signal after rejoin: %v", r)
	}
	wantMsgs(t, cust2, signalMsg(sc.Session, []byte("hi")))

	// A rejoin while the old connection still looks alive takes over.
	cust3 := th.newClient()
	if r := th.h.rejoin(cust3.client, &pb.Rejoin{Session: sc.Session, Token: j.RejoinToken}); r.GetJoined() == nil {
		t.Fatalf("second rejoin: %v", r)
	}
	wantMsgs(t, a, presence(sc.Session, true, true))
	if _, ok := cust2.sessions[sc.Session]; ok {
		t.Fatal("the replaced customer connection is still bound")
	}
	wantErr(t, th.h.signal(cust2.client, &pb.Signal{Session: sc.Session}), protocol.CodeNotAllowed)
	th.forwards(sc.RelayChannel, a, cust3)
	// The replaced connection closing later does not disturb the session.
	th.h.disconnect(cust2.client)
	wantMsgs(t, a)
	th.forwards(sc.RelayChannel, a, cust3)
}

func TestRejoinWhileAgentOffline(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	cust := th.newClient()
	j := th.join(cust, a, sc)
	th.h.disconnect(a.client)
	wantMsgs(t, cust, presence(sc.Session, false, false))
	th.h.disconnect(cust.client)

	cust2 := th.newClient()
	r := th.h.rejoin(cust2.client, &pb.Rejoin{Session: sc.Session, Token: j.RejoinToken})
	if r.GetJoined() == nil || r.GetJoined().AgentOnline {
		t.Fatalf("rejoin = %v, want Joined with the agent offline", r)
	}
	wantMsgs(t, a) // the old agent connection is told nothing
}

func TestRejoinRefused(t *testing.T) {
	th := newTestHub(t, func(c *Config) { c.GuessBurst = 100 })
	a := th.agent("alice")
	joined := th.newSession(a)
	cust := th.newClient()
	j := th.join(cust, a, joined)
	unjoined := th.newSession(a)

	badToken := bytes.Clone(j.RejoinToken)
	badToken[0] ^= 1
	tests := []struct {
		name     string
		m        *pb.Rejoin
		wantCode string
	}{
		{"wrong token", &pb.Rejoin{Session: joined.Session, Token: badToken}, protocol.CodeNotAllowed},
		{"empty token", &pb.Rejoin{Session: joined.Session}, protocol.CodeNotAllowed},
		{"token of another session", &pb.Rejoin{Session: unjoined.Session, Token: j.RejoinToken}, protocol.CodeNotAllowed},
		{"unjoined session, no token", &pb.Rejoin{Session: unjoined.Session}, protocol.CodeNotAllowed},
		{"unknown session", &pb.Rejoin{Session: "0123456789abcdef0123456789abcdef", Token: j.RejoinToken}, protocol.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := th.newClient()
			wantErr(t, th.h.rejoin(c.client, tc.m), tc.wantCode)
			if len(c.sessions) != 0 || c.role == pb.Role_ROLE_CUSTOMER {
				t.Fatal("a refused rejoin bound the client")
			}
			wantMsgs(t, a)
			th.forwards(joined.RelayChannel, a, cust)
		})
	}
}

func TestRejoinWrongTokenIsLimited(t *testing.T) {
	th := newTestHub(t, func(c *Config) { c.GuessBurst = 2 })
	a := th.agent("alice")
	sc := th.newSession(a)
	j := th.join(th.newClient(), a, sc)
	c := th.clientAt("203.0.113.40:1000")
	bad := &pb.Rejoin{Session: sc.Session, Token: make([]byte, 32)}
	wantErr(t, th.h.rejoin(c.client, bad), protocol.CodeNotAllowed)
	wantErr(t, th.h.rejoin(c.client, bad), protocol.CodeNotAllowed)
	wantErr(t, th.h.rejoin(c.client, &pb.Rejoin{Session: sc.Session, Token: j.RejoinToken}), protocol.CodeRateLimited)
}

func TestRejoinAfterEnd(t *testing.T) {
	for _, by := range []string{"agent", "customer"} {
		t.Run("ended by "+by, func(t *testing.T) {
			th := newTestHub(t)
			a := th.agent("alice")
			sc := th.newSession(a)
			cust := th.newClient()
			j := th.join(cust, a, sc)
			th.pair(a, sc) // a customer who has not paired only leaves (TestUnpairedJoinerCannotEndTheSession)
			ender := a
			if by == "customer" {
				ender = cust
			}
			wantOk(t, th.h.endSession(ender.client, &pb.EndSession{Session: sc.Session}))
			th.h.disconnect(cust.client)
			c := th.newClient()
			wantErr(t, th.h.rejoin(c.client, &pb.Rejoin{Session: sc.Session, Token: j.RejoinToken}), protocol.CodeSessionEnded)
			if len(c.sessions) != 0 {
				t.Fatal("rejoin of an ended session bound the client")
			}
			// The tombstone survives a restart too.
			th.restart()
			wantErr(t, th.h.rejoin(th.newClient().client, &pb.Rejoin{Session: sc.Session, Token: j.RejoinToken}), protocol.CodeSessionEnded)
		})
	}
}

// --- restart ---------------------------------------------------------------

func TestStateSurvivesRestart(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	joined := th.newSession(a)
	cust := th.newClient()
	j := th.join(cust, a, joined)
	open := th.newSession(a)
	ended := th.newSession(a)
	jEnded := th.join(th.newClient(), a, ended)
	wantOk(t, th.h.endSession(a.client, &pb.EndSession{Session: ended.Session}))

	th.clock.advance(time.Minute)
	th.restart() // a crash: nobody is disconnected

	if n, online := th.h.stats(); n != 2 || online != 0 {
		t.Fatalf("after restart: %d sessions, %d online; want 2, 0", n, online)
	}
	// Nothing is routed until the peers come back.
	th.noForward(joined.RelayChannel, a.addr)
	th.noForward(joined.RelayChannel, cust.addr)

	// The customer rejoins first; its agent is not back yet.
	cust2 := th.newClient()
	r := th.h.rejoin(cust2.client, &pb.Rejoin{Session: joined.Session, Token: j.RejoinToken})
	want := &pb.RelayMsg{Body: &pb.RelayMsg_Joined{Joined: &pb.Joined{
		Session: joined.Session, AgentName: "alice", RejoinToken: j.RejoinToken, RelayChannel: joined.RelayChannel,
	}}}
	if !proto.Equal(r, want) {
		t.Fatalf("rejoin after restart = %v, want %v", r, want)
	}
	bad := bytes.Clone(j.RejoinToken)
	bad[31] ^= 0x80
	wantErr(t, th.h.rejoin(th.newClient().client, &pb.Rejoin{Session: joined.Session, Token: bad}), protocol.CodeNotAllowed)
	wantErr(t, th.h.rejoin(th.newClient().client, &pb.Rejoin{Session: ended.Session, Token: jEnded.RejoinToken}), protocol.CodeSessionEnded)

	// The agent comes back and attaches.
	a2 := th.agent("alice")
	r = th.h.attach(a2.client, &pb.Attach{Sessions: []string{joined.Session, open.Session, ended.Session}})
	want = &pb.RelayMsg{Body: &pb.RelayMsg_Attached{Attached: &pb.Attached{Sessions: []*pb.AttachedSession{
		{Session: joined.Session, Open: true, CustomerOnline: true, RelayChannel: joined.RelayChannel, Joined: true},
		{Session: open.Session, Open: true, RelayChannel: open.RelayChannel, Nameplate: open.Nameplate, ExpiresUnixMs: open.ExpiresUnixMs},
		{Session: ended.Session},
	}}}}
	if !proto.Equal(r, want) {
		t.Fatalf("attach after restart = %v, want %v", r, want)
	}
	wantMsgs(t, cust2, presence(joined.Session, true, false))
	th.forwards(joined.RelayChannel, a2, cust2)
	th.forwards(joined.RelayChannel, cust2, a2)

	// The used key is still retired; the open one still works.
	wantErr(t, th.h.join(th.newClient().client, &pb.Join{Nameplate: joined.Nameplate}), protocol.CodeUsed)
	wantErr(t, th.h.join(th.newClient().client, &pb.Join{Nameplate: ended.Nameplate}), protocol.CodeUsed)
	j2 := th.join(th.newClient(), a2, open)
	if j2.Session != open.Session {
		t.Fatalf("joined %s, want %s", j2.Session, open.Session)
	}
	// ...and neither retired nameplate is handed out.
	th.occupyAllBut(joined.Nameplate, ended.Nameplate)
	wantErr(t, th.h.newSession(a2.client), protocol.CodeInternal)

	// The customer drops and rejoins again, with the agent told.
	th.h.disconnect(cust2.client)
	wantMsgs(t, a2, presence(joined.Session, false, false))
	if r := th.h.rejoin(th.newClient().client, &pb.Rejoin{Session: joined.Session, Token: j.RejoinToken}); r.GetJoined() == nil {
		t.Fatalf("rejoin: %v", r)
	}
	wantMsgs(t, a2, presence(joined.Session, true, true))
}

func TestRestartKeepsKeyExpiry(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	th.restart()
	a2 := th.agent("alice")
	th.h.attach(a2.client, &pb.Attach{Sessions: []string{sc.Session}})
	th.clock.advance(th.cfg.KeyLifetime)
	wantErr(t, th.h.join(th.newClient().client, &pb.Join{Nameplate: sc.Nameplate}), protocol.CodeExpired)
	wantEnded(t, a2, sc.Session)
}

// --- signals ---------------------------------------------------------------

func TestSignal(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	cust := th.newClient()
	th.join(cust, a, sc)

	// Bystanders: another agent with its own session and customer, an agent
	// who is not in the session, and a client that never joined.
	b := th.agent("bob")
	other := th.newSession(b)
	otherCust := th.newClient()
	th.join(otherCust, b, other)
	carol := th.agent("carol")
	stranger := th.newClient()

	tests := []struct {
		name     string
		from, to *fakeClient
		session  string
		wantCode string
	}{
		{"agent to customer", a, cust, sc.Session, ""},
		{"customer to agent", cust, a, sc.Session, ""},
		{"other session's agent", b, nil, sc.Session, protocol.CodeNotAllowed},
		{"other session's customer", otherCust, nil, sc.Session, protocol.CodeNotAllowed},
		{"agent not in the session", carol, nil, sc.Session, protocol.CodeNotAllowed},
		{"stranger", stranger, nil, sc.Session, protocol.CodeNotAllowed},
		{"unknown session", a, nil, "0123456789abcdef0123456789abcdef", protocol.CodeNotAllowed},
	}
	all := []*fakeClient{a, cust, b, otherCust, carol, stranger}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payload := []byte(fmt.Sprintf("payload %d", i))
			r := th.h.signal(tc.from.client, &pb.Signal{Session: tc.session, Payload: payload})
			if tc.wantCode != "" {
				wantErr(t, r, tc.wantCode)
			} else if r != nil {
				t.Fatalf("signal replied %v, want no reply", r)
			}
			for _, c := range all {
				if c == tc.to {
					wantMsgs(t, c, signalMsg(tc.session, payload))
				} else {
					wantMsgs(t, c)
				}
			}
		})
	}
}

func TestSignalPeerUnreachable(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)

	// Nobody has joined yet.
	wantErr(t, th.h.signal(a.client, &pb.Signal{Session: sc.Session}), protocol.CodePeerUnreachable)

	cust := th.newClient()
	th.join(cust, a, sc)
	th.h.disconnect(a.client)
	wantMsgs(t, cust, presence(sc.Session, false, false))
	wantErr(t, th.h.signal(cust.client, &pb.Signal{Session: sc.Session, Payload: []byte("x")}), protocol.CodePeerUnreachable)
	// The disconnected agent connection is no longer in the session at all.
	wantErr(t, th.h.signal(a.client, &pb.Signal{Session: sc.Session}), protocol.CodeNotAllowed)
	wantMsgs(t, a)
	wantMsgs(t, cust)
}

// --- presence, attach ------------------------------------------------------

func TestDisconnectAndAttach(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	cust := th.newClient()
	th.join(cust, a, sc)

	// The agent drops: the customer is told and the agent's route is gone.
	th.h.disconnect(a.client)
	wantMsgs(t, cust, presence(sc.Session, false, false))
	th.noForward(sc.RelayChannel, cust.addr)
	th.noForward(sc.RelayChannel, a.addr)
	if _, online := th.h.stats(); online != 0 {
		t.Fatalf("online = %d after the only agent left", online)
	}

	// It reconnects from a new address and attaches.
	a2 := th.agent("alice")
	r := th.h.attach(a2.client, &pb.Attach{Sessions: []string{sc.Session}})
	want := &pb.RelayMsg{Body: &pb.RelayMsg_Attached{Attached: &pb.Attached{Sessions: []*pb.AttachedSession{{
		Session: sc.Session, Open: true, CustomerOnline: true, RelayChannel: sc.RelayChannel, Joined: true,
	}}}}}
	if !proto.Equal(r, want) {
		t.Fatalf("attach = %v, want %v", r, want)
	}
	wantMsgs(t, cust, presence(sc.Session, true, false))
	th.forwards(sc.RelayChannel, a2, cust)
	th.forwards(sc.RelayChannel, cust, a2)
	th.noForward(sc.RelayChannel, a.addr)
	if r := th.h.signal(cust.client, &pb.Signal{Session: sc.Session, Payload: []byte("back")}); r != nil {
		t.Fatal(r)
	}
	wantMsgs(t, a2, signalMsg(sc.Session, []byte("back")))

	// Now the customer drops: the agent is told.
	th.h.disconnect(cust.client)
	wantMsgs(t, a2, presence(sc.Session, false, false))
	th.noForward(sc.RelayChannel, a2.addr)
	r = th.h.attach(a2.client, &pb.Attach{Sessions: []string{sc.Session}})
	if as := r.GetAttached().GetSessions(); len(as) != 1 || !as[0].Open || as[0].CustomerOnline {
		t.Fatalf("attach with the customer away = %v", r)
	}
	wantMsgs(t, cust)
}

func TestAttachTakesOverFromOtherConnection(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	cust := th.newClient()
	th.join(cust, a, sc)

	// The same agent on a second connection (or after a silent drop).
	a2 := th.agent("alice")
	th.h.attach(a2.client, &pb.Attach{Sessions: []string{sc.Session}})
	wantMsgs(t, cust, presence(sc.Session, true, false))
	if _, ok := a.sessions[sc.Session]; ok {
		t.Fatal("the old agent connection is still bound")
	}
	th.forwards(sc.RelayChannel, cust, a2)

	// The old connection closing later must not take the session offline.
	th.h.disconnect(a.client)
	wantMsgs(t, cust)
	th.forwards(sc.RelayChannel, cust, a2)
	if r := th.h.signal(cust.client, &pb.Signal{Session: sc.Session, Payload: []byte("p")}); r != nil {
		t.Fatal(r)
	}
	wantMsgs(t, a2, signalMsg(sc.Session, []byte("p")))
}

func TestAttachRefused(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	cust := th.newClient()
	th.join(cust, a, sc)

	// Someone else's session, an unknown one.
	b := th.agent("bob")
	unknown := "0123456789abcdef0123456789abcdef"
	r := th.h.attach(b.client, &pb.Attach{Sessions: []string{sc.Session, unknown}})
	want := &pb.RelayMsg{Body: &pb.RelayMsg_Attached{Attached: &pb.Attached{Sessions: []*pb.AttachedSession{
		{Session: sc.Session}, {Session: unknown},
	}}}}
	if !proto.Equal(r, want) {
		t.Fatalf("attach of someone else's session = %v, want %v", r, want)
	}
	if len(b.sessions) != 0 {
		t.Fatal("bob got bound to alice's session")
	}
	wantMsgs(t, cust)
	th.forwards(sc.RelayChannel, cust, a)
	wantErr(t, th.h.signal(b.client, &pb.Signal{Session: sc.Session}), protocol.CodeNotAllowed)

	// Not signed in at all; a customer is not an agent either.
	wantErr(t, th.h.attach(th.newClient().client, &pb.Attach{Sessions: []string{sc.Session}}), protocol.CodeNotAllowed)
	wantErr(t, th.h.attach(cust.client, &pb.Attach{Sessions: []string{sc.Session}}), protocol.CodeNotAllowed)
	th.forwards(sc.RelayChannel, cust, a)
	wantMsgs(t, cust)
	wantMsgs(t, a)
}

func TestDisconnectUnboundClient(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	th.newSession(a)
	c := th.newClient()
	th.h.disconnect(c.client)
	th.h.disconnect(c.client) // twice is harmless
	wantMsgs(t, a)
	if n, online := th.h.stats(); n != 1 || online != 1 {
		t.Fatalf("stats = %d, %d", n, online)
	}
	// The agent's own unjoined session survives its disconnect.
	th.h.disconnect(a.client)
	if n, _ := th.h.stats(); n != 1 {
		t.Fatalf("sessions = %d after the agent dropped, want 1", n)
	}
}

// --- ending ----------------------------------------------------------------

func TestEndSessionRefused(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	cust := th.newClient()
	th.join(cust, a, sc)
	b := th.agent("bob")
	other := th.newSession(b)
	otherCust := th.newClient()
	th.join(otherCust, b, other)

	tests := []struct {
		name     string
		c        *fakeClient
		session  string
		wantCode string
	}{
		{"another agent", b, sc.Session, protocol.CodeNotAllowed},
		{"another session's customer", otherCust, sc.Session, protocol.CodeNotAllowed},
		{"not signed in", th.newClient(), sc.Session, protocol.CodeNotAllowed},
		{"unknown session", a, "0123456789abcdef0123456789abcdef", protocol.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, th.h.endSession(tc.c.client, &pb.EndSession{Session: tc.session}), tc.wantCode)
			if n, _ := th.h.stats(); n != 2 {
				t.Fatalf("sessions = %d, want 2", n)
			}
			wantMsgs(t, a)
			wantMsgs(t, cust)
			th.forwards(sc.RelayChannel, a, cust)
		})
	}

	// A customer whose connection dropped is no longer the session's
	// customer on that connection.
	th.h.disconnect(cust.client)
	a.take()
	wantErr(t, th.h.endSession(cust.client, &pb.EndSession{Session: sc.Session}), protocol.CodeNotAllowed)
}

func TestEndSession(t *testing.T) {
	tests := []struct {
		name        string
		byCustomer  bool
		byOtherConn bool
		reason      string
		wantReason  string
	}{
		{"owner, default reason", false, false, "", "the agent ended the session"},
		{"owner, own reason", false, false, "done", "done"},
		{"owner from another connection", false, true, "", "the agent ended the session"},
		{"customer, default reason", true, false, "", "the customer ended the session"},
		{"customer, own reason", true, false, "thanks", "thanks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			th := newTestHub(t)
			a := th.agent("alice")
			sc := th.newSession(a)
			cust := th.newClient()
			th.join(cust, a, sc)
			th.pair(a, sc) // a customer who has not paired only leaves (TestUnpairedJoinerCannotEndTheSession)

			caller, told := a, []*fakeClient{cust}
			switch {
			case tc.byCustomer:
				caller, told = cust, []*fakeClient{a}
			case tc.byOtherConn:
				caller, told = th.agent("alice"), []*fakeClient{a, cust}
			}
			wantOk(t, th.h.endSession(caller.client, &pb.EndSession{Session: sc.Session, Reason: tc.reason}))
			ended := &pb.RelayMsg{Body: &pb.RelayMsg_SessionEnded{SessionEnded: &pb.SessionEnded{Session: sc.Session, Reason: tc.wantReason}}}
			for _, c := range told {
				wantMsgs(t, c, ended)
			}
			wantMsgs(t, caller)

			if n, _ := th.h.stats(); n != 0 {
				t.Fatalf("sessions = %d after end", n)
			}
			for _, c := range []*fakeClient{a, cust} {
				if len(c.sessions) != 0 {
					t.Fatalf("client %v still bound after end", c.addr)
				}
			}
			th.noForward(sc.RelayChannel, a.addr)
			th.noForward(sc.RelayChannel, cust.addr)
			wantErr(t, th.h.signal(a.client, &pb.Signal{Session: sc.Session}), protocol.CodeNotAllowed)
			wantErr(t, th.h.endSession(a.client, &pb.EndSession{Session: sc.Session}), protocol.CodeNotFound)
			// Ending leaves no trace in the database: a restart does not
			// bring the session back.
			th.restart()
			if n, _ := th.h.stats(); n != 0 {
				t.Fatalf("ended session came back after restart")
			}
		})
	}
}

func TestEndUnjoinedSessionRetiresKey(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	wantOk(t, th.h.endSession(a.client, &pb.EndSession{Session: sc.Session}))
	wantMsgs(t, a)
	wantErr(t, th.h.join(th.newClient().client, &pb.Join{Nameplate: sc.Nameplate}), protocol.CodeExpired)
	th.occupyAllBut(sc.Nameplate)
	wantErr(t, th.h.newSession(a.client), protocol.CodeInternal)
}

// --- forwarding --------------------------------------------------------------

func TestForward(t *testing.T) {
	th := newTestHub(t)
	a := th.clientAt("192.0.2.1:7000")
	th.addAccount("alice")
	th.h.signIn(a.client, &pb.SignIn{Name: "alice", Password: testPassword})
	sc := th.newSession(a)
	cust := th.clientAt("192.0.2.2:8000")
	th.join(cust, a, sc)
	sc2 := th.newSession(a)
	cust2 := th.clientAt("192.0.2.3:9000")
	th.join(cust2, a, sc2)

	ap := netip.MustParseAddrPort
	tests := []struct {
		name   string
		ch     uint64
		src    netip.AddrPort
		want   netip.AddrPort
		wantOK bool
	}{
		{"agent to customer", sc.RelayChannel, a.addr, cust.addr, true},
		{"customer to agent", sc.RelayChannel, cust.addr, a.addr, true},
		{"second session, agent to customer", sc2.RelayChannel, a.addr, cust2.addr, true},
		{"second session, customer to agent", sc2.RelayChannel, cust2.addr, a.addr, true},
		{"customer on another session's channel", sc.RelayChannel, cust2.addr, netip.AddrPort{}, false},
		{"unknown channel", sc.RelayChannel ^ sc2.RelayChannel ^ 1, a.addr, netip.AddrPort{}, false},
		{"channel zero", 0, a.addr, netip.AddrPort{}, false},
		{"stranger", sc.RelayChannel, ap("198.51.100.1:7000"), netip.AddrPort{}, false},
		{"customer's host, other port", sc.RelayChannel, ap("192.0.2.2:8001"), netip.AddrPort{}, false},
		{"agent's port, other host", sc.RelayChannel, ap("192.0.2.9:7000"), netip.AddrPort{}, false},
		{"customer's address as IPv4-mapped IPv6", sc.RelayChannel, ap("[::ffff:192.0.2.2]:8000"), netip.AddrPort{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := th.h.forward(tc.ch, tc.src)
			if ok != tc.wantOK || got != tc.want {
				t.Fatalf("forward(%x, %v) = %v, %v; want %v, %v", tc.ch, tc.src, got, ok, tc.want, tc.wantOK)
			}
		})
	}

	// A session nobody has joined forwards nothing.
	sc3 := th.newSession(a)
	th.noForward(sc3.RelayChannel, a.addr)

	// After the customer disconnects, its side of the route is gone, in both
	// directions; the other session is unaffected.
	th.h.disconnect(cust.client)
	th.noForward(sc.RelayChannel, a.addr)
	th.noForward(sc.RelayChannel, cust.addr)
	th.forwards(sc2.RelayChannel, a, cust2)

	// After the agent disconnects, no session of it forwards.
	th.h.disconnect(a.client)
	th.noForward(sc2.RelayChannel, cust2.addr)
	th.noForward(sc2.RelayChannel, a.addr)
}

// --- sweep -------------------------------------------------------------------

func TestSweep(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	unused := th.newSession(a)
	joined := th.newSession(a)
	cust := th.newClient()
	th.join(cust, a, joined)
	th.pair(a, joined) // one nobody paired with is burned at the expiry (TestJoinWithoutPairingIsBurnedAtExpiry)
	joinedAt := th.clock.now()

	// Nothing is due yet.
	th.clock.advance(th.cfg.KeyLifetime - time.Nanosecond)
	th.h.sweep()
	wantMsgs(t, a)
	if n, _ := th.h.stats(); n != 2 {
		t.Fatalf("sessions = %d, want 2", n)
	}

	// The unused key expires; the joined and paired session is not touched.
	th.clock.advance(time.Nanosecond)
	expiredAt := th.clock.now()
	th.h.sweep()
	if e := wantEnded(t, a, unused.Session); e.Reason == "" {
		t.Fatal("SessionEnded without a reason")
	}
	wantMsgs(t, cust)
	if n, _ := th.h.stats(); n != 1 {
		t.Fatalf("sessions = %d after sweep, want 1", n)
	}
	th.forwards(joined.RelayChannel, a, cust)
	th.noForward(unused.RelayChannel, a.addr)
	wantErr(t, th.h.join(th.newClient().client, &pb.Join{Nameplate: unused.Nameplate}), protocol.CodeExpired)
	// Sweeping again sends nothing more.
	th.h.sweep()
	wantMsgs(t, a)

	// Retirements last RetireFor from when they were made.
	th.clock.advance(joinedAt.Add(th.cfg.RetireFor).Sub(th.clock.now()))
	th.h.sweep()
	th.h.mu.Lock()
	_, usedRetired := th.h.retired[joined.Nameplate]
	_, expiredRetired := th.h.retired[unused.Nameplate]
	th.h.mu.Unlock()
	if usedRetired || !expiredRetired {
		t.Fatalf("at %v: used retired %v (want false), expired retired %v (want true)", th.clock.now(), usedRetired, expiredRetired)
	}
	wantErr(t, th.h.join(th.newClient().client, &pb.Join{Nameplate: joined.Nameplate}), protocol.CodeBadKey)
	wantErr(t, th.h.join(th.newClient().client, &pb.Join{Nameplate: unused.Nameplate}), protocol.CodeExpired)

	th.clock.advance(expiredAt.Add(th.cfg.RetireFor).Sub(th.clock.now()))
	th.h.sweep()
	wantErr(t, th.h.join(th.newClient().client, &pb.Join{Nameplate: unused.Nameplate}), protocol.CodeBadKey)
	th.h.mu.Lock()
	left := len(th.h.retired)
	th.h.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d retirements left after sweep", left)
	}

	// The retirements are gone from the database too.
	th.restart()
	if len(th.h.retired) != 0 {
		t.Fatalf("retirements came back after restart: %v", th.h.retired)
	}
	if n, _ := th.h.stats(); n != 1 {
		t.Fatalf("sessions after restart = %d, want 1", n)
	}
	// The joined session lives on.
	a2 := th.agent("alice")
	r := th.h.attach(a2.client, &pb.Attach{Sessions: []string{joined.Session}})
	if as := r.GetAttached().GetSessions(); len(as) != 1 || !as[0].Open || !as[0].Joined {
		t.Fatalf("attach after sweep and restart = %v", r)
	}
}

func TestSweepExpiresKeyOfOfflineAgent(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	th.h.disconnect(a.client)
	th.clock.advance(th.cfg.KeyLifetime)
	th.h.sweep()
	wantMsgs(t, a) // not connected any more: nothing sent
	if n, _ := th.h.stats(); n != 0 {
		t.Fatalf("sessions = %d, want 0", n)
	}
	a2 := th.agent("alice")
	r := th.h.attach(a2.client, &pb.Attach{Sessions: []string{sc.Session}})
	if as := r.GetAttached().GetSessions(); len(as) != 1 || as[0].Open {
		t.Fatalf("attach of an expired session = %v, want closed", r)
	}
	th.restart()
	if n, _ := th.h.stats(); n != 0 {
		t.Fatalf("expired session came back after restart")
	}
}

func TestSweepForgetsOldTombstones(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	j := th.join(th.newClient(), a, sc)
	wantOk(t, th.h.endSession(a.client, &pb.EndSession{Session: sc.Session}))

	rejoin := func() string {
		return errCode(th.h.rejoin(th.newClient().client, &pb.Rejoin{Session: sc.Session, Token: j.RejoinToken}))
	}
	th.clock.advance(24 * time.Hour)
	th.h.sweep()
	if got := rejoin(); got != protocol.CodeSessionEnded {
		t.Fatalf("rejoin a day after the end = %q, want %q", got, protocol.CodeSessionEnded)
	}
	th.clock.advance(2 * time.Second)
	th.h.sweep()
	if got := rejoin(); got != protocol.CodeNotFound {
		t.Fatalf("rejoin after the tombstone was swept = %q, want %q", got, protocol.CodeNotFound)
	}
}

func TestSweepEndsAbandonedJoinedSessions(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	cust := th.newClient()
	j := th.join(cust, a, sc)
	th.h.disconnect(cust.client)
	th.h.disconnect(a.client)

	// Not yet: one side was here within the TTL.
	th.clock.advance(th.h.cfg.IdleSessionTTL)
	th.h.sweep()
	if n, _ := th.h.stats(); n != 1 {
		t.Fatalf("sessions = %d before the TTL ran out, want 1", n)
	}
	th.clock.advance(time.Second)
	th.h.sweep()
	if n, _ := th.h.stats(); n != 0 {
		t.Fatalf("sessions = %d after the TTL, want 0", n)
	}
	// The rejoin token died with the session.
	wantErr(t, th.h.rejoin(th.newClient().client, &pb.Rejoin{Session: sc.Session, Token: j.RejoinToken}), protocol.CodeSessionEnded)
}

func TestSweepKeepsSessionsWithSomebodyConnected(t *testing.T) {
	th := newTestHub(t)
	a := th.agent("alice")
	sc := th.newSession(a)
	cust := th.newClient()
	th.join(cust, a, sc)
	th.h.disconnect(cust.client) // the agent stays connected
	th.clock.advance(th.h.cfg.IdleSessionTTL + time.Hour)
	th.h.sweep()
	if n, _ := th.h.stats(); n != 1 {
		t.Fatalf("sessions = %d, want 1 (the agent is still there)", n)
	}
}
