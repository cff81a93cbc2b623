package desktop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/porthole-dev/porthole/agent/internal/console"
	"github.com/porthole-dev/porthole/agent/internal/setup"
	"github.com/porthole-dev/porthole/agent/internal/ui"
	"github.com/porthole-dev/porthole/shared/desktopui"
	"github.com/porthole-dev/porthole/shared/failure"
	"github.com/porthole-dev/porthole/shared/protocol"
)

// Signing in: the relay on this computer or a server, the console started
// on it, the account's data folder, and what a failed sign-in says.

// form is the sign-in screen filled in from the settings.
func (b *bridge) form(first bool) ui.SignIn {
	s := b.settings
	return ui.SignIn{Local: s.Local, LocalPort: s.LocalListen, Address: s.Address, Fingerprint: s.Fingerprint, Name: s.Name, First: first}
}

// signedInto is what a sign-in started: the console, the relay on this
// computer (nil for a relay server), and where the console is connected.
type signedInto struct {
	con      *console.Console
	local    *setup.LocalRelay
	addr, fp string
}

func (s *signedInto) close() {
	s.con.Close()
	if s.local != nil {
		s.local.Close()
	}
}

// signIn starts the relay on this computer if chosen, then the console.
func (b *bridge) signIn(f ui.SignIn) {
	if f.Local {
		b.ui.ShowBusy("Starting the relay on this computer…")
	} else {
		b.ui.ShowBusy("Connecting to " + f.Address + "…")
	}
	b.shutdown()
	gen := b.gen.Load()
	ctx, cancel := context.WithCancel(b.ctx)
	b.abort = cancel
	prev, done := b.signing, make(chan struct{})
	b.signing = done
	b.running.Add(1)
	go func() {
		defer b.running.Done()
		defer close(done)
		defer cancel()
		if prev != nil {
			<-prev // the sign-in before has closed what it started (the port, the folders)
		}
		b.signInAsync(ctx, gen, f)
	}()
}

// signInAsync runs a sign-in off Fyne's goroutine and hands what it
// started to the window, or closes it when the sign-in is stale by then
// (ctx is cancelled when it becomes stale).
func (b *bridge) signInAsync(ctx context.Context, gen uint64, f ui.SignIn) {
	in, err := b.start(ctx, gen, f)
	if err != nil {
		b.later(gen, func() {
			f.Password = ""
			if errors.Is(err, setup.ErrNoAccount) {
				f.First = true
				b.ui.ShowSignIn(f, noAccount)
				return
			}
			b.ui.ShowSignIn(f, signInMessage(f, err))
		})
		return
	}
	// Exactly one side claims what the sign-in started: the window (still
	// this generation) or this goroutine (stale), which closes it.
	var claimed atomic.Bool
	decided := make(chan struct{}, 1)
	b.do(func() {
		defer func() { decided <- struct{}{} }()
		if b.gen.Load() != gen || !claimed.CompareAndSwap(false, true) {
			return
		}
		b.con, b.local = in.con, in.local
		b.signedIn(gen, f, in)
	})
	select {
	case <-decided:
	case <-ctx.Done():
	}
	if claimed.CompareAndSwap(false, true) {
		in.close()
	}
}

// start brings up the relay (if local) and signs the console in; it runs
// off Fyne's goroutine.
func (b *bridge) start(ctx context.Context, gen uint64, f ui.SignIn) (*signedInto, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in := &signedInto{addr: f.Address, fp: f.Fingerprint}
	if f.Local {
		local, err := setup.StartLocalRelay(filepath.Join(b.opt.DataDir, "relay"), f.LocalPort, b.opt.Log)
		if err != nil {
			return nil, fmt.Errorf("the relay on this computer could not start: %w", err)
		}
		if err := local.EnsureAccount(f.Name, f.Password, f.First); err != nil {
			local.Close()
			return nil, err
		}
		in.local, in.addr, in.fp = local, local.DialAddr(), local.Fingerprint()
	}
	con, err := b.newConsole(console.Config{
		Relay: in.addr, Fingerprint: in.fp, Name: f.Name, Password: f.Password,
		DataDir: accountDir(b.opt.DataDir, f), ForceRelay: b.opt.ForceRelay, Log: b.opt.Log,
		Downloads: b.opt.Downloads, OpenURL: desktopui.OpenWeb,
		Emit:   b.opt.Events, // the JSON lines, for --events
		Events: func(ev any) { b.later(gen, func() { b.event(ev) }) },
		Frame:  b.frame, Pointer: b.pointer,
	})
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, signInTimeout)
		err = con.Start(sctx)
		cancel()
		if err != nil {
			con.Close()
		}
	}
	if err != nil {
		if in.local != nil {
			in.local.Close()
		}
		return nil, err
	}
	in.con = con
	return in, nil
}

// accountDir is the console's data folder for the account f signs in to.
// A console attaches every open session in its database to the relay and
// marks those the relay does not know as ended, so each relay and agent
// name has a folder of its own: DataDir/accounts/<first 8 bytes of
// sha256(relay key + NUL + name), in hex>. A relay server's key is
// "server:" and its fingerprint when pinned (the same relay under another
// address is the same relay), else its address. The relay on this
// computer's key is "local" whatever its port: it is the same relay, with
// its identity in DataDir/relay; should that data be wiped, the sessions
// the new relay does not know are rightly marked ended at the next
// sign-in, where a fingerprint key would hide them in a folder nobody
// opens.
func accountDir(dataDir string, f ui.SignIn) string {
	key := "local"
	if !f.Local {
		id := strings.ToLower(strings.TrimSpace(f.Fingerprint))
		if id == "" {
			id = strings.ToLower(strings.TrimSpace(f.Address))
		}
		key = "server:" + id
	}
	sum := sha256.Sum256([]byte(key + "\x00" + f.Name))
	return filepath.Join(dataDir, "accounts", hex.EncodeToString(sum[:8]))
}

// signInMessage says why signing in failed, in words for a person.
func signInMessage(f ui.SignIn, err error) string {
	e := failure.From(err)
	switch e.Code {
	case protocol.CodeAuthFailed:
		if f.Local {
			return "The name or password is wrong for the relay on this computer."
		}
		return "The name or password is wrong."
	case protocol.CodeRateLimited:
		return "Too many failed sign-ins from here; wait a minute and try again."
	case failure.CodeRelayUntrusted:
		return "The relay's certificate does not match the fingerprint. Check the fingerprint with whoever runs the relay."
	case protocol.CodeRelayUnreachable:
		if f.Local {
			return "The relay on this computer (" + localPort(f.LocalPort) + ") did not answer. Try again, or restart the console."
		}
		return "The relay at " + f.Address + " does not answer. Check the address and your network."
	}
	return e.Message
}

// localPort names where the relay on this computer listens: "port 7443",
// or the host:port typed.
func localPort(listen string) string {
	addr, err := setup.ListenAddr(listen)
	if err != nil {
		return "port " + strings.TrimSpace(listen)
	}
	host, port, _ := net.SplitHostPort(addr)
	if host == "" {
		return "port " + port
	}
	return addr
}
