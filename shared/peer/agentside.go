package peer

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"sync"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// AgentSideConfig configures an AgentSide. Endpoint, Signaler, Session,
// Relay and Accepted are required; the rest may be left zero.
type AgentSideConfig struct {
	Endpoint *Endpoint // the agent's socket, shared by all its sessions
	Signaler Signaler  // the session's signals through the relay
	Session  string    // the session id
	Channel  uint64    // the session's relay channel

	// Relay returns the relay's UDP address, and Observed this endpoint's
	// address as the relay last saw it (a candidate for the direct path).
	// They are asked each time they are needed, so that a relay
	// reconnection is taken into account.
	Relay    func() *net.UDPAddr
	Observed func() string

	// ForceRelay answers every offer of candidates with "use the relay":
	// the agent never takes the direct path.
	ForceRelay bool

	// Accepted takes each new peer connection of the session (on either
	// path), on a goroutine of its own; it typically runs AcceptLink.
	Accepted Accepted

	// Paired is called, on Run's goroutine, when the PAKE has completed,
	// before the side starts accepting connections, so that whatever
	// Accepted needs can be made first (the console stores the key and
	// creates the chat conversation). If it returns an error the side does
	// not start accepting; the error is logged and given to Error.
	Paired func(key []byte) error

	// Taking, when set, is called on Run's goroutine when the key's one
	// Pake arrives, before it is answered, so that the caller can record
	// that the key's guess is spent: a side made again after a restart
	// must not take another. If it returns an error, the Pake is refused
	// as for a spent key and the error goes to Error; the pairing stays
	// untaken.
	Taking func() error

	// Failed is called, on Run's goroutine and at most once per
	// StartPairing, when the pairing fails: the customer's key was wrong
	// (an error matching ErrPakeFailed) or the customer gave up. The
	// session key is burnt by then; callers usually end the session. When
	// nil, the failure is logged.
	Failed func(err error)

	// Error, when set, hears of the failures that leave the session open:
	// setting up after the PAKE (Paired, the identity, Endpoint.Register)
	// and starting a relayed listener. They are logged either way.
	Error func(err error)

	// IdentityKey, when set, replaces the session key when the side derives
	// its identity, so that it cannot prove that it took part in the
	// pairing. Only tests set it, to play an impostor.
	IdentityKey []byte

	Log *slog.Logger // default: discard
}

// AgentSide is the agent's half of one session's peer signalling: what the
// agent answers to each signal its customer sends through the relay.
//
//   - Pake, Confirm and Abort drive the PAKE of a fresh session key
//     (StartPairing). The key is single-use: once the pairing has completed
//     or failed, or for a session resumed from a stored key (Resume), a
//     new Pake is refused with an Abort coded protocol.CodeUsed.
//   - Once paired, the side derives its identity from the session key and
//     registers it with the Endpoint, which then accepts the customer's
//     connections for the session and hands them to Accepted.
//   - From then on the signals travel sealed with the session key (Sealer);
//     any other is dropped, so the relay can neither read the addresses
//     nor make up a signal.
//   - Candidates, once paired, are answered with AnswerCandidates (the
//     agent's own candidates, and a punch towards the customer's).
//   - UseRelay, once paired, starts a relayed listener on the session's
//     channel and answers RelayReady for the same attempt. A session keeps
//     one relayed listener: a newer UseRelay replaces the older one, and
//     one for an attempt answered already (sent again by the relay) is
//     dropped, so it does not take down the connection of that attempt.
//
// Until the side is paired (or after a failed pairing), Candidates and
// UseRelay get no answer: there is no identity to accept connections with,
// nor a key to open them.
//
// Run handles the signals one at a time, in order, so a Candidates that
// follows the Confirm is answered with the identity in place. When the
// session ends, Stop stops accepting its connections; Run goes on until its
// context ends. The methods are safe for concurrent use.
type AgentSide struct {
	cfg AgentSideConfig
	log *slog.Logger

	mu          sync.Mutex
	pairing     *AgentPairing // nil: no PAKE to take
	sealer      *Sealer       // set once registered with the endpoint: the signals from then on are sealed
	stopRelayed context.CancelFunc
	relayedFor  []uint64 // the attempts the relayed listeners were started for, the last few
	stopped     bool
}

// ErrAgentSideStopped is Resume's error after Stop.
var ErrAgentSideStopped = errors.New("the session's signalling has stopped")

// NewAgentSide prepares the agent side of a session. It neither pairs nor
// accepts anything until StartPairing or Resume, and answers nothing until
// Run.
func NewAgentSide(cfg AgentSideConfig) *AgentSide {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AgentSide{cfg: cfg, log: log.With("session", cfg.Session)}
}

// StartPairing makes the side take one PAKE with the session key
// nameplate-secret, for a session still waiting for its customer.
func (s *AgentSide) StartPairing(nameplate, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pairing = NewAgentPairing(s.cfg.Session, nameplate, secret)
}

// Resume takes an established session key (stored by an earlier pairing):
// it derives the side's identity and registers it with the Endpoint, which
// from then on accepts the customer's connections. No PAKE is taken after
// it. Run calls it itself when a pairing completes.
func (s *AgentSide) Resume(key []byte) error {
	sealer, err := NewSealer(key, s.cfg.Session, true)
	if err != nil {
		return err
	}
	if s.cfg.IdentityKey != nil {
		key = s.cfg.IdentityKey
	}
	id, err := NewIdentity(key, s.cfg.Session, true)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrAgentSideStopped
	}
	s.pairing = nil
	// Under s.mu, so that a concurrent Stop unregisters after this.
	if err := s.cfg.Endpoint.Register(id, s.cfg.Accepted); err != nil {
		return err
	}
	s.sealer = sealer
	return nil
}

// Run answers the session's signals, one at a time and in order, until ctx
// ends (Stop does not end it). Call it once, on a goroutine of its own.
// Relayed listeners started by Run live no longer than ctx.
func (s *AgentSide) Run(ctx context.Context) {
	for {
		ps, err := s.cfg.Signaler.Recv(ctx)
		if err != nil {
			return
		}
		s.handle(ctx, ps)
	}
}

// Stop is for the end of the session: the Endpoint stops accepting the
// session's connections, the relayed listener stops, and Resume refuses
// from then on. Connections already accepted are the caller's to close.
//
// Run goes on until its context ends, so signals that were on their way
// are still handled: a customer that failed the PAKE ends the session on
// the relay right after its Abort, and the agent may hear of the end first,
// yet Failed is still called for the Abort. Stop may be called from the
// callbacks.
func (s *AgentSide) Stop() {
	s.mu.Lock()
	s.stopped = true
	stopRelayed := s.stopRelayed
	s.mu.Unlock()
	s.cfg.Endpoint.Unregister(s.cfg.Session)
	if stopRelayed != nil {
		stopRelayed()
	}
}

func (s *AgentSide) handle(ctx context.Context, ps *pb.PeerSignal) {
	sig := s.cfg.Signaler
	switch ps.Body.(type) {
	case *pb.PeerSignal_Pake, *pb.PeerSignal_Confirm, *pb.PeerSignal_Abort:
		s.mu.Lock()
		pairing := s.pairing
		s.mu.Unlock()
		if pairing == nil {
			if ps.GetPake() != nil {
				sig.Send(abort(protocol.CodeUsed, msgKeyUsed))
			}
			return
		}
		if ps.GetPake() != nil && !pairing.used && s.cfg.Taking != nil {
			if err := s.cfg.Taking(); err != nil {
				sig.Send(abort(protocol.CodeUsed, msgKeyUsed))
				s.trouble("recording the pairing", err)
				return
			}
		}
		replies, key, err := pairing.Handle(ps)
		for _, r := range replies {
			sig.Send(r)
		}
		switch {
		case err != nil:
			s.dropPairing(pairing)
			if s.cfg.Failed != nil {
				s.cfg.Failed(err)
			} else {
				s.log.Info("pairing failed", "err", err)
			}
		case key != nil:
			s.dropPairing(pairing)
			s.paired(key)
		}
	case *pb.PeerSignal_Sealed:
		s.mu.Lock()
		sealer := s.sealer
		s.mu.Unlock()
		if sealer == nil {
			return // not paired: nothing to open it with
		}
		inner, err := sealer.Open(ps)
		if err != nil {
			s.log.Debug("signal dropped", "err", err)
			return
		}
		s.handleSealed(ctx, sealer, inner)
	case *pb.PeerSignal_Candidates, *pb.PeerSignal_UseRelay, *pb.PeerSignal_RelayReady:
		s.log.Debug("signal dropped: not sealed")
	}
}

// maxRelayedAttempts is how many attempts' use_relay an AgentSide
// remembers, to drop one sent again.
const maxRelayedAttempts = 64

// handleSealed answers a signal that came sealed with the session key.
func (s *AgentSide) handleSealed(ctx context.Context, sealer *Sealer, ps *pb.PeerSignal) {
	send := func(reply *pb.PeerSignal) {
		sealed, err := sealer.Seal(reply)
		if err != nil {
			s.trouble("sealing a signal", err)
			return
		}
		s.cfg.Signaler.Send(sealed)
	}
	switch b := ps.Body.(type) {
	case *pb.PeerSignal_Candidates:
		observed := ""
		if s.cfg.Observed != nil {
			observed = s.cfg.Observed()
		}
		send(AnswerCandidates(s.cfg.Endpoint, b.Candidates, observed, s.cfg.ForceRelay))
	case *pb.PeerSignal_UseRelay:
		s.mu.Lock()
		if slices.Contains(s.relayedFor, b.UseRelay.Attempt) {
			// Answered already: a replay (the relay may send a sealed
			// signal again). A new listener would drop the connection
			// the first one carries.
			s.mu.Unlock()
			s.log.Debug("use_relay for an attempt answered already, dropped", "attempt", b.UseRelay.Attempt)
			return
		}
		if len(s.relayedFor) == maxRelayedAttempts {
			s.relayedFor = s.relayedFor[1:]
		}
		s.relayedFor = append(s.relayedFor, b.UseRelay.Attempt)
		if s.stopRelayed != nil {
			s.stopRelayed()
		}
		rctx, cancel := context.WithCancel(ctx)
		s.stopRelayed = cancel
		s.mu.Unlock()
		if err := s.cfg.Endpoint.ListenRelayed(rctx, s.cfg.Session, s.cfg.Channel, s.cfg.Relay()); err != nil {
			s.trouble("relayed listener", err)
			return
		}
		send(RelayReadySignal(b.UseRelay.Attempt))
	}
}

// dropPairing forgets a pairing that has completed or failed: the key is
// spent either way.
func (s *AgentSide) dropPairing(p *AgentPairing) {
	s.mu.Lock()
	if s.pairing == p {
		s.pairing = nil
	}
	s.mu.Unlock()
}

// paired hands a fresh session key to Paired, then starts accepting.
func (s *AgentSide) paired(key []byte) {
	if s.cfg.Paired != nil {
		if err := s.cfg.Paired(key); err != nil {
			s.trouble("pairing", err)
			return
		}
	}
	if err := s.Resume(key); err != nil {
		s.trouble("pairing", err)
	}
}

func (s *AgentSide) trouble(what string, err error) {
	s.log.Error(what, "err", err)
	if s.cfg.Error != nil {
		s.cfg.Error(err)
	}
}
