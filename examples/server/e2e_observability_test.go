package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"connectrpc.com/connect"

	greetv1 "github.com/connectware/connectware/examples/gen/greet/v1"
	"github.com/connectware/connectware/internal/assert"
	"github.com/connectware/connectware/internal/testkit"
)

var (
	metricName = regexp.MustCompile(`\b(?:rpc|connectware)_[a-z_]+\b`)
	byClause   = regexp.MustCompile(`by \(([^)]*)\)`)
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? `)
	labelName  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`)
	// selector is a metric with label matchers, as in an expression.
	selector     = regexp.MustCompile(`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)
	matcherLabel = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	// notMetrics are the parts of an expression that name labels only.
	notMetrics = regexp.MustCompile(`by \([^)]*\)|\{[^}]*\}|, *[a-z_]+\)$`)
)

// TestObservabilityAssets scrapes the running example after calls of every
// kind of outcome and checks that every metric the Grafana dashboard and
// the Prometheus rules query exists, with the labels they select on and
// group by.
func TestObservabilityAssets(t *testing.T) {
	p := startProcess(t, "-rate", "0.5", "-burst", "3")
	ctx := context.Background()
	client := p.greetClient(t, testkit.ConnectProto, false, true)
	_, err := client.Greet(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"}))
	assert.NoError(t, err)
	_, err = client.Greet(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: ""}))
	assert.Code(t, err, connect.CodeInvalidArgument)
	_, err = p.greetClient(t, testkit.ConnectProto, false, false).Greet(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"}))
	assert.Code(t, err, connect.CodeUnauthenticated)
	for range 3 {
		_, err = client.Greet(ctx, connect.NewRequest(&greetv1.GreetRequest{Name: "Ada"}))
	}
	assert.Code(t, err, connect.CodeResourceExhausted)

	res, err := http.Get(p.URL + "/metrics")
	assert.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	labels := map[string]map[string]bool{} // metric -> label names
	for _, line := range strings.Split(string(body), "\n") {
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if labels[m[1]] == nil {
			labels[m[1]] = map[string]bool{}
		}
		for _, l := range labelName.FindAllStringSubmatch(m[2], -1) {
			labels[m[1]][l[1]] = true
		}
	}

	var exprs []string
	dashboard, err := os.ReadFile("../observability/grafana-dashboard.json")
	assert.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct{ List []struct{ Query any } }
	}
	assert.NoError(t, json.Unmarshal(dashboard, &dash))
	for _, panel := range dash.Panels {
		assert.True(t, len(panel.Targets) > 0, panel.Title)
		for _, target := range panel.Targets {
			exprs = append(exprs, target.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(string); ok && strings.Contains(q, "label_values") {
			exprs = append(exprs, q)
		}
	}
	rules, err := os.ReadFile("../observability/prometheus-rules.yml")
	assert.NoError(t, err)
	ruleCount := 0
	for _, line := range strings.Split(string(rules), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "expr: "); ok {
			exprs = append(exprs, rest)
			ruleCount++
		}
	}
	assert.Equal(t, ruleCount, 6)
	assert.True(t, len(exprs) >= 15, len(exprs))

	for _, expr := range exprs {
		names := metricName.FindAllString(notMetrics.ReplaceAllString(expr, ""), -1)
		assert.True(t, len(names) > 0, "no metric in", expr)
		for _, name := range names {
			got, ok := labels[name]
			assert.True(t, ok, "metric missing from /metrics:", name, "in", expr)
			for _, sel := range selector.FindAllStringSubmatch(expr, -1) {
				if sel[1] != name {
					continue
				}
				for _, l := range matcherLabel.FindAllStringSubmatch(sel[2], -1) {
					assert.True(t, got[l[1]], "label", l[1], "missing on", name, "in", expr)
				}
			}
			for _, by := range byClause.FindAllStringSubmatch(expr, -1) {
				for _, l := range strings.Split(by[1], ",") {
					l = strings.TrimSpace(l)
					assert.True(t, got[l], "label", l, "missing on", name, "in", expr)
				}
			}
		}
	}
}
