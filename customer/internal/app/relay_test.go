package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var (
	fpA = "sha256:" + strings.Repeat("a1", 32)
	fpB = "sha256:" + strings.Repeat("b2", 32)
	fpC = "SHA256:" + strings.Repeat("C3", 32) // case does not matter, as for the relay client
	fpD = "sha256:" + strings.Repeat("d4", 32)
)

// writeRelayFile puts a RelayFile with content in a new folder and returns
// the folder.
func writeRelayFile(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, RelayFile), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestResolveRelayOrder(t *testing.T) {
	fileDir := writeRelayFile(t, "relay = file.example:7443\nrelay-fingerprint = "+fpC+"\n")
	filePath := filepath.Join(fileDir, RelayFile)
	env := envOf(map[string]string{EnvRelay: "env.example:7443", EnvRelayFingerprint: fpB})
	builtin := Relay{Addr: "builtin.example:7443", Fingerprint: fpD}
	tests := []struct {
		name string
		src  RelaySources
		want Relay
	}{
		{"flags win over everything",
			RelaySources{Flag: "flag.example:7443", FlagFingerprint: fpA, Getenv: env, Dir: fileDir, Builtin: builtin},
			Relay{"flag.example:7443", fpA, "--relay"}},
		{"flag without a pin does not take the environment's pin",
			RelaySources{Flag: "flag.example:7443", Getenv: env, Dir: fileDir, Builtin: builtin},
			Relay{"flag.example:7443", "", "--relay"}},
		{"environment before the file",
			RelaySources{Getenv: env, Dir: fileDir, Builtin: builtin},
			Relay{"env.example:7443", fpB, EnvRelay}},
		{"environment without a pin",
			RelaySources{Getenv: envOf(map[string]string{EnvRelay: " env.example:7443 "}), Dir: fileDir, Builtin: builtin},
			Relay{"env.example:7443", "", EnvRelay}},
		{"file before the built-in relay",
			RelaySources{Getenv: envOf(nil), Dir: fileDir, Builtin: builtin},
			Relay{"file.example:7443", fpC, filePath}},
		{"no file in the folder: built in",
			RelaySources{Getenv: envOf(nil), Dir: t.TempDir(), Builtin: builtin},
			Relay{"builtin.example:7443", fpD, "built in"}},
		{"built in only",
			RelaySources{Builtin: builtin},
			Relay{"builtin.example:7443", fpD, "built in"}},
		{"IPv6 literal",
			RelaySources{Flag: "[2001:db8::1]:7443"},
			Relay{"[2001:db8::1]:7443", "", "--relay"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveRelay(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestResolveRelayNone(t *testing.T) {
	_, err := ResolveRelay(RelaySources{Getenv: envOf(nil), Dir: t.TempDir()})
	if !errors.Is(err, errNoRelay) {
		t.Fatalf("got %v, want errNoRelay", err)
	}
	for _, s := range []string{"--relay", EnvRelay, RelayFile, "built in"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%q does not mention %s", err, s)
		}
	}
}

// A place that names a relay badly is an error, not a reason to look
// further: a broken download should say so rather than connect elsewhere.
func TestResolveRelayBadSources(t *testing.T) {
	good := Relay{Addr: "builtin.example:7443"}
	tests := []struct {
		name string
		src  RelaySources
		want string // in the error
	}{
		{"flag pin without flag address", RelaySources{FlagFingerprint: fpA, Builtin: good}, "--relay-fingerprint is set but --relay is not"},
		{"flag address without port", RelaySources{Flag: "relay.example", Builtin: good}, `--relay: relay address "relay.example": want host:port`},
		{"flag address without host", RelaySources{Flag: ":7443", Builtin: good}, `want host:port`},
		{"flag port zero", RelaySources{Flag: "relay.example:0"}, "the port must be a number from 1 to 65535"},
		{"flag port too big", RelaySources{Flag: "relay.example:65536"}, "the port must be a number from 1 to 65535"},
		{"flag port by name", RelaySources{Flag: "relay.example:https"}, "the port must be a number"},
		{"flag bad pin", RelaySources{Flag: "relay.example:7443", FlagFingerprint: "3f1c"}, `--relay-fingerprint: relay fingerprint "3f1c": want sha256: and 64 hex digits`},
		{"flag short pin", RelaySources{Flag: "relay.example:7443", FlagFingerprint: fpA[:70]}, "want sha256: and 64 hex digits"},
		{"env pin without address", RelaySources{Getenv: envOf(map[string]string{EnvRelayFingerprint: fpA}), Builtin: good},
			EnvRelayFingerprint + " is set but " + EnvRelay + " is not"},
		{"env bad address", RelaySources{Getenv: envOf(map[string]string{EnvRelay: "relay example:7443"}), Builtin: good},
			EnvRelay + `: relay address "relay example:7443"`},
		{"env bad pin", RelaySources{Getenv: envOf(map[string]string{EnvRelay: "relay.example:7443", EnvRelayFingerprint: "md5:00"})},
			EnvRelayFingerprint + ": relay fingerprint"},
		{"built-in pin without address", RelaySources{Builtin: Relay{Fingerprint: fpA}}, "built-in relay fingerprint is set but built-in relay is not"},
		{"built-in bad address", RelaySources{Builtin: Relay{Addr: "relay.example"}}, `built-in relay: relay address "relay.example"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ResolveRelay(tc.src)
			if err == nil {
				t.Fatalf("got %+v, want an error with %q", r, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestRelayFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    Relay  // Addr "" when an error is expected
		err     string // in the error
	}{
		{"address only", "relay=relay.example:7443", Relay{Addr: "relay.example:7443"}, ""},
		{"comments, blank lines, spaces, CRLF, byte order mark",
			"\ufeff# Porthole relay for Example Ltd\r\n\r\n  relay =  relay.example:7443  \r\n\trelay-fingerprint\t= " + fpA + "\r\n# end\r\n",
			Relay{Addr: "relay.example:7443", Fingerprint: fpA}, ""},
		{"empty pin: a real certificate", "relay = relay.example:7443\nrelay-fingerprint =\n", Relay{Addr: "relay.example:7443"}, ""},
		{"empty file", "", Relay{}, "no relay = host:port line"},
		{"only comments", "# relay = relay.example:7443\n", Relay{}, "no relay = host:port line"},
		{"pin without address", "relay-fingerprint = " + fpA + "\n", Relay{}, "no relay = host:port line"},
		{"the address alone, not key=value", "relay.example:7443\n" + fpA + "\n", Relay{}, "line 1: want name = value"},
		{"unknown setting", "relay = relay.example:7443\nfingerprint = " + fpA + "\n", Relay{}, `line 2: unknown setting "fingerprint"; want relay or relay-fingerprint`},
		{"set twice", "relay = a.example:7443\n\nrelay = b.example:7443\n", Relay{}, "line 3: relay is set again (first on line 1)"},
		{"bad address", "relay = relay.example\n", Relay{}, `line 1: relay address "relay.example": want host:port`},
		{"quoted address", "relay = \"relay.example:7443\"\n", Relay{}, "line 1: relay address"},
		{"bad pin", "relay = relay.example:7443\nrelay-fingerprint = sha256:3f1c\n", Relay{}, `line 2: relay fingerprint "sha256:3f1c": want sha256: and 64 hex digits`},
		{"too long", "relay = relay.example:7443\n" + strings.Repeat("#\n", maxRelayFile), Relay{}, "longer than 4096 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeRelayFile(t, tc.content)
			path := filepath.Join(dir, RelayFile)
			got, err := ResolveRelay(RelaySources{Dir: dir, Builtin: Relay{Addr: "builtin.example:7443"}})
			if tc.err != "" {
				if err == nil {
					t.Fatalf("got %+v, want an error with %q", got, tc.err)
				}
				if !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error %q, want it to name %s and contain %q", err, path, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.From = path
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRelayFileUnreadable(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, RelayFile), 0o755); err != nil { // a folder, not a file
		t.Fatal(err)
	}
	if _, err := ResolveRelay(RelaySources{Dir: dir, Builtin: Relay{Addr: "builtin.example:7443"}}); err == nil || !strings.Contains(err.Error(), "relay file") {
		t.Fatalf("got %v, want a relay file error", err)
	}
}

// runHeadless runs Main with --headless and returns its exit code, the
// events on stdout and stderr.
func runHeadless(t *testing.T, env Env, args ...string) (int, []map[string]any, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(env, append([]string{"--headless"}, args...), strings.NewReader(""), &stdout, &stderr)
	var events []map[string]any
	for line := range strings.Lines(stdout.String()) {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("stdout line %q: %v", line, err)
		}
		events = append(events, e)
	}
	return code, events, stderr.String()
}

func TestMainWithoutRelay(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "porthole-customer-1234-5678-123-456")
	code, events, stderr := runHeadless(t, Env{Program: exe, Executable: exe, Getenv: envOf(nil)})
	if code != 1 || len(events) != 1 || events[0]["event"] != "error" || events[0]["code"] != "bad_request" {
		t.Fatalf("exit %d, events %v; want 1 and one bad_request error", code, events)
	}
	msg, _ := events[0]["message"].(string)
	if !strings.HasPrefix(msg, "--relay is required") || !strings.Contains(stderr, msg) {
		t.Fatalf("message %q, stderr %q", msg, stderr)
	}
}

func TestMainBadRelayFile(t *testing.T) {
	dir := writeRelayFile(t, "relay = relay.example\n")
	exe := filepath.Join(dir, "porthole-customer")
	code, events, _ := runHeadless(t, Env{Program: exe, Executable: exe, Getenv: envOf(nil), Builtin: Relay{Addr: "builtin.example:7443"}})
	if code != 1 || len(events) != 1 || events[0]["code"] != "bad_request" ||
		!strings.Contains(events[0]["message"].(string), filepath.Join(dir, RelayFile)) {
		t.Fatalf("exit %d, events %v; want 1 and a bad_request naming the relay file", code, events)
	}
}

// Main takes the relay from the file next to the executable and goes on to
// open the data folder, which is a file here, so it stops before dialling.
func TestMainRelayFromFile(t *testing.T) {
	dir := writeRelayFile(t, "relay = file.example:7443\nrelay-fingerprint = "+fpA+"\n")
	exe := filepath.Join(dir, "porthole-customer")
	notDir := filepath.Join(dir, "not-a-folder")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, events, stderr := runHeadless(t, Env{Program: exe, Executable: exe, Getenv: envOf(nil), Builtin: Relay{Addr: "builtin.example:7443"}},
		"--data", notDir, "--log-level", "info")
	if code != 1 || len(events) != 1 || events[0]["code"] != "data_folder" {
		t.Fatalf("exit %d, events %v; want 1 and a data_folder error", code, events)
	}
	for _, s := range []string{"addr=file.example:7443", "fingerprint=" + fpA, "from=" + filepath.Join(dir, RelayFile)} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr %q does not contain %q", stderr, s)
		}
	}
}

func TestNoRelayText(t *testing.T) {
	if s := noRelayText(errNoRelay); !strings.Contains(s, "does not know which support server") || strings.Contains(s, "--relay") {
		t.Errorf("no relay: %q", s)
	}
	if s := noRelayText(errors.New("relay file x: line 1: bad")); !strings.Contains(s, "broken support server setting (relay file x: line 1: bad)") {
		t.Errorf("broken setting: %q", s)
	}
}
