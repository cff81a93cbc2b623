package protocol_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/shared/protocol"
)

func TestParseKeyAccepts(t *testing.T) {
	tests := []struct {
		in                string
		nameplate, secret string
	}{
		{"1234-5678-123-456", "12345678", "123456"},
		{" 1234 5678 123 456 ", "12345678", "123456"},
		{"12345678123456", "12345678", "123456"},
		{"12345678-123456", "12345678", "123456"},
		{"0000-0000-000-000", "00000000", "000000"},
		{"9999-9999-999-999", "99999999", "999999"},
		{"\t1234-5678-123-456\r\n", "12345678", "123456"},
		{"1234 - 5678 - 123 - 456", "12345678", "123456"},
		{"1234\n5678\n123456", "12345678", "123456"},
		{"0123-4567-890-123", "01234567", "890123"},
	}
	for _, tt := range tests {
		np, sec, err := protocol.ParseKey(tt.in)
		if err != nil {
			t.Errorf("ParseKey(%q) = %v, want nil", tt.in, err)
			continue
		}
		if np != tt.nameplate || sec != tt.secret {
			t.Errorf("ParseKey(%q) = %q, %q; want %q, %q", tt.in, np, sec, tt.nameplate, tt.secret)
		}
	}
}

func TestParseKeyRejects(t *testing.T) {
	for _, in := range []string{
		"",
		" ",
		"-",
		"abcd-efgh-ijk-lmn",
		"1234-5678-123-45a",
		"a1234-5678-123-456",
		"1234-5678-123-456x",
		"1234-567890",         // a key of protocol 3: 10 digits
		"1234-5678-123-45",    // 13 digits
		"1234-5678-123-4567",  // 15 digits
		"1234-5678-123-456-1", // 15 digits
		"12345678",            // nameplate only
		"1234567812345678901", // far too many
		"1234_5678-123-456",
		"1234.5678.123.456",
		"1234/5678/123/456",
		"+1234-5678-123-456",
		"1234\u20145678-123-456",                // em dash
		"1234\u00a05678-123-456",                // no-break space
		"\uff11\uff12\uff13\uff14-5678-123-456", // fullwidth digits
		"\u0661\u0662\u0663\u0664-5678-123-456", // Arabic-Indic digits
		"1234-5678-123-456\x00",
		"1234-\xff5678-123-456",
	} {
		np, sec, err := protocol.ParseKey(in)
		if err == nil {
			t.Errorf("ParseKey(%q) = %q, %q, nil; want an error", in, np, sec)
			continue
		}
		if !errors.Is(err, protocol.ErrInvalid) {
			t.Errorf("ParseKey(%q) error = %v, want ErrInvalid", in, err)
		}
		if np != "" || sec != "" {
			t.Errorf("ParseKey(%q) returned parts %q, %q with an error", in, np, sec)
		}
	}
}

func TestFormatKey(t *testing.T) {
	if got := protocol.FormatKey("12345678", "901234"); got != "1234-5678-901-234" {
		t.Fatalf("FormatKey = %q, want 1234-5678-901-234", got)
	}
	if _, _, err := protocol.ParseKey(protocol.ExampleKey); err != nil {
		t.Fatalf("the example key %s: %v", protocol.ExampleKey, err)
	}
	np, sec, err := protocol.ParseKey(protocol.FormatKey("00000042", "000017"))
	if err != nil || np != "00000042" || sec != "000017" {
		t.Fatalf("ParseKey(FormatKey) = %q, %q, %v", np, sec, err)
	}
}

func TestGroupKey(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"1":                 "1",
		"1234":              "1234",
		"12345":             "1234-5",
		"12345678":          "1234-5678",
		"123456789":         "1234-5678-9",
		"12345678901":       "1234-5678-901",
		"123456789012":      "1234-5678-901-2",
		"12345678901234":    "1234-5678-901-234",
		"123456789012345":   "1234-5678-901-234-5",
		"12345678901234567": "1234-5678-901-234-567",
	} {
		if got := protocol.GroupKey(in); got != want {
			t.Errorf("GroupKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidName(t *testing.T) {
	good := []string{
		"a",
		"alice",
		"Alice Smith",
		"José",
		"日本語",
		"O'Brien-Smith (support)",
		strings.Repeat("a", protocol.MaxName),
		strings.Repeat("é", protocol.MaxName/2), // 64 bytes
		"emoji 😀",
	}
	for _, s := range good {
		if err := protocol.ValidName(s); err != nil {
			t.Errorf("ValidName(%q) = %v, want nil", s, err)
		}
	}
	bad := []string{
		"",
		" ",
		"   ",
		"\t",
		"\n",
		"\u00a0",                                // blank after TrimSpace
		strings.Repeat("a", protocol.MaxName+1), // too long
		strings.Repeat("é", protocol.MaxName/2) + "a", // 65 bytes
		"a\nb",
		"a\tb", // tabs are not allowed in names
		"a\rb",
		"a\x00b",
		"a\x1bb",
		"a\x7fb",       // DEL
		"a\u0085b",     // NEL (C1 control)
		"a\u2028b",     // line separator
		"a\u2029b",     // paragraph separator
		"a\u202ab",     // LRE
		"a\u202eb",     // RLO
		"a\u2066b",     // LRI
		"a\u2069b",     // PDI
		"\xff",         // invalid UTF-8
		"ab\xc3",       // truncated UTF-8
		"\xed\xa0\x80", // surrogate half
	}
	for _, s := range bad {
		err := protocol.ValidName(s)
		if !errors.Is(err, protocol.ErrInvalid) {
			t.Errorf("ValidName(%q) = %v, want ErrInvalid", s, err)
		}
	}
}

func TestValidChatText(t *testing.T) {
	good := []string{
		"hi",
		"line one\nline two",
		"trailing newline\n",
		"col1\tcol2",
		"  indented",
		"emoji 😀 and 日本語",
		"arabic مرحبا", // right-to-left script itself is fine
		strings.Repeat("x", protocol.MaxChatText),
		strings.Repeat("é", protocol.MaxChatText/2),
	}
	for _, s := range good {
		if err := protocol.ValidChatText(s); err != nil {
			t.Errorf("ValidChatText(%.40q) = %v, want nil", s, err)
		}
	}
	bad := []string{
		"",
		" ",
		"\n\n",
		"\t \n",
		strings.Repeat("x", protocol.MaxChatText+1),
		strings.Repeat("é", protocol.MaxChatText/2) + "x",
		"a\x00b",
		"\x1b[31mred\x1b[0m", // terminal escape
		"bell\a",
		"a\x7f",
		"a\u0085b",
		"a\u2028b",
		"a\u2029b",
		"invoice_\u202etxt.exe", // RLO
		"a\u202ab",
		"a\u202bb",
		"a\u202cb",
		"a\u202db",
		"a\u2066b",
		"a\u2067b",
		"a\u2068b",
		"a\u2069b",
		"bad \xff utf8",
	}
	for _, s := range bad {
		err := protocol.ValidChatText(s)
		if !errors.Is(err, protocol.ErrInvalid) {
			t.Errorf("ValidChatText(%.40q) = %v, want ErrInvalid", s, err)
		}
	}
}

func TestValidSessionID(t *testing.T) {
	good := []string{testSID, strings.Repeat("0", 32), strings.Repeat("f", 32)}
	for _, s := range good {
		if err := protocol.ValidSessionID(s); err != nil {
			t.Errorf("ValidSessionID(%q) = %v, want nil", s, err)
		}
	}
	bad := []string{
		"",
		testSID[:31],
		testSID + "0",
		strings.ToUpper(testSID),
		"g123456789abcdef0123456789abcdef",
		"0123456789abcdef0123456789abcde ",
		"0123456789abcdef0123456789abcd\u00e9", // 32 bytes, not hex
	}
	for _, s := range bad {
		if err := protocol.ValidSessionID(s); !errors.Is(err, protocol.ErrInvalid) {
			t.Errorf("ValidSessionID(%q) = %v, want ErrInvalid", s, err)
		}
	}
}
