package ui

import (
	"testing"

	"fyne.io/fyne/v2/test"
)

// TestBurnedKeyOffersNewKey (issue 14, finding 2): a session whose key
// was used up without pairing says so on its card, and gives a new key in
// one click; once the key comes, the card shows it.
func TestBurnedKeyOffersNewKey(t *testing.T) {
	w, win, _ := signedIn(t)
	var asked []string
	w.act.NewKey = func(id string) { asked = append(asked, id) }
	s := waiting("s1", "1234-5678-123-456")
	w.PutSession(s)
	w.OpenSession("s1")
	s.State, s.Key, s.Reason = Burned, "", "the key was used by someone who did not know its secret: nobody paired with it by its expiry"
	w.PutSession(s)
	looks(t, "session_burned.xml", win)
	if button(t, win.Content(), "End session").Disabled() {
		t.Fatal("a burned session cannot be ended")
	}
	test.Tap(button(t, win.Content(), "New key"))
	if len(asked) != 1 || asked[0] != "s1" {
		t.Fatalf("New key asked for %q", asked)
	}
	w.PutSession(waiting("s1", "5678-1234-567-890"))
	button(t, win.Content(), "Copy key")
	if !hasText(t, win.Content(), "5678-1234-567-890") {
		t.Fatal("the new key is not shown")
	}
}

// TestWaitingKeyCanBeReplaced: a customer told "used" calls back before the
// agent is told the key was burned (at its expiry, up to 20 minutes later);
// the agent need not wait to give another key.
func TestWaitingKeyCanBeReplaced(t *testing.T) {
	w, win, _ := signedIn(t)
	var asked []string
	w.act.NewKey = func(id string) { asked = append(asked, id) }
	w.PutSession(waiting("s1", "1234-5678-123-456"))
	w.OpenSession("s1")
	test.Tap(button(t, win.Content(), "New key"))
	if len(asked) != 1 || asked[0] != "s1" {
		t.Fatalf("New key asked for %q", asked)
	}
	w.PutSession(waiting("s1", "5678-1234-567-890"))
	if !hasText(t, win.Content(), "5678-1234-567-890") {
		t.Fatal("the new key is not shown")
	}
}
