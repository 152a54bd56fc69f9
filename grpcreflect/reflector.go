package grpcreflect

import (
	"slices"
	"sync/atomic"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Reflector answers gRPC server reflection requests: which services the
// server has, and the Protobuf files that describe them.
//
// By default a Reflector resolves every file and extension compiled into the
// binary (protoregistry.GlobalFiles and GlobalTypes, plus the descriptors of
// the gRPC health and reflection services). Use [WithPrivate] to keep
// internal services and types out of reach.
//
// A Reflector serializes each file once and keeps the bytes; see
// [Reflector.Invalidate]. It is safe for concurrent use.
type Reflector struct {
	namer              Namer
	extensionResolver  ExtensionResolver
	descriptorResolver protodesc.Resolver
	private            privacy
	files              fileCache
	services           atomic.Pointer[serviceList]
}

// NewReflector returns a Reflector that lists the services namer names and
// resolves files and extensions as options say.
//
// namer is called on every list_services request, so the list may change
// while the server runs; [Mux] is a Namer that lists what is mounted on it.
// The list is sent sorted, without duplicates or private services. A nil
// namer lists no services.
func NewReflector(namer Namer, options ...Option) *Reflector {
	r := &Reflector{
		namer:              namer,
		extensionResolver:  protoregistry.GlobalTypes,
		descriptorResolver: withBuiltins{primary: protoregistry.GlobalFiles},
		private:            newPrivacy(),
	}
	for _, option := range options {
		option.apply(r)
	}
	r.files.private = r.private
	return r
}

// NewStaticReflector returns a Reflector that lists the given services and
// resolves from the global Protobuf registries. Services are fully-qualified
// Protobuf names, such as "acme.user.v1.UserService"; connect-go generated
// code declares them as constants.
func NewStaticReflector(services ...string) *Reflector {
	return NewReflector(&staticNames{names: services})
}

// Invalidate drops the cached serialized files, so the next requests
// serialize them again. Call it after changing the contents of a custom
// descriptor resolver in place.
//
// Calling it is rarely needed: cached entries are keyed by file path and
// checked against the descriptor the resolver returns on every request, so a
// resolver that returns a new descriptor for a path gets fresh bytes, and
// files registered later are serialized when first asked for.
func (r *Reflector) Invalidate() {
	r.files.invalidate()
	r.services.Store(nil)
}

// A Namer lists the fully-qualified Protobuf service names available for
// reflection (for example, "acme.user.v1.UserService"). Namers must be safe to
// call concurrently.
type Namer interface {
	Names() []string
}

// NamerFunc adapts an ordinary function to the [Namer] interface.
type NamerFunc func() []string

// Names calls f.
func (f NamerFunc) Names() []string { return f() }

// An Option configures a Reflector.
type Option interface {
	apply(*Reflector)
}

// WithExtensionResolver sets the resolver used to find Protobuf extensions.
// The default is protoregistry.GlobalTypes.
func WithExtensionResolver(resolver ExtensionResolver) Option {
	return optionFunc(func(r *Reflector) { r.extensionResolver = resolver })
}

// WithDescriptorResolver sets the resolver used to find files and the
// descriptors of services, messages and other elements, such as a
// protoregistry.Files built from the output of `buf build`. The default is
// protoregistry.GlobalFiles.
//
// Whatever the resolver, the Reflector falls back to built-in descriptors of
// the gRPC health (grpc.health.v1) and reflection (grpc.reflection.v1 and
// v1alpha) services for files and names the resolver reports as
// protoregistry.NotFound, so the services a [Mux] lists when those handlers
// are mounted always resolve. The resolver's own copies, if it has them,
// take precedence; hide the services with [WithPrivate] to keep them out of
// reach.
func WithDescriptorResolver(resolver protodesc.Resolver) Option {
	return optionFunc(func(r *Reflector) { r.descriptorResolver = withBuiltins{primary: resolver} })
}

// WithPrivate hides the named services, messages, enums, extensions or whole
// packages (fully-qualified names, such as "acme.admin.v1.AdminService" or
// "acme.internal"): everything named or nested inside a name is private.
//
// Private services are not listed, and private elements can't be resolved by
// name; neither can the values of a private enum, although their names sit
// beside the enum's ("acme.v1.SECRET_X" for acme.v1.Secret). Private
// elements are also cut from the files sent to clients, together with the
// fields and methods that use a private type, the entry messages of private
// map fields and extensions of a private message; a file's imports that
// only private elements needed are dropped, so files that only they need are
// not sent, and a file whose every element is private is not found. Imports
// that define, or publicly import a file that defines, an option the file
// still sets are kept. Options may be repeated; names add up.
//
// The packages of connectware's own copies of the reflection and health
// messages (connectware.grpcreflect.internal and
// connectware.grpchealth.internal) are always private.
func WithPrivate(names ...string) Option {
	return optionFunc(func(r *Reflector) {
		for _, name := range names {
			r.private.add(protoreflect.FullName(name))
		}
	})
}

// An ExtensionResolver lets a Reflector look up Protobuf extensions.
// protoregistry.GlobalTypes implements ExtensionResolver.
//
// ExtensionResolvers must be safe to call concurrently.
type ExtensionResolver interface {
	protoregistry.ExtensionTypeResolver

	RangeExtensionsByMessage(message protoreflect.FullName, f func(protoreflect.ExtensionType) bool)
}

type optionFunc func(*Reflector)

func (f optionFunc) apply(r *Reflector) { f(r) }

type staticNames struct {
	names []string
}

func (n *staticNames) Names() []string { return n.names }

// serviceNames returns the names to list: the namer's, without private ones,
// sorted and without duplicates. The result is shared: don't modify it.
func (r *Reflector) serviceNames() *serviceList {
	var names []string
	switch n := r.namer.(type) {
	case nil:
	case *Mux:
		names = n.snapshot()
	default:
		names = n.Names()
	}
	if cached := r.services.Load(); cached != nil && slices.Equal(cached.from, names) {
		return cached
	}
	list := newServiceList(names, r.private)
	r.services.Store(list)
	return list
}
