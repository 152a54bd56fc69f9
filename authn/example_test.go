package authn_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/connectware/connectware/authn"
	testv1 "github.com/connectware/connectware/internal/gen/connectware/test/v1"
	"github.com/connectware/connectware/internal/gen/connectware/test/v1/testv1connect"
	"github.com/connectware/connectware/internal/testkit"
)

func Example() {
	mux := http.NewServeMux()
	mux.Handle(testv1connect.NewTestServiceHandler(&testkit.PingServer{
		OnCall: func(ctx context.Context, _ string) error {
			user, _ := authn.InfoAs[string](ctx)
			fmt.Println("handler sees", user)
			return nil
		},
	}))
	middleware := authn.New(
		authn.BearerTokens(map[string]any{"secret-token": "alice"}),
		authn.WithPublicServices("grpc.health.v1.Health", "grpc.reflection.*"),
	)
	srv := httptest.NewServer(middleware.Wrap(mux))
	defer srv.Close()

	client := testv1connect.NewTestServiceClient(srv.Client(), srv.URL)
	_, err := client.Ping(context.Background(), connect.NewRequest(&testv1.PingRequest{}))
	fmt.Println(connect.CodeOf(err), err.(*connect.Error).Meta().Get("WWW-Authenticate"))

	req := connect.NewRequest(&testv1.PingRequest{})
	req.Header().Set("Authorization", "Bearer secret-token")
	_, err = client.Ping(context.Background(), req)
	fmt.Println(err)
	// Output:
	// unauthenticated Bearer realm="api"
	// handler sees alice
	// <nil>
}

func ExampleBasicAuth() {
	hash, _ := authn.HashSecret("correct horse battery staple", 0)
	auth, err := authn.BasicAuth(map[string]string{"alice": hash}, authn.WithRealm("admin"))
	if err != nil {
		panic(err)
	}
	_ = authn.New(auth)
	fmt.Println(strings.Join(strings.Split(hash, "$")[:3], "$"))
	// Output:
	// $pbkdf2-sha256$i=600000
}

func ExampleNewCredentials() {
	// A token source, such as an OAuth 2 client credentials flow.
	fetches := 0
	source := authn.TokenFunc(func(context.Context) (string, time.Time, error) {
		fetches++
		return "token-" + strconv.Itoa(fetches), time.Now().Add(time.Hour), nil
	})
	creds := authn.NewCredentials(source, authn.WithRefreshBefore(5*time.Minute))

	// As a connect-go interceptor, on every RPC kind and protocol:
	_ = connect.WithInterceptors(creds)
	// Or as a transport for any HTTP client:
	client := &http.Client{Transport: creds.RoundTripper(http.DefaultTransport)}
	_ = client

	value, _ := creds.HeaderValue(context.Background())
	value2, _ := creds.HeaderValue(context.Background())
	fmt.Println(value, value2, fetches)
	// Output:
	// Bearer token-1 Bearer token-1 1
}

func ExampleNewMiddleware() {
	// The connectrpc.com/authn v0.2.0 way: an AuthFunc of your own.
	auth := func(_ context.Context, req *http.Request) (any, error) {
		token, ok := authn.BearerToken(req)
		if !ok || token != "secret-token" {
			err := authn.Errorf("invalid authorization")
			err.Meta().Set("WWW-Authenticate", "Bearer")
			return nil, err
		}
		return "alice", nil
	}
	handler := authn.NewMiddleware(auth).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("handler sees", authn.GetInfo(r.Context()))
	}))
	for _, token := range []string{"wrong", "secret-token"} {
		req := httptest.NewRequest(http.MethodPost, testv1connect.TestServicePingProcedure, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	// Output:
	// 401 Bearer
	// handler sees alice
	// 200
}

// exampleToken and exampleSource stand for golang.org/x/oauth2's Token and
// TokenSource, such as clientcredentials.Config.TokenSource(ctx).
type exampleToken struct {
	AccessToken string
	Expiry      time.Time
}

type exampleSource struct{}

func (exampleSource) Token() (*exampleToken, error) {
	return &exampleToken{AccessToken: "oauth2-token", Expiry: time.Now().Add(time.Hour)}, nil
}

func ExampleOAuth2() {
	var source interface{ Token() (*exampleToken, error) } = exampleSource{}
	creds := authn.NewCredentials(authn.OAuth2(source))
	_ = connect.WithInterceptors(creds)
	value, err := creds.HeaderValue(context.Background())
	fmt.Println(value, err)
	// Output:
	// Bearer oauth2-token <nil>
}
