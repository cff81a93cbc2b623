package relaycmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porthole-dev/porthole/shared/relay"
)

func TestLimitsConfig(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       relay.Config // zero fields: the relay's defaults
		wantErr    string       // non-empty: an error containing it
	}{
		{"absent", `{}`, relay.Config{}, ""},
		{"empty", `{"limits": {}}`, relay.Config{}, ""},
		{"null", `{"limits": null}`, relay.Config{}, ""},
		{"full", `{"limits": {"guess_burst": 5, "guess_every": "12s", "ipv6_prefix": 56, "failed_joins_per_minute": 30,
			"sign_in_concurrency": 2, "sign_in_wait": "3s", "max_waiting_per_agent": 20, "max_keys_per_agent": 40, "max_waiting": 500}}`,
			relay.Config{GuessBurst: 5, GuessEvery: 12 * time.Second, IPv6Prefix: 56, FailedJoinsPerMinute: 30,
				SignInConcurrency: 2, SignInWait: 3 * time.Second, MaxWaitingPerAgent: 20, MaxKeysPerAgent: 40, MaxWaiting: 500}, ""},
		{"zero is no limit", `{"limits": {"failed_joins_per_minute": 0, "max_waiting_per_agent": 0, "max_keys_per_agent": 0, "max_waiting": 0}}`,
			relay.Config{FailedJoinsPerMinute: -1, MaxWaitingPerAgent: -1, MaxKeysPerAgent: -1, MaxWaiting: -1}, ""},
		{"per address", `{"limits": {"ipv6_prefix": 128}}`, relay.Config{IPv6Prefix: 128}, ""},

		{"unknown key", `{"limits": {"sign_in_concurency": 4}}`, relay.Config{}, `unknown field "sign_in_concurency"`},
		{"no hashing", `{"limits": {"sign_in_concurrency": 0}}`, relay.Config{}, "limits: sign_in_concurrency 0: want 1 to 1024"},
		{"prefix too long", `{"limits": {"ipv6_prefix": 129}}`, relay.Config{}, "ipv6_prefix 129: want 1 to 128"},
		{"prefix zero", `{"limits": {"ipv6_prefix": 0}}`, relay.Config{}, "ipv6_prefix 0"},
		{"zero burst", `{"limits": {"guess_burst": 0}}`, relay.Config{}, "guess_burst 0"},
		{"negative quota", `{"limits": {"max_waiting": -1}}`, relay.Config{}, "max_waiting -1: must not be negative (0 means no limit)"},
		{"bad wait", `{"limits": {"sign_in_wait": "5"}}`, relay.Config{}, `sign_in_wait "5": want a duration`},
		{"zero wait", `{"limits": {"sign_in_wait": "0s"}}`, relay.Config{}, `sign_in_wait "0s"`},
		{"bad interval", `{"limits": {"guess_every": "-6s"}}`, relay.Config{}, `guess_every "-6s"`},
		{"quota as a string", `{"limits": {"max_waiting": "100"}}`, relay.Config{}, "max_waiting"},
	} {
		fc, err := readConfig(strings.NewReader(tc.json))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: readConfig(%s) = %v, want an error containing %q", tc.name, tc.json, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: readConfig(%s) = %v", tc.name, tc.json, err)
			continue
		}
		var got relay.Config
		if err := fc.Limits.apply(&got); err != nil || got != tc.want {
			t.Errorf("%s: limits = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

func TestServeRefusesBadLimits(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "relay.json")
	os.WriteFile(cfg, []byte(`{"data": "`+filepath.ToSlash(data)+`", "listen": "127.0.0.1:0", "limits": {"ipv6_prefix": 200}}`), 0o600)
	code, out, errs := run(t, "", "serve", "--config", cfg)
	if code != 1 || out != "" || !strings.Contains(errs, "limits: ipv6_prefix 200: want 1 to 128") {
		t.Fatalf("serve with a bad ipv6_prefix: %d %q %q", code, out, errs)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("a refused config created the data folder (%v)", err)
	}
}
