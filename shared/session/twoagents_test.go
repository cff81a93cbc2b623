package session_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/appdb"
	"github.com/porthole-dev/porthole/shared/chat"
	"github.com/porthole-dev/porthole/shared/consent"
	"github.com/porthole-dev/porthole/shared/peer"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/session"
	"github.com/porthole-dev/porthole/shared/testpeer"
	"github.com/porthole-dev/porthole/shared/transfer"
)

// app is one side's session as the apps build it: a router with the chat,
// the files engine and the consent service as its services, on a database
// and downloads folder of its own.
type app struct {
	name  string
	r     *session.Router
	conv  *chat.Conversation
	files *transfer.Engine
	give  *consent.Giver // customer
	ask   *consent.Asker // agent

	got      chan appdb.Message
	fileDone chan transfer.Transfer
	perms    chan consent.Event
}

func newApp(t *testing.T, name string, role pb.Role) *app {
	t.Helper()
	db, err := appdb.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := &app{name: name, got: make(chan appdb.Message, 256), fileDone: make(chan transfer.Transfer, 8), perms: make(chan consent.Event, 16)}
	accept := transfer.AskAlways
	if role == pb.Role_ROLE_CUSTOMER {
		accept = transfer.AcceptAny
	}
	a.files, err = transfer.New(transfer.Config{
		DB: db, Role: role, Downloads: t.TempDir(), Accept: accept,
		FolderName: func(_, sender string) string { return "Support with " + sender },
		Events: func(ev transfer.Event) {
			if ev.Kind == transfer.EventDone {
				a.fileDone <- ev.Transfer
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	a.r = session.New(session.Config{Session: sessionID})
	a.conv = chat.New(db, a.r, name, role, chat.Handlers{Message: func(m appdb.Message) {
		if !m.Outgoing {
			a.got <- m
		}
	}}, nil)
	a.files.Serve(a.r)
	perm := func(ev consent.Event) { a.perms <- ev }
	if role == pb.Role_ROLE_CUSTOMER {
		a.give = consent.NewGiver(a.r, consent.GiverConfig{Kinds: []string{consent.KindFiles, consent.KindScreen}, Events: perm})
	} else {
		a.ask = consent.NewAsker(a.r, perm)
	}
	t.Cleanup(func() {
		a.r.Close("test over")
		a.files.Close()
		db.Close()
	})
	return a
}

func (a *app) wantPerm(t *testing.T, id, state string) {
	t.Helper()
	ev := testpeer.Receive(t, a.perms, a.name+"'s "+state+" event")
	if ev.ID != id || ev.State != state {
		t.Fatalf("%s: event %+v, want %s %s", a.name, ev, id, state)
	}
}

// One session with two agent links through the customer's router: chat
// from both reaches the customer in each agent's order, a file from each
// lands in its own sender folder, a grant given to one agent does not cover
// the other, and losing one link ends only that agent's grants.
func TestOneSessionTwoAgents(t *testing.T) {
	cust := newApp(t, "bob", pb.Role_ROLE_CUSTOMER)
	agents := []*app{newApp(t, "alice", pb.Role_ROLE_AGENT), newApp(t, "carol", pb.Role_ROLE_AGENT)}
	links := map[string]*peer.Link{} // each agent's end
	for _, a := range agents {
		la, lc := testpeer.LinkPair(t, a.name, cust.name)
		links[a.name] = la
		if err := a.r.Attach(la); err != nil {
			t.Fatal(err)
		}
		if err := cust.r.Attach(lc); err != nil {
			t.Fatal(err)
		}
	}
	if ls := cust.r.Links(); len(ls) != 2 || ls[0].Remote.Name != "alice" || ls[1].Remote.Name != "carol" {
		t.Fatalf("the customer's links: %v", ls)
	}

	// Chat: both agents talk at once.
	const lines = 100
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Go(func() {
			for i := range lines {
				if _, err := a.conv.Say(fmt.Sprintf("%s line %d", a.name, i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	next := map[string]int{}
	for range 2 * lines {
		m := testpeer.Receive(t, cust.got, "an agent's line")
		if want := fmt.Sprintf("%s line %d", m.From, next[m.From]); m.Text != want || m.FromRole != "agent" {
			t.Fatalf("the customer got %q from %s (%s), want %q", m.Text, m.From, m.FromRole, want)
		}
		next[m.From]++
	}
	wg.Wait()
	if next["alice"] != lines || next["carol"] != lines {
		t.Fatalf("lines per agent: %v", next)
	}
	// The customer's line reaches both.
	if _, err := cust.conv.Say("thanks, both"); err != nil {
		t.Fatal(err)
	}
	for _, a := range agents {
		if m := testpeer.Receive(t, a.got, a.name+"'s copy"); m.Text != "thanks, both" || m.From != "bob" {
			t.Fatalf("%s got %+v", a.name, m)
		}
	}

	// Files: one from each agent, each in its sender's folder (the first
	// sender's at the top of the session's folder, the next one's in a
	// folder named for them).
	src := t.TempDir()
	paths := map[string]string{}
	for _, a := range agents {
		p := filepath.Join(src, a.name, "notes.txt")
		os.MkdirAll(filepath.Dir(p), 0o755)
		body := strings.Repeat(a.name+" wrote this. ", 1000)
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := a.files.Send(sessionID, p); err != nil {
			t.Fatal(err)
		}
		f := testpeer.Receive(t, cust.fileDone, a.name+"'s file at the customer")
		got, err := os.ReadFile(f.Path)
		if f.Peer != a.name || err != nil || string(got) != body {
			t.Fatalf("%s's file: from %s at %s: %v, content differs", a.name, f.Peer, f.Path, err)
		}
		paths[a.name] = f.Path
	}
	if base := filepath.Base(filepath.Dir(paths["alice"])); base != "Support with alice" {
		t.Fatalf("alice's file is in %q", base)
	}
	if filepath.Dir(paths["carol"]) != filepath.Join(filepath.Dir(paths["alice"]), "carol") {
		t.Fatalf("carol's file is not in her sender folder: %v", paths)
	}
	for _, a := range agents {
		f := testpeer.Receive(t, a.fileDone, a.name+"'s sent file done")
		if f.Peer != "bob" || f.Dir != transfer.Out {
			t.Fatalf("%s's done: %+v", a.name, f)
		}
	}

	// Grants: alice asks and is allowed; carol holds nothing.
	alice, carol := agents[0], agents[1]
	req := consent.Request(consent.KindScreen, "", time.Minute)
	if err := alice.ask.Ask(links["alice"], req); err != nil {
		t.Fatal(err)
	}
	alice.wantPerm(t, req.Id, consent.StateRequested)
	cust.wantPerm(t, req.Id, consent.StateRequested)
	cust.give.Answer(req.Id, true)
	cust.wantPerm(t, req.Id, consent.StateAllowed)
	alice.wantPerm(t, req.Id, consent.StateAllowed)
	if !cust.give.Allowed("alice", consent.KindScreen) || !alice.ask.Holds(consent.KindScreen) {
		t.Fatal("alice's grant is not in force")
	}
	if cust.give.Allowed("carol", consent.KindScreen) || carol.ask.Holds(consent.KindScreen) {
		t.Fatal("alice's grant covers carol")
	}
	req2 := consent.Request(consent.KindFiles, "", time.Minute)
	carol.ask.Ask(links["carol"], req2)
	carol.wantPerm(t, req2.Id, consent.StateRequested)
	cust.wantPerm(t, req2.Id, consent.StateRequested)
	cust.give.Answer(req2.Id, true)
	cust.wantPerm(t, req2.Id, consent.StateAllowed)
	carol.wantPerm(t, req2.Id, consent.StateAllowed)

	// Alice's link is lost: her grant ends on both sides; carol's stays,
	// and carol still talks to the customer.
	links["alice"].Close(peer.CodeNoError, "network gone")
	cust.wantPerm(t, req.Id, consent.StateRevoked)
	alice.wantPerm(t, req.Id, consent.StateRevoked)
	if cust.give.Allowed("alice", consent.KindScreen) {
		t.Fatal("alice's grant outlived her link")
	}
	if !cust.give.Allowed("carol", consent.KindFiles) || !carol.ask.Holds(consent.KindFiles) {
		t.Fatal("losing alice's link ended carol's grant")
	}
	if ls := cust.r.Links(); len(ls) != 1 || ls[0].Remote.Name != "carol" {
		t.Fatalf("the customer's links after alice left: %v", ls)
	}
	carol.conv.Say("still here")
	if m := testpeer.Receive(t, cust.got, "carol's line"); m.Text != "still here" || m.From != "carol" {
		t.Fatalf("got %+v", m)
	}
}
