package config

import (
	"slices"
	"strings"
	"testing"
)

func TestExpandEnv(t *testing.T) {
	lookup := env("USER_NAME", "ann", "EMPTY", "", "TRICKY", "a: b # c")
	tests := []struct {
		in, want string
		errs     []string
	}{
		{"plain", "plain", nil},
		{"${USER_NAME}", "ann", nil},
		{"pre-${USER_NAME}-post", "pre-ann-post", nil},
		{"${USER_NAME}${USER_NAME}", "annann", nil},
		{"${EMPTY}", "", nil},
		{"${EMPTY:-fallback}", "fallback", nil},
		{"${UNSET:-fallback}", "fallback", nil},
		{"${UNSET:-}", "", nil},
		{"${USER_NAME:-fallback}", "ann", nil},
		{"${UNSET:-a:b c}", "a:b c", nil},
		{"${TRICKY}", "a: b # c", nil},
		{"$${USER_NAME}", "${USER_NAME}", nil},
		{"cost $5, $HOME, $$", "cost $5, $HOME, $$", nil},
		{"${UNSET}", "", []string{"environment variable UNSET is not set"}},
		{"${UNSET} and ${ALSO_UNSET}", " and ", []string{"environment variable UNSET is not set", "environment variable ALSO_UNSET is not set"}},
		{"${1BAD}", "", []string{"invalid environment variable reference ${1BAD} (use ${NAME} or ${NAME:-default})"}},
		{"${}", "", []string{"invalid environment variable reference ${} (use ${NAME} or ${NAME:-default})"}},
		{"${USER_NAME", "", []string{`unterminated ${ in "${USER_NAME" (write $${ for a literal ${)`}},
	}
	for _, tt := range tests {
		got, errs := expandEnv(tt.in, lookup)
		if !slices.Equal(errs, tt.errs) {
			t.Errorf("expandEnv(%q) errors = %q, want %q", tt.in, errs, tt.errs)
			continue
		}
		if len(errs) == 0 && got != tt.want {
			t.Errorf("expandEnv(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// withMinimal returns the minimal config with extra YAML appended at the top level.
func withMinimal(t *testing.T, extra string) []byte {
	t.Helper()
	return append(readFile(t, "testdata/minimal.yaml"), extra...)
}

func TestParseExpandsEnvironment(t *testing.T) {
	lookup := env(
		"TRICKY", "p@ss: word # not a comment",
		"QUEUE", "128",
		"HOST", "db.example",
		"LIST", "[a, b]",
	)
	cfg, err := parse(withMinimal(t, `
state:
  redis:
    password: ${TRICKY}
    prefix: "${UNSET_PREFIX:-shop1:}"
workers:
  queue: ${QUEUE}
  lease_ttl: ${UNSET_TTL:-90s}
http: {listen: "${HOST}:9464"}
routing:
  failover: [sf, "${LIST}"]
`), lookup)
	if err == nil {
		t.Fatal("want an error for the unknown carrier named by ${LIST}")
	}
	// The list in LIST stays one string: env values never change the document's structure.
	if want := `routing.failover[1]: unknown carrier "[a, b]" (configured: sf)`; err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}

	cfg, err = parse(withMinimal(t, `
state:
  redis:
    password: ${TRICKY}
    prefix: "${UNSET_PREFIX:-shop1:}"
workers:
  queue: ${QUEUE}
  lease_ttl: ${UNSET_TTL:-90s}
http: {listen: "${HOST}:9464"}
`), lookup)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"state.redis.password", cfg.State.Redis.Password, "p@ss: word # not a comment"},
		{"state.redis.prefix", cfg.State.Redis.Prefix, "shop1:"},
		{"workers.lease_ttl", cfg.Workers.LeaseTTL.String(), "1m30s"},
		{"http.listen", cfg.HTTP.Listen, "db.example:9464"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if cfg.Workers.Queue != 128 {
		t.Errorf("workers.queue = %d, want 128 (a plain ${VAR} is typed by its value)", cfg.Workers.Queue)
	}
}

func TestParseEnvironmentErrors(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		env   []string
		want  []string
	}{
		{
			name:  "unset variable names its path",
			extra: "state: {redis: {password: \"${REDIS_PASSWORD}\"}}\n",
			want:  []string{"state.redis.password: environment variable REDIS_PASSWORD is not set"},
		},
		{
			name:  "in a list item",
			extra: "kafka:\n  brokers:\n    - k1:9092\n    - ${BROKER2}\n",
			want:  []string{"kafka.brokers[1]: environment variable BROKER2 is not set"},
		},
		{
			name:  "a quoted reference stays a string",
			extra: "workers: {queue: \"${QUEUE}\"}\n",
			env:   []string{"QUEUE", "128"},
			want:  []string{`workers.queue: "128" is quoted, so it is a string, not an integer (remove the quotes)`},
		},
		{
			name:  "a plain reference is typed by its value",
			extra: "workers:\n  queue: ${QUEUE}\n",
			env:   []string{"QUEUE", "many"},
			want:  []string{`workers.queue: "many" is not an integer`},
		},
		{
			name:  "keys are never expanded",
			extra: "${MODE_KEY}: all\n",
			env:   []string{"MODE_KEY", "mode"},
			want:  []string{"${MODE_KEY}: unknown key (valid keys: mode, shop, orders, writeback, sender, warehouses, addresses, labels, carriers, routing, retry, watchdog, state, http, admin, kafka, workers)"},
		},
		{
			name:  "escaped reference is literal",
			extra: "state: {redis: {prefix: \"$${NOT_EXPANDED}\"}}\nhttp: {listen: nope}\n",
			want:  []string{`http.listen: "nope" is not host:port (e.g. "127.0.0.1:9464")`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(withMinimal(t, tt.extra), env(tt.env...))
			if got := errLines(err); !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestEscapedReferenceSurvivesAliases(t *testing.T) {
	// The anchored value is expanded once, where it is defined, not again at each alias.
	cfg := mustParse(t, withMinimal(t, `
state: {redis: {prefix: &p "$${X}"}}
kafka: {brokers: [k:9092], group: *p}
`))
	if cfg.State.Redis.Prefix != "${X}" || cfg.Kafka.Group != "${X}" {
		t.Errorf("prefix = %q, group = %q; want both ${X}", cfg.State.Redis.Prefix, cfg.Kafka.Group)
	}
}

func TestParseUsesProcessEnvironment(t *testing.T) {
	t.Setenv("SHIPSYNC_TEST_PASSWORD", "from-env")
	cfg, err := Parse(withMinimal(t, "state: {redis: {password: \"${SHIPSYNC_TEST_PASSWORD}\"}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.State.Redis.Password != "from-env" {
		t.Errorf("password = %q, want from-env", cfg.State.Redis.Password)
	}
}
