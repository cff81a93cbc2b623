// Package setup is what the agent console remembers between runs (the
// relay it uses, the agent's name, notification preferences) and the relay
// it can run inside itself for use on a local network. It has no UI.
package setup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/porthole-dev/porthole/shared/relay"
	"github.com/porthole-dev/porthole/shared/store"
)

// DefaultLocalPort is where the relay inside the console listens unless
// told otherwise.
const DefaultLocalPort = "7443"

// Settings are what the console remembers. The password never is.
type Settings struct {
	Local         bool   `json:"local"`      // run a relay inside the console
	LocalListen   string `json:"local_port"` // its port, or host:port
	Address       string `json:"address,omitempty"`
	Fingerprint   string `json:"fingerprint,omitempty"`
	Name          string `json:"name,omitempty"`
	Notify        bool   `json:"notify"`
	NotifyPreview bool   `json:"notify_preview"`
}

// Defaults are the settings of a console that has never been set up: a
// relay on this computer, notifications on.
func Defaults() Settings {
	return Settings{Local: true, LocalListen: DefaultLocalPort, Notify: true}
}

const fileName = "settings.json"

// Load reads the settings from the data folder; found is false (and s the
// defaults) when there are none yet.
func Load(dir string) (s Settings, found bool, err error) {
	s = Defaults()
	b, err := os.ReadFile(filepath.Join(dir, fileName))
	if errors.Is(err, fs.ErrNotExist) {
		return s, false, nil
	}
	if err != nil {
		return s, false, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return Defaults(), false, fmt.Errorf("%s: %w", fileName, err)
	}
	return s, true, nil
}

// Save writes the settings so that a crash leaves either the old file or
// the new one, never half of one.
func Save(dir string, s Settings) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return store.WriteFileAtomic(filepath.Join(dir, fileName), append(b, '\n'), 0o600)
}

// ListenAddr turns what the agent typed for the local relay (a port, or
// host:port) into a UDP listen address.
func ListenAddr(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = DefaultLocalPort
	}
	if !strings.Contains(s, ":") {
		s = ":" + s
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a port or host:port", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("%q is not a port number", port)
	}
	return net.JoinHostPort(host, port), nil
}

// LocalRelay is a relay running inside the console.
type LocalRelay struct {
	srv    *relay.Server
	cancel context.CancelFunc
	done   chan struct{}
}

// StartLocalRelay starts a relay with its data in dir, listening on listen
// (see ListenAddr).
func StartLocalRelay(dir, listen string, log *slog.Logger) (*LocalRelay, error) {
	addr, err := ListenAddr(listen)
	if err != nil {
		return nil, err
	}
	srv, err := relay.New(relay.Config{Listen: addr, DataDir: dir}, log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &LocalRelay{srv: srv, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := srv.Serve(ctx); err != nil {
			log.Error("local relay stopped", "err", err)
		}
	}()
	return r, nil
}

// Close stops the relay and waits until its files are closed.
func (r *LocalRelay) Close() {
	r.cancel()
	<-r.done
}

// Fingerprint is the relay certificate's pin.
func (r *LocalRelay) Fingerprint() string { return r.srv.Fingerprint() }

// port is the UDP port the relay got.
func (r *LocalRelay) port() int { return r.srv.Addr().(*net.UDPAddr).Port }

// DialAddr is where the console itself reaches the relay.
func (r *LocalRelay) DialAddr() string {
	ip := r.srv.Addr().(*net.UDPAddr).IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(r.port()))
}

// PublicAddr is where customers on the network reach the relay: this
// computer's first LAN address (loopback when the relay listens only there
// or there is no network).
func (r *LocalRelay) PublicAddr() string {
	ip := r.srv.Addr().(*net.UDPAddr).IP
	if ip.IsUnspecified() {
		ip = lanIP()
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(r.port()))
}

func lanIP() net.IP {
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
				return n.IP.To4()
			}
		}
	}
	return net.IPv4(127, 0, 0, 1)
}

// HereOnly says the relay listens on a loopback address only: only this
// computer reaches it (the demo's relay does).
func (r *LocalRelay) HereOnly() bool { return r.srv.Addr().(*net.UDPAddr).IP.IsLoopback() }

// JoinHint is the command line a customer on the network (or, HereOnly,
// on this computer) runs to join with key.
func (r *LocalRelay) JoinHint(key string) string {
	return fmt.Sprintf("porthole-customer --relay %s --relay-fingerprint %s --key %s", r.PublicAddr(), r.Fingerprint(), key)
}

// ErrNoAccount is EnsureAccount's answer when the relay has no agent
// account and may not make one.
var ErrNoAccount = errors.New("the relay on this computer has no agent account")

// EnsureAccount makes sure the relay has an agent account to sign in to.
// When it has none, name becomes its account if first is true (the agent
// is setting the console up, and typed the password twice); otherwise it
// returns ErrNoAccount, so that a sign-in (for example after the relay's
// data was deleted) never makes an account on the fly. Sign-ins to an
// existing account are checked by the relay as usual.
func (r *LocalRelay) EnsureAccount(name, password string, first bool) error {
	accts, err := r.srv.Accounts().List()
	if err != nil {
		return err
	}
	switch {
	case len(accts) > 0:
		return nil
	case !first:
		return ErrNoAccount
	}
	return r.srv.Accounts().Add(name, password)
}
