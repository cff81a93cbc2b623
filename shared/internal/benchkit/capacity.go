package benchkit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/porthole-dev/porthole/shared/peer"
)

// Account is an agent account.
type Account struct{ Name, Password string }

// Link modes of the capacity test.
const (
	LinksNone    = "none"    // pair (PAKE) only
	LinksDirect  = "direct"  // plus a direct peer QUIC link per session
	LinksRelayed = "relayed" // plus a relayed peer QUIC link per session (through the relay)
)

// CapacityOptions configure a relay capacity run.
type CapacityOptions struct {
	Relay, Fingerprint string
	Agents             []Account // one connection (endpoint) per agent
	Sessions           int       // in all, spread evenly over the agents
	Links              string    // LinksNone, LinksDirect or LinksRelayed
	Parallel           int       // customers joining at once (default 32)
	Progress           func(format string, args ...any)
}

// Capacity is a crowd of paired sessions held open on a relay.
type Capacity struct {
	Agents     []*Agent
	Sessions   []*AgentSession
	Customers  []*Customer
	AgentLinks []*peer.Link

	Paired, Linked int
	SessionsTime   time.Duration // creating every session
	JoinTime       time.Duration // joining and pairing every customer
	JoinPhases     []Phases
}

// BuildCapacity signs the agents in, makes SessionsPerAgent sessions on
// each, and joins each session with its own customer (own endpoint and
// relay connection), pairing each one to completion on both sides. On error
// everything made so far is closed.
func BuildCapacity(ctx context.Context, o CapacityOptions) (*Capacity, error) {
	if o.Parallel <= 0 {
		o.Parallel = 32
	}
	if len(o.Agents) == 0 {
		return nil, errors.New("capacity: no agents")
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	c := &Capacity{}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	for i, acct := range o.Agents {
		// Each agent signs in from its own loopback address (127.0.1.x):
		// the relay takes a guess token for every sign-in and, with a real
		// clock, never gives it back (hub.signIn's CancelAt comes after the
		// reservation's time and so restores nothing), so ten sign-ins from
		// the customers' address would rate-limit all their joins.
		listen := fmt.Sprintf("127.0.%d.%d:0", 1+i/254, 1+i%254)
		a, err := NewAgent(ctx, AgentOptions{
			Relay: o.Relay, Fingerprint: o.Fingerprint, Name: acct.Name, Password: acct.Password, Listen: listen,
		})
		if err != nil {
			return nil, fmt.Errorf("agent %s: %w", acct.Name, err)
		}
		c.Agents = append(c.Agents, a)
	}
	o.Progress("capacity: %d agents signed in", len(c.Agents))

	t0 := time.Now()
	per := make([][]*AgentSession, len(c.Agents))
	errs := make([]error, len(c.Agents))
	var wg sync.WaitGroup
	for i, a := range c.Agents {
		n := o.Sessions / len(c.Agents)
		if i < o.Sessions%len(c.Agents) {
			n++
		}
		wg.Go(func() {
			for range n {
				s, err := a.NewSession(ctx)
				if err != nil {
					errs[i] = err
					return
				}
				per[i] = append(per[i], s)
			}
		})
	}
	wg.Wait()
	for _, ss := range per {
		c.Sessions = append(c.Sessions, ss...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("new sessions: %w", err)
	}
	c.SessionsTime = time.Since(t0)
	o.Progress("capacity: %d sessions created in %v", len(c.Sessions), c.SessionsTime.Round(time.Millisecond))

	t1 := time.Now()
	c.Customers = make([]*Customer, len(c.Sessions))
	c.AgentLinks = make([]*peer.Link, len(c.Sessions))
	c.JoinPhases = make([]Phases, len(c.Sessions))
	jerrs := make([]error, len(c.Sessions))
	var next, done atomic.Int64
	for range o.Parallel {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(c.Sessions) || ctx.Err() != nil {
					return
				}
				s := c.Sessions[i]
				cust, ph, err := Join(ctx, CustomerOptions{
					Relay: o.Relay, Fingerprint: o.Fingerprint, Key: s.Key(), Listen: "127.0.0.1:0",
					ForceRelay: o.Links == LinksRelayed, NoLink: o.Links == LinksNone,
				})
				if err != nil {
					jerrs[i] = fmt.Errorf("session %d: %w", i, err)
					continue
				}
				c.Customers[i], c.JoinPhases[i] = cust, ph
				wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				if o.Links == LinksNone {
					select {
					case <-s.Paired():
					case err := <-s.errs:
						jerrs[i] = fmt.Errorf("session %d: agent: %w", i, err)
					case <-wctx.Done():
						jerrs[i] = fmt.Errorf("session %d: agent did not confirm the pairing", i)
					}
				} else {
					c.AgentLinks[i], jerrs[i] = s.Link(wctx)
				}
				cancel()
				if n := done.Add(1); n%100 == 0 {
					o.Progress("capacity: %d/%d customers paired", n, len(c.Sessions))
				}
			}
		})
	}
	wg.Wait()
	c.JoinTime = time.Since(t1)
	for i := range c.Sessions {
		if jerrs[i] != nil || c.Customers[i] == nil {
			continue
		}
		c.Paired++
		if c.AgentLinks[i] != nil && c.Customers[i].Link != nil {
			c.Linked++
		}
	}
	if err := errors.Join(jerrs...); err != nil {
		return nil, fmt.Errorf("%d of %d sessions failed to pair: %w", len(c.Sessions)-c.Paired, len(c.Sessions), firstErr(jerrs))
	}
	ok = true
	return c, nil
}

func firstErr(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// LiveLinks counts the peer links still up on both sides.
func (c *Capacity) LiveLinks() int {
	n := 0
	for i, l := range c.AgentLinks {
		if l == nil || c.Customers[i] == nil || c.Customers[i].Link == nil {
			continue
		}
		select {
		case <-l.Done():
			continue
		case <-c.Customers[i].Link.Done():
			continue
		default:
			n++
		}
	}
	return n
}

// Close closes every customer and agent (the sessions stay on the relay).
func (c *Capacity) Close() {
	var wg sync.WaitGroup
	for _, cu := range c.Customers {
		if cu != nil {
			wg.Go(cu.Close)
		}
	}
	wg.Wait()
	for _, l := range c.AgentLinks {
		if l != nil {
			l.Close(peer.CodeEnded, "")
		}
	}
	for _, a := range c.Agents {
		a.Close()
	}
}
