package app

import (
	"fmt"
	"io"
	"os"

	"github.com/porthole-dev/porthole/agent/internal/desktop"
	"github.com/porthole-dev/porthole/agent/internal/ui"
	"github.com/porthole-dev/porthole/shared/headless"
)

type windowArgs struct {
	relay, fingerprint, local, name, pwFile, data, logLevel, events string
	forceRelay, newSession                                          bool
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
	opt := desktop.Options{DataDir: a.data, ForceRelay: a.forceRelay, Log: log, NewSession: a.newSession}
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
	switch a.events {
	case "":
	case "-":
		opt.Events = headless.NewWriter(stdout).Emit
	default:
		f, err := os.OpenFile(a.events, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fail("events file: " + err.Error())
		}
		defer f.Close()
		opt.Events = headless.NewWriter(f).Emit
	}
	if err := desktop.Run(opt); err != nil {
		return fail(err.Error())
	}
	return 0
}
