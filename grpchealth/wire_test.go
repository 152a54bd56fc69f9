package grpchealth_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/connectware/connectware/grpchealth"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

// TestConnectJSONBodies checks the exact Connect JSON bytes, over HTTP/1.1
// and h2c, for Check (POST and GET), List and errors.
func TestConnectJSONBodies(t *testing.T) {
	t.Parallel()
	checker := grpchealth.NewStaticChecker(pingService)
	checker.SetStatus("down.v1.DownService", grpchealth.StatusNotServing)
	checker.SetStatus("odd.v1.Unknown", grpchealth.StatusUnknown)
	for _, n := range []testkit.Network{testkit.HTTP1, testkit.H2C} {
		srv := testkit.NewServer(t, newMux(checker), n)
		t.Run(n.String()+"/connect_json", func(t *testing.T) {
			for _, tc := range []struct {
				body, want string
				code       int
			}{
				{`{"service":"connectware.test.v1.TestService"}`, `{"status":"SERVING"}`, 200},
				{`{}`, `{"status":"SERVING"}`, 200},
				{`{"service":""}`, `{"status":"SERVING"}`, 200},
				{`{"service":"down.v1.DownService","ignored":1}`, `{"status":"NOT_SERVING"}`, 200},
				{`{"service":"odd.v1.Unknown"}`, `{}`, 200},
				{`{"service":"nope.v1.Nope"}`, `{"code":"not_found","message":"unknown service \"nope.v1.Nope\""}`, 404},
				{`{"service":1}`, "", 400},
				{`not json`, "", 400},
			} {
				res, body := post(t, srv, "/grpc.health.v1.Health/Check", "application/json", []byte(tc.body))
				assert.Equal(t, res.StatusCode, tc.code, tc.body)
				if tc.want != "" {
					assert.Equal(t, string(body), tc.want, tc.body)
				}
				if tc.code == 200 {
					assert.Equal(t, res.Header.Get("Content-Type"), "application/json")
				}
			}
			// Check has no side effects, so Connect GET works (curl-able).
			q := url.Values{"encoding": {"json"}, "message": {`{"service":"down.v1.DownService"}`}}
			res, err := srv.Client.Get(srv.URL + "/grpc.health.v1.Health/Check?" + q.Encode())
			assert.NoError(t, err)
			body, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			assert.Equal(t, res.StatusCode, 200)
			assert.Equal(t, string(body), `{"status":"NOT_SERVING"}`)

			_, body = post(t, srv, "/grpc.health.v1.Health/List", "application/json", []byte(`{}`))
			assert.Equal(t, string(body), `{"statuses":{"":{"status":"SERVING"},"connectware.test.v1.TestService":{"status":"SERVING"},"down.v1.DownService":{"status":"NOT_SERVING"},"odd.v1.Unknown":{}}}`)
		})
	}
}

// TestConnectJSONWatchBody reads the first enveloped message of a Connect
// JSON Watch stream byte for byte, over HTTP/1.1 and h2c.
func TestConnectJSONWatchBody(t *testing.T) {
	t.Parallel()
	checker := grpchealth.NewStaticChecker(pingService)
	for _, n := range []testkit.Network{testkit.HTTP1, testkit.H2C} {
		srv := testkit.NewServer(t, newMux(checker), n)
		t.Run(n.String()+"/connect_json", func(t *testing.T) {
			for service, want := range map[string]string{
				pingService:    `{"status":"SERVING"}`,
				"later.v1.Svc": `{"status":"SERVICE_UNKNOWN"}`,
			} {
				ctx, cancel := context.WithCancel(testContext(t))
				req := []byte(`{"service":"` + service + `"}`)
				env := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(req)))
				r, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/grpc.health.v1.Health/Watch", bytes.NewReader(append(env, req...)))
				assert.NoError(t, err)
				r.Header.Set("Content-Type", "application/connect+json")
				res, err := srv.Client.Do(r)
				assert.NoError(t, err)
				assert.Equal(t, res.StatusCode, 200)
				assert.Equal(t, res.Header.Get("Content-Type"), "application/connect+json")
				br := bufio.NewReader(res.Body)
				head := make([]byte, 5)
				_, err = io.ReadFull(br, head)
				assert.NoError(t, err)
				assert.Equal(t, head[0], byte(0))
				msg := make([]byte, binary.BigEndian.Uint32(head[1:]))
				_, err = io.ReadFull(br, msg)
				assert.NoError(t, err)
				assert.Equal(t, string(msg), want, service)
				cancel()
				_ = res.Body.Close()
			}
		})
	}
}

func post(t *testing.T, srv *testkit.Server, path, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	res, err := srv.Client.Post(srv.URL+path, contentType, bytes.NewReader(body))
	assert.NoError(t, err)
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	assert.NoError(t, err)
	return res, []byte(strings.TrimSpace(string(out)))
}
