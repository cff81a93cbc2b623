package app

import (
	"fmt"
	"io"

	"github.com/porthole-dev/porthole/agent/internal/desktop"
	"github.com/porthole-dev/porthole/agent/internal/ui"
	"github.com/porthole-dev/porthole/shared/headless"
)

type windowArgs struct {
	relay, fingerprint, local, name, pwFile, data, logLevel, events string
	forceRelay, newSession                                          bool
	downloads                                                       string // --downloads
}

// runWindow runs the desktop console.
func runWindow(a windowArgs, stdout, stderr io.Writer) int {
	fail := func(msg string) int {
		fmt.Fprintln(stderr, "porthole-agent:", msg)
		return 2
	}
	log, err := headless.Logger(stderr, a.logLevel)
	if err != nil {
		return fail(err.Error())
	}
	opt := desktop.Options{DataDir: a.data, ForceRelay: a.forceRelay, Log: log, NewSession: a.newSession, Downloads: a.downloads}
	if a.relay != "" && a.local != "" {
		return fail("--relay and --local-relay exclude each other")
	}
	if a.relay != "" || a.local != "" || a.pwFile != "" {
		if a.name == "" || a.pwFile == "" || (a.relay == "" && a.local == "") {
			return fail("to sign in from the command line give --name, --password-file and --relay or --local-relay")
		}
		pw, err := headless.ReadSecretFile(a.pwFile)
		if err != nil {
			return fail("password file: " + err.Error())
		}
		opt.SignIn = &ui.SignIn{Local: a.local != "", LocalPort: a.local, Address: a.relay, Fingerprint: a.fingerprint, Name: a.name, Password: pw}
	}
	emit, done, err := headless.OpenEvents(a.events, stdout)
	if err != nil {
		return fail(err.Error())
	}
	defer done()
	opt.Events = emit
	if err := desktop.Run(opt); err != nil {
		return fail(err.Error())
	}
	return 0
}
