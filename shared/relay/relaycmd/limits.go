package relaycmd

import (
	"fmt"
	"math"
	"time"

	"github.com/porthole-dev/porthole/shared/relay"
)

// limits is the config file's "limits": the relay's own limits against
// guessing, sign-in floods and key hoarding. Every key is optional and
// takes the default of relay.Config; see docs/relay.md.
type limits struct {
	GuessBurst           *int    `json:"guess_burst"`             // failed attempts in a burst, per source (10)
	GuessEvery           *string `json:"guess_every"`             // one more per this (6s)
	IPv6Prefix           *int    `json:"ipv6_prefix"`             // IPv6 sources are prefixes of this length (64)
	FailedJoinsPerMinute *int    `json:"failed_joins_per_minute"` // relay-wide (60); 0: no limit
	SignInConcurrency    *int    `json:"sign_in_concurrency"`     // password checks at once (4)
	SignInWait           *string `json:"sign_in_wait"`            // the longest a sign-in waits for one (5s)
	MaxWaitingPerAgent   *int    `json:"max_waiting_per_agent"`   // (100); 0: no limit
	MaxKeysPerAgent      *int    `json:"max_keys_per_agent"`      // (1000); 0: no limit
	MaxWaiting           *int    `json:"max_waiting"`             // relay-wide (2000); 0: no limit
}

// apply checks the limits and sets them in cfg. A nil receiver (no
// "limits") leaves cfg as it is.
func (l *limits) apply(cfg *relay.Config) error {
	if l == nil {
		return nil
	}
	inRange := func(name string, v *int, min, max int, dst *int) error {
		if v == nil {
			return nil
		}
		if *v < min || *v > max {
			return fmt.Errorf("%s %d: want %d to %d", name, *v, min, max)
		}
		*dst = *v
		return nil
	}
	// noLimit is a quota where 0 means no limit (relay.Config: negative).
	noLimit := func(name string, v *int, dst *int) error {
		if v == nil {
			return nil
		}
		switch {
		case *v < 0:
			return fmt.Errorf("%s %d: must not be negative (0 means no limit)", name, *v)
		case *v == 0:
			*dst = -1
		default:
			*dst = *v
		}
		return nil
	}
	duration := func(name string, v *string, min time.Duration, dst *time.Duration) error {
		if v == nil {
			return nil
		}
		d, err := time.ParseDuration(*v)
		if err != nil || d < min {
			return fmt.Errorf("%s %q: want a duration of at least %v, such as \"5s\"", name, *v, min)
		}
		*dst = d
		return nil
	}
	for _, err := range []error{
		inRange("guess_burst", l.GuessBurst, 1, math.MaxInt32, &cfg.GuessBurst),
		duration("guess_every", l.GuessEvery, time.Millisecond, &cfg.GuessEvery),
		inRange("ipv6_prefix", l.IPv6Prefix, 1, 128, &cfg.IPv6Prefix),
		noLimit("failed_joins_per_minute", l.FailedJoinsPerMinute, &cfg.FailedJoinsPerMinute),
		inRange("sign_in_concurrency", l.SignInConcurrency, 1, 1024, &cfg.SignInConcurrency),
		duration("sign_in_wait", l.SignInWait, time.Millisecond, &cfg.SignInWait),
		noLimit("max_waiting_per_agent", l.MaxWaitingPerAgent, &cfg.MaxWaitingPerAgent),
		noLimit("max_keys_per_agent", l.MaxKeysPerAgent, &cfg.MaxKeysPerAgent),
		noLimit("max_waiting", l.MaxWaiting, &cfg.MaxWaiting),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
