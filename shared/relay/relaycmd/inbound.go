package relaycmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/porthole-dev/porthole/shared/protocol/pb"
	"github.com/porthole-dev/porthole/shared/relay"
)

// Limits of the inbound file lists, within what clients accept
// (protocol.ValidFilePolicy: 256 entries of at most 128 bytes).
const (
	maxPolicyEntries = 256
	maxExtensionLen  = 32
	maxTypeLen       = 128
)

// inboundFiles is the config file's "inbound_files": what customers may
// send to agents. Every key is optional; see docs/relay.md.
type inboundFiles struct {
	Enabled            *bool           `json:"enabled"`       // default true
	Extensions         []string        `json:"extensions"`    // "pdf"; ".PDF" is taken as "pdf"
	ContentTypes       []string        `json:"content_types"` // "image/png", "image/*"
	MaxSize            json.RawMessage `json:"max_size"`      // "25MB", "10 MiB" or a number of bytes
	MaxFiles           *int64          `json:"max_files"`
	InvitationRequired bool            `json:"invitation_required"`
	Invitation         *string         `json:"invitation"` // a Go duration, default "10m"
}

// policy checks the settings and turns them into the policy the relay
// gives agents. A nil receiver (no "inbound_files") is the default policy.
func (in *inboundFiles) policy() (*pb.FilePolicy, error) {
	p := relay.DefaultFilePolicy()
	if in == nil {
		return p, nil
	}
	if in.Enabled != nil {
		p.Enabled = *in.Enabled
	}
	var err error
	if p.Extensions, err = extensions(in.Extensions); err != nil {
		return nil, err
	}
	if p.ContentTypes, err = contentTypes(in.ContentTypes); err != nil {
		return nil, err
	}
	if raw := bytes.TrimSpace(in.MaxSize); len(raw) > 0 && string(raw) != "null" {
		n, err := sizeValue(raw)
		if err != nil {
			return nil, fmt.Errorf("max_size %s: %w", raw, err)
		}
		p.MaxSize = uint64(n)
	}
	if in.MaxFiles != nil {
		switch n := *in.MaxFiles; {
		case n < 0:
			return nil, fmt.Errorf("max_files %d: must not be negative (0 means no limit)", n)
		case n > math.MaxUint32:
			return nil, fmt.Errorf("max_files %d: too large (0 means no limit)", n)
		default:
			p.MaxFiles = uint32(n)
		}
	}
	p.InvitationRequired = in.InvitationRequired
	if in.Invitation != nil {
		d, err := time.ParseDuration(*in.Invitation)
		if err != nil || d < time.Second {
			return nil, fmt.Errorf("invitation %q: want a duration of at least 1s, such as \"10m\"", *in.Invitation)
		}
		p.InvitationMs = d.Milliseconds()
	}
	return p, nil
}

// extensions normalises the extension list: "PDF" and ".pdf" are "pdf".
// It refuses what a file name's last extension can never be, or that looks
// like something else.
func extensions(list []string) ([]string, error) {
	if len(list) > maxPolicyEntries {
		return nil, fmt.Errorf("extensions: more than %d", maxPolicyEntries)
	}
	var out []string
	for _, raw := range list {
		e := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(raw), "."))
		switch {
		case e == "":
			return nil, fmt.Errorf("extensions: %q is empty", raw)
		case strings.Contains(e, "/"):
			return nil, fmt.Errorf("extensions: %q looks like a content type: put it in content_types", raw)
		case strings.Contains(e, "."):
			last := e[strings.LastIndexByte(e, '.')+1:]
			return nil, fmt.Errorf("extensions: %q: only the last extension of a name counts: use %q", raw, last)
		case len(e) > maxExtensionLen:
			return nil, fmt.Errorf("extensions: %q is longer than %d characters", raw, maxExtensionLen)
		case strings.ContainsFunc(e, func(r rune) bool { return !isAlnum(r) && r != '-' && r != '_' && r != '+' }):
			return nil, fmt.Errorf("extensions: %q: use letters, digits, '-', '_' or '+' only, such as \"pdf\"", raw)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// contentTypes normalises the content type list to lowercase. An entry is
// "type/subtype" or "type/*", without parameters.
func contentTypes(list []string) ([]string, error) {
	if len(list) > maxPolicyEntries {
		return nil, fmt.Errorf("content_types: more than %d", maxPolicyEntries)
	}
	var out []string
	for _, raw := range list {
		t := strings.ToLower(strings.TrimSpace(raw))
		major, minor, ok := strings.Cut(t, "/")
		switch {
		case strings.Contains(t, ";"):
			return nil, fmt.Errorf("content_types: %q: leave out parameters such as \"; charset=utf-8\"", raw)
		case major == "*":
			return nil, fmt.Errorf("content_types: %q: to allow any type, leave content_types out", raw)
		case !ok || !mediaToken(major) || (minor != "*" && !mediaToken(minor)):
			return nil, fmt.Errorf("content_types: %q: want type/subtype or type/*, such as \"application/pdf\" or \"image/*\"", raw)
		case len(t) > maxTypeLen:
			return nil, fmt.Errorf("content_types: %q is longer than %d characters", raw, maxTypeLen)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// mediaToken says whether s is a media type or subtype name (RFC 6838
// restricted-name, lowercase).
func mediaToken(s string) bool {
	if s == "" || !isAlnum(rune(s[0])) {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return !isAlnum(r) && !strings.ContainsRune("!#$&-^_.+", r) })
}

func isAlnum(r rune) bool { return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' }

// sizeValue reads max_size: a JSON string for parseSize, or a JSON number
// of bytes.
func sizeValue(raw json.RawMessage) (int64, error) {
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
		return parseSize(s)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		if strings.HasPrefix(string(raw), "-") {
			return 0, errors.New("must not be negative (0 means no limit)")
		}
		return 0, errors.New("want a whole number of bytes, or a size such as \"25MB\"")
	}
	if n < 0 {
		return 0, errors.New("must not be negative (0 means no limit)")
	}
	return n, nil
}

// sizeUnits are the units parseSize knows, lowercase: decimal (KB = 1000)
// and binary (KiB = 1024).
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
}

// parseSize reads a size for people: a number, optionally with a fraction
// and a unit, with or without a space: "25MB", "1.5 GB", "10MiB", "512".
// Units are B, KB, MB, GB (powers of 1000) and KiB, MiB, GiB (powers of
// 1024), in any case. A size without a unit is bytes.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty: want a size such as \"25MB\", or 0 for no limit")
	}
	if strings.HasPrefix(t, "-") {
		return 0, errors.New("must not be negative (0 means no limit)")
	}
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(t)
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	mult, ok := sizeUnits[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q (use B, KB, MB, GB, KiB, MiB or GiB)", unit)
	}
	if num == "" {
		return 0, errors.New("no number: want a size such as \"25MB\"")
	}
	const tooLarge = "too large"
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return 0, errors.New(tooLarge)
		}
		return n * mult, nil
	}
	if mult == 1 {
		return 0, errors.New("a fraction of a byte: give whole bytes, or a unit such as \"1.5MB\"")
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", num)
	}
	v := math.Round(f * float64(mult))
	if v >= math.MaxInt64 {
		return 0, errors.New(tooLarge)
	}
	return int64(v), nil
}
