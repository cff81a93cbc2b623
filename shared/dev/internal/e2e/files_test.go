package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	h "github.com/porthole-dev/porthole/shared/dev/internal/harness"
	"github.com/porthole-dev/porthole/shared/transfer"
)

// filesWorld is a relay, an agent and a paired customer, each app with a
// downloads folder of its own.
type filesWorld struct {
	*world
	agent, cust         *h.Proc
	sid, custDir        string
	agentDown, custDown string
}

func startFiles(t *testing.T, relayArgs []string, custArgs ...string) *filesWorld {
	t.Helper()
	w := newWorld(t, relayArgs...)
	fw := &filesWorld{world: w, agentDown: t.TempDir(), custDown: t.TempDir()}
	fw.agent = w.agent(t, "--downloads", fw.agentDown)
	fw.sid, fw.cust, fw.custDir = pair(t, w, fw.agent, "direct", append([]string{"--downloads", fw.custDown}, custArgs...)...)
	return fw
}

// restartCustomer starts the customer again on its data and downloads
// folders (it resumes the session) and waits until both sides are
// connected.
func (fw *filesWorld) restartCustomer(t *testing.T, custArgs ...string) {
	t.Helper()
	fw.cust = h.StartCustomer(t, fw.relay, "", fw.custDir, append([]string{"--name", "bob", "--downloads", fw.custDown}, custArgs...)...)
	fw.cust.Expect("connected", nil)
	fw.agent.Expect("customer_joined", func(e h.Event) bool { return e.S("session") == fw.sid })
}

// sendFromAgent sends a file and returns its id (from the first
// file_progress, state offered).
func (fw *filesWorld) sendFromAgent(t *testing.T, path string) string {
	t.Helper()
	fw.agent.Send(map[string]any{"cmd": "send_file", "session": fw.sid, "path": path})
	e := fw.agent.Expect("file_progress", func(e h.Event) bool { return e.S("state") == "offered" && e.S("name") == filepath.Base(path) })
	return e.S("id")
}

func (fw *filesWorld) sendFromCustomer(t *testing.T, path string) string {
	t.Helper()
	fw.cust.Send(map[string]any{"cmd": "send_file", "path": path})
	e := fw.cust.Expect("file_progress", func(e h.Event) bool { return e.S("state") == "offered" && e.S("name") == filepath.Base(path) })
	return e.S("id")
}

func fileIs(id string) func(h.Event) bool { return func(e h.Event) bool { return e.S("id") == id } }

func num(e h.Event, k string) int64 { f, _ := e[k].(float64); return int64(f) }

// randomFile writes size random bytes to dir/name and returns the path
// and the SHA-256.
func randomFile(t *testing.T, dir, name string, size int64) (string, string) {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hash := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, hash), rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	return p, hex.EncodeToString(hash.Sum(nil))
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hash := sha256.New()
	if _, err := io.Copy(hash, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(hash.Sum(nil))
}

// noPartials fails when a partly received file is left under dir.
func noPartials(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), transfer.PartialPrefix) {
			t.Errorf("a partial file is left: %s", p)
		}
		return nil
	})
}

// bigSize is the size of the files the tests stop or cut halfway.
const bigSize = 300 << 20

// TestFileAgentToCustomer: an offer, the customer accepts, the file lands
// in "Support with alice ..." checked; the same file again is deduped; at
// the end of the session the customer deletes what it received.
func TestFileAgentToCustomer(t *testing.T) {
	fw := startFiles(t, nil)
	src, sum := randomFile(t, t.TempDir(), "report.pdf", 2<<20+17)
	id := fw.sendFromAgent(t, src)
	o := fw.cust.Expect("file_offer", fileIs(id))
	if o.S("name") != "report.pdf" || num(o, "size") != 2<<20+17 || o.S("from") != "alice" || o.S("content_type") == "" || o.S("session") != "" {
		t.Fatalf("file_offer %v", o)
	}
	fw.cust.Send(map[string]any{"cmd": "answer_offer", "id": id, "decision": "accept"})
	d := fw.cust.Expect("file_done", fileIs(id))
	folder := filepath.Dir(d.S("path"))
	if d.S("sha256") != sum || filepath.Dir(folder) != fw.custDown || !strings.HasPrefix(filepath.Base(folder), "Support with alice ") {
		t.Fatalf("file_done %v", d)
	}
	if got := fileSum(t, d.S("path")); got != sum {
		t.Fatalf("the received file's SHA-256 is %s, sent %s", got, sum)
	}
	if a := fw.agent.Expect("file_done", fileIs(id)); a.S("sha256") != sum || a.S("session") != fw.sid || a.S("path") != "" {
		t.Fatalf("agent file_done %v", a)
	}

	// The same file again: the customer has it, no byte moves.
	id2 := fw.sendFromAgent(t, src)
	fw.cust.Expect("file_offer", fileIs(id2))
	fw.cust.Send(map[string]any{"cmd": "answer_offer", "id": id2, "decision": "accept"})
	d2 := fw.cust.Expect("file_done", fileIs(id2))
	if d2["deduped"] != true || d2.S("path") != d.S("path") || d2.S("sha256") != sum {
		t.Fatalf("second file_done %v, want deduped at %s", d2, d.S("path"))
	}
	for _, e := range fw.cust.Events() {
		if e.Name() == "file_progress" && e.S("id") == id2 && num(e, "done") > 0 {
			t.Fatalf("bytes moved for a deduped file: %v", e)
		}
	}
	fw.agent.Expect("file_done", func(e h.Event) bool { return e.S("id") == id2 && e["deduped"] == nil })

	// Both sides list the files.
	fw.cust.Send(map[string]any{"cmd": "files"})
	for _, want := range []string{id, id2} {
		if e := fw.cust.Expect("file", nil); e.S("id") != want || e.S("state") != "done" || e.S("dir") != "in" || e.S("peer") != "alice" {
			t.Fatalf("file %v, want %s done", e, want)
		}
	}
	if e := fw.cust.Expect("files_end", nil); num(e, "count") != 2 || e.S("path") != folder {
		t.Fatalf("files_end %v", e)
	}

	// The agent ends the session: the customer is asked, and deletes.
	fw.agent.Send(map[string]any{"cmd": "end_session", "session": fw.sid})
	fw.cust.Expect("session_ended", nil)
	if e := fw.cust.Expect("session_files", nil); e.S("path") != folder || num(e, "count") != 1 {
		t.Fatalf("session_files %v", e)
	}
	fw.cust.Send(map[string]any{"cmd": "delete_files"})
	if e := fw.cust.Expect("files_deleted", nil); e.S("path") != folder || num(e, "count") != 1 {
		t.Fatalf("files_deleted %v", e)
	}
	if code := fw.cust.WaitExit(); code != 0 {
		t.Fatalf("customer exited %d", code)
	}
	if _, err := os.Stat(folder); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the session's folder is still there: %v", err)
	}
}

// TestFileCustomerToAgent: with the relay's default policy the customer
// sends, the agent accepts into "Files from bob ...".
func TestFileCustomerToAgent(t *testing.T) {
	fw := startFiles(t, nil)
	if e := fw.cust.Expect("file_policy", nil); e["policy"].(map[string]any)["enabled"] != true {
		t.Fatalf("file_policy %v", e)
	}
	src, sum := randomFile(t, t.TempDir(), "screenshot.png", 700<<10)
	id := fw.sendFromCustomer(t, src)
	o := fw.agent.Expect("file_offer", fileIs(id))
	if o.S("session") != fw.sid || o.S("from") != "bob" || num(o, "size") != 700<<10 {
		t.Fatalf("file_offer %v", o)
	}
	fw.agent.Send(map[string]any{"cmd": "answer_offer", "id": id, "decision": "accept"})
	d := fw.agent.Expect("file_done", fileIs(id))
	folder := filepath.Dir(d.S("path"))
	if d.S("sha256") != sum || filepath.Dir(folder) != fw.agentDown || !strings.HasPrefix(filepath.Base(folder), "Files from bob ") {
		t.Fatalf("agent file_done %v", d)
	}
	if got := fileSum(t, d.S("path")); got != sum {
		t.Fatalf("SHA-256 %s, sent %s", got, sum)
	}
	fw.cust.Expect("file_done", fileIs(id))
	fw.agent.Send(map[string]any{"cmd": "files", "session": fw.sid})
	if e := fw.agent.Expect("file", nil); e.S("id") != id || e.S("dir") != "in" || e.S("path") != d.S("path") {
		t.Fatalf("file %v", e)
	}
	fw.agent.Expect("files_end", func(e h.Event) bool { return num(e, "count") == 1 })

	// The customer ends the session and keeps nothing to ask about: it
	// received no file, so it exits at once.
	fw.cust.Send(map[string]any{"cmd": "end"})
	fw.cust.Expect("session_ended", nil)
	if code := fw.cust.WaitExit(); code != 0 {
		t.Fatalf("customer exited %d", code)
	}
	for _, e := range fw.cust.Events() {
		if e.Name() == "session_files" {
			t.Fatalf("asked about files it did not receive: %v", e)
		}
	}
}

// TestFileRefusals: refuse, refuse_always (then the files are refused
// without asking), forgetting it, accept_all (then they are accepted
// without asking), and receiving turned off.
func TestFileRefusals(t *testing.T) {
	fw := startFiles(t, nil)
	dir := t.TempDir()
	refused := func(id, agentWhy, custWhy string) {
		t.Helper()
		if e := fw.agent.Expect("file_refused", fileIs(id)); e.S("reason") != agentWhy {
			t.Fatalf("agent file_refused %v, want %q", e, agentWhy)
		}
		if e := fw.cust.Expect("file_refused", fileIs(id)); e.S("reason") != custWhy {
			t.Fatalf("customer file_refused %v, want %q", e, custWhy)
		}
	}
	offer := func(name string) string {
		t.Helper()
		src, _ := randomFile(t, dir, name, 1000)
		id := fw.sendFromAgent(t, src)
		fw.cust.Expect("file_offer", fileIs(id))
		return id
	}
	unasked := func(name string) string {
		t.Helper()
		src, _ := randomFile(t, dir, name, 1000)
		return fw.sendFromAgent(t, src)
	}

	id := offer("a.txt")
	fw.cust.Send(map[string]any{"cmd": "answer_offer", "id": id, "decision": "refuse"})
	refused(id, "refused by the receiver", "refused")
	fw.cust.Send(map[string]any{"cmd": "answer_offer", "id": id, "decision": "accept"})
	if e := fw.cust.Expect("error", nil); e.S("code") != "not_found" {
		t.Fatalf("answering again: %v", e)
	}

	id = offer("b.txt")
	fw.cust.Send(map[string]any{"cmd": "answer_offer", "id": id, "decision": "refuse_always"})
	refused(id, "the receiver refuses all files from you", "refused: you refuse all files from alice")
	id = unasked("c.txt")
	refused(id, "the receiver refuses all files from you", "refused: you refuse all files from alice")

	fw.cust.Send(map[string]any{"cmd": "trusts"})
	if e := fw.cust.Expect("trust", nil); e.S("name") != "alice" || e.S("decision") != "refuse_always" {
		t.Fatalf("trust %v", e)
	}
	fw.cust.Expect("trusts_end", func(e h.Event) bool { return num(e, "count") == 1 })
	fw.cust.Send(map[string]any{"cmd": "set_trust", "sender": "alice", "decision": ""})
	fw.cust.Expect("trust", func(e h.Event) bool { return e.S("name") == "alice" && e.S("decision") == "" })

	id = offer("d.txt")
	fw.cust.Send(map[string]any{"cmd": "answer_offer", "id": id, "decision": "accept_all"})
	fw.cust.Expect("file_done", fileIs(id))
	fw.agent.Expect("file_done", fileIs(id))
	id = unasked("e.txt")
	fw.cust.Expect("file_done", fileIs(id))
	fw.agent.Expect("file_done", fileIs(id))
	for _, e := range fw.cust.Events() {
		if e.Name() == "file_offer" && e.S("id") == id {
			t.Fatalf("asked about a file from a sender whose files are all accepted: %v", e)
		}
	}

	fw.cust.Send(map[string]any{"cmd": "receive_files", "on": false})
	fw.cust.Expect("receiving", func(e h.Event) bool { return e.S("state") == "off" })
	id = unasked("f.txt")
	refused(id, "the receiver has turned off receiving files", "refused: receiving files is turned off")

	fw.cust.Send(map[string]any{"cmd": "set_trust", "sender": "alice", "decision": "sometimes"})
	if e := fw.cust.Expect("error", nil); e.S("code") != "bad_request" {
		t.Fatalf("a bad trust decision: %v", e)
	}

	// The session ends; the customer keeps the two files it took.
	fw.cust.Send(map[string]any{"cmd": "keep_files"})
	if e := fw.cust.Expect("error", nil); e.S("code") != "bad_request" {
		t.Fatalf("keep_files during the session: %v", e)
	}
	fw.agent.Send(map[string]any{"cmd": "end_session", "session": fw.sid})
	ask := fw.cust.Expect("session_files", nil)
	if num(ask, "count") != 2 {
		t.Fatalf("session_files %v", ask)
	}
	fw.cust.Send(map[string]any{"cmd": "keep_files"})
	if e := fw.cust.Expect("files_kept", nil); e.S("path") != ask.S("path") || num(e, "count") != 2 {
		t.Fatalf("files_kept %v", e)
	}
	if code := fw.cust.WaitExit(); code != 0 {
		t.Fatalf("customer exited %d", code)
	}
	for _, name := range []string{"d.txt", "e.txt"} {
		if _, err := os.Stat(filepath.Join(ask.S("path"), name)); err != nil {
			t.Fatalf("a kept file: %v", err)
		}
	}
}

// TestFileCancel: a big file stopped by the sender, then by the receiver,
// halfway; nothing partial is left.
func TestFileCancel(t *testing.T) {
	fw := startFiles(t, nil, "--accept-files", "all")
	src, _ := randomFile(t, t.TempDir(), "disk.img", bigSize)
	moving := func(p *h.Proc, id string) {
		t.Helper()
		p.Expect("file_progress", func(e h.Event) bool { return e.S("id") == id && e.S("state") == "sending" && num(e, "done") > 0 })
	}

	id := fw.sendFromAgent(t, src)
	moving(fw.cust, id)
	fw.agent.Send(map[string]any{"cmd": "cancel_transfer", "id": id})
	if e := fw.agent.Expect("file_cancelled", fileIs(id)); e.S("reason") != "stopped" {
		t.Fatalf("agent file_cancelled %v", e)
	}
	if e := fw.cust.Expect("file_cancelled", fileIs(id)); e.S("reason") != "stopped by the sender" {
		t.Fatalf("customer file_cancelled %v", e)
	}

	id = fw.sendFromAgent(t, src)
	moving(fw.cust, id)
	fw.cust.Send(map[string]any{"cmd": "cancel_transfer", "id": id})
	if e := fw.cust.Expect("file_cancelled", fileIs(id)); e.S("reason") != "stopped" {
		t.Fatalf("customer file_cancelled %v", e)
	}
	if e := fw.agent.Expect("file_cancelled", fileIs(id)); e.S("reason") != "stopped by the receiver" {
		t.Fatalf("agent file_cancelled %v", e)
	}
	fw.cust.Send(map[string]any{"cmd": "cancel_transfer", "id": id})
	if e := fw.cust.Expect("error", nil); e.S("code") != "not_found" {
		t.Fatalf("cancelling again: %v", e)
	}
	noPartials(t, fw.custDown)
}

// TestFileResumeAfterKill: the receiving customer is killed halfway
// through a big file and started again; the file continues from where it
// was, not from the start, and arrives whole.
func TestFileResumeAfterKill(t *testing.T) {
	fw := startFiles(t, nil, "--accept-files", "all")
	src, sum := randomFile(t, t.TempDir(), "disk.img", bigSize)
	id := fw.sendFromAgent(t, src)
	// Past two of the receiver's checkpoints (every 8 MiB).
	cut := fw.cust.Expect("file_progress", func(e h.Event) bool { return e.S("id") == id && num(e, "done") >= 24<<20 })
	fw.cust.Kill()

	fw.restartCustomer(t, "--accept-files", "all")
	first := fw.cust.Expect("file_progress", func(e h.Event) bool { return e.S("id") == id && e.S("state") == "sending" })
	if num(first, "done") == 0 {
		t.Fatalf("the file started again from 0: %v", first)
	}
	t.Logf("killed at byte %d of %d (%d B/s); continued from byte %d", num(cut, "done"), bigSize, num(cut, "rate"), num(first, "done"))
	fw.resumedWhole(t, id, sum)
}

// resumedWhole waits until the agent's file id is done on both sides, with
// the SHA-256 sum, and checks the sender's last stream did not start at
// byte 0 and that no partial file is left; it returns where that stream
// began.
func (fw *filesWorld) resumedWhole(t *testing.T, id, sum string) int64 {
	t.Helper()
	d := fw.cust.Expect("file_done", fileIs(id))
	if d.S("sha256") != sum || fileSum(t, d.S("path")) != sum {
		t.Fatalf("file_done %v; want SHA-256 %s", d, sum)
	}
	fw.agent.Expect("file_done", fileIs(id))
	var resumed int64 = -1
	for _, e := range fw.agent.Events() {
		if e.Name() == "file_progress" && e.S("id") == id && e.S("state") == "sending" && num(e, "rate") == 0 {
			resumed = num(e, "done") // the start of a stream (no rate yet)
		}
	}
	if resumed <= 0 {
		t.Fatalf("the sender's last stream started at %d", resumed)
	}
	noPartials(t, fw.custDown)
	return resumed
}

// TestFileResumeAfterSenderKilled: the agent app is killed while it sends;
// started again, it offers the file again and the customer continues from
// where it got to.
func TestFileResumeAfterSenderKilled(t *testing.T) {
	fw := startFiles(t, nil, "--accept-files", "all")
	src, sum := randomFile(t, t.TempDir(), "disk.img", bigSize)
	id := fw.sendFromAgent(t, src)
	cut := fw.cust.Expect("file_progress", func(e h.Event) bool { return e.S("id") == id && num(e, "done") >= 24<<20 })
	fw.agent.Kill()
	// Started again at once: the customer may not have noticed the old
	// connection is gone; the new one takes over the file.
	fw.agent = fw.world.agent(t, "--downloads", fw.agentDown)
	fw.agent.Expect("customer_joined", func(e h.Event) bool { return e.S("session") == fw.sid })
	resumed := fw.resumedWhole(t, id, sum)
	t.Logf("killed the sender at byte %d of %d; it continued from byte %d", num(cut, "done"), bigSize, resumed)
}

// TestFilePolicyRefusal: the relay's inbound_files allow PDFs only; the
// customer's .exe is refused before any byte moves, a PDF goes.
func TestFilePolicyRefusal(t *testing.T) {
	fw := startFiles(t, h.RelayConfig(t, map[string]any{
		"inbound_files": map[string]any{"extensions": []string{"pdf"}, "max_size": "1MB"},
	}))
	pol := fw.cust.Expect("file_policy", nil)["policy"].(map[string]any)
	if exts, _ := pol["extensions"].([]any); len(exts) != 1 || exts[0] != "pdf" || pol["max_size"] != 1e6 {
		t.Fatalf("file_policy %v", pol)
	}
	dir := t.TempDir()
	exe, _ := randomFile(t, dir, "tool.exe", 1000)
	fw.cust.Send(map[string]any{"cmd": "send_file", "path": exe})
	if e := fw.cust.Expect("file_refused", nil); e.S("name") != "tool.exe" || e.S("reason") != "not allowed: files of type .exe" {
		t.Fatalf("file_refused %v", e)
	}
	big, _ := randomFile(t, dir, "scan.pdf", 2_000_000)
	fw.cust.Send(map[string]any{"cmd": "send_file", "path": big})
	if e := fw.cust.Expect("file_refused", nil); e.S("name") != "scan.pdf" || e.S("reason") != "not allowed: files over 1.0 MB (this one is 2.0 MB)" {
		t.Fatalf("file_refused %v", e)
	}
	pdf, sum := randomFile(t, dir, "invoice.pdf", 1000)
	id := fw.sendFromCustomer(t, pdf)
	fw.agent.Expect("file_offer", fileIs(id))
	fw.agent.Send(map[string]any{"cmd": "answer_offer", "id": id, "decision": "accept"})
	if d := fw.agent.Expect("file_done", fileIs(id)); d.S("sha256") != sum {
		t.Fatalf("file_done %v", d)
	}
	for _, e := range fw.agent.Events() {
		if e.Name() == "file_offer" && e.S("id") != id {
			t.Fatalf("the agent was offered a file the policy refuses: %v", e)
		}
	}
}

// TestFileInvitation: with invitation_required the customer sends only
// after request_files, until the invitation expires.
func TestFileInvitation(t *testing.T) {
	fw := startFiles(t, h.RelayConfig(t, map[string]any{
		"inbound_files": map[string]any{"invitation_required": true, "invitation": "2s"},
	}))
	fw.cust.Expect("file_policy", nil)
	dir := t.TempDir()
	src, _ := randomFile(t, dir, "log.txt", 1000)
	notAllowed := func(what string) {
		t.Helper()
		fw.cust.Send(map[string]any{"cmd": "send_file", "path": src})
		if e := fw.cust.Expect("error", nil); e.S("code") != "not_allowed" {
			t.Fatalf("%s: %v, want not_allowed", what, e)
		}
	}
	notAllowed("before the invitation")

	fw.agent.Send(map[string]any{"cmd": "request_files", "session": fw.sid})
	inv := fw.agent.Expect("file_invite", nil)
	expires, err := time.Parse(time.RFC3339, inv.S("expires"))
	if err != nil || inv.S("session") != fw.sid {
		t.Fatalf("agent file_invite %v (%v)", inv, err)
	}
	if e := fw.cust.Expect("file_invite", nil); e.S("expires") != inv.S("expires") {
		t.Fatalf("customer file_invite %v, agent's %v", e, inv)
	}
	id := fw.sendFromCustomer(t, src)
	fw.agent.Expect("file_offer", fileIs(id))

	time.Sleep(time.Until(expires) + 1100*time.Millisecond) // "expires" is whole seconds
	notAllowed("after the invitation expired")
}
