package grpchealth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	healthv1 "github.com/connectware/connectware/grpchealth/internal/healthv1"
)

// jsonCodec is the handler's JSON codec. It writes the health messages as
// exactly the compact bytes of the gRPC health schema ({"status":"SERVING"},
// with no whitespace, which protojson does not promise) and without
// reflection; it reads them with protojson as connect-go does, so every
// valid Protobuf JSON form is accepted and unknown fields are discarded.
type jsonCodec struct {
	name string
}

var _ connect.Codec = jsonCodec{}

// codecs returns the handler's codecs: ours first, so that a caller's
// connect.WithCodec still wins.
func codecs() []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithCodec(binaryCodec{names: &internTable{}}),
		connect.WithCodec(jsonCodec{name: "json"}),
		connect.WithCodec(jsonCodec{name: "json; charset=utf-8"}),
	}
}

func (c jsonCodec) Name() string { return c.name }

func (c jsonCodec) IsBinary() bool { return false }

func (c jsonCodec) Marshal(message any) ([]byte, error) {
	return c.MarshalAppend(nil, message)
}

func (c jsonCodec) MarshalAppend(dst []byte, message any) ([]byte, error) {
	switch msg := message.(type) {
	case *healthv1.HealthCheckResponse:
		return appendCheckResponse(dst, msg), nil
	case *healthv1.HealthListResponse:
		return appendListResponse(dst, msg), nil
	case *healthv1.HealthCheckRequest:
		dst = append(dst, '{')
		if s := msg.GetService(); s != "" {
			dst = append(dst, `"service":`...)
			dst = appendJSONString(dst, s)
		}
		return append(dst, '}'), nil
	case *healthv1.HealthListRequest:
		return append(dst, "{}"...), nil
	case proto.Message:
		// Not a health message: an interceptor's or an error's. Compact
		// protojson, as connect-go's stable JSON.
		out, err := protojson.Marshal(msg)
		if err != nil {
			return nil, err
		}
		buf := bytes.NewBuffer(dst)
		if err := json.Compact(buf, out); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	return nil, fmt.Errorf("%T doesn't implement proto.Message", message)
}

func (c jsonCodec) Unmarshal(data []byte, message any) error {
	msg, ok := message.(proto.Message)
	if !ok {
		return fmt.Errorf("%T doesn't implement proto.Message", message)
	}
	if len(data) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, msg); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", message, err)
	}
	return nil
}

// MarshalStable lets Connect clients use HTTP GET with this codec.
func (c jsonCodec) MarshalStable(message any) ([]byte, error) {
	return c.Marshal(message)
}

// appendCheckResponse writes {"status":"NAME"}; the default UNKNOWN is
// left out, as Protobuf JSON leaves out every default value.
func appendCheckResponse(dst []byte, msg *healthv1.HealthCheckResponse) []byte {
	status := msg.GetStatus()
	if status == 0 {
		return append(dst, "{}"...)
	}
	dst = append(dst, `{"status":`...)
	if name, ok := healthv1.HealthCheckResponse_ServingStatus_name[int32(status)]; ok {
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, '"')
	} else {
		dst = fmt.Append(dst, int32(status))
	}
	return append(dst, '}')
}

// appendListResponse writes {"statuses":{...}} with the services sorted, so
// the bytes are deterministic.
func appendListResponse(dst []byte, msg *healthv1.HealthListResponse) []byte {
	statuses := msg.GetStatuses()
	if len(statuses) == 0 {
		return append(dst, "{}"...)
	}
	services := make([]string, 0, len(statuses))
	for service := range statuses {
		services = append(services, service)
	}
	slices.Sort(services)
	dst = append(dst, `{"statuses":{`...)
	for i, service := range services {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, service)
		dst = append(dst, ':')
		dst = appendCheckResponse(dst, statuses[service])
	}
	return append(dst, "}}"...)
}

// appendJSONString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '"' || b == '\\':
				dst = append(dst, '\\', b)
			case b < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			default:
				dst = append(dst, b)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// binaryCodec is the handler's Protobuf binary codec. It decodes the health
// requests and encodes the health responses by hand (the messages have one
// field each), which skips reflection, and interns service names so the
// usual request, for a service the server knows, allocates no string. Every
// other message goes through package proto, as in connect-go.
type binaryCodec struct {
	names *internTable
}

var _ connect.Codec = binaryCodec{}

func (c binaryCodec) Name() string { return "proto" }

func (c binaryCodec) IsBinary() bool { return true }

func (c binaryCodec) Marshal(message any) ([]byte, error) {
	return c.MarshalAppend(nil, message)
}

func (c binaryCodec) MarshalAppend(dst []byte, message any) ([]byte, error) {
	switch msg := message.(type) {
	case *healthv1.HealthCheckResponse:
		return appendStatusField(dst, msg.GetStatus()), nil
	case proto.Message:
		return proto.MarshalOptions{}.MarshalAppend(dst, msg)
	}
	return nil, fmt.Errorf("%T doesn't implement proto.Message", message)
}

// MarshalStable lets Connect clients use HTTP GET with this codec.
func (c binaryCodec) MarshalStable(message any) ([]byte, error) {
	if msg, ok := message.(proto.Message); ok {
		return proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	}
	return c.Marshal(message)
}

func (c binaryCodec) Unmarshal(data []byte, message any) error {
	switch msg := message.(type) {
	case *healthv1.HealthCheckRequest:
		service, err := decodeCheckRequest(data, c.names)
		if err != nil {
			return fmt.Errorf("unmarshal into %T: %w", message, err)
		}
		msg.Reset()
		msg.Service = service
		return nil
	case *healthv1.HealthListRequest:
		if _, err := decodeCheckRequest(data, nil); err != nil {
			return fmt.Errorf("unmarshal into %T: %w", message, err)
		}
		msg.Reset()
		return nil
	case proto.Message:
		return proto.Unmarshal(data, msg)
	}
	return fmt.Errorf("%T doesn't implement proto.Message", message)
}

func appendStatusField(dst []byte, status healthv1.HealthCheckResponse_ServingStatus) []byte {
	if status == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, 1, protowire.VarintType)
	return protowire.AppendVarint(dst, uint64(int64(status)))
}

var errInvalidUTF8 = errors.New("string field contains invalid UTF-8")

// decodeCheckRequest reads the service field (number 1, a proto3 string:
// valid UTF-8, the last one wins) of a HealthCheckRequest and skips every
// other field, rejecting malformed input as proto.Unmarshal does. With a
// nil names table it only validates.
func decodeCheckRequest(data []byte, names *internTable) (string, error) {
	var service []byte
	found := false
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return "", protowire.ParseError(n)
		}
		if !num.IsValid() {
			return "", fmt.Errorf("invalid field number %d", num)
		}
		data = data[n:]
		if num == 1 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(data)
			if m < 0 {
				return "", protowire.ParseError(m)
			}
			if names != nil {
				if !utf8.Valid(v) {
					return "", errInvalidUTF8
				}
				service, found = v, true
			}
			data = data[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, data)
		if m < 0 {
			return "", protowire.ParseError(m)
		}
		data = data[m:]
	}
	if !found || len(service) == 0 {
		return "", nil
	}
	return names.intern(service), nil
}

// maxInterned bounds the intern table, so clients naming random services
// cannot grow it without end; names beyond it are simply allocated.
const maxInterned = 1024

// internTable maps the bytes of a service name to one shared string.
type internTable struct {
	mu    sync.RWMutex
	names map[string]string
}

func (t *internTable) intern(b []byte) string {
	t.mu.RLock()
	s, ok := t.names[string(b)] // no allocation for the lookup
	t.mu.RUnlock()
	if ok {
		return s
	}
	s = string(b)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.names == nil {
		t.names = make(map[string]string)
	}
	if len(t.names) < maxInterned {
		t.names[s] = s
	}
	return s
}
