// Package depcheck holds no code: its test checks that each connectware
// package stands alone, importing only the dependencies its own job needs
// (importing cors must not pull in OpenTelemetry, Redis or gRPC).
package depcheck
