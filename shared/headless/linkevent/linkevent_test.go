package linkevent_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/failure"
	"github.com/porthole-dev/porthole/shared/headless/linkevent"
	"github.com/porthole-dev/porthole/shared/weblink"
)

func TestEvents(t *testing.T) {
	k := weblink.Link{ID: "l1", Session: "s1", Dir: weblink.In, Peer: "alice", URL: "https://xn--pple-43d.com/", State: weblink.Offered, Offered: time.Now()}
	e := linkevent.From(weblink.Event{Kind: weblink.EventOffer, Link: k}, false)
	if e.Event != "link_offer" || e.From != "alice" || e.Session != "" || e.URL != k.URL || e.Display != "https://\u0430pple.com/" ||
		!slices.Equal(e.Scripts, []string{"Latin", "Cyrillic"}) || e.State != "" {
		t.Errorf("link_offer %+v", e)
	}
	k.State, k.Why, k.Dir = weblink.Refused, weblink.NotNow, weblink.Out
	e = linkevent.From(weblink.Event{Kind: weblink.EventRefused, Link: k}, true)
	if e.Event != "link_refused" || e.Reason != "not_now" || e.Session != "s1" || e.From != "" || e.Peer != "alice" {
		t.Errorf("link_refused %+v", e)
	}
	// A plain ASCII link carries no display form.
	k.URL = "https://example.com/"
	if e := linkevent.Listed(k, true); e.Display != "" || e.Scripts != nil || e.State != weblink.Refused {
		t.Errorf("link %+v", e)
	}
}

func TestErrorCodes(t *testing.T) {
	_, notLink := weblink.Check("javascript:alert(1)")
	for _, tt := range []struct {
		err  error
		code string
	}{
		{notLink, "bad_request"},
		{weblink.ErrUnknown, "not_found"},
		{weblink.ErrAnswered, "not_found"},
		{weblink.ErrBadDecision, "bad_request"},
		{fmt.Errorf("disk: %w", errors.New("full")), "internal"},
	} {
		var fe *failure.Error
		if err := linkevent.Error(tt.err); !errors.As(err, &fe) || fe.Code != tt.code {
			t.Errorf("Error(%v) = %v, want code %s", tt.err, err, tt.code)
		}
	}
	if linkevent.Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
}
