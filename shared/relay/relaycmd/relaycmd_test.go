package relaycmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAgentAccounts(t *testing.T) {
	dir := t.TempDir()
	if code, out, errs := run(t, "long enough password\n", "agent", "add", "--data", dir, "--name", "alice"); code != 0 || !strings.Contains(out, "added") {
		t.Fatalf("add: %d %q %q", code, out, errs)
	}
	if code, _, errs := run(t, "another password\n", "agent", "add", "--data", dir, "--name", "alice"); code != 1 || !strings.Contains(errs, "exists") {
		t.Fatalf("duplicate add: %d %q", code, errs)
	}
	if code, _, errs := run(t, "short\n", "agent", "add", "--data", dir, "--name", "bob"); code != 1 || !strings.Contains(errs, "at least 8") {
		t.Fatalf("short password: %d %q", code, errs)
	}
	if code, _, errs := run(t, "", "agent", "add", "--data", dir, "--name", "bob"); code != 1 || !strings.Contains(errs, "standard input") {
		t.Fatalf("no password: %d %q", code, errs)
	}
	if code, out, _ := run(t, "", "agent", "list", "--data", dir); code != 0 || !strings.HasPrefix(out, "alice\t") || strings.Count(out, "\n") != 1 {
		t.Fatalf("list: %d %q", code, out)
	}
	if code, _, errs := run(t, "a new password\n", "agent", "passwd", "--data", dir, "--name", "alice"); code != 0 {
		t.Fatalf("passwd: %d %q", code, errs)
	}
	if code, _, errs := run(t, "a new password\n", "agent", "passwd", "--data", dir, "--name", "nobody"); code != 1 || !strings.Contains(errs, "no such") {
		t.Fatalf("passwd unknown: %d %q", code, errs)
	}
	if code, _, _ := run(t, "", "agent", "remove", "--data", dir, "--name", "alice"); code != 0 {
		t.Fatal("remove failed")
	}
	if code, out, _ := run(t, "", "agent", "list", "--data", dir); code != 0 || out != "" {
		t.Fatalf("list after remove: %d %q", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	empty := t.TempDir()
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"agent", "frobnicate", "--data", empty},
		{"agent", "add", "--name", "x"},
		{"serve"},
		{"serve", "--data", empty, "--cert", "only-a-cert.pem"},
		{"serve", "--data", empty, "--key-lifetime", "soon"},
	} {
		code, _, errs := run(t, "", args...)
		if code == 0 || errs == "" {
			t.Errorf("%q: exit %d, stderr %q; want a failure with a message", args, code, errs)
		}
	}
	// An unknown subcommand is refused before anything is written.
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Fatalf("a refused command left files behind: %v", entries)
	}
}

func TestConfigFileIsStrict(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "relay.json")
	os.WriteFile(cfg, []byte(`{"data": "x", "listen": ":0", "colour": "blue"}`), 0o600)
	code, _, errs := run(t, "", "serve", "--config", cfg)
	if code != 1 || !strings.Contains(errs, "colour") {
		t.Fatalf("unknown config key: %d %q", code, errs)
	}
	code, _, errs = run(t, "", "serve", "--config", filepath.Join(dir, "missing.json"))
	if code != 1 || !strings.Contains(errs, "reading config") {
		t.Fatalf("missing config: %d %q", code, errs)
	}
}
