package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// minimalWith returns the minimal config with old replaced by new.
func minimalWith(t *testing.T, old, new string) []byte {
	t.Helper()
	s := string(readFile(t, "testdata/minimal.yaml"))
	if !strings.Contains(s, old) {
		t.Fatalf("minimal.yaml has no %q", old)
	}
	return []byte(strings.Replace(s, old, new, 1))
}

func TestParseStructure(t *testing.T) {
	minimal := readFile(t, "testdata/minimal.yaml")
	end := strings.Count(string(minimal), "\n") // appended text starts on line end+1
	tests := []struct {
		name string
		data []byte
		want []string
	}{
		{"empty file", nil, []string{"the configuration is empty (start from the example config.yaml)"}},
		{"only comments", []byte("# nothing yet\n\n"), []string{"the configuration is empty (start from the example config.yaml)"}},
		{"only null", []byte("~\n"), []string{"the configuration is empty (start from the example config.yaml)"}},
		{"only a document marker", []byte("---\n"), []string{"the configuration is empty (start from the example config.yaml)"}},
		{"a list", []byte("- mode: all\n"), []string{"the configuration must be a mapping of keys (mode:, shop:, orders:, ...), got a list"}},
		{"a string", []byte("hello\n"), []string{`the configuration must be a mapping of keys (mode:, shop:, orders:, ...), got "hello"`}},
		{"syntax error", []byte("shop: [\n"), []string{"invalid YAML: line 1: did not find expected node content"}},
		{"tab indentation", []byte("shop:\n\taddr: x\n"), []string{"invalid YAML: line 2: found character that cannot start any token"}},
		{"two documents", append(minimal, "---\nmode: all\n"...), []string{"invalid YAML: the file must hold exactly one document (remove the second ---)"}},
		{
			"duplicate key",
			append(minimal, "retry:\n  interval: 1s\n  interval: 2s\n"...),
			[]string{fmt.Sprintf("retry.interval: duplicate key (first set on line %d)", end+2)},
		},
		{
			"duplicate top-level key",
			append(minimal, "sender: {}\n"...),
			[]string{fmt.Sprintf("sender: duplicate key (first set on line %d)", strings.Count(string(minimal[:strings.Index(string(minimal), "sender:")]), "\n")+1)},
		},
		{
			"duplicate status",
			minimalWith(t, "writeback:\n", "writeback:\n  status:\n    delivered: []\n    delivered: []\n"),
			[]string{"writeback.status.delivered: duplicate key (first set on line 12)"},
		},
		{"list for a string", append(minimal, "http: {listen: [a, b]}\n"...), []string{"http.listen: expected a string, got a list"}},
		{"mapping for a string", append(minimal, "mode: {a: 1}\n"...), []string{"mode: expected a string, got a mapping"}},
		{"string for a mapping", append(minimal, "retry: fast\n"...), []string{`retry: expected a mapping (key: value lines), got "fast"`}},
		{"string for a list", append(minimal, "routing: {failover: sf}\n"...), []string{`routing.failover: expected a list, got "sf" (write [sf] for a list of one)`}},
		{"mapping for a list", append(minimal, "routing: {failover: {a: b}}\n"...), []string{`routing.failover: expected a list, got a mapping`}},
		{"float for an integer", append(minimal, "workers: {queue: 1.5}\n"...), []string{`workers.queue: "1.5" is not an integer`}},
		{"bare number for a duration", append(minimal, "workers: {lease_ttl: 60}\n"...), []string{`workers.lease_ttl: "60" is not a duration: add a unit (e.g. "60s")`}},
		{"word for a duration", append(minimal, "workers: {lease_ttl: forever}\n"...), []string{`workers.lease_ttl: "forever" is not a duration (e.g. "5s")`}},
		{"negative duration", append(minimal, "retry: {interval: -5s}\n"...), []string{"retry.interval: must be > 0 (got -5s)"}},
		{
			"uint out of range",
			minimalWith(t, "  user: shipsync\n", "  user: shipsync\n  server_id: 5000000000\n"),
			[]string{"shop.server_id: 5000000000 is out of range (0 to 4294967295)"},
		},
		{
			"negative uint",
			minimalWith(t, "  user: shipsync\n", "  user: shipsync\n  server_id: -1\n"),
			[]string{"shop.server_id: -1 is out of range (0 to 4294967295)"},
		},
		{"unknown key, nothing close", append(minimal, "retry: {foo: 1}\n"...), []string{"retry.foo: unknown key (valid keys: interval, max_attempts, backoff, max_interval)"}},
		{"unknown key, hyphen for underscore", append(minimal, "workers: {lease-ttl: 10s}\n"...), []string{`workers.lease-ttl: unknown key (did you mean "lease_ttl"?)`}},
		{"unknown key, wrong case", append(minimal, "HTTP: {listen: \":9464\"}\n"...), []string{`HTTP: unknown key (did you mean "http"?)`}},
		{
			"unknown key in a list item",
			minimalWith(t, "    shipper_code: SF\n", "    shipper_code: SF\n    timeot: 5s\n"),
			[]string{`carriers[0].timeot: unknown key (did you mean "timeout"?)`},
		},
		{
			"misspelled required key reports the typo only",
			minimalWith(t, "    shipper_code: SF\n", "    shiper_code: SF\n"),
			[]string{`carriers[0].shiper_code: unknown key (did you mean "shipper_code"?)`},
		},
		{"empty value keeps the default", append(minimal, "retry:\n  interval:\n"...), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(tt.data, env())
			if got := errLines(err); !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParseAnchorsAndMerges(t *testing.T) {
	carriers := `carriers:
  - &sf
    name: sf
    type: kdniao
    url: https://api.kdniao.com/api/EOrderService
    ebusiness_id: "1234567"
    app_key: secret
    shipper_code: SF
    timeout: 3s
  - <<: *sf
    name: zto
    shipper_code: ZTO
routing: {failover: [zto]}
`
	s := string(readFile(t, "testdata/minimal.yaml"))
	s = s[:strings.Index(s, "carriers:\n")] + carriers
	cfg := mustParse(t, []byte(s))
	zto, ok := cfg.Carrier("zto")
	if !ok || zto.ShipperCode != "ZTO" || zto.AppKey != "secret" || zto.Timeout.String() != "3s" {
		t.Errorf("merged carrier = %+v, %v", zto, ok)
	}

	bad := s[:strings.Index(s, "carriers:\n")] + strings.Replace(carriers, "    timeout: 3s\n", "    timeout: 3s\n    timeot: 3s\n", 1)
	_, err := parse([]byte(bad), env())
	want := []string{
		`carriers[0].timeot: unknown key (did you mean "timeout"?)`,
		`carriers[1].timeot: unknown key (did you mean "timeout"?)`,
	}
	if got := errLines(err); !slices.Equal(got, want) {
		t.Errorf("errors:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

func TestDecodeStrictBackstop(t *testing.T) {
	// The checker normally reports these first; the KnownFields decoder must still catch them
	// on its own, with a path.
	tests := []struct {
		yaml string
		want []problem
	}{
		{"retry:\n  interval: 1s\n  bogus: 2\n", []problem{{path: "retry.bogus", msg: "field bogus not found in type config.Retry"}}},
		{"retry: {interval: 1s, bogus: 2}\n", []problem{{path: "retry", msg: "field bogus not found in type config.Retry"}}},
		{"workers:\n  queue: lots\n", []problem{{path: "workers.queue", msg: "cannot unmarshal !!str `lots` into int"}}},
		{"retry:\n  interval: 1s\n", nil},
	}
	for _, tt := range tests {
		var root yaml.Node
		if err := yaml.Unmarshal([]byte(tt.yaml), &root); err != nil {
			t.Fatal(err)
		}
		_, got := decodeStrict(&root)
		if !slices.Equal(got, tt.want) {
			t.Errorf("decodeStrict(%q) = %+v, want %+v", tt.yaml, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"key", "key", 0},
		{"kye", "key", 1},
		{"colum", "column", 1},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3}, // optimal string alignment: no edits inside a transposed pair
		{"waybil", "waybill", 1},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"column", "in", "max_in_flight", "timeout", "lease_ttl", "ebusiness_id"}
	tests := []struct{ key, want string }{
		{"colum", "column"},
		{"columns", "column"},
		{"Column", "column"},
		{"max-in-flight", "max_in_flight"},
		{"max_inflight", "max_in_flight"},
		{"timout", "timeout"},
		{"ebusinessid", "ebusiness_id"},
		{"on", "in"},
		{"xyz", ""},
		{"where", ""},
		{"retries", ""},
		{"tiemout", "timeout"},
	}
	for _, tt := range tests {
		if got := suggest(tt.key, keys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}
