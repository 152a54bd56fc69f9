package grpchealth_test

import (
	"context"
	"fmt"
	"go/constant"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"connectrpc.com/connect"
	officialhealth "connectrpc.com/grpchealth"

	"github.com/connectware/connectware/grpchealth"
)

// The official package's exported API, with its exact signatures, exists in
// ours: migrating is an import-path change. These fail to compile otherwise.
// Every exported name of connectrpc.com/grpchealth v1.5.0 is listed;
// TestAPISuperset checks the same with go/types.
var (
	_ string                                                                                                        = grpchealth.HealthV1ServiceName
	_ grpchealth.Status                                                                                             = grpchealth.StatusUnknown
	_ grpchealth.Status                                                                                             = grpchealth.StatusServing
	_ grpchealth.Status                                                                                             = grpchealth.StatusNotServing
	_ func(grpchealth.Status) string                                                                                = grpchealth.Status.String
	_ func(grpchealth.Checker, ...connect.HandlerOption) (string, http.Handler)                                     = grpchealth.NewHandler
	_                                                                                                               = grpchealth.CheckRequest{Service: ""}
	_                                                                                                               = grpchealth.CheckResponse{Status: grpchealth.StatusServing}
	_ func(...string) *grpchealth.StaticChecker                                                                     = grpchealth.NewStaticChecker
	_ func(*grpchealth.StaticChecker, string, grpchealth.Status)                                                    = (*grpchealth.StaticChecker).SetStatus
	_ func(*grpchealth.StaticChecker, context.Context, *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) = (*grpchealth.StaticChecker).Check
	_ func(*grpchealth.StaticChecker, context.Context, *grpchealth.CheckRequest, func()) (func(), error)            = (*grpchealth.StaticChecker).Watch
	_ func(connect.HTTPClient, string, ...connect.ClientOption) *grpchealth.Client                                  = grpchealth.NewClient
	_ func(*grpchealth.Client, context.Context, *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error)        = (*grpchealth.Client).Check
	_ func(*grpchealth.Client, context.Context, *grpchealth.CheckRequest) <-chan grpchealth.WatchEvent              = (*grpchealth.Client).Watch
	_                                                                                                               = grpchealth.WatchEvent{Response: &grpchealth.CheckResponse{}, Err: nil}
	_ grpchealth.Watcher                                                                                            = (*grpchealth.StaticChecker)(nil)
	_ grpchealth.Checker                                                                                            = (*grpchealth.Client)(nil)
	// A user's Checker and Watcher, written against the official
	// interfaces, satisfy ours: the interfaces ask for nothing more.
	_ grpchealth.Checker = userChecker{}
	_ grpchealth.Watcher = userWatcher{}
)

type userChecker struct{}

func (userChecker) Check(context.Context, *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	return &grpchealth.CheckResponse{}, nil
}

type userWatcher struct{ userChecker }

func (userWatcher) Watch(context.Context, *grpchealth.CheckRequest, func()) (func(), error) {
	return func() {}, nil
}

// TestAPISuperset compares the two packages' type information: every
// exported name of the official package exists in ours with the same kind
// and type (constants with the same value, functions and methods with the
// same signature, struct fields with the same type, interfaces with exactly
// the same methods), reading the names from the official package, so no
// name can be forgotten.
func TestAPISuperset(t *testing.T) {
	const (
		officialPath = "connectrpc.com/grpchealth"
		oursPath     = "github.com/connectware/connectware/grpchealth"
	)
	out, err := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}", officialPath, oursPath).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	exports := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, file, _ := strings.Cut(line, "\t")
		exports[path] = file
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		if exports[path] == "" {
			return nil, fmt.Errorf("no export data for %q", path)
		}
		return os.Open(exports[path])
	})
	official, err := imp.Import(officialPath)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := imp.Import(oursPath)
	if err != nil {
		t.Fatal(err)
	}
	// Both packages print as "P", so their types compare as text.
	qualifier := func(p *types.Package) string {
		if p == official || p == ours {
			return "P"
		}
		return p.Path()
	}
	str := func(typ types.Type) string { return types.TypeString(typ, qualifier) }
	names := 0
	for _, name := range official.Scope().Names() {
		want := official.Scope().Lookup(name)
		if !want.Exported() {
			continue
		}
		names++
		got := ours.Scope().Lookup(name)
		if got == nil {
			t.Errorf("%s: missing", name)
			continue
		}
		if reflect.TypeOf(got) != reflect.TypeOf(want) {
			t.Errorf("%s: %T, official %T", name, got, want)
			continue
		}
		switch want := want.(type) {
		case *types.Const:
			if str(got.Type()) != str(want.Type()) || !constant.Compare(got.(*types.Const).Val(), token.EQL, want.Val()) {
				t.Errorf("%s: %s = %s, official %s = %s", name, str(got.Type()), got.(*types.Const).Val(), str(want.Type()), want.Val())
			}
		case *types.Func, *types.Var:
			if str(got.Type()) != str(want.Type()) {
				t.Errorf("%s: %s, official %s", name, str(got.Type()), str(want.Type()))
			}
		case *types.TypeName:
			compareType(t, name, got.Type(), want.Type(), str)
		}
	}
	if names < 15 {
		t.Fatalf("only %d exported names read from the official package", names)
	}
}

func compareType(t *testing.T, name string, got, want types.Type, str func(types.Type) string) {
	t.Helper()
	switch wantU := want.Underlying().(type) {
	case *types.Interface:
		if str(got.Underlying()) != str(wantU) {
			t.Errorf("%s: interface %s, official %s", name, str(got.Underlying()), str(wantU))
		}
	case *types.Struct:
		gotU, ok := got.Underlying().(*types.Struct)
		if !ok {
			t.Errorf("%s: %s is not a struct", name, str(got.Underlying()))
			return
		}
		for i := range wantU.NumFields() {
			field := wantU.Field(i)
			if !field.Exported() {
				continue
			}
			found := false
			for j := range gotU.NumFields() {
				if gotU.Field(j).Name() == field.Name() {
					found = str(gotU.Field(j).Type()) == str(field.Type())
				}
			}
			if !found {
				t.Errorf("%s.%s: missing or of another type than %s", name, field.Name(), str(field.Type()))
			}
		}
	default:
		if str(got.Underlying()) != str(wantU) {
			t.Errorf("%s: %s, official %s", name, str(got.Underlying()), str(wantU))
		}
	}
	// Methods, on the value and on the pointer.
	for _, typ := range []types.Type{want, types.NewPointer(want)} {
		gotTyp := got
		if _, ok := typ.(*types.Pointer); ok {
			gotTyp = types.NewPointer(got)
		}
		wantSet, gotSet := types.NewMethodSet(typ), types.NewMethodSet(gotTyp)
		for i := range wantSet.Len() {
			m := wantSet.At(i).Obj()
			if !m.Exported() {
				continue
			}
			sel := gotSet.Lookup(m.Pkg(), m.Name())
			if sel == nil {
				// Lookup needs the package for unexported names only.
				for j := range gotSet.Len() {
					if gotSet.At(j).Obj().Name() == m.Name() {
						sel = gotSet.At(j)
					}
				}
			}
			if sel == nil {
				t.Errorf("%s: method %s missing on %s", name, m.Name(), str(typ))
				continue
			}
			if str(sel.Obj().Type()) != str(m.Type()) {
				t.Errorf("%s.%s: %s, official %s", name, m.Name(), str(sel.Obj().Type()), str(m.Type()))
			}
		}
	}
}

// TestSameValues: the shared names mean the same.
func TestSameValues(t *testing.T) {
	if grpchealth.HealthV1ServiceName != officialhealth.HealthV1ServiceName {
		t.Error("HealthV1ServiceName differs")
	}
	for _, pair := range [][2]uint8{
		{uint8(grpchealth.StatusUnknown), uint8(officialhealth.StatusUnknown)},
		{uint8(grpchealth.StatusServing), uint8(officialhealth.StatusServing)},
		{uint8(grpchealth.StatusNotServing), uint8(officialhealth.StatusNotServing)},
	} {
		if pair[0] != pair[1] {
			t.Errorf("status %d vs %d", pair[0], pair[1])
		}
		if grpchealth.Status(pair[0]).String() != officialhealth.Status(pair[1]).String() {
			t.Errorf("String of %d differs", pair[0])
		}
	}
}

// TestInterop: each package's client talks to the other's handler in the
// binary encodings (Connect, gRPC, gRPC-Web). The official JSON names enum
// values SERVING_STATUS_SERVING, not the canonical SERVING, so JSON is left
// out.
func TestInterop(t *testing.T) {
	const svc = "greet.v1.GreetService"
	ours := grpchealth.NewStaticChecker(svc)
	official := officialhealth.NewStaticChecker(svc)
	oursMux, officialMux := http.NewServeMux(), http.NewServeMux()
	oursMux.Handle(grpchealth.NewHandler(ours))
	officialMux.Handle(officialhealth.NewHandler(official))
	oursURL, client := h2cServer(t, oursMux)
	officialURL, _ := h2cServer(t, officialMux)
	ctx := context.Background()
	for name, opts := range map[string][]connect.ClientOption{
		"connect_proto": nil,
		"grpc":          {connect.WithGRPC()},
		"grpcweb":       {connect.WithGRPCWeb()},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := officialhealth.NewClient(client, oursURL, opts...).Check(ctx, &officialhealth.CheckRequest{Service: svc})
			if err != nil || res.Status != officialhealth.StatusServing {
				t.Fatalf("official client, our handler: %v %v", res, err)
			}
			_, err = officialhealth.NewClient(client, oursURL, opts...).Check(ctx, &officialhealth.CheckRequest{Service: "nope"})
			if connect.CodeOf(err) != connect.CodeNotFound {
				t.Fatalf("official client, our handler, unknown: %v", err)
			}
			got, err := grpchealth.NewClient(client, officialURL, opts...).Check(ctx, &grpchealth.CheckRequest{Service: svc})
			if err != nil || got.Status != grpchealth.StatusServing {
				t.Fatalf("our client, official handler: %v %v", got, err)
			}
			wctx, cancel := context.WithCancel(ctx)
			events := officialhealth.NewClient(client, oursURL, opts...).Watch(wctx, &officialhealth.CheckRequest{Service: svc})
			if ev := <-events; ev.Err != nil || ev.Response.Status != officialhealth.StatusServing {
				t.Fatalf("official Watch of our handler: %+v", ev)
			}
			cancel()
			for range events {
			}
		})
	}
}
