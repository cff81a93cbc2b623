package relaycmd

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

func TestInboundFilesConfig(t *testing.T) {
	def := func(mut func(*pb.FilePolicy)) *pb.FilePolicy {
		p := &pb.FilePolicy{Enabled: true, InvitationMs: 600_000}
		if mut != nil {
			mut(p)
		}
		return p
	}
	for _, tc := range []struct {
		name, json string
		want       *pb.FilePolicy // nil: an error containing wantErr
		wantErr    string
	}{
		{"absent", `{}`, def(nil), ""},
		{"null", `{"inbound_files": null}`, def(nil), ""},
		{"empty", `{"inbound_files": {}}`, def(nil), ""},
		{"full", `{"inbound_files": {"enabled": true, "extensions": ["pdf", "png"], "content_types": ["image/*", "application/pdf"],
			"max_size": "25MB", "max_files": 10, "invitation_required": true, "invitation": "5m"}}`,
			&pb.FilePolicy{Enabled: true, Extensions: []string{"pdf", "png"}, ContentTypes: []string{"image/*", "application/pdf"},
				MaxSize: 25_000_000, MaxFiles: 10, InvitationRequired: true, InvitationMs: 300_000}, ""},
		{"disabled", `{"inbound_files": {"enabled": false}}`, def(func(p *pb.FilePolicy) { p.Enabled = false }), ""},
		{"extensions normalised", `{"inbound_files": {"extensions": ["PDF", ".pdf", " .Png ", "7z", "c++"]}}`,
			def(func(p *pb.FilePolicy) { p.Extensions = []string{"pdf", "png", "7z", "c++"} }), ""},
		{"content types lowercased", `{"inbound_files": {"content_types": ["Image/PNG", "image/png", "application/vnd.ms-excel"]}}`,
			def(func(p *pb.FilePolicy) { p.ContentTypes = []string{"image/png", "application/vnd.ms-excel"} }), ""},
		{"empty lists", `{"inbound_files": {"extensions": [], "content_types": []}}`, def(nil), ""},

		{"size in bytes", `{"inbound_files": {"max_size": 1048576}}`, def(func(p *pb.FilePolicy) { p.MaxSize = 1 << 20 }), ""},
		{"size as a digit string", `{"inbound_files": {"max_size": "512"}}`, def(func(p *pb.FilePolicy) { p.MaxSize = 512 }), ""},
		{"size B", `{"inbound_files": {"max_size": "512B"}}`, def(func(p *pb.FilePolicy) { p.MaxSize = 512 }), ""},
		{"size KB", `{"inbound_files": {"max_size": "4KB"}}`, def(func(p *pb.FilePolicy) { p.MaxSize = 4000 }), ""},
		{"size GB", `{"inbound_files": {"max_size": "2GB"}}`, def(func(p *pb.FilePolicy) { p.MaxSize = 2e9 }), ""},
		{"size KiB", `{"inbound_files": {"max_size": "4KiB"}}`, def(func(p *pb.FilePolicy) { p.MaxSize = 4096 }), ""},
		{"size MiB with a space", `{"inbound_files": {"max_size": "10 MiB"}}`, def(func(p *pb.FilePolicy) { p.MaxSize = 10 << 20 }), ""},
		{"size GiB lowercase", `{"inbound_files": {"max_size": "1gib"}}`, def(func(p *pb.FilePolicy) { p.MaxSize = 1 << 30 }), ""},
		{"size with a fraction", `{"inbound_files": {"max_size": "1.5GB"}}`, def(func(p *pb.FilePolicy) { p.MaxSize = 1_500_000_000 }), ""},
		{"size zero is no limit", `{"inbound_files": {"max_size": "0"}}`, def(nil), ""},
		{"size null", `{"inbound_files": {"max_size": null}}`, def(nil), ""},
		{"files zero is no limit", `{"inbound_files": {"max_files": 0}}`, def(nil), ""},
		{"invitation in seconds", `{"inbound_files": {"invitation": "90s"}}`, def(func(p *pb.FilePolicy) { p.InvitationMs = 90_000 }), ""},

		{"unknown key", `{"inbound_files": {"max_sise": "25MB"}}`, nil, `unknown field "max_sise"`},
		{"bad size unit", `{"inbound_files": {"max_size": "25XB"}}`, nil, `max_size "25XB": unknown unit "XB" (use B, KB, MB, GB, KiB, MiB or GiB)`},
		{"unit without B", `{"inbound_files": {"max_size": "25M"}}`, nil, `unknown unit "M"`},
		{"negative size string", `{"inbound_files": {"max_size": "-1MB"}}`, nil, "max_size \"-1MB\": must not be negative"},
		{"negative size number", `{"inbound_files": {"max_size": -5}}`, nil, "max_size -5: must not be negative"},
		{"fractional bytes", `{"inbound_files": {"max_size": 1.5}}`, nil, "whole number of bytes"},
		{"exponent", `{"inbound_files": {"max_size": 1e6}}`, nil, "whole number of bytes"},
		{"fraction of a byte", `{"inbound_files": {"max_size": "1.5"}}`, nil, "fraction of a byte"},
		{"empty size", `{"inbound_files": {"max_size": ""}}`, nil, "max_size \"\": empty"},
		{"no number", `{"inbound_files": {"max_size": "MB"}}`, nil, "no number"},
		{"two dots", `{"inbound_files": {"max_size": "1.2.3MB"}}`, nil, "not a number"},
		{"size too large", `{"inbound_files": {"max_size": "9999999999GiB"}}`, nil, "too large"},
		{"size too large with a fraction", `{"inbound_files": {"max_size": "99999999999.5GB"}}`, nil, "too large"},
		{"size as a bool", `{"inbound_files": {"max_size": true}}`, nil, "whole number of bytes"},
		{"negative files", `{"inbound_files": {"max_files": -1}}`, nil, "max_files -1: must not be negative"},
		{"too many files", `{"inbound_files": {"max_files": 4294967296}}`, nil, "max_files 4294967296: too large"},
		{"files as a string", `{"inbound_files": {"max_files": "10"}}`, nil, "max_files"},
		{"zero invitation", `{"inbound_files": {"invitation": "0s"}}`, nil, `invitation "0s": want a duration of at least 1s`},
		{"negative invitation", `{"inbound_files": {"invitation": "-5m"}}`, nil, `invitation "-5m"`},
		{"invitation without a unit", `{"inbound_files": {"invitation": "10"}}`, nil, `invitation "10"`},
		{"empty extension", `{"inbound_files": {"extensions": ["."]}}`, nil, `extensions: "." is empty`},
		{"double extension", `{"inbound_files": {"extensions": ["tar.gz"]}}`, nil, `extensions: "tar.gz": only the last extension of a name counts: use "gz"`},
		{"extension with a slash", `{"inbound_files": {"extensions": ["image/png"]}}`, nil, `"image/png" looks like a content type`},
		{"extension with a backslash", `{"inbound_files": {"extensions": ["a\\b"]}}`, nil, "letters, digits"},
		{"wildcard extension", `{"inbound_files": {"extensions": ["*"]}}`, nil, "letters, digits"},
		{"extension with a space", `{"inbound_files": {"extensions": ["p df"]}}`, nil, "letters, digits"},
		{"long extension", `{"inbound_files": {"extensions": ["` + strings.Repeat("a", 33) + `"]}}`, nil, "longer than 32"},
		{"type without subtype", `{"inbound_files": {"content_types": ["image"]}}`, nil, `"image": want type/subtype or type/*`},
		{"type with parameters", `{"inbound_files": {"content_types": ["text/plain; charset=utf-8"]}}`, nil, "leave out parameters"},
		{"any type", `{"inbound_files": {"content_types": ["*/*"]}}`, nil, "leave content_types out"},
		{"empty type", `{"inbound_files": {"content_types": [""]}}`, nil, "want type/subtype"},
		{"empty subtype", `{"inbound_files": {"content_types": ["image/"]}}`, nil, "want type/subtype"},
		{"two slashes", `{"inbound_files": {"content_types": ["image/png/x"]}}`, nil, "want type/subtype"},
		{"too many entries", `{"inbound_files": {"extensions": [` + strings.Repeat(`"pdf",`, 256) + `"pdf"]}}`, nil, "more than 256"},
		{"trailing value", `{} {}`, nil, "more than one JSON value"},
	} {
		fc, err := readConfig(strings.NewReader(tc.json))
		if tc.want == nil {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: readConfig(%s) = %v, want an error containing %q", tc.name, tc.json, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: readConfig(%s) = %v", tc.name, tc.json, err)
			continue
		}
		got, err := fc.InboundFiles.policy()
		if err != nil || !proto.Equal(got, tc.want) {
			t.Errorf("%s: policy = %v, %v; want %v", tc.name, got, err, tc.want)
		}
		if err := protocol.ValidFilePolicy(got); err != nil {
			t.Errorf("%s: clients would refuse the policy: %v", tc.name, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1": 1, "1B": 1, "1 b": 1, "1KB": 1000, "1kb": 1000, "1 KiB": 1024, "1MB": 1e6, "1MiB": 1 << 20,
		"1GB": 1e9, "1GiB": 1 << 30, "25MB": 25e6, "0.5KB": 500, ".5MB": 5e5, "1.0001KB": 1000, " 7 ": 7,
		"9223372036854775807": math.MaxInt64, "8589934591GiB": 8589934591 << 30,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", " ", "-1", "-0", "1TB", "1K", "1 M", "KB", "1e6", "0x10", "1_000", "1,000", "1..5MB",
		"9223372036854775808", "8589934592GiB", "1.5", "25 MB extra", "½MB", "١٢MB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestServeRefusesBadInboundFiles(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "relay.json")
	os.WriteFile(cfg, []byte(`{"data": "`+filepath.ToSlash(data)+`", "listen": "127.0.0.1:0", "inbound_files": {"max_size": "25 parsecs"}}`), 0o600)
	code, out, errs := run(t, "", "serve", "--config", cfg)
	if code != 1 || out != "" || !strings.Contains(errs, `inbound_files: max_size "25 parsecs": unknown unit "parsecs"`) {
		t.Fatalf("serve with a bad max_size: %d %q %q", code, out, errs)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("a refused config created the data folder (%v)", err)
	}
}
