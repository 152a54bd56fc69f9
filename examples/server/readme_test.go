package main

import (
	"os"
	"strings"
	"testing"

	"github.com/connectware/connectware/internal/assert"
)

// tableRows returns the cells of every Markdown table row in text, under
// the "## " heading each row follows, header and separator rows excluded.
func tableRows(text string) map[string][][]string {
	rows := map[string][][]string{}
	section := ""
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "## "); ok {
			section = strings.TrimSpace(rest)
			continue
		}
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") {
			continue
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows[section] = append(rows[section], cells)
	}
	return rows
}

// TestREADMEBenchmarks: each row of the root README's benchmark table is
// the same benchmark, with the same figures, as in benchmarks/README.md,
// and the README gives the command that reproduces them.
func TestREADMEBenchmarks(t *testing.T) {
	root, err := os.ReadFile("../../README.md")
	assert.NoError(t, err)
	bench, err := os.ReadFile("../../benchmarks/README.md")
	assert.NoError(t, err)
	const command = "cd benchmarks && go test -run '^$' -bench . -benchmem -count 5 ./..."
	assert.Contains(t, string(root), command)
	assert.Contains(t, string(bench), command)

	figures := map[string][]string{} // "package/benchmark" -> connectware, official
	for section, rows := range tableRows(string(bench)) {
		for _, cells := range rows {
			if len(cells) >= 3 {
				figures[section+"/"+cells[0]] = cells[1:3]
			}
		}
	}
	rows := tableRows(string(root))["Benchmarks"]
	assert.True(t, len(rows) >= 8, "the README's benchmark table", len(rows))
	for _, cells := range rows[1:] { // after the header
		assert.Equal(t, len(cells), 4, cells)
		want, ok := figures[cells[0]+"/"+cells[1]]
		assert.True(t, ok, "no such row in benchmarks/README.md:", cells[0], cells[1])
		assert.Equal(t, cells[2:], want, cells[0], cells[1])
	}
}
