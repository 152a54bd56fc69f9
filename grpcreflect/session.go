package grpcreflect

import (
	"errors"
	"fmt"
	"slices"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	reflectionv1 "github.com/connectware/connectware/grpcreflect/internal/reflectionv1"
)

// session is the state of one reflection stream: the files already sent on
// it. It answers requests one at a time and knows nothing about transports,
// so any RPC adapter can drive it.
//
// Protocol rules it implements:
//   - A file is answered with its transitive imports; each file is sent once
//     per stream, except that the file asked for is always sent.
//   - Placeholder files (imports the resolver doesn't know) are never sent.
//   - Unknown or private symbols, files and extensions get an error_response
//     with NOT_FOUND, and the stream goes on.
//   - A request with no question gets an error_response with
//     INVALID_ARGUMENT, and the stream goes on.
type session struct {
	r    *Reflector
	sent map[string]struct{}
}

func (r *Reflector) newSession() *session {
	return &session{r: r}
}

// answer returns the response to req. The response refers to req and to
// cached, shared data: it must only be read.
func (s *session) answer(req *reflectionv1.ServerReflectionRequest) *reflectionv1.ServerReflectionResponse {
	res := &reflectionv1.ServerReflectionResponse{
		ValidHost:       req.GetHost(),
		OriginalRequest: req,
	}
	var err error
	switch q := req.GetMessageRequest().(type) {
	case *reflectionv1.ServerReflectionRequest_FileByFilename:
		err = s.fileByFilename(res, q.FileByFilename)
	case *reflectionv1.ServerReflectionRequest_FileContainingSymbol:
		err = s.fileContainingSymbol(res, protoreflect.FullName(q.FileContainingSymbol))
	case *reflectionv1.ServerReflectionRequest_FileContainingExtension:
		ext := q.FileContainingExtension
		err = s.fileContainingExtension(res, protoreflect.FullName(ext.GetContainingType()), protoreflect.FieldNumber(ext.GetExtensionNumber()))
	case *reflectionv1.ServerReflectionRequest_AllExtensionNumbersOfType:
		err = s.allExtensionNumbers(res, protoreflect.FullName(q.AllExtensionNumbersOfType))
	case *reflectionv1.ServerReflectionRequest_ListServices:
		res.MessageResponse = &reflectionv1.ServerReflectionResponse_ListServicesResponse{
			ListServicesResponse: s.r.serviceNames().response,
		}
	default:
		err = connect.NewError(connect.CodeInvalidArgument, errors.New("request has no message_request set"))
	}
	if err != nil {
		code := connect.CodeNotFound
		if ce := new(connect.Error); errors.As(err, &ce) {
			code = ce.Code()
		}
		res.MessageResponse = &reflectionv1.ServerReflectionResponse_ErrorResponse{
			ErrorResponse: &reflectionv1.ErrorResponse{
				ErrorCode:    int32(code),
				ErrorMessage: err.Error(),
			},
		}
	}
	return res
}

func (s *session) fileByFilename(res *reflectionv1.ServerReflectionResponse, path string) error {
	fd, err := s.r.descriptorResolver.FindFileByPath(path)
	if err != nil || fd == nil || fd.IsPlaceholder() {
		return fmt.Errorf("file %q not found", path)
	}
	entry := s.r.files.get(fd)
	if entry.hidden {
		return fmt.Errorf("file %q not found", path)
	}
	s.sendFiles(res, entry)
	return nil
}

func (s *session) fileContainingSymbol(res *reflectionv1.ServerReflectionResponse, name protoreflect.FullName) error {
	if !name.IsValid() || s.r.private.hides(name) {
		return fmt.Errorf("symbol %q not found", name)
	}
	desc, err := s.r.descriptorResolver.FindDescriptorByName(name)
	if err != nil || desc == nil {
		return fmt.Errorf("symbol %q not found", name)
	}
	fd := desc.ParentFile()
	if fd == nil || fd.IsPlaceholder() {
		return fmt.Errorf("symbol %q not found", name)
	}
	entry := s.r.files.get(fd)
	if entry.hidden || s.hiddenWithin(entry, desc) {
		return fmt.Errorf("symbol %q not found", name)
	}
	s.sendFiles(res, entry)
	return nil
}

// hiddenWithin reports whether desc, or an element that encloses it, is
// private or was cut from entry. It walks the descriptor's real parents,
// not the dotted name: an enum value's name sits in the enum's parent scope
// ("acme.v1.SECRET_X" for a value of acme.v1.Secret), so the enum that
// holds it is not among its name's prefixes.
func (s *session) hiddenWithin(entry *fileEntry, desc protoreflect.Descriptor) bool {
	for d := desc; d != nil; d = d.Parent() {
		if name := d.FullName(); s.r.private.hides(name) || entry.cut(name) {
			return true
		}
	}
	return false
}

func (s *session) fileContainingExtension(res *reflectionv1.ServerReflectionResponse, message protoreflect.FullName, number protoreflect.FieldNumber) error {
	notFound := fmt.Errorf("extension %d of %q not found", number, message)
	if !message.IsValid() || s.r.private.hides(message) {
		return notFound
	}
	ext, err := s.r.extensionResolver.FindExtensionByNumber(message, number)
	if err != nil || ext == nil {
		return notFound
	}
	xd := ext.TypeDescriptor()
	if !s.r.private.showsExtension(xd) {
		return notFound
	}
	fd := xd.ParentFile()
	if fd == nil || fd.IsPlaceholder() {
		return notFound
	}
	entry := s.r.files.get(fd)
	if entry.hidden || entry.cut(xd.FullName()) {
		return notFound
	}
	s.sendFiles(res, entry)
	return nil
}

func (s *session) allExtensionNumbers(res *reflectionv1.ServerReflectionResponse, message protoreflect.FullName) error {
	notFound := fmt.Errorf("message %q not found", message)
	if !message.IsValid() || s.r.private.hides(message) {
		return notFound
	}
	var numbers []int32
	s.r.extensionResolver.RangeExtensionsByMessage(message, func(ext protoreflect.ExtensionType) bool {
		if xd := ext.TypeDescriptor(); s.r.private.showsExtension(xd) {
			numbers = append(numbers, int32(xd.Number()))
		}
		return true
	})
	if len(numbers) == 0 {
		desc, err := s.r.descriptorResolver.FindDescriptorByName(message)
		if err != nil {
			return notFound
		}
		if _, ok := desc.(protoreflect.MessageDescriptor); !ok {
			return notFound
		}
		numbers = []int32{}
	}
	slices.Sort(numbers)
	res.MessageResponse = &reflectionv1.ServerReflectionResponse_AllExtensionNumbersResponse{
		AllExtensionNumbersResponse: &reflectionv1.ExtensionNumberResponse{
			BaseTypeName:    string(message),
			ExtensionNumber: slices.Compact(numbers),
		},
	}
	return nil
}

// sendFiles answers with entry's file and the files of its closure that this
// stream hasn't been sent yet. The bytes are the cached serializations.
func (s *session) sendFiles(res *reflectionv1.ServerReflectionResponse, entry *fileEntry) {
	if s.sent == nil {
		s.sent = make(map[string]struct{}, len(entry.closure))
	}
	files := make([][]byte, 0, len(entry.closure))
	for i, f := range entry.closure {
		if _, done := s.sent[f.path]; done && i > 0 {
			continue
		}
		s.sent[f.path] = struct{}{}
		files = append(files, f.data)
	}
	res.MessageResponse = &reflectionv1.ServerReflectionResponse_FileDescriptorResponse{
		FileDescriptorResponse: &reflectionv1.FileDescriptorResponse{FileDescriptorProto: files},
	}
}

// serviceList is a sorted service list and its ready-made response, built
// from the namer's answer in from.
type serviceList struct {
	from     []string
	response *reflectionv1.ListServiceResponse
}

func newServiceList(names []string, private privacy) *serviceList {
	sorted := make([]string, 0, len(names))
	for _, name := range names {
		if !private.hides(protoreflect.FullName(name)) {
			sorted = append(sorted, name)
		}
	}
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	services := make([]*reflectionv1.ServiceResponse, len(sorted))
	for i, name := range sorted {
		services[i] = &reflectionv1.ServiceResponse{Name: name}
	}
	return &serviceList{
		from:     slices.Clone(names),
		response: &reflectionv1.ListServiceResponse{Service: services},
	}
}
