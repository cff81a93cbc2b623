package app

import "testing"

func TestKeyFromProgramName(t *testing.T) {
	for name, want := range map[string]string{
		"/tmp/porthole-customer-1234-5678-123-456":                           "1234-5678-123-456",
		"porthole-customer-12345678123456":                                   "1234-5678-123-456",
		`C:\Users\bob\Downloads\porthole-customer-1234-5678-123-456 (1).exe`: "1234-5678-123-456",
		"porthole-customer-1234-5678-123-456(2).EXE":                         "1234-5678-123-456",
		"porthole-customer":                                                  "",
		"porthole-customer-1234-567890":                                      "", // a key of protocol 3
		"porthole-customer-1234-5678-123-4567":                               "", // a digit too many
		"porthole-customer-91234-5678-123-456":                               "",
		"porthole-customer-1234-5678-123-456.sh":                             "",
	} {
		if got := KeyFromProgramName(name); got != want {
			t.Errorf("KeyFromProgramName(%q) = %q, want %q", name, got, want)
		}
	}
}
