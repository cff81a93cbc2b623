// Command porthole-customer is the Porthole customer client.
//
// A build for one relay has it built in, so that a downloaded copy needs no
// flags (docs/packaging.md):
//
//	go build -ldflags "-X main.defaultRelay=relay.example.com:7443 -X main.defaultRelayFingerprint=sha256:…"
package main

import (
	"os"

	"github.com/porthole-dev/porthole/customer/internal/app"
)

// The relay built in at build time, with -ldflags -X; empty: none.
var (
	defaultRelay            string
	defaultRelayFingerprint string
)

func main() {
	exe, _ := os.Executable() // on failure, no relay file is looked for
	os.Exit(app.Main(app.Env{
		Program:    os.Args[0],
		Executable: exe,
		Getenv:     os.Getenv,
		Builtin:    app.Relay{Addr: defaultRelay, Fingerprint: defaultRelayFingerprint},
	}, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
