package grpcreflect

import (
	"reflect"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// fileCache holds every file a Reflector has been asked for, serialized
// once, and the closure of files to send with it.
//
// Entries are keyed by path and remember the descriptor they were built
// from: a lookup with another descriptor for the same path (the resolver's
// contents changed) builds a new entry. Entries never change once published,
// so responses may share their bytes.
type fileCache struct {
	private privacy

	mu       sync.RWMutex
	byPath   map[string]*fileEntry
	building map[string]bool // paths being built, against import cycles
}

// fileEntry is one file as clients see it.
type fileEntry struct {
	fd   protoreflect.FileDescriptor
	path string
	// data is the serialized FileDescriptorProto, private elements cut.
	data []byte
	// hidden is set when every element the file declares is private (or
	// the file couldn't be serialized): it is never sent.
	hidden bool
	// removed holds the full names cut from the file.
	removed map[protoreflect.FullName]struct{}
	// imports are the imports the served file keeps.
	imports []protoreflect.FileDescriptor
	// closure is this file followed by its transitive served imports,
	// breadth first, each once. It is built when the file is first asked
	// for; files seen only as imports leave it nil.
	closure []*fileEntry
}

// cut reports whether name, or an element enclosing it, was cut from the
// file.
func (e *fileEntry) cut(name protoreflect.FullName) bool {
	if len(e.removed) == 0 {
		return false
	}
	for ; name != ""; name = name.Parent() {
		if _, ok := e.removed[name]; ok {
			return true
		}
	}
	return false
}

// get returns the entry for fd, with its closure, building what is missing.
func (c *fileCache) get(fd protoreflect.FileDescriptor) *fileEntry {
	c.mu.RLock()
	e := c.byPath[fd.Path()]
	ready := e != nil && e.closure != nil && sameFile(e.fd, fd)
	c.mu.RUnlock()
	if ready {
		return e // closure is set once, under the lock, and never changes
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e = c.entryLocked(fd)
	if e.closure != nil {
		return e
	}
	closure := []*fileEntry{e}
	seen := map[string]struct{}{e.path: {}}
	for i := 0; i < len(closure); i++ {
		for _, imp := range closure[i].imports {
			if imp == nil || imp.IsPlaceholder() {
				continue // never send placeholders for missing imports
			}
			if _, ok := seen[imp.Path()]; ok {
				continue
			}
			seen[imp.Path()] = struct{}{}
			if dep := c.entryLocked(imp); !dep.hidden {
				closure = append(closure, dep)
			}
		}
	}
	e.closure = closure
	return e
}

// entryLocked returns the serialized entry for fd, possibly without its
// closure, building the entries of its imports first so that imports of
// hidden files can be dropped. c.mu must be held for writing.
func (c *fileCache) entryLocked(fd protoreflect.FileDescriptor) *fileEntry {
	if e := c.byPath[fd.Path()]; e != nil && sameFile(e.fd, fd) {
		return e
	}
	if c.building == nil {
		c.building = make(map[string]bool)
	}
	c.building[fd.Path()] = true
	defer delete(c.building, fd.Path())
	hidden := make(map[string]bool)
	imports := fd.Imports()
	for i := range imports.Len() {
		imp := imports.Get(i).FileDescriptor
		if imp == nil || imp.IsPlaceholder() || c.building[imp.Path()] {
			continue // an import cycle can't be valid; don't recurse forever
		}
		if c.entryLocked(imp).hidden {
			hidden[imp.Path()] = true
		}
	}
	e := newFileEntry(fd, c.private, func(path string) bool { return hidden[path] })
	if c.byPath == nil {
		c.byPath = make(map[string]*fileEntry)
	}
	c.byPath[e.path] = e
	return e
}

func (c *fileCache) invalidate() {
	c.mu.Lock()
	c.byPath = nil
	c.mu.Unlock()
}

func newFileEntry(fd protoreflect.FileDescriptor, private privacy, hiddenFile func(string) bool) *fileEntry {
	e := &fileEntry{fd: fd, path: fd.Path()}
	fdp := protodesc.ToFileDescriptorProto(fd)
	e.removed, e.hidden, e.imports = strip(fd, fdp, private, hiddenFile)
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(fdp)
	if err != nil {
		e.hidden = true
	}
	e.data = data
	return e
}

// sameFile reports whether a and b are the same descriptor. Descriptors are
// normally pointers; a resolver returning values of a type that can't be
// compared never matches, which only costs a rebuild.
func sameFile(a, b protoreflect.FileDescriptor) bool {
	if a == nil || b == nil {
		return false
	}
	ta := reflect.TypeOf(a)
	if ta != reflect.TypeOf(b) || !ta.Comparable() {
		return false
	}
	return a == b
}
