package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuiltinRelay builds the client the way packaging/package.sh does,
// with the relay set by -ldflags -X, and checks that the copy uses it. It
// links the whole app, a few seconds with a warm build cache (make build
// warms it: same -trimpath).
func TestBuiltinRelay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH")
	}
	const addr = "relay.example.com:7443"
	fp := "sha256:" + strings.Repeat("3f", 32)
	dir := t.TempDir()
	exe := filepath.Join(dir, "porthole-customer-1234-5678-123-456")
	build := exec.Command(goTool, "build", "-trimpath", "-o", exe,
		"-ldflags", "-X main.defaultRelay="+addr+" -X main.defaultRelayFingerprint="+fp, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(args ...string) (int, string, string) {
		cmd := exec.Command(exe, args...)
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "PORTHOLE_RELAY") {
				env = append(env, kv)
			}
		}
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}

	if code, _, stderr := run("--help"); code != 2 || !strings.Contains(stderr, "built into this copy ("+addr+", "+fp+")") {
		t.Errorf("--help: exit %d, usage without the built-in relay:\n%s", code, stderr)
	}
	// With no other relay the copy takes the built-in one, then stops at
	// the data folder (a file), before dialling.
	notDir := filepath.Join(dir, "not-a-folder")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run("--headless", "--log-level", "info", "--data", notDir)
	if code != 1 || !strings.Contains(stdout, `"code":"data_folder"`) ||
		!strings.Contains(stderr, "addr="+addr) || !strings.Contains(stderr, `from="built in"`) {
		t.Errorf("headless: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}
