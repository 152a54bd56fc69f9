package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// FuzzParseKeySet feeds arbitrary documents to the JWKS parser: it must
// never panic, and a set it returns holds only valid public signature keys,
// each indexed under its own key ID with its thumbprint, and never more
// keys than the document lists.
func FuzzParseKeySet(f *testing.F) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	doc := func(keys ...jose.JSONWebKey) string {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
		if err != nil {
			f.Fatal(err)
		}
		return string(b)
	}
	pub := func(kid, alg string, key crypto.Signer) jose.JSONWebKey {
		return jose.JSONWebKey{Key: key.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}
	}
	for _, seed := range []string{
		doc(pub("rsa", "RS256", rsaKey), pub("ec", "ES256", ecKey), pub("ed", "EdDSA", edKey)),
		doc(pub("", "RS256", rsaKey), pub("", "ES256", ecKey), pub("", "", edKey)),
		doc(pub("k", "RS256", rsaKey), pub("k", "RS256", rsaKey), pub("k", "ES256", ecKey)),
		doc(jose.JSONWebKey{Key: rsaKey, KeyID: "private"}, jose.JSONWebKey{Key: []byte("secret"), KeyID: "hmac"}),
		`{"keys":[{"kty":"EC","crv":"P-999","x":"AA","y":"AA"},{"kty":"weird"},null,1,"x",[]]}`,
		`{"keys":[{"kty":"RSA","n":"","e":""},{"kty":"OKP","crv":"Ed25519","x":""}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","key_ops":["sign"]},` +
			`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","key_ops":["verify"]},` +
			`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","key_ops":"verify"}]}`,
		`{"keys":{}}`, `{"keys":null}`, `{"Keys":[]}`, `{}`, `[]`, `null`, ``, `{"keys":[`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		set, err := parseKeySet(body)
		if err != nil {
			if set != nil {
				t.Fatalf("error %v with a set", err)
			}
			return
		}
		var listed struct {
			Keys []json.RawMessage `json:"keys"`
		}
		_ = json.Unmarshal(body, &listed)
		if len(set.all) == 0 || len(set.all) > len(listed.Keys) {
			t.Fatalf("%d keys from a document listing %d", len(set.all), len(listed.Keys))
		}
		indexed := 0
		for kid, keys := range set.byID {
			for _, key := range keys {
				indexed++
				if key.KeyID != kid {
					t.Fatalf("key %q indexed under %q", key.KeyID, kid)
				}
				if !key.Valid() || !key.IsPublic() || (key.Use != "" && key.Use != "sig") {
					t.Fatalf("kept an unusable key: %+v", key.JSONWebKey)
				}
				thumbprint, err := key.Thumbprint(crypto.SHA256)
				if err != nil || string(thumbprint) != string(key.thumbprint[:]) {
					t.Fatalf("thumbprint %x, want %x (%v)", key.thumbprint, thumbprint, err)
				}
				if !set.holds(key.KeyID, key.Algorithm, &key.thumbprint) {
					t.Fatalf("set does not hold its own key %q", key.KeyID)
				}
			}
		}
		if indexed != len(set.all) {
			t.Fatalf("%d keys indexed, %d listed", indexed, len(set.all))
		}
	})
}
