package jwt_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/connectware/connectware/authn"
	"github.com/connectware/connectware/authn/jwt"
)

func Example() {
	// An identity provider's JWKS endpoint, for the example.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: priv.Public(), KeyID: "key-1", Algorithm: "EdDSA", Use: "sig"},
	}})
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(set) }))
	defer idp.Close()

	keys, err := jwt.NewJWKS(idp.URL)
	if err != nil {
		panic(err)
	}
	defer keys.Close()
	verifier, err := jwt.NewVerifier(keys, []string{"EdDSA", "ES256", "RS256"},
		jwt.WithIssuer("https://idp.example/"), jwt.WithAudience("greet-api"))
	if err != nil {
		panic(err)
	}
	handler := authn.NewMiddleware(verifier.AuthFunc()).Wrap(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			claims, _ := authn.InfoAs[*jwt.Claims](r.Context())
			fmt.Println("subject:", claims.Subject)
		}))

	// A token the identity provider issued.
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "key-1"))
	token, _ := josejwt.Signed(signer).Claims(josejwt.Claims{
		Issuer: "https://idp.example/", Subject: "alice", Audience: josejwt.Audience{"greet-api"},
		Expiry: josejwt.NewNumericDate(time.Now().Add(time.Hour)),
	}).Serialize()

	req := httptest.NewRequest(http.MethodPost, "/greet.v1.GreetService/Greet", nil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	handler.ServeHTTP(httptest.NewRecorder(), req)

	_, err = verifier.Verify(context.Background(), token+"x")
	fmt.Println(err)
	// Output:
	// subject: alice
	// unauthenticated: invalid credentials
}
