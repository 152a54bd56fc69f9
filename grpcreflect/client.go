package grpcreflect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	reflectionv1 "github.com/connectware/connectware/grpcreflect/internal/reflectionv1"
)

type (
	reflectClient = connect.Client[reflectionv1.ServerReflectionRequest, reflectionv1.ServerReflectionResponse]
	reflectStream = connect.BidiStreamForClient[reflectionv1.ServerReflectionRequest, reflectionv1.ServerReflectionResponse]
)

// Client is a Connect client of the gRPC server reflection service. It
// speaks whatever protocol its options select (Connect, gRPC or gRPC-Web),
// always over HTTP/2, since reflection is a bidirectional stream.
type Client struct {
	v1      *reflectClient
	v1alpha *reflectClient
	// alphaOnly is set once the server answered Unimplemented for v1.
	alphaOnly atomic.Bool
}

// NewClient returns a reflection client for the server at baseURL.
//
// Streams try v1 (grpc.reflection.v1.ServerReflection) first. When the server
// answers Unimplemented, the client switches to v1alpha
// (grpc.reflection.v1alpha.ServerReflection) and stays with it.
func NewClient(httpClient connect.HTTPClient, baseURL string, options ...connect.ClientOption) *Client {
	return &Client{
		v1:      connect.NewClient[reflectionv1.ServerReflectionRequest, reflectionv1.ServerReflectionResponse](httpClient, baseURL+serviceURLPathV1+methodName, options...),
		v1alpha: connect.NewClient[reflectionv1.ServerReflectionRequest, reflectionv1.ServerReflectionResponse](httpClient, baseURL+serviceURLPathV1Alpha+methodName, options...),
	}
}

// NewStream opens a reflection stream. Every question on it goes to the same
// server, so the answers are consistent. Call [ClientStream.Close] when done.
//
// When an operation fails with an error for which [IsReflectionStreamBroken]
// is true, the stream is unusable; open a new one to retry.
func (c *Client) NewStream(ctx context.Context, options ...ClientStreamOption) *ClientStream {
	cs := &ClientStream{ctx: ctx, client: c}
	for _, option := range options {
		option.apply(&cs.clientStreamOptions)
	}
	cs.getStream() // send the request headers now
	return cs
}

// ClientStreamOption configures a stream opened with [Client.NewStream].
type ClientStreamOption interface {
	apply(*clientStreamOptions)
}

type clientStreamOptions struct {
	host    string
	headers http.Header
}

type clientStreamOptionFunc func(*clientStreamOptions)

func (f clientStreamOptionFunc) apply(o *clientStreamOptions) { f(o) }

// WithRequestHeaders sets headers to send when the stream opens.
func WithRequestHeaders(headers http.Header) ClientStreamOption {
	return clientStreamOptionFunc(func(o *clientStreamOptions) { o.headers = headers })
}

// WithReflectionHost sets the host field of every request on the stream,
// which a server may use to choose the source of reflection data.
func WithReflectionHost(host string) ClientStreamOption {
	return clientStreamOptionFunc(func(o *clientStreamOptions) { o.host = host })
}

// ClientStream is one reflection stream: a series of questions, each
// answered in order, all by the same server. Its methods are safe for
// concurrent use; questions are asked one at a time.
type ClientStream struct {
	clientStreamOptions

	ctx    context.Context //nolint:containedctx // the stream lives as long as ctx
	client *Client

	mu     sync.Mutex
	stream *reflectStream
	isV1   bool
}

// Spec returns the specification of the reflection RPC in use.
func (cs *ClientStream) Spec() connect.Spec { return cs.getStream().Spec() }

// Peer describes the server.
func (cs *ClientStream) Peer() connect.Peer { return cs.getStream().Peer() }

// ResponseHeader returns the headers the server sent. It blocks until they
// arrive, which may be with the first answer: call it from another goroutine
// or after a first question.
func (cs *ClientStream) ResponseHeader() http.Header { return cs.getStream().ResponseHeader() }

// ListServices returns the fully-qualified names of the services the server
// lists.
//
// An error for which [IsReflectionStreamBroken] is true means the stream
// failed; any other error (a *connect.Error) concerns this question only.
func (cs *ClientStream) ListServices() ([]protoreflect.FullName, error) {
	res, err := cs.ask(&reflectionv1.ServerReflectionRequest{
		MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{},
	})
	if err != nil {
		return nil, err
	}
	list := res.GetListServicesResponse()
	if list == nil {
		return nil, errWrongResponse(res, "list_services")
	}
	names := make([]protoreflect.FullName, len(list.GetService()))
	for i, svc := range list.GetService() {
		names[i] = protoreflect.FullName(svc.GetName())
	}
	return names, nil
}

// FileByFilename returns the file with the given path, followed by those of
// its transitive imports that this stream hasn't received yet.
//
// A missing file is a *connect.Error with CodeNotFound; the stream goes on.
func (cs *ClientStream) FileByFilename(filename string) ([]*descriptorpb.FileDescriptorProto, error) {
	return cs.files("file_by_filename", &reflectionv1.ServerReflectionRequest{
		MessageRequest: &reflectionv1.ServerReflectionRequest_FileByFilename{FileByFilename: filename},
	})
}

// FileContainingSymbol returns the file declaring the element with the given
// fully-qualified name (a service, method, message, field, enum or
// extension), followed by those of its transitive imports that this stream
// hasn't received yet.
//
// An unknown symbol is a *connect.Error with CodeNotFound; the stream goes
// on.
func (cs *ClientStream) FileContainingSymbol(name protoreflect.FullName) ([]*descriptorpb.FileDescriptorProto, error) {
	return cs.files("file_containing_symbol", &reflectionv1.ServerReflectionRequest{
		MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: string(name)},
	})
}

// FileContainingExtension returns the file declaring extension number
// extensionNumber of messageName, followed by those of its transitive
// imports that this stream hasn't received yet.
//
// An unknown extension is a *connect.Error with CodeNotFound; the stream
// goes on.
func (cs *ClientStream) FileContainingExtension(messageName protoreflect.FullName, extensionNumber protoreflect.FieldNumber) ([]*descriptorpb.FileDescriptorProto, error) {
	return cs.files("file_containing_extension", &reflectionv1.ServerReflectionRequest{
		MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingExtension{
			FileContainingExtension: &reflectionv1.ExtensionRequest{
				ContainingType:  string(messageName),
				ExtensionNumber: int32(extensionNumber),
			},
		},
	})
}

// AllExtensionNumbers returns the numbers of all extensions of messageName
// that the server knows.
//
// An unknown message is a *connect.Error with CodeNotFound; the stream goes
// on.
func (cs *ClientStream) AllExtensionNumbers(messageName protoreflect.FullName) ([]protoreflect.FieldNumber, error) {
	res, err := cs.ask(&reflectionv1.ServerReflectionRequest{
		MessageRequest: &reflectionv1.ServerReflectionRequest_AllExtensionNumbersOfType{AllExtensionNumbersOfType: string(messageName)},
	})
	if err != nil {
		return nil, err
	}
	nums := res.GetAllExtensionNumbersResponse()
	if nums == nil {
		return nil, errWrongResponse(res, "all_extension_numbers_of_type")
	}
	out := make([]protoreflect.FieldNumber, len(nums.GetExtensionNumber()))
	for i, n := range nums.GetExtensionNumber() {
		out[i] = protoreflect.FieldNumber(n)
	}
	return out, nil
}

// Close ends the stream and returns the trailers the server sent.
func (cs *ClientStream) Close() (http.Header, error) {
	stream := cs.getStream()
	_ = stream.CloseRequest()
	res, err := stream.Receive()
	switch {
	case err == nil:
		err = fmt.Errorf("protocol error: unexpected response message after the last request (%T)", res.GetMessageResponse())
	case errors.Is(err, io.EOF):
		err = nil
	}
	if closeErr := stream.CloseResponse(); err == nil {
		err = closeErr
	}
	return stream.ResponseTrailer(), err
}

func (cs *ClientStream) getStream() *reflectStream {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.streamLocked()
}

func (cs *ClientStream) streamLocked() *reflectStream {
	if cs.stream != nil {
		return cs.stream
	}
	client := cs.client.v1
	cs.isV1 = !cs.client.alphaOnly.Load()
	if !cs.isV1 {
		client = cs.client.v1alpha
	}
	stream := client.CallBidiStream(cs.ctx)
	for k, vs := range cs.headers {
		stream.RequestHeader()[k] = append(stream.RequestHeader()[k], vs...)
	}
	// Sending nil sends the headers only; errors show up on the first
	// question.
	_ = stream.Send(nil)
	cs.stream = stream
	return stream
}

func (cs *ClientStream) files(operation string, req *reflectionv1.ServerReflectionRequest) ([]*descriptorpb.FileDescriptorProto, error) {
	res, err := cs.ask(req)
	if err != nil {
		return nil, err
	}
	files := res.GetFileDescriptorResponse()
	if files == nil {
		return nil, errWrongResponse(res, operation)
	}
	out := make([]*descriptorpb.FileDescriptorProto, len(files.GetFileDescriptorProto()))
	for i, data := range files.GetFileDescriptorProto() {
		out[i] = &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(data, out[i]); err != nil {
			return nil, fmt.Errorf("reply to %s has an invalid file descriptor: %w", operation, err)
		}
	}
	return out, nil
}

// ask sends req and waits for its answer, holding the lock so that answers
// can't be matched with the wrong question.
func (cs *ClientStream) ask(req *reflectionv1.ServerReflectionRequest) (*reflectionv1.ServerReflectionResponse, error) {
	req.Host = cs.host
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for {
		stream := cs.streamLocked()
		err := stream.Send(req)
		if errors.Is(err, io.EOF) {
			// The server ended the stream; the reason comes from Receive.
			if _, recvErr := stream.Receive(); recvErr != nil {
				err = recvErr
			}
		}
		var res *reflectionv1.ServerReflectionResponse
		if err == nil {
			res, err = stream.Receive()
		}
		if err != nil {
			if cs.fallBackLocked(err) {
				continue
			}
			return nil, &streamError{err: explainHTTP1(err)}
		}
		if e := res.GetErrorResponse(); e != nil {
			code := connect.CodeInternal
			if c := connect.Code(e.GetErrorCode()); c >= connect.CodeCanceled && c <= connect.CodeUnauthenticated {
				code = c
			}
			return nil, connect.NewWireError(code, errors.New(e.GetErrorMessage()))
		}
		return res, nil
	}
}

// fallBackLocked switches to v1alpha when the server says v1 is
// unimplemented.
func (cs *ClientStream) fallBackLocked(err error) bool {
	if !cs.isV1 || connect.CodeOf(err) != connect.CodeUnimplemented || isHTTP1Response(err) {
		return false
	}
	_ = cs.stream.CloseRequest()
	_ = cs.stream.CloseResponse()
	cs.stream = nil
	cs.client.alphaOnly.Store(true)
	return true
}

// explainHTTP1 turns connect-go's client-side Unimplemented error for a bidi
// stream that got an HTTP/1.x response into an error that says what to do.
func explainHTTP1(err error) error {
	if !isHTTP1Response(err) {
		return err
	}
	return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf(
		"grpc reflection is a bidirectional stream and needs HTTP/2 (h2c or TLS): configure the HTTP client for HTTP/2: %w", err))
}

// isHTTP1Response reports whether err is connect-go's client-side error for
// a bidi stream answered over HTTP/1.x.
func isHTTP1Response(err error) bool {
	var ce *connect.Error
	return errors.As(err, &ce) && ce.Code() == connect.CodeUnimplemented && !connect.IsWireError(err) &&
		strings.HasSuffix(ce.Message(), "bidi streams require at least HTTP/2")
}

// streamError marks errors that broke the stream.
type streamError struct {
	err error
}

func (e *streamError) Error() string { return e.err.Error() }
func (e *streamError) Unwrap() error { return e.err }

// IsReflectionStreamBroken reports whether err, returned by a [ClientStream]
// method, means the stream failed and must be replaced. Other errors concern
// only the question asked.
func IsReflectionStreamBroken(err error) bool {
	var se *streamError
	return errors.As(err, &se)
}

func errWrongResponse(res *reflectionv1.ServerReflectionResponse, operation string) error {
	return fmt.Errorf("protocol error: reply to %s has the wrong type %T", operation, res.GetMessageResponse())
}
