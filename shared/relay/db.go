package relay

import (
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/porthole-dev/porthole/shared/store"
)

// The relay database, DIR/relay.db. Schema (version 1):
//
//	meta      "schema" -> "1"
//	agents    account name -> JSON Account (argon2id hash, salt, parameters)
//	sessions  session id -> JSON sessionRecord (owner, participants, nameplate,
//	          key expiry, joined flag and time, paired flag, why the key was
//	          burned, SHA-256 of the customer's rejoin token, relay channel,
//	          created). The join time, paired and burned came with protocol
//	          3, as optional fields: a session stored joined without a join
//	          time is loaded as paired, so an upgrade burns no session.
//	retired   nameplate -> JSON retiredRecord: a used or expired nameplate
//	          that is not handed out again until its time is up, so a stale
//	          key can never reach somebody else's session
//	ended     session id -> unix seconds when it ended (tombstones, so a
//	          rejoin is told "ended" rather than "unknown"; kept a day)
var (
	bucketAgents   = []byte("agents")
	bucketSessions = []byte("sessions")
	bucketRetired  = []byte("retired")
	bucketEnded    = []byte("ended")
)

var migrations = []store.Migration{
	{To: 1, Name: "initial", Apply: store.CreateBuckets("agents", "sessions", "retired", "ended")},
}

// OpenDB opens the relay database in dir.
func OpenDB(dir string) (*bolt.DB, error) {
	return store.Open(filepath.Join(dir, "relay.db"), migrations)
}
