package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/porthole-dev/porthole/shared/internal/benchkit"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/transfer"
)

// A transfer child is this program started again as one side of a file
// transfer (benchcmd -role send|recv ...), so that each side's memory is
// its own process's. The two children pair with a session key the parent
// gives both, over a direct loopback peer connection: the sender (agent)
// listens and says where, the receiver (customer) dials. Each writes JSON
// lines on stdout (childMsg); after "done" it waits for its stdin to close,
// so the parent can read its /proc status first.

// isChild says whether the arguments ask for a transfer child.
func isChild(args []string) bool {
	if len(args) == 0 {
		return false
	}
	for _, p := range []string{"-role", "--role"} {
		if args[0] == p || len(args[0]) > len(p) && args[0][:len(p)+1] == p+"=" {
			return true
		}
	}
	return false
}

type childMsg struct {
	Listening string  `json:"listening,omitempty"`
	Done      bool    `json:"done,omitempty"`
	Bytes     int64   `json:"bytes,omitempty"`
	Seconds   float64 `json:"seconds,omitempty"` // sender: Send -> done; receiver: link up -> done
	Error     string  `json:"error,omitempty"`
}

// transferChild runs one side and returns the exit code.
func transferChild(args []string) int {
	fs := flag.NewFlagSet("benchcmd -role", flag.ContinueOnError)
	role := fs.String("role", "", "send (agent, listens) or recv (customer, dials)")
	keyHex := fs.String("key", "", "session key, hex")
	session := fs.String("session", "", "session id")
	dir := fs.String("dir", "", "folder for the database and downloads")
	file := fs.String("file", "", "send: the file")
	addr := fs.String("addr", "", "recv: the sender's address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	out := json.NewEncoder(os.Stdout)
	fail := func(err error) int {
		out.Encode(childMsg{Error: err.Error()})
		return 1
	}
	key, err := hex.DecodeString(*keyHex)
	if err != nil || len(key) != 32 || *session == "" || *dir == "" {
		return fail(errors.New("-key (32 bytes hex), -session and -dir are required"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ep, err := peer.NewEndpoint("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		return fail(err)
	}
	defer ep.Close()
	opts := benchkit.SideOptions{Dir: *dir}
	var l *peer.Link
	switch *role {
	case "send":
		opts.Name, opts.Role = agentName, pb.Role_ROLE_AGENT
		id, err := peer.NewIdentity(key, *session, true)
		if err != nil {
			return fail(err)
		}
		accepted := make(chan *quic.Conn, 1)
		err = ep.Register(id, func(c *quic.Conn, _ peer.Path) {
			select {
			case accepted <- c:
			default:
				c.CloseWithError(peer.CodeRefused, "one connection only")
			}
		})
		if err != nil {
			return fail(err)
		}
		out.Encode(childMsg{Listening: ep.LocalAddr().String()})
		var conn *quic.Conn
		select {
		case conn = <-accepted:
		case <-time.After(30 * time.Second):
			return fail(errors.New("no connection from the receiver within 30 s"))
		}
		if l, err = peer.AcceptLink(ctx, conn, peer.PathDirect, childHello(pb.Role_ROLE_AGENT, agentName)); err != nil {
			return fail(err)
		}
	case "recv":
		opts.Name, opts.Role, opts.Accept = customerName, pb.Role_ROLE_CUSTOMER, transfer.AcceptAny
		id, err := peer.NewIdentity(key, *session, false)
		if err != nil {
			return fail(err)
		}
		conn, err := ep.DialDirect(ctx, id, []string{*addr})
		if err != nil {
			return fail(err)
		}
		if l, err = peer.OpenLink(ctx, conn, peer.PathDirect, childHello(pb.Role_ROLE_CUSTOMER, customerName)); err != nil {
			return fail(err)
		}
	default:
		return fail(fmt.Errorf("-role %q: want send or recv", *role))
	}
	side, err := benchkit.NewSide(opts)
	if err != nil {
		return fail(err)
	}
	defer side.Close()
	side.Attach(*session, l)
	start := time.Now()
	msg := childMsg{Done: true}
	if *role == "send" {
		ids, ts, err := side.SendAll(*session, *file)
		if err != nil {
			return fail(err)
		}
		end, err := side.WaitDone(ctx, ids)
		if err != nil {
			return fail(err)
		}
		msg.Bytes, msg.Seconds = ts[0].Size, end.Sub(start).Seconds()
	} else {
		fs, err := side.WaitCount(ctx, 1)
		if err != nil {
			return fail(err)
		}
		f := fs[0]
		if f.Event.Kind != transfer.EventDone {
			return fail(fmt.Errorf("the file ended %s: %s", f.Event.Kind, f.Event.Transfer.Why))
		}
		msg.Bytes, msg.Seconds = f.Event.Transfer.Size, f.At.Sub(start).Seconds()
	}
	out.Encode(msg)
	io.Copy(io.Discard, os.Stdin)
	return 0
}

func childHello(role pb.Role, name string) *pb.Hello {
	return &pb.Hello{Version: protocol.Version, Role: role, Software: benchkit.Software, Name: name}
}

// child is a running transfer child, seen from the parent.
type child struct {
	role  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	msgs  chan childMsg
}

func startChild(tb *runTB, role string, args ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, append([]string{"-role", role}, args...)...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the driver
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{role: role, cmd: cmd, stdin: stdin, msgs: make(chan childMsg, 4)}
	tb.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	go func() {
		defer close(c.msgs)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m childMsg
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = childMsg{Error: "unreadable line: " + sc.Text()}
			}
			c.msgs <- m
		}
	}()
	return c, nil
}

// next waits for the child's next message.
func (c *child) next(d time.Duration) (childMsg, error) {
	select {
	case m, ok := <-c.msgs:
		if !ok {
			return m, fmt.Errorf("%s child (pid %d) exited early", c.role, c.cmd.Process.Pid)
		}
		if m.Error != "" {
			return m, fmt.Errorf("%s child: %s", c.role, m.Error)
		}
		return m, nil
	case <-time.After(d):
		return childMsg{}, fmt.Errorf("%s child: nothing within %v", c.role, d)
	}
}

// childStats is a child's memory when it was done. Its getrusage peak is
// no use here: a child starts as a copy of this process (clone with
// CLONE_VM), and Linux carries that peak over the exec.
type childStats struct {
	hwm, rss int64 // bytes: VmHWM and VmRSS
	msg      childMsg
}

// finish reads the child's memory, lets it exit and waits for it.
func (c *child) finish(msg childMsg) (childStats, error) {
	st := childStats{msg: msg}
	s, err := procStatus(c.cmd.Process.Pid)
	if err != nil {
		return st, err
	}
	st.hwm, st.rss = s["VmHWM"], s["VmRSS"]
	c.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		err = <-done
	}
	return st, err
}

// runChildPair moves the file at path between two transfer children.
func runChildPair(tb *runTB, dir, path string) (snd, rcv childStats, err error) {
	cdir, err := os.MkdirTemp(dir, "procs-")
	if err != nil {
		return snd, rcv, err
	}
	defer os.RemoveAll(cdir)
	key := make([]byte, 32)
	rand.Read(key)
	session := benchkit.NewSessionID()
	common := []string{"-key", hex.EncodeToString(key), "-session", session}
	s, err := startChild(tb, "send", append(common, "-dir", filepath.Join(cdir, "agent"), "-file", path)...)
	if err != nil {
		return snd, rcv, err
	}
	m, err := s.next(30 * time.Second)
	if err != nil {
		return snd, rcv, err
	}
	r, err := startChild(tb, "recv", append(common, "-dir", filepath.Join(cdir, "customer"), "-addr", m.Listening)...)
	if err != nil {
		return snd, rcv, err
	}
	rm, err := r.next(5 * time.Minute)
	if err != nil {
		return snd, rcv, err
	}
	sm, err := s.next(time.Minute)
	if err != nil {
		return snd, rcv, err
	}
	if rcv, err = r.finish(rm); err != nil {
		return snd, rcv, fmt.Errorf("receiver: %w", err)
	}
	if snd, err = s.finish(sm); err != nil {
		return snd, rcv, fmt.Errorf("sender: %w", err)
	}
	return snd, rcv, nil
}

// memorySection runs the sender and the receiver each in a process of its
// own for a small file and for the big one, and reports each side's peak
// resident memory.
func memorySection(ctx context.Context, cfg config, dir, big string, baseMBps float64, rep *report) {
	tb := newScope("transfer-procs", dir)
	defer tb.close()
	bigInfo, err := os.Stat(big)
	if err != nil {
		rep.fail("transfer memory", err)
		return
	}
	smallSize := int64(cfg.fileSmallMiB) << 20
	small := filepath.Join(dir, "src", fmt.Sprintf("file-%dMiB.bin", cfg.fileSmallMiB))
	if err := benchkit.WriteRandomFile(small, smallSize); err != nil {
		rep.fail("transfer memory", err)
		return
	}
	defer os.Remove(small)
	type run struct {
		size     int64
		snd, rcv childStats
	}
	var runs []run
	for _, f := range []struct {
		path string
		size int64
	}{{small, smallSize}, {big, bigInfo.Size()}} {
		if ctx.Err() != nil {
			return
		}
		snd, rcv, err := runChildPair(tb, dir, f.path)
		if err != nil {
			rep.fail(fmt.Sprintf("transfer memory, %s file", sizeName(f.size)), err)
			return
		}
		logf("transfer: processes, %s: sender VmHWM %s, receiver VmHWM %s, %.1f MB/s",
			sizeName(f.size), mb(snd.hwm), mb(rcv.hwm), float64(f.size)/snd.msg.Seconds/1e6)
		runs = append(runs, run{f.size, snd, rcv})
	}
	s, b := runs[0], runs[1]
	for _, x := range []struct {
		name       string
		small, big childStats
	}{
		{"sender (agent)", s.snd, b.snd},
		{"receiver (customer)", s.rcv, b.rcv},
	} {
		growth := float64(x.big.hwm) / float64(x.small.hwm)
		rep.add(fmt.Sprintf("peak RSS %s, own process", x.name),
			fmt.Sprintf("VmHWM %s (%s file), %s (%s file): x%.2f", mb(x.small.hwm), sizeName(s.size), mb(x.big.hwm), sizeName(b.size), growth),
			"<= 150 MB, flat (x <= 1.25)",
			verdict(float64(x.big.hwm) <= fileRSSTarget && float64(x.small.hwm) <= fileRSSTarget && growth <= 1.25))
	}
	mbps := float64(b.size) / b.snd.msg.Seconds / 1e6
	rep.add(fmt.Sprintf("file %s direct, each side its own process", sizeName(b.size)),
		fmt.Sprintf("%.1f MB/s (Send -> done %.2f s)", mbps, b.snd.msg.Seconds), "-",
		fmt.Sprintf("%.2f x baseline (info)", mbps/baseMBps))
	rep.note("peak RSS: each side is this program run again (-role send|recv) with its own engine, database and downloads folder, over a direct loopback peer link; VmHWM read from /proc/PID/status when its file is done (VmRSS then: sender %s, receiver %s)",
		mb(b.snd.rss), mb(b.rcv.rss))
}
