package cors_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/connectware/connectware/cors"
)

func Example() {
	mux := http.NewServeMux() // your Connect handlers go here
	c, err := cors.New(
		[]string{"https://app.example.com", "https://*.preview.example.com"},
		cors.WithAuthorization(),          // browsers may send bearer tokens
		cors.WithUnaryTrailers("X-Quota"), // pages may read this Connect trailer
	)
	if err != nil {
		log.Fatal(err)
	}
	// CORS goes outermost: preflights never reach authentication.
	handler := c.Handler(mux)

	req := httptest.NewRequest(http.MethodOptions, "/greet.v1.GreetService/Greet", nil)
	req.Header.Set("Origin", "https://pr-42.preview.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,connect-protocol-version,content-type")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
	fmt.Println(rec.Header().Get("Access-Control-Max-Age"))
	// Output:
	// 204 https://pr-42.preview.example.com
	// 7200
}

func ExampleRequestHeaders() {
	fmt.Println(cors.Methods(cors.ProtocolGRPCWeb))
	fmt.Println(cors.RequestHeaders(cors.ProtocolGRPCWeb))
	fmt.Println(cors.ResponseHeaders(cors.ProtocolConnect, "x-quota"))
	// Output:
	// [POST]
	// [Content-Type X-User-Agent X-Grpc-Web Grpc-Timeout Grpc-Encoding Grpc-Accept-Encoding]
	// [Accept-Encoding Connect-Content-Encoding Connect-Accept-Encoding Trailer-X-Quota]
}
