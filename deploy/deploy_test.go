package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/pipeline"
)

// Paths relative to this package's directory, where `go test` runs.
const (
	dashboardFile    = "grafana/shipsync.json"
	alertsFile       = "prometheus/alerts.yml"
	alertTestsFile   = "testdata/alerts_test.yml"
	promConfigFile   = "prometheus/prometheus.yml"
	unitFile         = "shipsync.service"
	dockerfile       = "Dockerfile"
	buildImageScript = "build-image.sh"
	rootConfig       = "../config.yaml"
)

// issueMetrics are the metrics the dashboard must show (the issue's list, DESIGN.md §5).
var issueMetrics = []string{
	"shipsync_binlog_lag_seconds", "shipsync_binlog_row_events_total", "shipsync_checkpoint_age_seconds",
	"shipsync_paid_detected_total", "shipsync_orders_total", "shipsync_carrier_requests_total",
	"shipsync_carrier_request_duration_seconds", "shipsync_writeback_total", "shipsync_writeback_duration_seconds",
	"shipsync_end_to_end_seconds", "shipsync_retry_queue_depth", "shipsync_dead_letter_depth",
	"shipsync_push_requests_total", "shipsync_status_transitions_total", "shipsync_status_unknown_codes_total",
	"shipsync_watchdog_stuck_orders_total", "shipsync_watchdog_no_pickup_total", "shipsync_leader", "shipsync_ready",
}

// requiredAlerts are the alerts the issue asks for.
var requiredAlerts = []string{
	"ShipsyncDown", "ShipsyncNotReady", "ShipsyncNoLeader", "ShipsyncBinlogLagHigh",
	"ShipsyncCarrierSuccessLow", "ShipsyncDeadLetterGrowing", "ShipsyncStaleParcels",
}

const promtoolHint = "install it: apt-get install prometheus (make test does, via deploy/install-tools.sh)"

// --- scrape ---

// scrape is one /metrics response of a fresh metrics.New() whose vectors all have a series.
type scrape struct {
	text     []byte
	families map[string]string   // metric family name -> TYPE
	series   map[string]struct{} // sample names: counters and gauges by name, histograms as _bucket/_sum/_count
}

// liveScrape is the first scrape of a daemon: the pipeline built from the root config.yaml,
// before it has run or seen anything, served on 127.0.0.1 and read in the text format, as
// Prometheus would without content negotiation. Every series the dashboard and the alert rules
// name must be in it, or they show "no data" until the first event of its kind.
func liveScrape(t *testing.T) scrape {
	t.Helper()
	t.Setenv("SHOP_DB_PASSWORD", "x")
	t.Setenv("KDNIAO_APP_KEY", "x")
	cfg, err := config.Load(rootConfig)
	if err != nil {
		t.Fatal(err)
	}
	carriers := map[string]pipeline.Carrier{}
	for _, c := range cfg.Carriers {
		if carriers[c.Name], err = pipeline.NewCarrier(c); err != nil {
			t.Fatal(err)
		}
	}
	p, err := pipeline.New(pipeline.Options{Config: cfg, Log: slog.New(slog.DiscardHandler), Carriers: carriers})
	if err != nil {
		t.Fatal(err)
	}
	m := p.Metrics()
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := httptest.NewServer(mux) // listens on 127.0.0.1
	defer srv.Close()
	if host, _, _ := net.SplitHostPort(srv.Listener.Addr().String()); host != "127.0.0.1" {
		t.Fatalf("test server listens on %s, want 127.0.0.1", srv.Listener.Addr())
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read /metrics: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	s := scrape{text: body, families: map[string]string{}, series: map[string]struct{}{}}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if len(f) == 4 {
				s.families[f[2]] = f[3]
			}
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			name := line
			if i := strings.IndexAny(name, "{ "); i >= 0 {
				name = name[:i]
			}
			s.series[name] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return s
}

// --- PromQL name extraction ---

var (
	// quoted strings of PromQL: label values and regexes may contain anything.
	promString = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	metricName = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:])(shipsync_[a-zA-Z0-9_:]*)`)
	// Grafana variables: $name, ${name}, ${name:format}, [[name]].
	grafanaVar = regexp.MustCompile(`\$\{([a-zA-Z0-9_]+)(?::[a-z]+)?\}|\$([a-zA-Z0-9_]+)|\[\[([a-zA-Z0-9_]+)\]\]`)
)

// shipsyncNames returns the shipsync_* metric names an expression selects, sorted, without
// duplicates. Strings are removed first, so job="shipsync_x" does not count.
func shipsyncNames(expr string) []string {
	bare := promString.ReplaceAllString(expr, `""`)
	var out []string
	for _, m := range metricName.FindAllStringSubmatch(bare, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// familyOf maps a series name to its family: histogram series lose _bucket/_sum/_count.
func (s scrape) familyOf(name string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if ok && (s.families[base] == "histogram" || s.families[base] == "summary") {
			return base
		}
	}
	return name
}

// --- files ---

type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadAlerts(t *testing.T) alertRules {
	t.Helper()
	var r alertRules
	readYAML(t, alertsFile, &r)
	if len(r.Groups) == 0 {
		t.Fatalf("%s: no rule groups", alertsFile)
	}
	return r
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int     `json:"id"`
	Type       string  `json:"type"`
	Title      string  `json:"title"`
	Datasource *dsRef  `json:"datasource"`
	Panels     []panel `json:"panels"` // a collapsed row's panels
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string `json:"refId"`
		Expr       string `json:"expr"`
		Datasource *dsRef `json:"datasource"`
	} `json:"targets"`
}

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Type       string `json:"type"`
			Name       string `json:"name"`
			Query      any    `json:"query"` // a string (datasource) or an object (query)
			Definition string `json:"definition"`
			Datasource *dsRef `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardFile, err)
	}
	return d
}

// allPanels flattens rows: top-level panels and those inside collapsed rows.
func (d dashboard) allPanels() []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// exprs lists every PromQL expression of the dashboard with where it is, for messages.
func (d dashboard) exprs() (where []string, exprs []string) {
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			where = append(where, fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, tg.RefID))
			exprs = append(exprs, tg.Expr)
		}
	}
	return where, exprs
}

// variableQueries are the template variables' queries (label_values(...)): not PromQL, but the
// metric names in them must exist too.
func (d dashboard) variableQueries() []string {
	var out []string
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			out = append(out, v.Definition)
			if q, ok := v.Query.(map[string]any); ok {
				if s, ok := q["query"].(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// promQL turns a Grafana expression into plain PromQL: interval variables become 5m, the others
// (used inside =~"...") match anything.
func promQL(expr string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		name := strings.Trim(v, "${}[]")
		name, _, _ = strings.Cut(name, ":")
		switch name {
		case "__rate_interval", "__interval", "__range":
			return "5m"
		}
		return ".*"
	})
}

func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found in PATH: %s", promtoolHint)
	}
	return path
}

// run runs a command with stdin and fails the test with its output when it does not succeed.
func run(t *testing.T, stdin []byte, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// --- tests ---

// TestMetricNamesExist cross-checks every shipsync_* name in the alert rules, the dashboard's
// queries and its template variables against a live scrape of sync/metrics.
func TestMetricNamesExist(t *testing.T) {
	s := liveScrape(t)
	check := func(where, expr string) []string {
		names := shipsyncNames(expr)
		for _, n := range names {
			if _, ok := s.series[n]; !ok {
				hint := ""
				if _, ok := s.families[n]; ok {
					hint = fmt.Sprintf(" (%s is a %s: select %s_bucket, _sum or _count)", n, s.families[n], n)
				}
				t.Errorf("%s uses %s, which the /metrics scrape does not have%s; "+
					"if it is a new vector, give it its zero series in metrics.Init", where, n, hint)
			}
		}
		return names
	}

	for _, g := range loadAlerts(t).Groups {
		for _, r := range g.Rules {
			names := check(fmt.Sprintf("%s: alert %s", alertsFile, r.Alert), r.Expr)
			if len(names) == 0 && r.Alert != "ShipsyncDown" {
				t.Errorf("%s: alert %s uses no shipsync metric: %s", alertsFile, r.Alert, r.Expr)
			}
		}
	}

	d := loadDashboard(t)
	used := map[string]bool{}
	where, exprs := d.exprs()
	for i, e := range exprs {
		names := check(dashboardFile+": "+where[i], e)
		if len(names) == 0 {
			t.Errorf("%s: %s uses no shipsync metric: %s", dashboardFile, where[i], e)
		}
		for _, n := range names {
			used[s.familyOf(n)] = true
		}
	}
	for _, q := range d.variableQueries() {
		check(dashboardFile+": template variable", q)
	}

	for _, n := range issueMetrics {
		if _, ok := s.families[n]; !ok {
			t.Errorf("metric %s of the issue's list is not in the scrape", n)
		}
		if !used[n] {
			t.Errorf("%s shows no panel with %s", dashboardFile, n)
		}
	}
	for f := range s.families {
		if strings.HasPrefix(f, "shipsync_") && !used[f] && !slices.Contains(issueMetrics, f) {
			t.Logf("note: %s is not on the dashboard", f)
		}
	}
}

// TestShipsyncNames checks the name extraction the cross-check relies on.
func TestShipsyncNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`shipsync_ready == 0`, []string{"shipsync_ready"}},
		{`histogram_quantile(0.99, sum by (le) (rate(shipsync_end_to_end_seconds_bucket{job=~"$job"}[5m])))`,
			[]string{"shipsync_end_to_end_seconds_bucket"}},
		{`sum(rate(shipsync_a_total{x="shipsync_not_a_metric"}[1m])) / sum(rate(shipsync_b_total[1m]))`,
			[]string{"shipsync_a_total", "shipsync_b_total"}},
		{`up{job="shipsync"} == 0 or absent(up{job='shipsync'})`, nil},
		{`label_values(shipsync_carrier_requests_total{job=~"$job"}, carrier)`, []string{"shipsync_carrier_requests_total"}},
		{`not_shipsync_x + shipsync_y`, []string{"shipsync_y"}},
	}
	for _, tt := range tests {
		if got := shipsyncNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("shipsyncNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
	if got, want := promQL(`rate(x{a=~"$job", b=~"${carrier}", c=~"[[instance]]"}[$__rate_interval])`),
		`rate(x{a=~".*", b=~".*", c=~".*"}[5m])`; got != want {
		t.Errorf("promQL = %q, want %q", got, want)
	}
}

// TestPromtoolCheckMetrics lints the scrape as Prometheus' own tool does (DESIGN.md §5).
func TestPromtoolCheckMetrics(t *testing.T) {
	tool := promtool(t)
	s := liveScrape(t)
	out := run(t, s.text, tool, "check", "metrics")
	if strings.TrimSpace(out) != "" {
		t.Errorf("promtool check metrics:\n%s", out)
	}
}

// TestPromtoolCheckRules validates the alert rules and the sample Prometheus configuration.
func TestPromtoolCheckRules(t *testing.T) {
	tool := promtool(t)
	run(t, nil, tool, "check", "rules", alertsFile)
	run(t, nil, tool, "check", "config", promConfigFile)
}

// TestAlertRulesFire runs the unit tests of testdata/alerts_test.yml: every alert fires on its
// trouble and stays quiet otherwise. promtool compares annotations verbatim, so the rules run
// from a copy without them.
func TestAlertRulesFire(t *testing.T) {
	tool := promtool(t)
	var raw map[string]any
	readYAML(t, alertsFile, &raw)
	groups, _ := raw["groups"].([]any)
	for _, g := range groups {
		rules, _ := g.(map[string]any)["rules"].([]any)
		for _, r := range rules {
			delete(r.(map[string]any), "annotations")
		}
	}
	stripped, err := yaml.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(alertTestsFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "alerts.yml"), stripped)
	writeFile(t, filepath.Join(dir, "alerts_test.yml"), tests)
	run(t, nil, tool, "test", "rules", filepath.Join(dir, "alerts_test.yml"))

	// Every alert must be shown to fire at least once.
	var ut struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(tests, &ut); err != nil {
		t.Fatal(err)
	}
	fires := map[string]bool{}
	for _, tc := range ut.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			}
		}
	}
	for _, g := range loadAlerts(t).Groups {
		for _, r := range g.Rules {
			if r.Alert != "" && !fires[r.Alert] {
				t.Errorf("%s: no test case shows alert %s firing", alertTestsFile, r.Alert)
			}
		}
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAlertRulesShape checks what promtool does not: the alerts the issue asks for exist, and
// every rule carries a severity and its annotations.
func TestAlertRulesShape(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range loadAlerts(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a rule without alert name (recording rules do not belong here): %s", g.Name, r.Expr)
				continue
			}
			if seen[r.Alert] {
				t.Errorf("alert %s defined twice", r.Alert)
			}
			seen[r.Alert] = true
			if sev := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, sev) {
				t.Errorf("alert %s: severity %q, want critical, warning or info", r.Alert, sev)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("alert %s: no %s annotation", r.Alert, a)
				}
			}
		}
	}
	for _, a := range requiredAlerts {
		if !seen[a] {
			t.Errorf("%s has no alert %s", alertsFile, a)
		}
	}
}

// TestDashboard checks that the dashboard imports cleanly: valid JSON, a Prometheus data source
// variable that every query uses, titled panels with queries, unique ids, no overlapping panels,
// and PromQL that parses.
func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q, title %q: both are needed to import and link it", d.UID, d.Title)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d: want 36 or newer (Grafana 9+)", d.SchemaVersion)
	}
	hasDS := false
	for _, v := range d.Templating.List {
		if v.Type == "datasource" && v.Name == "datasource" && v.Query == "prometheus" {
			hasDS = true
		}
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${datasource}") {
			t.Errorf("template variable %s does not query the ${datasource} variable", v.Name)
		}
	}
	if !hasDS {
		t.Error(`no template variable "datasource" of type datasource for prometheus`)
	}

	ids := map[int]bool{}
	type rect struct {
		x, y, w, h int
		title      string
	}
	var rects []rect
	panels := 0
	for _, p := range d.allPanels() {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
		for _, r := range rects {
			if g.X < r.x+r.w && r.x < g.X+g.W && g.Y < r.y+r.h && r.y < g.Y+g.H {
				t.Errorf("panel %q overlaps panel %q", p.Title, r.title)
			}
		}
		rects = append(rects, rect{g.X, g.Y, g.W, g.H, p.Title})
		if strings.TrimSpace(p.Title) == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if p.Type == "row" {
			continue
		}
		panels++
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no target", p.Title)
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %+v, want prometheus ${datasource}", p.Title, p.Datasource)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q target %s has no expr", p.Title, tg.RefID)
			}
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: target refId %q missing or repeated", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource != nil && tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q target %s: datasource %+v, want ${datasource}", p.Title, tg.RefID, tg.Datasource)
			}
		}
	}
	if panels < 10 {
		t.Errorf("%d panels: the issue asks for lag, throughput, success rate, latency, queues, stale parcels, ...", panels)
	}

	// PromQL syntax: promtool parses each query as a recording rule.
	tool := promtool(t)
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	where, exprs := d.exprs()
	for i, e := range exprs {
		q := promQL(e)
		if strings.Contains(q, "$") {
			t.Errorf("%s: a variable is left after substitution: %s", where[i], q)
		}
		quoted, err := json.Marshal(q) // a JSON string is a valid YAML double-quoted scalar
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&rules, "      - record: dashboard_query_%d # %s\n        expr: %s\n", i, strings.ReplaceAll(where[i], "\n", " "), quoted)
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	writeFile(t, path, []byte(rules.String()))
	run(t, nil, tool, "check", "rules", path)
}

// TestScrapeConfigMatches keeps the sample scrape target on the daemon's default listen address
// and its job name equal to the one the alerts use.
func TestScrapeConfigMatches(t *testing.T) {
	var pc struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	data, err := os.ReadFile(promConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &pc); err != nil {
		t.Fatal(err)
	}
	cfg := loadRootConfig(t)
	var job string
	for _, sc := range pc.ScrapeConfigs {
		if sc.JobName != "shipsync" {
			continue
		}
		job = sc.JobName
		if sc.MetricsPath != "/metrics" {
			t.Errorf("metrics_path %q, want /metrics", sc.MetricsPath)
		}
		if len(sc.StaticConfigs) == 0 || !slices.Contains(sc.StaticConfigs[0].Targets, cfg.Admin.Listen) {
			t.Errorf("%s: scrape targets %+v do not include admin.listen %s of config.yaml (metrics are served there)",
				promConfigFile, sc.StaticConfigs, cfg.Admin.Listen)
		}
	}
	if job == "" {
		t.Fatalf("%s: no job_name shipsync", promConfigFile)
	}
	for _, g := range loadAlerts(t).Groups {
		for _, r := range g.Rules {
			if strings.Contains(r.Expr, "job=") && !strings.Contains(r.Expr, `job="`+job+`"`) {
				t.Errorf("alert %s selects another job than %q: %s", r.Alert, job, r.Expr)
			}
		}
	}
}

// loadRootConfig loads the repository's config.yaml, whose values (listen address, drain
// timeout) the deployment files must agree with.
func loadRootConfig(t *testing.T) *config.Config {
	t.Helper()
	for _, k := range []string{"SHOP_DB_PASSWORD", "KDNIAO_APP_KEY", "KDNIAO_EBUSINESS_ID", "REDIS_PASSWORD"} {
		t.Setenv(k, "x")
	}
	cfg, err := config.Load(rootConfig)
	if err != nil {
		t.Fatalf("load %s: %v", rootConfig, err)
	}
	return cfg
}

// unit parses a systemd unit file into section -> key -> values (keys may repeat).
func unit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string][]string{}
	section := ""
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %s", path, n+1, line)
			}
			out[section][strings.TrimSpace(k)] = append(out[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return out
}

// TestSystemdUnit checks the unit with systemd-analyze verify (which reports unknown keys and bad
// values) and the settings the daemon relies on.
func TestSystemdUnit(t *testing.T) {
	u := unit(t, unitFile)
	svc := u["Service"]
	one := func(k string) string {
		if len(svc[k]) != 1 {
			t.Errorf("[Service] %s: %q, want exactly one", k, svc[k])
			return ""
		}
		return svc[k][0]
	}
	const bin = "/usr/local/bin/shipsync"
	if got, want := one("ExecStart"), bin+" run --config /etc/shipsync/config.yaml"; got != want {
		t.Errorf("ExecStart=%s, want %s", got, want)
	}
	if one("Type") != "simple" {
		t.Errorf("Type=%s, want simple", one("Type"))
	}
	if user := one("User"); user == "" || user == "root" || user == "0" {
		t.Errorf("User=%q: shipsync must not run as root", user)
	}
	if one("EnvironmentFile") != "/etc/shipsync/env" {
		t.Errorf("EnvironmentFile=%s, want /etc/shipsync/env (secrets)", one("EnvironmentFile"))
	}
	secret := regexp.MustCompile(`(?i)password|secret|app_key|token`)
	for _, e := range svc["Environment"] {
		if secret.MatchString(e) {
			t.Errorf("Environment=%s: secrets belong in the EnvironmentFile, not in the unit", e)
		}
	}
	for k, want := range map[string]string{"Restart": "on-failure", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"ProtectHome": "yes", "PrivateTmp": "yes", "ReadOnlyPaths": "/etc/shipsync"} {
		if got := one(k); got != want {
			t.Errorf("%s=%s, want %s", k, got, want)
		}
	}
	// Stopping takes workers.drain_timeout plus the checkpoint save: systemd must wait longer
	// before it sends SIGKILL.
	stop, err := strconv.Atoi(one("TimeoutStopSec"))
	if err != nil {
		t.Fatalf("TimeoutStopSec=%s: want whole seconds", one("TimeoutStopSec"))
	}
	drain := loadRootConfig(t).Workers.DrainTimeout
	if time.Duration(stop)*time.Second < drain+10*time.Second {
		t.Errorf("TimeoutStopSec=%d: want at least workers.drain_timeout (%v) + 10s", stop, drain)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found in PATH: install it: apt-get install systemd (deploy/install-tools.sh does)")
	}
	// verify wants ExecStart's program to exist; run it on a copy that points at this test binary.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "shipsync.service")
	writeFile(t, copyPath, bytes.ReplaceAll(data, []byte(bin+" "), []byte(self+" ")))
	cmd := exec.CommandContext(t.Context(), analyze, "verify", copyPath)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0", "SYSTEMD_PAGER=")
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}
}

// dockerInstructions parses a Dockerfile into stages of (instruction, arguments), with line
// continuations joined and comments dropped.
func dockerInstructions(t *testing.T, path string) [][][2]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stages [][][2]string
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		instr, args, _ := strings.Cut(line, " ")
		instr = strings.ToUpper(instr)
		if instr == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			if instr != "ARG" {
				t.Fatalf("%s: %s before FROM", path, instr)
			}
			return
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], [2]string{instr, strings.TrimSpace(args)})
	}
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

// TestDockerfile checks what can be checked without podman: one FROM scratch stage (no base
// image to pull, so it builds without a registry) holding the binary and the CA bundle, run as a
// numeric non-root user with the default command and both ports; and that deploy/build-image.sh,
// which `make image` runs, builds that binary statically and copies the host's CA bundle.
// TestImage builds and runs the image for real.
func TestDockerfile(t *testing.T) {
	stages := dockerInstructions(t, dockerfile)
	if len(stages) != 1 {
		t.Fatalf("%s: %d stages, want one FROM scratch stage (no registry to pull a build image from)", dockerfile, len(stages))
	}
	get := func(stage [][2]string, instr string) []string {
		var out []string
		for _, in := range stage {
			if in[0] == instr {
				out = append(out, in[1])
			}
		}
		return out
	}
	final := stages[0]
	if base := get(final, "FROM")[0]; base != "scratch" {
		t.Errorf("FROM %s: want scratch, which needs no registry", base)
	}
	if runs := get(final, "RUN"); len(runs) > 0 {
		t.Errorf("RUN %q: a scratch image has no shell to run it", runs)
	}
	copies := get(final, "COPY")
	for _, want := range []string{"shipsync /shipsync", "ca-certificates.crt /etc/ssl/certs/ca-certificates.crt"} {
		if !slices.Contains(copies, want) {
			t.Errorf("COPY %q: want COPY %s", copies, want)
		}
	}
	users := get(final, "USER")
	if len(users) == 0 {
		t.Error("no USER: the image would run as root")
	} else if u := users[len(users)-1]; !regexp.MustCompile(`^[1-9][0-9]*(:[1-9][0-9]*)?$`).MatchString(u) {
		t.Errorf("USER %s: want a numeric non-root uid[:gid], which runAsNonRoot can check", u)
	}
	if ep := get(final, "ENTRYPOINT"); len(ep) != 1 || ep[0] != `["/shipsync"]` {
		t.Errorf(`ENTRYPOINT %q, want ["/shipsync"]`, ep)
	}
	if cmd := get(final, "CMD"); len(cmd) != 1 || cmd[0] != `["run", "--config", "/etc/shipsync/config.yaml"]` {
		t.Errorf("CMD %q, want run --config /etc/shipsync/config.yaml", cmd)
	}
	cfg := loadRootConfig(t)
	var exposed []string
	for _, e := range get(final, "EXPOSE") {
		exposed = append(exposed, strings.Fields(e)...)
	}
	for key, addr := range map[string]string{"http.listen": cfg.HTTP.Listen, "admin.listen": cfg.Admin.Listen} {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("%s %q: %v", key, addr, err)
		}
		if !slices.Contains(exposed, port) {
			t.Errorf("EXPOSE %q does not include the %s port %s", exposed, key, port)
		}
	}

	script, err := os.ReadFile(buildImageScript)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-ldflags '-s -w'", "./cmd/shipsync",
		`-o "$ctx/shipsync"`, "/etc/ssl/certs/ca-certificates.crt", `"$ctx/ca-certificates.crt"`,
		`-f "$root/deploy/Dockerfile"`} {
		if !strings.Contains(string(script), want) {
			t.Errorf("%s does not contain %s", buildImageScript, want)
		}
	}
	if _, err := os.Stat("../cmd/shipsync/main.go"); err != nil {
		t.Errorf("the build target ./cmd/shipsync: %v", err)
	}
	run(t, nil, "bash", "-n", buildImageScript)
}

// TestInstallToolsScript checks the script's syntax; running it needs root and apt-get.
func TestInstallToolsScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash not found in PATH")
	}
	run(t, nil, bash, "-n", "install-tools.sh")
}

// TestSplitPrivileges checks the SHOW GRANTS parsing the grants test relies on.
func TestSplitPrivileges(t *testing.T) {
	got := splitPrivileges("SELECT, UPDATE (`shipping_time`, `invoice_no`), REPLICATION SLAVE")
	want := []string{"SELECT", "UPDATE (invoice_no,shipping_time)", "REPLICATION SLAVE"}
	if !slices.Equal(got, want) {
		t.Errorf("splitPrivileges = %q, want %q", got, want)
	}
}
