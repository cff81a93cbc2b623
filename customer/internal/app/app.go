// Package app is the customer client's command line: flags, the relay and
// the key that a downloaded copy finds by itself (relay.go; the key from the
// program's own file name), and the headless mode that drives the client
// logic with JSON lines (docs/headless.md).
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
	"github.com/porthole-dev/porthole/shared/protocol"
)

const usage = `usage: porthole-customer [--relay ADDR [--relay-fingerprint FP]] [--key NNNN-NNNN-NNN-NNN]
                         [--name NAME] [--data DIR] [--force-relay] [--headless]
                         [--events FILE|-] [--downloads DIR] [--accept-files ask|all|none]
                         [--accept-screen ask|all|none] [--accept-control ask|all|none]
Without --headless the client opens its window; with it, JSON commands on stdin
and JSON events on stdout (docs/headless.md).
The relay is the first of: --relay (with --relay-fingerprint); $` + EnvRelay + `
(with $` + EnvRelayFingerprint + `); the file ` + RelayFile + ` next to the
program; the relay built into this copy (%s).
`

// The key may be followed by a browser's duplicate marker, " (1)".
// The groups are those of protocol.KeyGroups, each dash optional.
var keyInName = regexp.MustCompile(`(?:^|[^\d])(\d{4}-?\d{4}-?\d{3}-?\d{3})(?: ?\(\d+\))?(?:\.exe)?$`)

// KeyFromProgramName finds a session key embedded in the program's file
// name, as in "porthole-customer-1234-5678-123-456" (how a downloaded
// client carries its key).
func KeyFromProgramName(path string) string {
	base := strings.ToLower(filepath.Base(path))
	m := keyInName.FindStringSubmatch(base)
	if m == nil {
		return ""
	}
	return protocol.GroupKey(strings.ReplaceAll(m[1], "-", ""))
}

// Env is what Main takes from outside its arguments.
type Env struct {
	Program    string              // the program as started (argv[0]); its name may carry the key
	Executable string              // the program's file (os.Executable); RelayFile is looked for next to it
	Getenv     func(string) string // nil: no environment
	Builtin    Relay               // the relay built in at build time; Addr "" for none
}

// Main runs the customer client and returns its exit code.
func Main(env Env, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("porthole-customer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		builtin := "none"
		if env.Builtin.Addr != "" {
			builtin = env.Builtin.Addr
			if env.Builtin.Fingerprint != "" {
				builtin += ", " + env.Builtin.Fingerprint
			}
		}
		fmt.Fprintf(stderr, usage, builtin)
		fs.PrintDefaults()
	}
	headlessMode := fs.Bool("headless", false, "no window: JSON commands on stdin, JSON events on stdout")
	relayAddr := fs.String("relay", "", "relay address host:port")
	fp := fs.String("relay-fingerprint", "", "relay certificate fingerprint (sha256:...); empty: a real certificate")
	key := fs.String("key", "", "session key from your agent (NNNN-NNNN-NNN-NNN)")
	name := fs.String("name", "", "your name as the agent sees it (default user@host)")
	data := fs.String("data", headless.DataDir("porthole-customer"), "data folder")
	forceRelay := fs.Bool("force-relay", false, "never try a direct connection")
	logLevel := fs.String("log-level", "warn", "stderr log level: debug, info, warn, error")
	events := fs.String("events", "", "window: also write every event as a JSON line to this file (- for stdout)")
	downloads := fs.String("downloads", "", "folder for received files, a folder for the session inside (default: "+headless.DownloadsDir()+")")
	acceptFiles := fs.String("accept-files", "ask", "files the agent sends: ask (each one), all (accept them all), none (refuse them all)")
	acceptScreen := fs.String("accept-screen", "ask", "an agent's request to see the screen: ask, all (allow each), none (deny each)")
	acceptControl := fs.String("accept-control", "ask", "an agent's request to control the mouse and keyboard: ask, all (allow each), none (deny each)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *key == "" {
		*key = KeyFromProgramName(env.Program)
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
	src := RelaySources{Flag: *relayAddr, FlagFingerprint: *fp, Getenv: env.Getenv, Builtin: env.Builtin}
	if env.Executable != "" {
		src.Dir = filepath.Dir(env.Executable)
	}
	relay, relayErr := ResolveRelay(src)
	if relayErr != nil && *headlessMode {
		return fail(&client.Error{Code: "bad_request", Message: relayErr.Error()})
	}
	log, err := headless.Logger(stderr, *logLevel)
	if err != nil {
		return fail(err)
	}
	if relayErr == nil {
		log.Info("relay", "addr", relay.Addr, "fingerprint", relay.Fingerprint, "from", relay.From)
	}
	cfg := client.Config{
		Relay: relay.Addr, Fingerprint: relay.Fingerprint, Key: *key, Name: *name, DataDir: *data,
		ForceRelay: *forceRelay, Downloads: *downloads, AcceptFiles: *acceptFiles, Log: log, Emit: out.Emit,
		AcceptScreen: *acceptScreen, AcceptControl: *acceptControl,
	}
	if !*headlessMode {
		emit, done, err := headless.OpenEvents(*events, stdout)
		if err != nil {
			return fail(err)
		}
		defer done()
		blocked := ""
		if relayErr != nil {
			// Nothing to join with; the window says so in words for the
			// customer, who started it with a double click.
			emit(headless.Event{Event: "error", Code: "bad_request", Message: relayErr.Error()})
			fmt.Fprintln(stderr, "porthole-customer:", relayErr)
			blocked = noRelayText(relayErr)
		}
		if err := desktop.Run(cfg, emit, blocked); err != nil {
			return fail(err)
		}
		if relayErr != nil {
			return 1
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
	eof := make(chan struct{})     // stdin has ended
	choice := make(chan string, 1) // keep_files or delete_files after the end
	go func() {
		defer close(eof)
		headless.ReadCommands(stdin, out, func(c headless.Command) {
			handle(ctx, cl, out, c, fail, choice, func() { quitOnce.Do(func() { close(quit) }) })
		})
	}()
	select {
	case <-ctx.Done():
	case <-quit:
	case <-cl.Done():
		filesAtEnd(cl, out, fail, choice, eof, quit, ctx.Done())
	}
	return 0
}

// handle runs one command (docs/headless.md, "Customer commands"): the
// file and link commands (handleFiles), then the rest. fail turns an error
// into an error event; keep_files and delete_files after the session's end
// go to choice; quit is called for "quit".
func handle(ctx context.Context, cl *client.Client, out *headless.Writer, c headless.Command, fail func(error) int, choice chan<- string, quit func()) {
	if handleFiles(cl, out, c, fail, choice) {
		return
	}
	switch c.Cmd {
	case "quit":
		quit()
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
	case "grants":
		gs := cl.Grants()
		for _, g := range gs {
			out.Emit(headless.Event{Event: "grant", ID: g.ID, Agent: g.Peer, Kind: g.Kind, At: headless.Time(g.Since)})
		}
		n := len(gs)
		out.Emit(headless.Event{Event: "grants_end", Count: &n})
	case "revoke_permission":
		if err := cl.RevokePermission(c.ID); err != nil {
			fail(err)
		}
	case "stop_sharing":
		cl.StopSharing()
	case "revoke_control":
		cl.RevokeControl()
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
}
