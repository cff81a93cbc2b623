// Package app is the customer client's command line: flags, the key taken
// from the program's own file name, and the headless mode that drives the
// client logic with JSON lines (docs/headless.md).
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/porthole-dev/porthole/customer/internal/client"
	"github.com/porthole-dev/porthole/customer/internal/desktop"
	"github.com/porthole-dev/porthole/shared/headless"
)

const usage = `usage: porthole-customer --relay ADDR [--relay-fingerprint FP] [--key NNNN-NNNNNN]
                         [--name NAME] [--data DIR] [--force-relay] [--headless]
                         [--events FILE|-]
Without --headless the client opens its window; with it, JSON commands on stdin
and JSON events on stdout (docs/headless.md).
`

// The key may be followed by a browser's duplicate marker, " (1)".
var keyInName = regexp.MustCompile(`(\d{4})-?(\d{6})(?: ?\(\d+\))?(?:\.exe)?$`)

// KeyFromProgramName finds a session key embedded in the program's file
// name, as in "porthole-customer-1234-567890" (how a downloaded client
// carries its key).
func KeyFromProgramName(path string) string {
	base := strings.ToLower(filepath.Base(path))
	m := keyInName.FindStringSubmatch(base)
	if m == nil {
		return ""
	}
	return m[1] + "-" + m[2]
}

// Main runs the customer client and returns its exit code.
func Main(program string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("porthole-customer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	headlessMode := fs.Bool("headless", false, "no window: JSON commands on stdin, JSON events on stdout")
	relayAddr := fs.String("relay", "", "relay address host:port")
	fp := fs.String("relay-fingerprint", "", "relay certificate fingerprint (sha256:...); empty: a real certificate")
	key := fs.String("key", "", "session key from your agent (NNNN-NNNNNN)")
	name := fs.String("name", "", "your name as the agent sees it (default user@host)")
	data := fs.String("data", headless.DataDir("porthole-customer"), "data folder")
	forceRelay := fs.Bool("force-relay", false, "never try a direct connection")
	logLevel := fs.String("log-level", "warn", "stderr log level: debug, info, warn, error")
	events := fs.String("events", "", "window: also write every event as a JSON line to this file (- for stdout)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *key == "" {
		*key = KeyFromProgramName(program)
	}
	out := headless.NewWriter(stdout)
	fail := func(err error) int {
		ev := headless.Event{Event: "error", Code: "internal", Message: err.Error()}
		var e *client.Error
		if errors.As(err, &e) {
			ev.Code, ev.Message = e.Code, e.Message
		}
		out.Emit(ev)
		fmt.Fprintln(stderr, "porthole-customer:", ev.Message)
		return 1
	}
	if *relayAddr == "" {
		return fail(&client.Error{Code: "bad_request", Message: "--relay is required"})
	}
	log, err := headless.Logger(stderr, *logLevel)
	if err != nil {
		return fail(err)
	}
	cfg := client.Config{
		Relay: *relayAddr, Fingerprint: *fp, Key: *key, Name: *name, DataDir: *data,
		ForceRelay: *forceRelay, Log: log, Emit: out.Emit,
	}
	if !*headlessMode {
		emit, done, err := headless.OpenEvents(*events, stdout)
		if err != nil {
			return fail(err)
		}
		defer done()
		if err := desktop.Run(cfg, emit); err != nil {
			return fail(err)
		}
		return 0
	}
	cl, err := client.New(cfg)
	if err != nil {
		return fail(err)
	}
	defer cl.Close()
	ctx, stop := headless.SignalContext()
	defer stop()
	sctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	err = cl.Start(sctx)
	cancel()
	if err != nil {
		return fail(err)
	}
	quit := make(chan struct{})
	var quitOnce sync.Once
	go func() {
		headless.ReadCommands(stdin, out, func(c headless.Command) {
			switch c.Cmd {
			case "quit":
				quitOnce.Do(func() { close(quit) })
			case "chat":
				if err := cl.Chat(c.Text); err != nil {
					fail(err)
				}
			case "end":
				rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				cl.End(rctx)
				cancel()
			case "answer_permission":
				if err := cl.AnswerPermission(c.ID, c.Allow); err != nil {
					fail(err)
				}
			case "history":
				msgs, err := cl.History()
				if err != nil {
					fail(err)
					return
				}
				out.EmitHistory("", msgs)
			case "status":
				ev := headless.Event{Event: "status"}
				if l := cl.Link(); l != nil {
					rtt := l.RTT().Milliseconds()
					ev.Path, ev.RTTMs = string(l.Path), &rtt
				}
				out.Emit(ev)
			default:
				out.Emit(headless.Event{Event: "error", Code: "bad_command", Message: fmt.Sprintf("unknown command %q", c.Cmd)})
			}
		})
	}()
	select {
	case <-ctx.Done():
	case <-quit:
	case <-cl.Done():
	}
	return 0
}
