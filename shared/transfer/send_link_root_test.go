package transfer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

func TestSymlinkedRootFolderIsSentWhereItLeads(t *testing.T) {
	agent := newEnd(t, pb.Role_ROLE_AGENT, "alice")
	cust := newEnd(t, pb.Role_ROLE_CUSTOMER, "bob", func(n *end) { n.accept = AcceptAny })
	connect(t, agent, cust)
	src := t.TempDir()
	randomFile(t, filepath.Join(src, "real"), "a.txt", 10)
	os.Symlink(filepath.Join(src, "real"), filepath.Join(src, "docs"))
	ts, err := agent.e.Send(session, filepath.Join(src, "docs"))
	t.Logf("Send of a symlinked folder: %d transfers, err %v", len(ts), err)
	for _, ev := range agent.events {
		if ev.Kind == EventSkipped {
			t.Logf("skipped: %+v", ev.Skipped)
		}
	}
}
