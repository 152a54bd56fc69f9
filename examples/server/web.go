package main

import (
	_ "embed"
	"html/template"
	"net/http"
)

//go:embed web/index.html
var indexHTML string

var indexTemplate = template.Must(template.New("index").Parse(indexHTML))

// webHandler serves the demo page, which calls apiURL from the browser with
// the Connect protocol. The page embeds the bearer token: fine for a demo
// on loopback, never for a real service.
func webHandler(apiURL, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = indexTemplate.Execute(w, struct{ API, Token string }{apiURL, token})
	})
}
