package grpchealth

import (
	"context"
	"fmt"
	"sync"

	"connectrpc.com/connect"
)

// StaticChecker is a Checker whose statuses are set by the program. It
// implements [Checker], [Watcher] and [Lister], so the handler returned by
// [NewHandler] serves Check, Watch and List from it. All its methods are safe
// to call concurrently. The zero value is ready to use and knows no named
// service.
//
// The status of a service is the one given to [StaticChecker.SetStatus],
// turned to StatusNotServing while any readiness probe of that service
// ([StaticChecker.AddProbe]) fails. The whole server (the empty service
// name) is StatusServing unless set otherwise.
//
// It follows grpc-go's health server where the protocol leaves room:
//   - Check of an unknown service fails with connect.CodeNotFound.
//   - Watch of an unknown service streams StatusServiceUnknown and stays
//     open; a later SetStatus of that service is delivered.
//   - [StaticChecker.Shutdown] sets every service to StatusNotServing and
//     ignores later updates until [StaticChecker.Resume].
type StaticChecker struct {
	mu       sync.RWMutex
	statuses map[string]Status
	watchers map[string]*watcherSet
	pending  [][]*watchEntry // notifications to make once mu is released
	shutdown bool
	probes   probeSet
	// done is closed by Close, which ends the handler's Watch streams;
	// made on first use, so the zero value works.
	done chan struct{}
}

// closing returns a channel closed once c is closed.
func (c *StaticChecker) closing() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
	}
	return c.done
}

type watchEntry struct {
	onChange func()
}

// watcherSet holds the watchers of one service: a set for O(1) removal, and
// an immutable snapshot, rebuilt after changes, to notify without the lock.
type watcherSet struct {
	entries  map[*watchEntry]struct{}
	snapshot []*watchEntry
}

var (
	_ Watcher = (*StaticChecker)(nil)
	_ Lister  = (*StaticChecker)(nil)
)

// NewStaticChecker constructs a StaticChecker. By default, each of the
// supplied services has StatusServing.
//
// The supplied strings should be fully-qualified protobuf service names (for
// example, "acme.user.v1.UserService"). Generated Connect service files
// have this declared as a constant.
func NewStaticChecker(services ...string) *StaticChecker {
	statuses := make(map[string]Status, len(services))
	for _, service := range services {
		statuses[service] = StatusServing
	}
	return &StaticChecker{statuses: statuses}
}

// SetStatus sets the health status of a service, registering a new service if
// necessary, and notifies its watchers. It's safe to call SetStatus and Check
// concurrently.
//
// If the given service name is empty, it sets a server-wide status that is
// returned to check requests that do not request a particular service. If no
// such status is ever set, checks that do not request a particular service
// will get a response of StatusServing.
//
// After [StaticChecker.Shutdown] and until [StaticChecker.Resume], SetStatus
// does nothing (as grpc-go's health server, so a draining server stays
// NOT_SERVING whatever its components report).
func (c *StaticChecker) SetStatus(service string, status Status) {
	c.mu.Lock()
	defer c.unlockAndNotify()
	if c.shutdown {
		return
	}
	c.setLocked(service, status)
}

func (c *StaticChecker) setLocked(service string, status Status) {
	if c.statuses == nil {
		c.statuses = make(map[string]Status)
	}
	c.statuses[service] = status
	c.notifyLocked(service)
}

// notifyLocked queues a notification of every watcher of service, made by
// unlockAndNotify once c.mu is released: woken watchers read the status, so
// they must not find the lock held.
func (c *StaticChecker) notifyLocked(service string) {
	set := c.watchers[service]
	if set == nil {
		return
	}
	if set.snapshot == nil {
		set.snapshot = make([]*watchEntry, 0, len(set.entries))
		for entry := range set.entries {
			set.snapshot = append(set.snapshot, entry)
		}
	}
	c.pending = append(c.pending, set.snapshot)
}

// unlockAndNotify releases c.mu, then calls the onChange functions queued
// by notifyLocked. A watcher stopped meanwhile may still be called, which
// the Watcher contract allows.
func (c *StaticChecker) unlockAndNotify() {
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, snapshot := range pending {
		for _, entry := range snapshot {
			entry.onChange()
		}
	}
}

// Shutdown sets every service, and the whole server, to StatusNotServing and
// ignores status updates (SetStatus and probe results) until Resume. Call it
// when the process starts to drain (on SIGTERM), before shutting down the
// HTTP server, so load balancers and clients stop sending new calls. Watch
// streams stay open (and see Resume, if it comes) until [StaticChecker.Close]
// ends them: close the checker before the HTTP server's Shutdown, which
// waits for every open stream.
func (c *StaticChecker) Shutdown() {
	c.mu.Lock()
	defer c.unlockAndNotify()
	c.shutdown = true
	c.setAllLocked(StatusNotServing)
}

// Resume ends a Shutdown: every service, and the whole server, is set to
// StatusServing and status updates are applied again.
func (c *StaticChecker) Resume() {
	c.mu.Lock()
	defer c.unlockAndNotify()
	c.shutdown = false
	c.setAllLocked(StatusServing)
}

func (c *StaticChecker) setAllLocked(status Status) {
	if _, ok := c.statuses[""]; !ok {
		c.setLocked("", status)
	}
	for service := range c.statuses {
		c.setLocked(service, status)
	}
}

// IsShutdown reports whether Shutdown was called without a later Resume.
func (c *StaticChecker) IsShutdown() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.shutdown
}

// Check implements Checker. It's safe to call concurrently with SetStatus.
// It only reads cached state: probes run in the background and never block
// it.
func (c *StaticChecker) Check(_ context.Context, req *CheckRequest) (*CheckResponse, error) {
	status, ok := c.lookup(req.Service)
	if !ok {
		return nil, errUnknownService(req.Service)
	}
	return &CheckResponse{Status: status}, nil
}

// lookup returns the status of service and whether it is known.
func (c *StaticChecker) lookup(service string) (Status, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.lookupLocked(service)
}

func (c *StaticChecker) lookupLocked(service string) (Status, bool) {
	status, ok := c.statuses[service]
	if !ok {
		if service != "" {
			return StatusServiceUnknown, false
		}
		status = StatusServing
	}
	if status == StatusServing && !c.shutdown && c.probes.failing(service) {
		status = StatusNotServing
	}
	return status, true
}

// Watch implements Watcher. It's safe to call concurrently with SetStatus.
// Unlike connectrpc.com/grpchealth, it accepts a service it does not know
// yet, so the handler streams SERVICE_UNKNOWN and then the service's status
// once it is set, as the gRPC protocol says.
func (c *StaticChecker) Watch(_ context.Context, req *CheckRequest, onChange func()) (func(), error) {
	entry := &watchEntry{onChange: onChange}
	service := req.Service
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watchers == nil {
		c.watchers = make(map[string]*watcherSet)
	}
	set := c.watchers[service]
	if set == nil {
		set = &watcherSet{entries: make(map[*watchEntry]struct{})}
		c.watchers[service] = set
	}
	set.entries[entry] = struct{}{}
	set.snapshot = nil
	return func() { c.removeWatcher(service, entry) }, nil
}

func (c *StaticChecker) removeWatcher(service string, entry *watchEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := c.watchers[service]
	if set == nil {
		return
	}
	delete(set.entries, entry)
	set.snapshot = nil
	if len(set.entries) == 0 {
		delete(c.watchers, service)
	}
}

// List implements Lister: the status of every service set so far, and of
// the whole server under the empty name.
func (c *StaticChecker) List(context.Context) (map[string]Status, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[string]Status, len(c.statuses)+1)
	out[""], _ = c.lookupLocked("")
	for service := range c.statuses {
		out[service], _ = c.lookupLocked(service)
	}
	return out, nil
}

func errUnknownService(service string) error {
	return connect.NewError(connect.CodeNotFound, fmt.Errorf("unknown service %q", service))
}
