package protocol_test

import (
	"strings"
	"testing"

	"github.com/porthole-dev/porthole/shared/protocol"
	"github.com/porthole-dev/porthole/shared/protocol/pb"
)

// TestValidateKeyMessages (issue 14, finding 2): paired and new_key name a
// session by a well-formed id, and the relay's burned code is a short
// lowercase word, in a presence and in an attach reply alike.
func TestValidateKeyMessages(t *testing.T) {
	inv := protocol.ErrInvalid
	paired := func(id string) *pb.ClientMsg {
		return &pb.ClientMsg{Req: 1, Body: &pb.ClientMsg_Paired{Paired: &pb.Paired{Session: id}}}
	}
	newKey := func(id string) *pb.ClientMsg {
		return &pb.ClientMsg{Req: 1, Body: &pb.ClientMsg_NewKey{NewKey: &pb.NewKey{Session: id}}}
	}
	for _, tt := range []struct {
		name string
		m    *pb.ClientMsg
		want error
	}{
		{"paired", paired(testSID), nil},
		{"paired no session", paired(""), inv},
		{"paired bad session", paired("nope"), inv},
		{"paired uppercase session", paired(strings.ToUpper(testSID)), inv},
		{"new key", newKey(testSID), nil},
		{"new key no session", newKey(""), inv},
		{"new key bad session", newKey(testSID + "0"), inv},
	} {
		checkValidation(t, tt.name, protocol.ValidateClientMsg(tt.m), tt.want)
	}

	presence := func(id, burned string) *pb.RelayMsg {
		return &pb.RelayMsg{Body: &pb.RelayMsg_Presence{Presence: &pb.PeerPresence{Session: id, Burned: burned}}}
	}
	attached := func(burned string) *pb.RelayMsg {
		return &pb.RelayMsg{Body: &pb.RelayMsg_Attached{Attached: &pb.Attached{Sessions: []*pb.AttachedSession{
			{Session: testSID, Open: true, Joined: true, Burned: burned},
		}}}}
	}
	for _, tt := range []struct {
		name string
		m    *pb.RelayMsg
		want error
	}{
		{"presence", presence(testSID, ""), nil},
		{"presence burned", presence(testSID, protocol.CodeNotPaired), nil},
		{"presence burned by a later code", presence(testSID, "some_new_reason"), nil},
		{"presence burned with a space", presence(testSID, "not paired"), inv},
		{"presence burned with an escape", presence(testSID, "not_paired\x1b[2J"), inv},
		{"presence burned too long", presence(testSID, strings.Repeat("a", 65)), inv},
		{"presence burned bad session", presence("x", protocol.CodeNotPaired), inv},
		{"attached burned", attached(protocol.CodeNotPaired), nil},
		{"attached burned in capitals", attached("NOT_PAIRED"), inv},
	} {
		checkValidation(t, tt.name, protocol.ValidateRelayMsg(tt.m), tt.want)
	}
}
