// Package healthv1 holds the grpc.health.v1 messages, generated from
// ../proto/connectware/grpchealth/v1/health.proto under a private Protobuf
// package name (the proto file says why).
package healthv1

//go:generate protoc -I ../proto --go_out=. --go_opt=module=github.com/connectware/connectware/grpchealth/internal/healthv1 --go_opt=Mconnectware/grpchealth/v1/health.proto=github.com/connectware/connectware/grpchealth/internal/healthv1 connectware/grpchealth/v1/health.proto
