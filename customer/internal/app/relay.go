package app

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/porthole-dev/porthole/shared/relayclient"
)

// A downloaded client is started with a double click, so it has to find its
// relay without flags. It takes the first of these that names one:
//
//  1. --relay (and --relay-fingerprint);
//  2. $PORTHOLE_RELAY (and $PORTHOLE_RELAY_FINGERPRINT);
//  3. RelayFile in the program's folder, shipped with the download;
//  4. the relay built in with -ldflags -X (cmd/porthole-customer).
//
// The address and the fingerprint always come from the same place: a pin
// from one place never applies to an address from another. A place that
// gives a fingerprint without an address, or a malformed value, is an error
// rather than a reason to look further.

// RelayFile is the file next to the program that names its relay
// (docs/packaging.md):
//
//	# comments and blank lines are ignored
//	relay = relay.example.com:7443
//	relay-fingerprint = sha256:3f1c…
const RelayFile = "porthole-customer.relay"

// The environment variables that name the relay.
const (
	EnvRelay            = "PORTHOLE_RELAY"
	EnvRelayFingerprint = "PORTHOLE_RELAY_FINGERPRINT"
)

// maxRelayFile bounds RelayFile; a real one is two short lines.
const maxRelayFile = 4096

// Relay is a relay's address and certificate pin, and where they came from.
type Relay struct {
	Addr        string // host:port
	Fingerprint string // "sha256:" and 64 hex digits; empty: a real certificate
	From        string // "--relay", EnvRelay, RelayFile's path or "built in"
}

// RelaySources are the places ResolveRelay looks in.
type RelaySources struct {
	Flag, FlagFingerprint string              // --relay, --relay-fingerprint
	Getenv                func(string) string // nil: no environment
	Dir                   string              // the folder RelayFile is looked for in; "": none
	Builtin               Relay               // set at build time; Addr "" for none
}

// errNoRelay is ResolveRelay's answer when no place names a relay.
var errNoRelay = errors.New("--relay is required: no relay in " + EnvRelay +
	", in a " + RelayFile + " file next to the program, or built in")

// ResolveRelay finds the relay in s, in the order above, and checks it.
func ResolveRelay(s RelaySources) (Relay, error) {
	if r, ok, err := pair("--relay", s.Flag, "--relay-fingerprint", s.FlagFingerprint, "--relay"); ok || err != nil {
		return r, err
	}
	if s.Getenv != nil {
		if r, ok, err := pair(EnvRelay, s.Getenv(EnvRelay), EnvRelayFingerprint, s.Getenv(EnvRelayFingerprint), EnvRelay); ok || err != nil {
			return r, err
		}
	}
	if s.Dir != "" {
		if r, ok, err := readRelayFile(filepath.Join(s.Dir, RelayFile)); ok || err != nil {
			return r, err
		}
	}
	if r, ok, err := pair("built-in relay", s.Builtin.Addr, "built-in relay fingerprint", s.Builtin.Fingerprint, "built in"); ok || err != nil {
		return r, err
	}
	return Relay{}, errNoRelay
}

// pair checks the address and fingerprint one place gives; ok is false when
// it gives neither.
func pair(addrName, addr, fpName, fp, from string) (r Relay, ok bool, err error) {
	addr, fp = strings.TrimSpace(addr), strings.TrimSpace(fp)
	switch {
	case addr == "" && fp == "":
		return Relay{}, false, nil
	case addr == "":
		return Relay{}, false, fmt.Errorf("%s is set but %s is not", fpName, addrName)
	}
	if err := checkRelayAddr(addr); err != nil {
		return Relay{}, false, fmt.Errorf("%s: %w", addrName, err)
	}
	if err := checkFingerprint(fp); err != nil {
		return Relay{}, false, fmt.Errorf("%s: %w", fpName, err)
	}
	return Relay{Addr: addr, Fingerprint: fp, From: from}, true, nil
}

// checkRelayAddr accepts host:port with a host and a port from 1 to 65535;
// whether the host exists is for the connection to find out.
func checkRelayAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || strings.ContainsFunc(host, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return fmt.Errorf("relay address %q: want host:port, for example relay.example.com:7443", s)
	}
	n := 0
	for _, c := range port {
		if c < '0' || c > '9' || n > 65535 {
			n = -1
			break
		}
		n = n*10 + int(c-'0')
	}
	if n < 1 || n > 65535 {
		return fmt.Errorf("relay address %q: the port must be a number from 1 to 65535", s)
	}
	return nil
}

// checkFingerprint applies the relay client's rule to a pin: empty, or
// sha256: and 64 hex digits.
func checkFingerprint(s string) error {
	if s == "" {
		return nil
	}
	_, err := relayclient.ParseFingerprint(s)
	return err
}

// readRelayFile reads a RelayFile; ok is false when there is none.
func readRelayFile(path string) (r Relay, ok bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Relay{}, false, nil
	}
	if err != nil {
		return Relay{}, false, fmt.Errorf("relay file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRelayFile+1))
	if err != nil {
		return Relay{}, false, fmt.Errorf("relay file: %w", err)
	}
	bad := func(format string, a ...any) (Relay, bool, error) {
		return Relay{}, false, fmt.Errorf("relay file %s: "+format, append([]any{path}, a...)...)
	}
	if len(b) > maxRelayFile {
		return bad("longer than %d bytes", maxRelayFile)
	}
	b = bytes.TrimPrefix(b, []byte("\ufeff")) // Notepad's byte order mark
	var addr, fp string
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, found := strings.Cut(line, "=")
		if !found {
			return bad("line %d: want name = value, for example relay = relay.example.com:7443", n)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if prev := seen[key]; prev != 0 {
			return bad("line %d: %s is set again (first on line %d)", n, key, prev)
		}
		seen[key] = n
		switch key {
		case "relay":
			if err := checkRelayAddr(value); err != nil {
				return bad("line %d: %v", n, err)
			}
			addr = value
		case "relay-fingerprint":
			if err := checkFingerprint(value); err != nil {
				return bad("line %d: %v", n, err)
			}
			fp = value
		default:
			return bad("line %d: unknown setting %q; want relay or relay-fingerprint", n, key)
		}
	}
	if addr == "" {
		return bad("no relay = host:port line")
	}
	return Relay{Addr: addr, Fingerprint: fp, From: path}, true, nil
}

// noRelayText says in the window why this copy cannot join, for the
// customer rather than for whoever built the download.
func noRelayText(err error) string {
	if errors.Is(err, errNoRelay) {
		return "This copy of Porthole does not know which support server to use. " +
			"Ask the person helping you for a complete download."
	}
	return "This copy of Porthole has a broken support server setting (" + err.Error() + "). " +
		"Ask the person helping you for a complete download."
}
