package setup

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/agent/internal/console"
	"github.com/porthole-dev/porthole/shared/failure"
)

func TestSettingsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, found, err := Load(dir)
	if err != nil || found || s != Defaults() {
		t.Fatalf("first load: %+v %v %v", s, found, err)
	}
	want := Settings{Address: "relay.example.com:7443", Fingerprint: "sha256:ab", Name: "alice", LocalListen: "7443", Notify: false, NotifyPreview: true}
	if err := Save(dir, want); err != nil {
		t.Fatal(err)
	}
	got, found, err := Load(dir)
	if err != nil || !found || got != want {
		t.Fatalf("load after save: %+v %v %v", got, found, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, fileName))
	if strings.Contains(string(b), "password") {
		t.Fatal("settings mention a password")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestBrokenSettingsAreReported(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, fileName), []byte("{not json"), 0o600)
	s, found, err := Load(dir)
	if err == nil || found || s != Defaults() {
		t.Fatalf("broken file: %+v %v %v", s, found, err)
	}
}

func TestListenAddr(t *testing.T) {
	for in, want := range map[string]string{"": ":7443", "9000": ":9000", "127.0.0.1:0": "127.0.0.1:0", " 7443 ": ":7443"} {
		if got, err := ListenAddr(in); err != nil || got != want {
			t.Errorf("ListenAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"seventy", "1:2:3", "70000"} {
		if _, err := ListenAddr(bad); err == nil {
			t.Errorf("ListenAddr(%q) accepted", bad)
		}
	}
}

// TestLocalRelaySignIn runs the relay inside the process as the console
// does: setting up creates the account, a wrong password afterwards
// is refused, and the console gets a session key from it.
func TestLocalRelaySignIn(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	r, err := StartLocalRelay(filepath.Join(dir, "relay"), "127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !strings.HasPrefix(r.DialAddr(), "127.0.0.1:") || r.PublicAddr() != r.DialAddr() {
		t.Fatalf("addresses %s %s", r.DialAddr(), r.PublicAddr())
	}
	if h := r.JoinHint("1234-5678-123-456"); !strings.Contains(h, "--relay "+r.PublicAddr()) || !strings.Contains(h, r.Fingerprint()) {
		t.Fatalf("join hint %q", h)
	}
	if !r.HereOnly() {
		t.Fatal("a relay on 127.0.0.1 is said to reach the network")
	}
	if err := r.EnsureAccount("alice", "correct horse battery", true); err != nil {
		t.Fatal(err)
	}
	if err := r.EnsureAccount("mallory", "another password", true); err != nil {
		t.Fatal(err)
	}
	signIn := func(name, pw, data string) (*console.Console, error) {
		con, err := console.New(console.Config{Relay: r.DialAddr(), Fingerprint: r.Fingerprint(), Name: name, Password: pw, DataDir: data, Listen: "127.0.0.1:0"})
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := con.Start(ctx); err != nil {
			con.Close()
			return nil, err
		}
		return con, nil
	}
	if _, err := signIn("mallory", "another password", filepath.Join(dir, "m")); failure.From(err).Code != "auth_failed" {
		t.Fatalf("a second account was made on the fly: %v", err)
	}
	con, err := signIn("alice", "correct horse battery", filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer con.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := con.NewSession(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLocalRelayMakesNoAccountOutsideSetup: a relay whose accounts are gone
// (its data deleted while the settings remain) gets no account from an
// ordinary sign-in; only the setup form makes one.
func TestLocalRelayMakesNoAccountOutsideSetup(t *testing.T) {
	r, err := StartLocalRelay(filepath.Join(t.TempDir(), "relay"), "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.EnsureAccount("alice", "correct horse battery", false); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("sign-in to a relay without accounts: %v, want ErrNoAccount", err)
	}
	if accts, err := r.srv.Accounts().List(); err != nil || len(accts) != 0 {
		t.Fatalf("accounts after a sign-in: %v %v", accts, err)
	}
	if err := r.EnsureAccount("alice", "correct horse battery", true); err != nil {
		t.Fatal(err)
	}
	if err := r.EnsureAccount("alice", "correct horse battery", false); err != nil {
		t.Fatalf("sign-in once the account exists: %v", err)
	}
	if accts, err := r.srv.Accounts().List(); err != nil || len(accts) != 1 || accts[0].Name != "alice" {
		t.Fatalf("accounts after setup: %+v %v", accts, err)
	}
}
