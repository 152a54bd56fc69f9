package testkit_test

import (
	"testing"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/connectware/connectware/internal/assert"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/testkit"
)

// TestProtoService: the test service has one RPC of each kind, Ping allows
// Connect GET, and every request message carries protovalidate rules.
func TestProtoService(t *testing.T) {
	t.Parallel()
	svc := testv1.File_connectware_test_v1_test_proto.Services().ByName("TestService")
	assert.True(t, svc != nil, "TestService")
	kinds := map[connect.StreamType]string{}
	methods := svc.Methods()
	for i := range methods.Len() {
		m := methods.Get(i)
		st := connect.StreamTypeUnary
		if m.IsStreamingClient() {
			st |= connect.StreamTypeClient
		}
		if m.IsStreamingServer() {
			st |= connect.StreamTypeServer
		}
		if _, seen := kinds[st]; !seen { // Ping comes before Fail
			kinds[st] = string(m.Name())
		}
		fields := m.Input().Fields()
		rules := 0
		for j := range fields.Len() {
			if proto.HasExtension(fields.Get(j).Options(), validatepb.E_Field) {
				rules++
			}
		}
		assert.True(t, rules > 0, m.Name(), "has no protovalidate rules")
	}
	for _, st := range testkit.StreamTypes() {
		name := kinds[st]
		assert.True(t, name != "", testkit.StreamTypeName(st), "missing")
		assert.Equal(t, "/"+string(svc.FullName())+"/"+name, testkit.Procedure(st))
	}
	ping := methods.ByName("Ping").Options()
	assert.Equal(t, ping.ProtoReflect().Get(ping.ProtoReflect().Descriptor().Fields().ByName("idempotency_level")).Enum(),
		protoreflect.EnumNumber(1), "Ping is NO_SIDE_EFFECTS, for Connect GET")
}
