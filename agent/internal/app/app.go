// Package app is the agent console's command line: flags, and the headless
// mode that drives the console logic with JSON lines (docs/headless.md).
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/porthole-dev/porthole/agent/internal/console"
	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/headless"
)

const usage = `usage: porthole-agent [--relay ADDR [--relay-fingerprint FP] | --local-relay PORT]
                      [--name NAME --password-file FILE] [--data DIR] [--force-relay]
                      [--new-session] [--events FILE|-] [--downloads DIR]
       porthole-agent --headless --relay ADDR [--relay-fingerprint FP]
                      --name NAME --password-file FILE [--data DIR] [--force-relay]
                      [--downloads DIR]
Without --headless the console opens its window: it signs in at once when a
relay, a name and a password file are given, and otherwise shows its sign-in
screen. With --headless, JSON commands on stdin and JSON events on stdout
(docs/headless.md).
`

// Main runs the agent console and returns its exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("porthole-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	headlessMode := fs.Bool("headless", false, "no window: JSON commands on stdin, JSON events on stdout")
	relayAddr := fs.String("relay", "", "relay address host:port")
	fp := fs.String("relay-fingerprint", "", "relay certificate fingerprint (sha256:...); empty: a real certificate")
	name := fs.String("name", "", "agent account name")
	pwFile := fs.String("password-file", "", "file holding the account password")
	data := fs.String("data", headless.DataDir("porthole-agent"), "data folder")
	forceRelay := fs.Bool("force-relay", false, "never try a direct connection")
	logLevel := fs.String("log-level", "warn", "stderr log level: debug, info, warn, error")
	localRelay := fs.String("local-relay", "", "window: run the relay inside the console on this port (or host:port)")
	newSession := fs.Bool("new-session", false, "window: start a new session once signed in")
	events := fs.String("events", "", "window: also write every event as a JSON line to this file (- for stdout)")
	downloads := fs.String("downloads", "", "folder for received files, a folder per session inside (default: "+headless.DownloadsDir()+")")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	out := headless.NewWriter(stdout)
	if !*headlessMode {
		return runWindow(windowArgs{
			relay: *relayAddr, fingerprint: *fp, local: *localRelay, name: *name, pwFile: *pwFile,
			data: *data, forceRelay: *forceRelay, logLevel: *logLevel, newSession: *newSession, events: *events,
			downloads: *downloads,
		}, stdout, stderr)
	}
	fail := func(code, msg string) int {
		out.Emit(headless.Event{Event: "error", Code: code, Message: msg})
		fmt.Fprintln(stderr, "porthole-agent:", msg)
		return 1
	}
	if *relayAddr == "" || *name == "" || *pwFile == "" {
		return fail("bad_request", "--relay, --name and --password-file are required")
	}
	pw, err := headless.ReadSecretFile(*pwFile)
	if err != nil {
		return fail("bad_request", "password file: "+err.Error())
	}
	log, err := headless.Logger(stderr, *logLevel)
	if err != nil {
		return fail("bad_request", err.Error())
	}
	con, err := console.New(console.Config{
		Relay: *relayAddr, Fingerprint: *fp, Name: *name, Password: pw, DataDir: *data,
		ForceRelay: *forceRelay, Downloads: *downloads, Log: log, Emit: out.Emit,
	})
	if err != nil {
		return failWith(fail, err)
	}
	defer con.Close()
	ctx, stop := headless.SignalContext()
	defer stop()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = con.Start(sctx)
	cancel()
	if err != nil {
		return failWith(fail, err)
	}
	out.Emit(headless.Event{Event: "ready", Agent: *name})

	quit := make(chan struct{})
	var quitOnce sync.Once
	go func() {
		headless.ReadCommands(stdin, out, func(c headless.Command) {
			if c.Cmd == "quit" {
				quitOnce.Do(func() { close(quit) })
				return
			}
			handle(ctx, con, out, c)
		})
	}()
	select {
	case <-ctx.Done():
	case <-quit:
	}
	return 0
}

func failWith(fail func(code, msg string) int, err error) int {
	var e *console.Error
	if errors.As(err, &e) {
		return fail(e.Code, e.Message)
	}
	return fail("internal", err.Error())
}

func handle(ctx context.Context, con *console.Console, out *headless.Writer, c headless.Command) {
	report := func(err error) {
		if err == nil {
			return
		}
		ev := headless.Event{Event: "error", Session: c.Session, Code: "internal", Message: err.Error()}
		var e *console.Error
		if errors.As(err, &e) {
			ev.Code, ev.Message = e.Code, e.Message
		}
		out.Emit(ev)
	}
	if handleFiles(con, out, c, report) || handleScreen(ctx, con, out, c, report) {
		return
	}
	switch c.Cmd {
	case "new_session":
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		_, err := con.NewSession(rctx)
		report(err)
	case "new_key":
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		_, err := con.NewKey(rctx, c.Session)
		report(err)
	case "chat":
		report(con.Chat(c.Session, c.Text))
	case "end_session":
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		report(con.EndSession(rctx, c.Session, c.Reason))
	case "request_permission":
		// Beyond the longest wait a customer gives, a timeout is that
		// wait (and does not overflow a Duration); a negative one is a
		// bad_request.
		ms := min(c.TimeoutMs, consent.MaxTimeout.Milliseconds())
		_, err := con.RequestPermission(c.Session, c.Kind, c.Reason, time.Duration(ms)*time.Millisecond)
		report(err)
	case "history":
		msgs, err := con.History(c.Session)
		if err != nil {
			report(err)
			return
		}
		out.EmitHistory(c.Session, msgs)
	case "sessions":
		for _, s := range con.Sessions() {
			out.Emit(headless.Event{Event: "session", Session: s.ID, Name: s.PeerName, State: s.State})
		}
	case "status":
		l := con.Link(c.Session)
		if l == nil {
			out.Emit(headless.Event{Event: "status", Session: c.Session, Path: ""})
			return
		}
		rtt := l.RTT().Milliseconds()
		out.Emit(headless.Event{Event: "status", Session: c.Session, Path: string(l.Path), RTTMs: &rtt})
	default:
		out.Emit(headless.Event{Event: "error", Code: "bad_command", Message: fmt.Sprintf("unknown command %q", c.Cmd)})
	}
}
