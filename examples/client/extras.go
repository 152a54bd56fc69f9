package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/connectware/connectware/grpchealth"
	"github.com/connectware/connectware/grpcreflect"
)

// clientExtras asks the server's health and reflection services, which need
// no credentials.
func clientExtras(ctx context.Context, httpClient *http.Client, addr string, stdout io.Writer) error {
	health := grpchealth.NewClient(httpClient, addr)
	statuses, err := health.List(ctx)
	if err != nil {
		return fmt.Errorf("health: List: %w", err)
	}
	for _, name := range sortedKeys(statuses) {
		label := name
		if label == "" {
			label = `"" (the whole server)`
		}
		fmt.Fprintf(stdout, "health   %s: %s\n", label, statuses[name])
	}

	stream := grpcreflect.NewClient(httpClient, addr).NewStream(ctx)
	defer func() { _, _ = stream.Close() }()
	names, err := stream.ListServices()
	if err != nil {
		return fmt.Errorf("reflection: ListServices: %w", err)
	}
	for _, name := range names {
		fmt.Fprintf(stdout, "reflect  %s\n", name)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
