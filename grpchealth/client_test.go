package grpchealth_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/grpchealth"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

// TestClientWatchFunc runs the callback form of Watch in every protocol
// over every network: statuses arrive in order, and returning false ends
// the watch with no error.
func TestClientWatchFunc(t *testing.T) {
	t.Parallel()
	checker := grpchealth.NewStaticChecker(pingService)
	testkit.Matrix(t, newMux(checker), func(t *testing.T, c testkit.Case) {
		var got []grpchealth.Status
		err := healthClient(c).WatchFunc(testContext(t), &grpchealth.CheckRequest{Service: pingService}, func(s grpchealth.Status) bool {
			got = append(got, s)
			switch len(got) {
			case 1:
				checker.SetStatus(pingService, grpchealth.StatusNotServing)
			case 2:
				checker.SetStatus(pingService, grpchealth.StatusServing)
			}
			return len(got) < 3
		})
		assert.NoError(t, err)
		assert.Equal(t, got, []grpchealth.Status{grpchealth.StatusServing, grpchealth.StatusNotServing, grpchealth.StatusServing})
	})
}

// TestClientWatchFuncCanceled: canceling the context ends the watch with
// no error; a server without Watch yields Unimplemented.
func TestClientWatchFuncCanceled(t *testing.T) {
	t.Parallel()
	checker := grpchealth.NewStaticChecker(pingService)
	srv := testkit.NewServer(t, newMux(checker), testkit.HTTP1)
	client := grpchealth.NewClient(srv.Client, srv.URL+"/", connect.WithGRPCWeb())
	ctx, cancel := context.WithCancel(testContext(t))
	err := client.WatchFunc(ctx, &grpchealth.CheckRequest{Service: pingService}, func(grpchealth.Status) bool {
		cancel()
		return true
	})
	assert.NoError(t, err)

	bare := testkit.NewServer(t, newMux(checkOnly{}), testkit.HTTP1)
	err = grpchealth.NewClient(bare.Client, bare.URL).WatchFunc(testContext(t), &grpchealth.CheckRequest{}, func(grpchealth.Status) bool { return true })
	assert.Code(t, err, connect.CodeUnimplemented)
}

// TestClientIsChecker: a Client can stand in for a Checker, so one server's
// health handler can proxy another's.
func TestClientIsChecker(t *testing.T) {
	t.Parallel()
	backend := grpchealth.NewStaticChecker(pingService)
	backend.SetStatus("down.v1.DownService", grpchealth.StatusNotServing)
	bsrv := testkit.NewServer(t, newMux(backend), testkit.H2C)
	proxy := grpchealth.NewClient(bsrv.Client, bsrv.URL, connect.WithGRPC())
	testkit.Matrix(t, newMux(proxy), func(t *testing.T, c testkit.Case) {
		got, err := healthClient(c).List(testContext(t))
		assert.NoError(t, err)
		assert.Equal(t, got[("down.v1.DownService")], grpchealth.StatusNotServing)
		_, err = healthClient(c).Check(testContext(t), &grpchealth.CheckRequest{Service: "nope"})
		assert.Code(t, err, connect.CodeNotFound)
	})
}
