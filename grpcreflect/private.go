package grpcreflect

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// internalPackages hold connectware's private copies of the reflection and
// health messages, which grpcreflect and grpchealth register in
// protoregistry.GlobalFiles. They are implementation details, so they are
// always private.
var internalPackages = []protoreflect.FullName{
	"connectware.grpcreflect.internal",
	"connectware.grpchealth.internal",
}

// privacy is the set of private full names. A name is private when it or any
// of its parents (enclosing message, service or package) is in the set.
type privacy struct {
	names map[protoreflect.FullName]struct{}
}

func newPrivacy() privacy {
	p := privacy{names: make(map[protoreflect.FullName]struct{})}
	for _, name := range internalPackages {
		p.add(name)
	}
	return p
}

func (p privacy) add(name protoreflect.FullName) {
	name = protoreflect.FullName(strings.TrimPrefix(string(name), "."))
	if name != "" {
		p.names[name] = struct{}{}
	}
}

// hides reports whether name is private.
func (p privacy) hides(name protoreflect.FullName) bool {
	for ; name != ""; name = name.Parent() {
		if _, ok := p.names[name]; ok {
			return true
		}
	}
	return false
}

// hidesRef is hides for a type reference in a descriptor proto, such as
// ".acme.v1.Thing".
func (p privacy) hidesRef(ref string) bool {
	return ref != "" && p.hides(protoreflect.FullName(strings.TrimPrefix(ref, ".")))
}

// showsExtension reports whether an extension is visible: neither it, the
// message it extends, nor its type is private.
func (p privacy) showsExtension(xd protoreflect.ExtensionTypeDescriptor) bool {
	if p.hides(xd.FullName()) {
		return false
	}
	if m := xd.ContainingMessage(); m != nil && p.hides(m.FullName()) {
		return false
	}
	if m := xd.Message(); m != nil && p.hides(m.FullName()) {
		return false
	}
	if e := xd.Enum(); e != nil && p.hides(e.FullName()) {
		return false
	}
	return true
}

// stripper cuts private elements out of one file's descriptor proto, with
// the fields and methods that use them. It records every full name it cut.
type stripper struct {
	private privacy
	removed map[protoreflect.FullName]struct{}
	refs    map[string]struct{} // type references that remain, ".pkg.Name"
}

// strip cuts private elements from fdp, the proto of fd, in place. It
// returns the names it cut (nil when nothing was private), whether nothing
// the file declared survived, and the imports the remaining file still
// needs. Imports for which hiddenFile is true (files whose every element is
// private) are always dropped; other imports are dropped only when cutting
// left them unused.
func strip(fd protoreflect.FileDescriptor, fdp *descriptorpb.FileDescriptorProto, private privacy, hiddenFile func(path string) bool) (removed map[protoreflect.FullName]struct{}, empty bool, imports []protoreflect.FileDescriptor) {
	s := &stripper{private: private, refs: make(map[string]struct{})}
	pkg := protoreflect.FullName(fdp.GetPackage())
	declared := len(fdp.MessageType) + len(fdp.EnumType) + len(fdp.Extension) + len(fdp.Service)
	fdp.MessageType = s.messages(pkg, fdp.MessageType)
	fdp.EnumType = s.enums(pkg, fdp.EnumType)
	fdp.Extension = s.fields(pkg, fdp.Extension)
	fdp.Service = s.services(pkg, fdp.Service)
	if len(s.removed) == 0 {
		return nil, false, s.keepImports(fd, fdp, hiddenFile, false)
	}
	left := len(fdp.MessageType) + len(fdp.EnumType) + len(fdp.Extension) + len(fdp.Service)
	imports = s.keepImports(fd, fdp, hiddenFile, true)
	return s.removed, declared > 0 && left == 0, imports
}

func (s *stripper) cut(name protoreflect.FullName) {
	if s.removed == nil {
		s.removed = make(map[protoreflect.FullName]struct{})
	}
	s.removed[name] = struct{}{}
}

// usable reports whether a type reference points at something visible.
func (s *stripper) usable(ref string) bool {
	if ref == "" {
		return true
	}
	if s.private.hidesRef(ref) {
		return false
	}
	_, cut := s.removed[protoreflect.FullName(strings.TrimPrefix(ref, "."))]
	return !cut
}

func (s *stripper) ref(ref string) {
	if ref != "" {
		s.refs[ref] = struct{}{}
	}
}

func (s *stripper) messages(scope protoreflect.FullName, in []*descriptorpb.DescriptorProto) []*descriptorpb.DescriptorProto {
	out := in[:0]
	for _, m := range in {
		name := scope.Append(protoreflect.Name(m.GetName()))
		if s.private.hides(name) {
			s.cut(name)
			continue
		}
		m.NestedType = s.mapEntriesOfPrivateFields(name, m)
		m.NestedType = s.messages(name, m.NestedType)
		m.EnumType = s.enums(name, m.EnumType)
		m.Extension = s.fields(name, m.Extension)
		m.Field = s.fields(name, m.Field)
		s.oneofs(name, m)
		if m.GetOptions().GetMapEntry() && len(m.Field) < 2 {
			// A map whose value type is private goes with its field.
			s.cut(name)
			continue
		}
		out = append(out, m)
	}
	return out
}

// mapEntriesOfPrivateFields cuts the map entry messages (such as
// TagsEntry) of m's private map fields and returns the nested messages that
// remain; scope is m's full name. An entry exists only for its field, so it
// goes with it. Cutting it before the nested messages are walked keeps the
// type of its value from holding on to an import.
func (s *stripper) mapEntriesOfPrivateFields(scope protoreflect.FullName, m *descriptorpb.DescriptorProto) []*descriptorpb.DescriptorProto {
	var entries map[string]struct{} // ".scope.Entry" of private map fields
	for _, f := range m.Field {
		if f.GetLabel() == descriptorpb.FieldDescriptorProto_LABEL_REPEATED && f.GetTypeName() != "" &&
			s.private.hides(scope.Append(protoreflect.Name(f.GetName()))) {
			if entries == nil {
				entries = make(map[string]struct{})
			}
			entries[f.GetTypeName()] = struct{}{}
		}
	}
	if entries == nil {
		return m.NestedType
	}
	out := m.NestedType[:0]
	for _, n := range m.NestedType {
		name := scope.Append(protoreflect.Name(n.GetName()))
		if _, private := entries["."+string(name)]; private && n.GetOptions().GetMapEntry() {
			s.cut(name)
			continue
		}
		out = append(out, n)
	}
	return out
}

func (s *stripper) enums(scope protoreflect.FullName, in []*descriptorpb.EnumDescriptorProto) []*descriptorpb.EnumDescriptorProto {
	out := in[:0]
	for _, e := range in {
		name := scope.Append(protoreflect.Name(e.GetName()))
		if s.private.hides(name) {
			s.cut(name)
			continue
		}
		out = append(out, e)
	}
	return out
}

func (s *stripper) fields(scope protoreflect.FullName, in []*descriptorpb.FieldDescriptorProto) []*descriptorpb.FieldDescriptorProto {
	out := in[:0]
	for _, f := range in {
		name := scope.Append(protoreflect.Name(f.GetName()))
		if s.private.hides(name) || !s.usable(f.GetTypeName()) || !s.usable(f.GetExtendee()) {
			s.cut(name)
			continue
		}
		s.ref(f.GetTypeName())
		s.ref(f.GetExtendee())
		out = append(out, f)
	}
	return out
}

// oneofs drops oneofs whose fields were all cut and renumbers the rest.
func (s *stripper) oneofs(scope protoreflect.FullName, m *descriptorpb.DescriptorProto) {
	if len(m.OneofDecl) == 0 {
		return
	}
	used := make([]bool, len(m.OneofDecl))
	for _, f := range m.Field {
		if f.OneofIndex != nil && int(f.GetOneofIndex()) < len(used) {
			used[f.GetOneofIndex()] = true
		}
	}
	renumber := make([]int32, len(m.OneofDecl))
	kept := m.OneofDecl[:0]
	for i, o := range m.OneofDecl {
		if !used[i] {
			s.cut(scope.Append(protoreflect.Name(o.GetName())))
			continue
		}
		renumber[i] = int32(len(kept))
		kept = append(kept, o)
	}
	m.OneofDecl = kept
	for _, f := range m.Field {
		if f.OneofIndex != nil {
			f.OneofIndex = proto.Int32(renumber[f.GetOneofIndex()])
		}
	}
}

func (s *stripper) services(scope protoreflect.FullName, in []*descriptorpb.ServiceDescriptorProto) []*descriptorpb.ServiceDescriptorProto {
	out := in[:0]
	for _, svc := range in {
		name := scope.Append(protoreflect.Name(svc.GetName()))
		if s.private.hides(name) {
			s.cut(name)
			continue
		}
		methods := svc.Method[:0]
		for _, m := range svc.Method {
			mname := name.Append(protoreflect.Name(m.GetName()))
			if s.private.hides(mname) || !s.usable(m.GetInputType()) || !s.usable(m.GetOutputType()) {
				s.cut(mname)
				continue
			}
			s.ref(m.GetInputType())
			s.ref(m.GetOutputType())
			methods = append(methods, m)
		}
		svc.Method = methods
		out = append(out, svc)
	}
	return out
}

// keepImports rewrites fdp's dependency lists without the imports that are
// hidden files and, when pruning, without the imports the remaining
// elements don't need. Needed are public and weak imports, imports that
// declare a referenced type, and imports that define an extension used in
// options. If some options hold unrecognized fields, which could be
// extensions from any import, every import is kept.
func (s *stripper) keepImports(fd protoreflect.FileDescriptor, fdp *descriptorpb.FileDescriptorProto, hiddenFile func(string) bool, prune bool) []protoreflect.FileDescriptor {
	imports := fd.Imports()
	if !prune {
		out := make([]protoreflect.FileDescriptor, 0, imports.Len())
		dropped := false
		for i := range imports.Len() {
			if imp := imports.Get(i); hiddenFile(imp.Path()) {
				dropped = true
			} else {
				out = append(out, imp.FileDescriptor)
			}
		}
		if !dropped {
			return out
		}
	}
	optionFiles := make(map[string]struct{})
	keepAll := !prune
	visitOptions(fdp, func(opts proto.Message) {
		if opts == nil || !opts.ProtoReflect().IsValid() {
			return
		}
		m := opts.ProtoReflect()
		if len(m.GetUnknown()) > 0 {
			keepAll = true
		}
		m.Range(func(f protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			if f.IsExtension() && f.ParentFile() != nil {
				optionFiles[f.ParentFile().Path()] = struct{}{}
			}
			return true
		})
	})
	var (
		kept    []protoreflect.FileDescriptor
		deps    []string
		public  []int32
		weak    []int32
		wasPub  = make(map[int32]bool)
		wasWeak = make(map[int32]bool)
	)
	for _, i := range fdp.PublicDependency {
		wasPub[i] = true
	}
	for _, i := range fdp.WeakDependency {
		wasWeak[i] = true
	}
	for i := range imports.Len() {
		imp := imports.Get(i)
		inOptions := definesOptions(imp.FileDescriptor, optionFiles, 0)
		need := keepAll || imp.IsPublic || wasWeak[int32(i)] || inOptions || s.declaresRef(imp.FileDescriptor)
		if !need || hiddenFile(imp.Path()) {
			continue
		}
		idx := int32(len(deps))
		if wasPub[int32(i)] {
			public = append(public, idx)
		}
		if wasWeak[int32(i)] {
			weak = append(weak, idx)
		}
		deps = append(deps, imp.Path())
		kept = append(kept, imp.FileDescriptor)
	}
	fdp.Dependency, fdp.PublicDependency, fdp.WeakDependency = deps, public, weak
	return kept
}

// declaresRef reports whether f, or a file it publicly imports, declares a
// type that the stripped file refers to.
func (s *stripper) declaresRef(f protoreflect.FileDescriptor) bool {
	for ref := range s.refs {
		if fileDeclares(f, protoreflect.FullName(strings.TrimPrefix(ref, ".")), 0) {
			return true
		}
	}
	return false
}

// definesOptions reports whether f, or a file it publicly imports (directly
// or through other public imports), is one of optionFiles: the files that
// define the extensions the stripped file's options set. A wrapper file that
// re-exports, say, google/api/annotations.proto with "import public" is
// needed as much as annotations.proto itself.
func definesOptions(f protoreflect.FileDescriptor, optionFiles map[string]struct{}, depth int) bool {
	if f == nil || len(optionFiles) == 0 || depth > 16 {
		return false
	}
	if _, ok := optionFiles[f.Path()]; ok {
		return true
	}
	imports := f.Imports()
	for i := range imports.Len() {
		if imp := imports.Get(i); imp.IsPublic && definesOptions(imp.FileDescriptor, optionFiles, depth+1) {
			return true
		}
	}
	return false
}

func fileDeclares(f protoreflect.FileDescriptor, name protoreflect.FullName, depth int) bool {
	if f == nil || f.IsPlaceholder() || depth > 16 {
		return false
	}
	pkg := string(f.Package())
	rest := string(name)
	if pkg != "" {
		if !strings.HasPrefix(rest, pkg+".") {
			rest = ""
		} else {
			rest = rest[len(pkg)+1:]
		}
	}
	if rest != "" && declaresIn(f, rest) {
		return true
	}
	imports := f.Imports()
	for i := range imports.Len() {
		if imp := imports.Get(i); imp.IsPublic && fileDeclares(imp.FileDescriptor, name, depth+1) {
			return true
		}
	}
	return false
}

// declaresIn looks up a package-relative dotted name among f's messages and
// enums.
func declaresIn(f protoreflect.FileDescriptor, rel string) bool {
	first, rest, nested := strings.Cut(rel, ".")
	if !nested {
		return f.Messages().ByName(protoreflect.Name(first)) != nil || f.Enums().ByName(protoreflect.Name(first)) != nil
	}
	m := f.Messages().ByName(protoreflect.Name(first))
	for m != nil {
		first, rest, nested = strings.Cut(rest, ".")
		if !nested {
			return m.Messages().ByName(protoreflect.Name(first)) != nil || m.Enums().ByName(protoreflect.Name(first)) != nil
		}
		m = m.Messages().ByName(protoreflect.Name(first))
	}
	return false
}

// visitOptions calls fn with every options message in fdp.
func visitOptions(fdp *descriptorpb.FileDescriptorProto, fn func(proto.Message)) {
	if fdp.Options != nil {
		fn(fdp.Options)
	}
	var message func(m *descriptorpb.DescriptorProto)
	enum := func(e *descriptorpb.EnumDescriptorProto) {
		if e.Options != nil {
			fn(e.Options)
		}
		for _, v := range e.Value {
			if v.Options != nil {
				fn(v.Options)
			}
		}
	}
	field := func(f *descriptorpb.FieldDescriptorProto) {
		if f.Options != nil {
			fn(f.Options)
		}
	}
	message = func(m *descriptorpb.DescriptorProto) {
		if m.Options != nil {
			fn(m.Options)
		}
		for _, f := range m.Field {
			field(f)
		}
		for _, f := range m.Extension {
			field(f)
		}
		for _, o := range m.OneofDecl {
			if o.Options != nil {
				fn(o.Options)
			}
		}
		for _, r := range m.ExtensionRange {
			if r.Options != nil {
				fn(r.Options)
			}
		}
		for _, n := range m.NestedType {
			message(n)
		}
		for _, e := range m.EnumType {
			enum(e)
		}
	}
	for _, m := range fdp.MessageType {
		message(m)
	}
	for _, e := range fdp.EnumType {
		enum(e)
	}
	for _, f := range fdp.Extension {
		field(f)
	}
	for _, svc := range fdp.Service {
		if svc.Options != nil {
			fn(svc.Options)
		}
		for _, m := range svc.Method {
			if m.Options != nil {
				fn(m.Options)
			}
		}
	}
}
