package session

import (
	"time"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/peer"
)

// Events the apps' logic publishes about its sessions, beside those of
// the services (chat.Line, transfer.Event, consent.Event). The logic hands
// each to its subscribers as a Go value: the headless JSON writer is one
// (each app's JSON function turns them into the lines of
// docs/headless.md), the window's bridge another, which renders them
// without asking the logic again for what they carry.

// Relay says the app's relay connection came up or went down.
type Relay struct {
	Connected bool
	Reason    string // down: why
}

// Failure is a problem a person should hear of: a pairing that failed, a
// peer of another version, a relay that refused the password.
type Failure struct {
	Session string // "" when it concerns no one session
	Code    string // protocol.Code* or failure.Code*
	Message string
}

// KeyIssued (agent) is a new session, waiting for its customer: its
// record carries the key's nameplate, secret and expiry.
type KeyIssued struct {
	Record appdb.Session
}

// Paired (customer) says the PAKE succeeded: the key was right.
type Paired struct {
	Session string
	Agent   string
}

// Joined says a peer's link is up, the first time or again.
type Joined struct {
	Session string
	Peer    string // the name its hello gave
	Path    peer.Path
	RTT     time.Duration // the round trip when it came up
}

// Left says a peer's link went down; the peer may come back.
type Left struct {
	Session string
	Peer    string
	Reason  string
}

// Reconnecting (customer) says a connection attempt failed and another
// follows.
type Reconnecting struct {
	Code    string
	Message string
}

// Ended says the session is over.
type Ended struct {
	Session string
	Reason  string
}
