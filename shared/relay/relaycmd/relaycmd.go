// Package relaycmd is the command line of porthole-relay: "serve" and the
// "agent" account commands. It is a package so tests can run it in-process.
package relaycmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/porthole-dev/porthole/shared/relay"
)

const usage = `usage:
  porthole-relay serve [--config FILE] [--listen ADDR] [--data DIR] [--cert FILE --key FILE]
                       [--key-lifetime DURATION] [--log-level debug|info|warn|error]
  porthole-relay agent add    --data DIR --name NAME   (password on stdin)
  porthole-relay agent passwd --data DIR --name NAME   (password on stdin)
  porthole-relay agent remove --data DIR --name NAME
  porthole-relay agent list   --data DIR
`

// Main runs the command and returns its exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], stdout, stderr)
	case "agent":
		err = agent(args[1:], stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "porthole-relay: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintf(stderr, "porthole-relay: %v\n", err)
		return 1
	}
	return 0
}

// fileConfig is the relay's config file (JSON). Flags override it.
type fileConfig struct {
	Listen      string `json:"listen"`
	Data        string `json:"data"`
	Cert        string `json:"cert"`
	Key         string `json:"key"`
	KeyLifetime string `json:"key_lifetime"`
	LogLevel    string `json:"log_level"`
	// InboundFiles is what customers may send to agents (no flag).
	InboundFiles *inboundFiles `json:"inbound_files"`
	// Limits are the relay's limits against guessing and floods (no flag).
	Limits *limits `json:"limits"`
}

// readConfig reads and checks the config file; a key it does not know is
// an error.
func readConfig(r io.Reader) (fileConfig, error) {
	var fc fileConfig
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return fc, err
	}
	if dec.More() {
		return fc, errors.New("more than one JSON value")
	}
	if _, err := fc.InboundFiles.policy(); err != nil {
		return fc, fmt.Errorf("inbound_files: %w", err)
	}
	if err := fc.Limits.apply(&relay.Config{}); err != nil {
		return fc, fmt.Errorf("limits: %w", err)
	}
	return fc, nil
}

func serve(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "JSON config file")
	listen := fs.String("listen", "", "UDP address to listen on (default :7443)")
	data := fs.String("data", "", "data folder (database, TLS identity)")
	cert := fs.String("cert", "", "PEM certificate (instead of the self-signed identity)")
	key := fs.String("key", "", "PEM private key for --cert")
	lifetime := fs.String("key-lifetime", "", "how long a session key stays valid (default 20m)")
	level := fs.String("log-level", "", "log level: debug, info, warn, error (default info)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var fc fileConfig
	if *configPath != "" {
		raw, err := os.ReadFile(*configPath)
		if err != nil {
			return fmt.Errorf("reading config: %w", err)
		}
		if fc, err = readConfig(bytes.NewReader(raw)); err != nil {
			return fmt.Errorf("config %s: %w", *configPath, err)
		}
	}
	override := func(dst *string, flagVal string) {
		if flagVal != "" {
			*dst = flagVal
		}
	}
	override(&fc.Listen, *listen)
	override(&fc.Data, *data)
	override(&fc.Cert, *cert)
	override(&fc.Key, *key)
	override(&fc.KeyLifetime, *lifetime)
	override(&fc.LogLevel, *level)
	if fc.Data == "" {
		return errors.New("serve needs --data DIR (or \"data\" in the config file)")
	}
	if (fc.Cert == "") != (fc.Key == "") {
		return errors.New("--cert and --key go together")
	}
	var lvl slog.Level
	if fc.LogLevel != "" {
		if err := lvl.UnmarshalText([]byte(fc.LogLevel)); err != nil {
			return fmt.Errorf("log level: %w", err)
		}
	}
	files, err := fc.InboundFiles.policy() // checked by readConfig
	if err != nil {
		return fmt.Errorf("inbound_files: %w", err)
	}
	cfg := relay.Config{Listen: fc.Listen, DataDir: fc.Data, CertFile: fc.Cert, KeyFile: fc.Key, FilePolicy: files}
	if err := fc.Limits.apply(&cfg); err != nil { // checked by readConfig
		return fmt.Errorf("limits: %w", err)
	}
	if fc.KeyLifetime != "" {
		d, err := time.ParseDuration(fc.KeyLifetime)
		if err != nil || d <= 0 {
			return fmt.Errorf("key lifetime %q: want a duration such as 20m", fc.KeyLifetime)
		}
		cfg.KeyLifetime = d
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	srv, err := relay.New(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ready, _ := json.Marshal(struct {
		Event       string `json:"event"`
		Addr        string `json:"addr"`
		Fingerprint string `json:"fingerprint"`
	}{"ready", srv.Addr().String(), srv.Fingerprint()})
	fmt.Fprintf(stdout, "%s\n", ready)
	log.Info("relay ready", "addr", srv.Addr().String(), "fingerprint", srv.Fingerprint())
	log.Info("inbound files", "enabled", files.Enabled, "extensions", files.Extensions,
		"content_types", files.ContentTypes, "max_size", files.MaxSize, "max_files", files.MaxFiles,
		"invitation_required", files.InvitationRequired, "invitation", time.Duration(files.InvitationMs)*time.Millisecond)
	lim := srv.Config()
	log.Info("limits", "guess_burst", lim.GuessBurst, "guess_every", lim.GuessEvery.String(), "ipv6_prefix", lim.IPv6Prefix,
		"failed_joins_per_minute", max(lim.FailedJoinsPerMinute, 0), "sign_in_concurrency", lim.SignInConcurrency,
		"sign_in_wait", lim.SignInWait.String(), "max_waiting_per_agent", max(lim.MaxWaitingPerAgent, 0),
		"max_keys_per_agent", max(lim.MaxKeysPerAgent, 0), "max_waiting", max(lim.MaxWaiting, 0))
	err = srv.Serve(ctx)
	log.Info("relay stopped")
	return err
}

func agent(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("agent needs a subcommand: add, passwd, remove, list")
	}
	sub := args[0]
	switch sub {
	case "add", "passwd", "remove", "list":
	default:
		return fmt.Errorf("unknown agent subcommand %q (add, passwd, remove, list)", sub)
	}
	fs := flag.NewFlagSet("agent "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "relay data folder")
	name := fs.String("name", "", "agent account name")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *data == "" {
		return errors.New("--data DIR is required")
	}
	if sub != "list" && *name == "" {
		return errors.New("--name NAME is required")
	}
	db, err := relay.OpenDB(*data)
	if err != nil {
		return err
	}
	defer db.Close()
	accts := relay.NewAccounts(db)
	readPassword := func() (string, error) {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("give the password on standard input")
		}
		return pw, nil
	}
	switch sub {
	case "add", "passwd":
		pw, err := readPassword()
		if err != nil {
			return err
		}
		if sub == "add" {
			err = accts.Add(*name, pw)
		} else {
			err = accts.SetPassword(*name, pw)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "agent %q %s\n", *name, map[string]string{"add": "added", "passwd": "password changed"}[sub])
	case "remove":
		if err := accts.Remove(*name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "agent %q removed\n", *name)
	case "list":
		list, err := accts.List()
		if err != nil {
			return err
		}
		for _, a := range list {
			fmt.Fprintf(stdout, "%s\t%s\n", a.Name, a.Created.Format(time.RFC3339))
		}
	default:
		return fmt.Errorf("unknown agent subcommand %q (add, passwd, remove, list)", sub)
	}
	return nil
}
