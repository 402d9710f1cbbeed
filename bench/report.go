package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
)

// row is one line of the results table.
type row struct {
	Scenario  string   `json:"scenario"`
	Metric    string   `json:"metric"`
	Shipsync  string   `json:"shipsync"`
	Reference string   `json:"reference"`
	Ratio     string   `json:"ratio"`
	Target    string   `json:"target"`
	Verdict   string   `json:"verdict"` // pass | short | info | not run
	Notes     []string `json:"notes,omitempty"`
}

// report is the whole run, as written to results.json.
type report struct {
	Scale    string            `json:"scale"`
	Duration string            `json:"duration"`
	Machine  map[string]string `json:"machine"`
	Rows     []row             `json:"rows"`
}

func (b *bench) add(r row) {
	if r.Verdict == "" {
		r.Verdict = "info"
	}
	for _, s := range []*string{&r.Shipsync, &r.Reference, &r.Ratio, &r.Target} {
		if *s == "" {
			*s = "-"
		}
	}
	b.report.Rows = append(b.report.Rows, r)
}

func (b *bench) notRun(scenario, why string) {
	b.add(row{Scenario: scenario, Verdict: "not run", Notes: []string{why}})
}

func verdict(ok bool) string {
	if ok {
		return "pass"
	}
	return "short"
}

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func (r report) print(w io.Writer) {
	fmt.Fprintf(w, "\nshipsync benchmarks (scale %s, %s)\n\n", r.Scale, r.Duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tMETRIC\tSHIPSYNC\tREFERENCE\tRATIO\tTARGET\tRESULT")
	for _, x := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Scenario, x.Metric, x.Shipsync, x.Reference, x.Ratio, x.Target, x.Verdict)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nnotes:")
	for _, x := range r.Rows {
		for _, n := range x.Notes {
			fmt.Fprintf(w, "  [%s %s] %s\n", x.Scenario, x.Metric, n)
		}
	}
}

// markdown renders the table as GitHub markdown, for docs/benchmarks.md.
func (r report) markdown() string {
	var s strings.Builder
	s.WriteString("| scenario | metric | shipsync | reference | ratio | target | result |\n|---|---|---|---|---|---|---|\n")
	for _, x := range r.Rows {
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %s | %s |\n", x.Scenario, x.Metric, x.Shipsync, x.Reference, x.Ratio, x.Target, x.Verdict)
	}
	return s.String()
}

func (r report) write(path string) error {
	if err := writeJSON(path, r); err != nil {
		return err
	}
	return os.WriteFile(strings.TrimSuffix(path, ".json")+".md", []byte(r.markdown()), 0o644)
}

// describeMachine records what the numbers were measured on.
func describeMachine(ctx context.Context, b *bench) map[string]string {
	m := map[string]string{"go": runtime.Version(), "cpus": fmt.Sprint(runtime.NumCPU())}
	if buf, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(buf), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if buf, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(buf), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				m["memory"] = strings.TrimSpace(strings.TrimPrefix(line, "MemTotal:"))
			}
		}
	}
	if buf, err := os.ReadFile("/proc/loadavg"); err == nil {
		m["loadavg_at_end"] = strings.TrimSpace(string(buf))
	}
	if b.admin != nil {
		var v string
		if err := b.admin.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err == nil {
			m["mariadb"] = v
		}
	}
	return m
}
