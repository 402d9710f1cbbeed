package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// documentErrors start the messages of the errors about the file as a whole, which have no
// key to name (parseDocument).
var documentErrors = []string{
	"invalid YAML: ",
	"the configuration is empty",
	"the configuration must be a mapping of keys",
}

// FuzzParse feeds YAML to the loader, with one environment variable whose value is fuzzed too.
// It must never panic; a Config it returns passes Validate; an error is either about the file as
// a whole (documentErrors) or a list of problems, one per line, each line starting with the
// problem's non-empty YAML path and ": ".
func FuzzParse(f *testing.F) {
	minimal, err := os.ReadFile("testdata/minimal.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range []string{"testdata/minimal.yaml", "testdata/bad.yaml", "../../config.yaml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "secret")
	}
	for _, extra := range []string{
		"retry: {max_attempts: ${FUZZ}}\n",
		"retry: {max_attempts: \"${FUZZ}\"}\n",
		"http: {listen: \"${FUZZ:-127.0.0.1:9464}\", max_body: ${UNSET}}\n",
		"workers: {queue: ${EMPTY:-64}, lease_ttl: ${FUZZ}, drain_timeout: $${FUZZ}}\n",
		"state: {redis: {addr: ${FUZZ, prefix: ${1BAD}}}\n",
		"retry:\n  interval: 1s\n  interval: 2s\n  bogus: 1\n",
		"x: &a {mode: all}\nretry: {<<: *a}\n",
		"watchdog: &w {scan_every: *w}\n",
		"writeback: {status: {\"a\\nb\": [\"SELECT :nope\"]}}\n",
		"workers: {queue: 1.5, lease_ttl: 60, drain_timeout: 99999999999999999999h}\n",
		"shop: {server_id: -1, max_conns: 0x7fffffffffffffffff}\n",
		"---\nmode: all\n",
	} {
		f.Add(append(append([]byte(nil), minimal...), extra...), "42")
	}
	f.Add([]byte("- mode: all\n"), "")
	f.Add([]byte("shop: [\n"), "")
	f.Add([]byte(""), "")
	f.Fuzz(func(t *testing.T, data []byte, value string) {
		lookup := env("FUZZ", value, "EMPTY", "", "SHOP_DB_PASSWORD", "pw", "KDNIAO_APP_KEY", "key")
		cfg, err := parse(data, lookup)
		if err == nil {
			if cfg == nil {
				t.Fatal("no Config and no error")
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Parse accepted a Config that Validate refuses:\n%v", err)
			}
			return
		}
		checkProblems(t, err)
	})
}

// checkProblems fails t unless err names a YAML path on every line, or is about the file as a
// whole.
func checkProblems(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		for _, prefix := range documentErrors {
			if strings.HasPrefix(msg, prefix) {
				return
			}
		}
		var p problem
		if !errors.As(err, &p) {
			t.Fatalf("error is neither about the file nor a list of problems: %q", msg)
		}
	}
	var errs []error
	if joined != nil {
		errs = joined.Unwrap()
	} else {
		errs = []error{err}
	}
	lines := strings.Split(msg, "\n")
	if len(lines) != len(errs) {
		t.Errorf("%d problems on %d lines, want one per line:\n%s", len(errs), len(lines), msg)
	}
	for i, e := range errs {
		var p problem
		if !errors.As(e, &p) {
			t.Fatalf("problem %d is a %T, not a problem: %q", i, e, e)
		}
		if p.path == "" {
			t.Fatalf("problem %d names no YAML path: %q\nwhole error:\n%s", i, p.msg, msg)
		}
		if i < len(lines) && !strings.HasPrefix(lines[i], p.path+": ") {
			t.Errorf("line %d %q does not start with its path %q", i+1, lines[i], p.path)
		}
	}
}
