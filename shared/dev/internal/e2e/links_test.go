package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	h "github.com/porthole-dev/porthole/shared/dev/internal/harness"
)

// linkIs matches an event about the link with that id.
func linkIs(id string) func(h.Event) bool { return func(e h.Event) bool { return e.S("id") == id } }

// Shared links through the real binaries, headless: every answer, the
// decisions remembered per sender, links both ways, what is not a web
// link refused on either side, and an international host shown in
// punycode.
func TestSharedLinks(t *testing.T) {
	fw := startFiles(t, nil)
	sendFromAgent := func(url string) string {
		t.Helper()
		fw.agent.Send(map[string]any{"cmd": "send_link", "session": fw.sid, "url": url})
		e := fw.agent.Expect("link_offer", func(e h.Event) bool { return e.S("dir") == "out" })
		if e.S("session") != fw.sid || e.S("peer") != "bob" {
			t.Fatalf("the agent's link_offer: %v", e)
		}
		return e.S("id")
	}
	offered := func(id string) h.Event {
		t.Helper()
		e := fw.cust.Expect("link_offer", linkIs(id))
		if e.S("dir") != "in" || e.S("from") != "alice" {
			t.Fatalf("the customer's link_offer: %v", e)
		}
		return e
	}
	opened := func(id string) {
		t.Helper()
		// Headless has no browser: the link is given to copy.
		if e := fw.cust.Expect("link_opened", linkIs(id)); e["shown"] != true {
			t.Fatalf("the customer's link_opened: %v", e)
		}
		fw.agent.Expect("link_opened", linkIs(id))
	}
	refused := func(id, why string) {
		t.Helper()
		for _, p := range []*h.Proc{fw.cust, fw.agent} {
			if e := p.Expect("link_refused", linkIs(id)); e.S("reason") != why {
				t.Fatalf("link_refused %v, want reason %q", e, why)
			}
		}
	}
	answer := func(id, decision string) {
		fw.cust.Send(map[string]any{"cmd": "answer_offer", "id": id, "decision": decision})
	}

	// Open, and a second answer is refused.
	id := sendFromAgent("https://example.com/docs?page=2")
	if e := offered(id); e.S("url") != "https://example.com/docs?page=2" || e["display"] != nil {
		t.Fatalf("offer %v", e)
	}
	answer(id, "open")
	opened(id)
	answer(id, "open")
	if e := fw.cust.Expect("error", nil); e.S("code") != "not_found" {
		t.Fatalf("answering again: %v", e)
	}
	// Not now.
	id = sendFromAgent("https://example.com/later")
	offered(id)
	answer(id, "accept") // a file's answer is not a link's
	if e := fw.cust.Expect("error", nil); e.S("code") != "bad_request" {
		t.Fatalf("answer accept: %v", e)
	}
	answer(id, "not_now")
	refused(id, "not_now")
	// Never: remembered, and the next link is refused unasked.
	id = sendFromAgent("https://example.com/never")
	offered(id)
	answer(id, "never")
	refused(id, "never")
	id = sendFromAgent("https://example.com/never-again")
	refused(id, "never")
	fw.cust.Send(map[string]any{"cmd": "trusts"})
	e := fw.cust.Expect("trust", func(e h.Event) bool { return e.S("kind") == "links" })
	if e.S("name") != "alice" || e.S("decision") != "never" {
		t.Fatalf("trust %v", e)
	}
	fw.cust.Expect("trusts_end", nil)
	// Always, after forgetting never: opened, and so is the next, unasked.
	fw.cust.Send(map[string]any{"cmd": "set_trust", "kind": "links", "sender": "alice", "decision": ""})
	fw.cust.Expect("trust", func(e h.Event) bool { return e.S("kind") == "links" && e.S("decision") == "" })
	id = sendFromAgent("https://example.com/always")
	offered(id)
	answer(id, "always_open")
	opened(id)
	id = sendFromAgent("https://example.com/always-again")
	opened(id)

	// Receiving off: refused, and the agent is told why.
	fw.cust.Send(map[string]any{"cmd": "receive_files", "on": false})
	fw.cust.Expect("receiving", func(e h.Event) bool { return e.S("state") == "off" })
	id = sendFromAgent("https://example.com/off")
	refused(id, "reception_off")
	fw.cust.Send(map[string]any{"cmd": "receive_files", "on": true})
	fw.cust.Expect("receiving", func(e h.Event) bool { return e.S("state") == "on" })

	// Not web links, from either side: refused before they leave.
	for _, bad := range []string{"javascript:alert(document.cookie)", "file:///etc/passwd"} {
		fw.cust.Send(map[string]any{"cmd": "send_link", "url": bad})
		if e := fw.cust.Expect("error", nil); e.S("code") != "bad_request" {
			t.Fatalf("customer send_link %s: %v", bad, e)
		}
		fw.agent.Send(map[string]any{"cmd": "send_link", "session": fw.sid, "url": bad})
		if e := fw.agent.Expect("error", nil); e.S("code") != "bad_request" {
			t.Fatalf("agent send_link %s: %v", bad, e)
		}
	}

	// The customer sends a look-alike host (a Cyrillic "а"): the agent
	// reads it in Unicode and in punycode, with the scripts it mixes.
	fw.cust.Send(map[string]any{"cmd": "send_link", "url": "https://\u0430pple.com/login"})
	out := fw.cust.Expect("link_offer", func(e h.Event) bool { return e.S("dir") == "out" })
	in := fw.agent.Expect("link_offer", linkIs(out.S("id")))
	if in.S("url") != "https://xn--pple-43d.com/login" || in.S("display") != "https://\u0430pple.com/login" || in.S("from") != "bob" {
		t.Fatalf("the agent's offer: %v", in)
	}
	scripts, _ := in["mixed_scripts"].([]any)
	if !slices.Equal(scripts, []any{"Latin", "Cyrillic"}) {
		t.Fatalf("mixed_scripts %v", in["mixed_scripts"])
	}
	fw.agent.Send(map[string]any{"cmd": "answer_offer", "id": in.S("id"), "decision": "not_now"})
	for _, p := range []*h.Proc{fw.agent, fw.cust} {
		if e := p.Expect("link_refused", linkIs(in.S("id"))); e.S("reason") != "not_now" {
			t.Fatalf("link_refused %v", e)
		}
	}

	// Both sides list the session's links.
	fw.agent.Send(map[string]any{"cmd": "links", "session": fw.sid})
	if e := fw.agent.Expect("links_end", nil); num(e, "count") != 8 {
		t.Fatalf("the agent lists %v", e)
	}
	fw.cust.Send(map[string]any{"cmd": "links"})
	if e := fw.cust.Expect("links_end", nil); num(e, "count") != 8 {
		t.Fatalf("the customer lists %v", e)
	}
}

// TestDesktopLinkOpens runs the customer client as a real window: the
// agent sends a link, the window asks, and a real key press on "Open link"
// hands the link, with its host in punycode, to the system's opener (here
// a stand-in for xdg-open that writes down what it was given).
func TestDesktopLinkOpens(t *testing.T) {
	needDisplay(t)
	bin := t.TempDir()
	opened := filepath.Join(t.TempDir(), "opened")
	stub := "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '" + opened + "'\n"
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	w := newWorld(t)
	agent := w.agent(t)
	sid, key, _ := h.NewSession(t, agent)
	customer := h.Start(t, "customer window", filepath.Join(h.Binaries(t), "porthole-customer"),
		"--relay", w.relay.Addr, "--relay-fingerprint", w.relay.Fingerprint,
		"--key", key, "--name", "bob", "--data", filepath.Join(t.TempDir(), "customer"), "--events", "-")
	customer.Expect("connected", nil)
	agent.Expect("customer_joined", func(e h.Event) bool { return e.S("session") == sid })

	agent.Send(map[string]any{"cmd": "send_link", "session": sid, "url": "https://bücher.example/liste?x=1"})
	offer := customer.Expect("link_offer", nil)
	// The dialog is up: Tab reaches its first answer, "Open link", and
	// Space presses it.
	win := h.FindWindow(t, "is helping you")
	h.Xdotool(t, "windowfocus", "--sync", win)
	time.Sleep(300 * time.Millisecond)
	h.Xdotool(t, "key", "Tab")
	h.Xdotool(t, "key", "space")
	if e := customer.Expect("link_opened", linkIs(offer.S("id"))); e["shown"] == true {
		t.Fatalf("the opener was not used: %v", e)
	}
	agent.Expect("link_opened", linkIs(offer.S("id")))
	var got []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got, _ = os.ReadFile(opened); len(got) > 0 {
			break
		}
	}
	if string(got) != "https://xn--bcher-kva.example/liste?x=1\n" {
		t.Fatalf("the opener got %q", got)
	}
}
