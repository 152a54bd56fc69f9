package grpchealth

import (
	"encoding/json"
	"net/http"
)

// httpReport is the small JSON body of the plain HTTP endpoints.
type httpReport struct {
	Status  string   `json:"status"`
	Service string   `json:"service,omitempty"`
	Failing []string `json:"failing,omitempty"`
}

// LivenessHandler returns a plain HTTP handler for liveness probes (mount it
// on /healthz or /livez): GET or HEAD answers 200 with {"status":"SERVING"}
// while every liveness probe ([StaticChecker.AddLivenessProbe]) passes, and
// 503 with {"status":"NOT_SERVING","failing":[names]} otherwise. Readiness
// probes, SetStatus and Shutdown never change it: a draining or degraded
// process is still alive and must not be restarted. Other methods get 405.
func (c *StaticChecker) LivenessHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowRead(w, r) {
			return
		}
		c.mu.RLock()
		failing := failingNames(c.probes.liveness)
		c.mu.RUnlock()
		report := httpReport{Status: StatusServing.protoName(), Failing: failing}
		if len(failing) > 0 {
			report.Status = StatusNotServing.protoName()
		}
		writeReport(w, r, report, len(failing) == 0)
	})
}

// ReadinessHandler returns a plain HTTP handler for readiness probes (mount
// it on /readyz): GET or HEAD answers 200 with {"status":"SERVING"} when the
// whole server (or the service named by the "service" query parameter) is
// StatusServing, 503 with its status and the names of its failing readiness
// probes otherwise (for example during Shutdown), and 404 with
// {"status":"SERVICE_UNKNOWN"} for an unknown service. Other methods get 405.
func (c *StaticChecker) ReadinessHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowRead(w, r) {
			return
		}
		service := r.URL.Query().Get("service")
		c.mu.RLock()
		status, known := c.lookupLocked(service)
		var failing []string
		if !c.shutdown {
			failing = failingNames(c.probes.readiness[service])
		}
		c.mu.RUnlock()
		report := httpReport{Status: status.protoName(), Service: service, Failing: failing}
		if !known {
			writeJSON(w, r, http.StatusNotFound, report)
			return
		}
		writeReport(w, r, report, status == StatusServing)
	})
}

func allowRead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

func writeReport(w http.ResponseWriter, r *http.Request, report httpReport, ok bool) {
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, r, code, report)
}

func writeJSON(w http.ResponseWriter, r *http.Request, code int, report httpReport) {
	body, err := json.Marshal(report)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
