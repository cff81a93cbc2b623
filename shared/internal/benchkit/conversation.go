package benchkit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/chat"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	router "github.com/porthole-dev/porthole/shared/session"
)

// ConversationRTT runs the apps' chat layer (chat.Conversation over each
// side's appdb, which stores every message before sending or acknowledging
// it) on a pair's links: the agent says a line, the customer's side says an
// echo as soon as it has reported the line, and the round trip ends when the
// agent's side reports the echo. It is the binaries' chat round trip without
// processes and pipes. The pair's links belong to the conversations
// afterwards. agentDir and customerDir hold the two databases.
func ConversationRTT(ctx context.Context, p *Pair, agentDir, customerDir string, warmup, n int) ([]time.Duration, error) {
	adb, err := appdb.Open(agentDir)
	if err != nil {
		return nil, err
	}
	defer adb.Close()
	cdb, err := appdb.Open(customerDir)
	if err != nil {
		return nil, err
	}
	defer cdb.Close()
	got := make(chan string, 16) // echo texts the agent's side reported
	toEcho := make(chan string, 16)
	down := make(chan error, 2)
	ar := router.New(router.Config{Session: p.Session.ID, Log: discard,
		Gone: func(_ *peer.Link, err error) { down <- fmt.Errorf("agent link down: %v", err) }})
	cr := router.New(router.Config{Session: p.Session.ID, Log: discard,
		Gone: func(_ *peer.Link, err error) { down <- fmt.Errorf("customer link down: %v", err) }})
	agent := chat.New(adb, ar, "alice", pb.Role_ROLE_AGENT, chat.Handlers{
		Message: func(m appdb.Message) {
			if !m.Outgoing {
				got <- m.Text
			}
		},
	}, discard)
	cust := chat.New(cdb, cr, "bob", pb.Role_ROLE_CUSTOMER, chat.Handlers{
		Message: func(m appdb.Message) {
			if !m.Outgoing {
				toEcho <- m.Text
			}
		},
	}, discard)
	ar.Attach(p.AgentLink)
	cr.Attach(p.Customer.Link)
	defer ar.Close("benchmark over")
	defer cr.Close("benchmark over")
	echoDone := make(chan struct{})
	defer close(echoDone)
	go func() { // the customer's user: echoes what it sees, as the driver does
		for {
			select {
			case t := <-toEcho:
				cust.Say("echo " + t)
			case <-echoDone:
				return
			}
		}
	}()
	var out []time.Duration
	for i := range warmup + n {
		text := fmt.Sprintf("conv rtt %d", i)
		start := time.Now()
		if _, err := agent.Say(text); err != nil {
			return out, err
		}
		for {
			var t string
			select {
			case t = <-got:
			case err := <-down:
				return out, err
			case <-ctx.Done():
				return out, ctx.Err()
			case <-time.After(10 * time.Second):
				return out, errors.New("conversation: no echo within 10s")
			}
			if t == "echo "+text {
				break
			}
			if !strings.HasPrefix(t, "echo conv rtt ") {
				return out, fmt.Errorf("conversation: unexpected line %q", t)
			}
		}
		if i >= warmup {
			out = append(out, time.Since(start))
		}
	}
	return out, nil
}

// CommitLatency times n appdb.AddMessage calls (one bbolt read-write
// transaction, with its fsyncs, each) in a fresh database in dir: the
// storage floor under every chat line.
func CommitLatency(dir string, n int) ([]time.Duration, error) {
	db, err := appdb.Open(dir)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	out := make([]time.Duration, 0, n)
	for i := range n {
		m := appdb.Message{ID: fmt.Sprintf("commit%018d", i), From: "bench", FromRole: "agent", Text: "commit latency", At: time.Now(), Outgoing: true}
		start := time.Now()
		if _, err := db.AddMessage("0123456789abcdef0123456789abcdef", &m); err != nil {
			return out, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}
