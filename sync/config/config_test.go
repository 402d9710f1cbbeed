package config

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/shipsync/shipsync/sinks/shopdb"
)

const exampleConfig = "../../config.yaml"

// env returns a lookup over a fixed environment, so tests do not depend on the real one.
func env(kv ...string) lookupFunc {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustParse(t *testing.T, data []byte) *Config {
	t.Helper()
	cfg, err := parse(data, env())
	if err != nil {
		t.Fatalf("parse:\n%v", err)
	}
	return cfg
}

// errLines splits a joined error into its lines.
func errLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestLoadExample(t *testing.T) {
	t.Setenv("SHOP_DB_PASSWORD", "db-secret")
	t.Setenv("KDNIAO_APP_KEY", "app-secret")
	t.Setenv("KDNIAO_EBUSINESS_ID", "") // empty: ${KDNIAO_EBUSINESS_ID:-test-ebusiness} uses the default
	t.Setenv("REDIS_PASSWORD", "")

	cfg, err := Load(exampleConfig)
	if err != nil {
		t.Fatalf("Load(%s):\n%v", exampleConfig, err)
	}
	sim, ok := cfg.Carrier("sim")
	if !ok {
		t.Fatal(`Carrier("sim") not found`)
	}
	schema, table := cfg.Orders.SchemaTable()
	checks := []struct {
		name      string
		got, want any
	}{
		{"mode", cfg.Mode, ModeAll},
		{"shop.addr", cfg.Shop.Addr, "127.0.0.1:23306"},
		{"shop.password", cfg.Shop.Password, "db-secret"},
		{"shop.database", cfg.Shop.Database, "shipsync_demo"},
		{"shop.flavor", cfg.Shop.Flavor, "mariadb"},
		{"shop.server_id", cfg.Shop.ServerID, uint32(4201)},
		{"orders schema", schema, "shipsync_demo"},
		{"orders table", table, "ecs_order_info"},
		{"orders.key", cfg.Orders.Key, "order_id"},
		{"orders.paid", cfg.Orders.Paid, Condition{Column: "pay_status", In: []string{"2"}, NotIn: []string{}}},
		{"orders.when", cfg.Orders.When, []Condition{{Column: "shipping_status", In: []string{"0"}, NotIn: []string{}}}},
		{"orders.query params", shopdb.Params(cfg.Orders.Query), []string{"keys"}},
		{"orders.items_query params", shopdb.Params(cfg.Orders.ItemsQuery), []string{"keys"}},
		{"orders.backfill_query params", shopdb.Params(cfg.Orders.BackfillQuery), []string{"since"}},
		{"orders.ready_timeout", cfg.Orders.ReadyTimeout, 5 * time.Second},
		{"orders.read_delay", cfg.Orders.ReadDelay, time.Duration(0)},
		{"writeback.waybill[0] params", shopdb.Params(cfg.Writeback.Waybill[0]), []string{"waybills", "key"}},
		{"writeback.waybill[1] params", shopdb.Params(cfg.Writeback.Waybill[1]), []string{"carrier", "waybill", "key", "carrier", "waybill"}},
		{"writeback.current_waybill params", shopdb.Params(cfg.Writeback.CurrentWaybill), []string{"key"}},
		{"writeback.status keys", sortedKeys(cfg.Writeback.Status), []string{"delivered", "exception", "in_transit", "out_for_delivery", "picked_up", "returned"}},
		{"writeback.status.delivered", len(cfg.Writeback.Status["delivered"]), 2},
		{"sender.district", cfg.Sender.District, "青浦区"},
		{"sender.mobile", cfg.Sender.Mobile, "15018442396"},
		{"carriers", len(cfg.Carriers), 1},
		{"carrier type", sim.Type, "kdniao"},
		{"carrier url", sim.URL, "http://127.0.0.1:8700/api/EOrderService"},
		{"carrier ebusiness_id", sim.EBusinessID, "test-ebusiness"},
		{"carrier app_key", sim.AppKey, "app-secret"},
		{"carrier shipper_code", sim.ShipperCode, "SIM"},
		{"carrier timeout", sim.Timeout, 5 * time.Second},
		{"carrier max_in_flight", sim.MaxInFlight, AutoInFlight},
		{"routing.default", cfg.Routing.Default, "sim"},
		{"retry", cfg.Retry, Retry{Interval: 5 * time.Second, MaxAttempts: 3, Backoff: "fixed", MaxInterval: 5 * time.Minute}},
		{"watchdog", cfg.Watchdog, Watchdog{NoPickupAfter: 48 * time.Hour, ScanEvery: 5 * time.Minute, SilentAfter: 24 * time.Hour, StuckAfter: time.Hour}},
		{"state.redis", cfg.State.Redis, Redis{Addr: "127.0.0.1:26379", Addrs: []string{}, DB: 0, Prefix: "shipsync:"}},
		{"state.retention", cfg.State.Retention, 2160 * time.Hour},
		{"http.listen", cfg.HTTP.Listen, "127.0.0.1:9464"},
		{"workers", cfg.Workers, Workers{Queue: 4096, LeaseTTL: 60 * time.Second, DrainTimeout: 30 * time.Second, Batch: 128, Batches: 8}},
		{"kafka", cfg.Kafka, (*Kafka)(nil)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	// ECShop's goods_number in ecs_goods is stock; the quantity is ecs_order_goods.goods_number.
	if !strings.Contains(cfg.Orders.ItemsQuery, "og.goods_number AS quantity") {
		t.Errorf("orders.items_query takes the wrong quantity:\n%s", cfg.Orders.ItemsQuery)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestExampleNeedsSecretsFromEnvironment(t *testing.T) {
	_, err := parse(readFile(t, exampleConfig), env())
	want := []string{
		"shop.password: environment variable SHOP_DB_PASSWORD is not set",
		"carriers[0].app_key: environment variable KDNIAO_APP_KEY is not set",
	}
	if got := errLines(err); !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// uncommentKafka returns the example with its commented-out kafka section enabled.
func uncommentKafka(t *testing.T) []byte {
	t.Helper()
	text := string(readFile(t, exampleConfig))
	head, section, ok := strings.Cut(text, "\n# kafka:\n")
	if !ok {
		t.Fatal("config.yaml has no commented-out kafka section")
	}
	section = strings.ReplaceAll("\n"+section, "\n#   ", "\n  ")
	return uncommentTLS([]byte(head + "\nkafka:" + section))
}

// optionalSections are the sections config.yaml shows commented out, since the demo runs without
// them.
var optionalSections = []string{"# tls:", "# warehouses:", "# cancelled:", "# parcels:"}

// uncommentTLS returns text with its commented-out optional sections (shop.tls, state.redis.tls,
// warehouses, orders.cancelled, carriers[].parcels) enabled: such a line and
// the "#   " lines under it at the same indentation.
func uncommentTLS(text []byte) []byte {
	lines := strings.Split(string(text), "\n")
	indent, open := "", false
	for i, l := range lines {
		body := strings.TrimLeft(l, " ")
		switch in := l[:len(l)-len(body)]; {
		case slices.ContainsFunc(optionalSections, func(p string) bool { return strings.HasPrefix(body, p) }):
			indent, open, lines[i] = in, true, in+strings.TrimPrefix(body, "# ")
		case open && in == indent && strings.HasPrefix(body, "#   "):
			lines[i] = in + "  " + strings.TrimPrefix(body, "#   ")
		default:
			open = false
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

func TestExampleTLSSections(t *testing.T) {
	text := uncommentTLS(readFile(t, exampleConfig))
	if n := len(regexp.MustCompile(`(?m)^ +tls: #`).FindAll(text, -1)); n != 2 {
		t.Fatalf("config.yaml has %d commented-out tls sections, want 2 (shop.tls, state.redis.tls)", n)
	}
	cfg, err := parse(text, env("SHOP_DB_PASSWORD", "", "KDNIAO_APP_KEY", "k"))
	if err != nil {
		t.Fatalf("example with tls enabled:\n%v", err)
	}
	if cfg.Shop.TLS == nil || *cfg.Shop.TLS != (TLS{}) || cfg.State.Redis.TLS == nil || *cfg.State.Redis.TLS != (TLS{}) {
		t.Errorf("shop.tls = %+v, state.redis.tls = %+v; want both present and empty", cfg.Shop.TLS, cfg.State.Redis.TLS)
	}
}

func TestExampleKafkaSection(t *testing.T) {
	cfg, err := parse(uncommentKafka(t), env("SHOP_DB_PASSWORD", "", "KDNIAO_APP_KEY", "k"))
	if err != nil {
		t.Fatalf("example with kafka enabled:\n%v", err)
	}
	want := &Kafka{Brokers: []string{"127.0.0.1:9092"}, OrdersTopic: "shipsync.orders", EventsTopic: "shipsync.events", Group: "shipsync", SessionTimeout: 10 * time.Second, BatchSize: 100, BatchTimeout: 10 * time.Millisecond, Compression: "none"}
	if !reflect.DeepEqual(cfg.Kafka, want) {
		t.Errorf("kafka = %+v, want %+v", cfg.Kafka, want)
	}
}

// TestExampleDocumentsEveryKey keeps config.yaml complete: every key of the Config struct is
// in it, each with a comment.
func TestExampleDocumentsEveryKey(t *testing.T) {
	var root yaml.Node
	if err := yaml.Unmarshal(uncommentKafka(t), &root); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	var walk func(n *yaml.Node, path string, commented bool)
	walk = func(n *yaml.Node, path string, commented bool) {
		switch n.Kind {
		case yaml.DocumentNode:
			walk(n.Content[0], path, false)
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := joinKey(path, k.Value)
				// A comment beside the key, above it, or (for a list) on its first item.
				c := commented || k.LineComment != "" || k.HeadComment != "" || v.LineComment != ""
				documented[p] = documented[p] || c
				walk(v, p, false)
			}
		case yaml.SequenceNode:
			for _, item := range n.Content {
				walk(item, path+"[]", item.HeadComment != "")
			}
		}
	}
	walk(&root, "", false)

	var missing, uncommented []string
	var visit func(typ reflect.Type, path string)
	visit = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.Struct {
			visit(typ.Elem(), path+"[]")
			return
		}
		if typ.Kind() != reflect.Struct || typ == reflect.TypeFor[time.Duration]() {
			return
		}
		fields, names := yamlFields(typ)
		for _, name := range names {
			p := joinKey(path, name)
			switch c, ok := documented[p]; {
			case !ok:
				missing = append(missing, p)
			case !c:
				uncommented = append(uncommented, p)
			}
			visit(fields[name], p)
		}
	}
	visit(reflect.TypeFor[Config](), "")
	if len(missing) > 0 {
		t.Errorf("config.yaml does not show these keys: %s", strings.Join(missing, ", "))
	}
	if len(uncommented) > 0 {
		t.Errorf("config.yaml keys without a comment: %s", strings.Join(uncommented, ", "))
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := parse(readFile(t, "testdata/bad.yaml"), env())
	want := []string{
		"shop.password: environment variable SHOP_DB_PASSWORD is not set",
		`shop.server_id: "many" is not an integer`,
		`orders.paid.colum: unknown key (did you mean "column"?)`,
		`orders.ready_timeout: "5" is not a duration: add a unit (e.g. "5s")`,
		"writeback.current_waybill: required: the statement that reads the waybill the shop row holds for :key " +
			"(e.g. SELECT invoice_no FROM ecs_order_info WHERE order_id = :key); without it a row that already holds " +
			"another number cannot be told from our own write, and would be taken as written",
		"writeback.waybill[1]: unknown parameter :waybil (did you mean :waybill?)",
		`writeback.status.delivred: unknown status (did you mean "delivered"?); valid statuses: created, picked_up, in_transit, out_for_delivery, ready_for_pickup, returning, delivered, returned, cancelled, exception`,
		"sender.address: required",
		"carriers[0].shipper_code: required (the carrier's code, e.g. SF)",
		`carriers[0].timeout: "5 seconds" is not a duration (e.g. "5s")`,
		`carriers[0].max_in_flight: must be auto or a number >= 1 (got "lots")`,
		`routing.default: unknown carrier "zto" (configured: sf)`,
		`retry.backof: unknown key (did you mean "backoff"?)`,
	}
	if got := errLines(err); !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDefaults(t *testing.T) {
	cfg := mustParse(t, readFile(t, "testdata/minimal.yaml"))
	checks := []struct {
		name      string
		got, want any
	}{
		{"mode", cfg.Mode, "all"},
		{"shop.flavor", cfg.Shop.Flavor, "mariadb"},
		{"shop.charset", cfg.Shop.Charset, "utf8mb4"},
		{"shop.max_conns", cfg.Shop.MaxConns, 16},
		{"shop.heartbeat", cfg.Shop.Heartbeat, time.Second},
		{"shop.read_timeout", cfg.Shop.ReadTimeout, 10 * time.Second},
		{"shop.write_timeout", cfg.Shop.WriteTimeout, 30 * time.Second},
		{"shop.server_id", cfg.Shop.ServerID, uint32(4201)},
		{"shop.database", cfg.Shop.Database, "shop"},
		{"orders.paid.in", cfg.Orders.Paid.In, []string{"2"}},
		{"orders.ready_timeout", cfg.Orders.ReadyTimeout, 5 * time.Second},
		{"orders.read_delay", cfg.Orders.ReadDelay, time.Duration(0)},
		{"carriers[0].timeout", cfg.Carriers[0].Timeout, 5 * time.Second},
		{"carriers[0].max_in_flight", cfg.Carriers[0].MaxInFlight, AutoInFlight},
		{"carriers[0].pay_type", cfg.Carriers[0].PayType, 1},
		{"carriers[0].exp_type", cfg.Carriers[0].ExpType, 1},
		{"routing.default", cfg.Routing.Default, "sf"},
		{"retry", cfg.Retry, Retry{Interval: 5 * time.Second, MaxAttempts: 3, Backoff: "fixed", MaxInterval: 5 * time.Minute}},
		{"watchdog", cfg.Watchdog, Watchdog{NoPickupAfter: 48 * time.Hour, ScanEvery: 5 * time.Minute, SilentAfter: 24 * time.Hour, StuckAfter: time.Hour}},
		{"state.redis", cfg.State.Redis, Redis{Addr: "127.0.0.1:6379", Prefix: "shipsync:"}},
		{"state.retention", cfg.State.Retention, 90 * 24 * time.Hour},
		{"http.listen", cfg.HTTP.Listen, "127.0.0.1:9464"},
		{"workers", cfg.Workers, Workers{Queue: 4096, LeaseTTL: 60 * time.Second, DrainTimeout: 30 * time.Second, Batch: 128, Batches: 8}},
		{"kafka", cfg.Kafka, (*Kafka)(nil)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestDefaultsDoNotOverride(t *testing.T) {
	cfg := mustParse(t, append(readFile(t, "testdata/minimal.yaml"), `
mode: all
retry: {interval: 1m, max_attempts: 7, backoff: exponential}
kafka: {brokers: [k1:9092], group: g}
`...))
	if cfg.Retry != (Retry{Interval: time.Minute, MaxAttempts: 7, Backoff: "exponential", MaxInterval: 5 * time.Minute}) {
		t.Errorf("retry = %+v", cfg.Retry)
	}
	want := Kafka{Brokers: []string{"k1:9092"}, OrdersTopic: "shipsync.orders", EventsTopic: "shipsync.events", Group: "g", SessionTimeout: 10 * time.Second, BatchSize: 100, BatchTimeout: 10 * time.Millisecond, Compression: "none"}
	if !reflect.DeepEqual(*cfg.Kafka, want) {
		t.Errorf("kafka = %+v, want %+v", *cfg.Kafka, want)
	}
}

func TestRedacted(t *testing.T) {
	cfg := mustParse(t, append(readFile(t, "testdata/minimal.yaml"), `
  - {name: zto, type: kdniao, url: "https://x.example/api", track_url: "https://x.example/track", ebusiness_id: e, app_key: zto-key, shipper_code: ZTO}
  - {name: gj, type: signedjson, url: "https://y.example/api", secret: gj-hmac-key, shipper_code: GJ}
state: {redis: {password: redis-secret}}
`...))
	cfg.Shop.Password = "db-secret"
	r := cfg.Redacted()

	for _, c := range []struct{ name, got, want string }{
		{"shop.password", r.Shop.Password, "***"},
		{"state.redis.password", r.State.Redis.Password, "***"},
		{"carriers[0].app_key", r.Carriers[0].AppKey, "***"},
		{"carriers[1].app_key", r.Carriers[1].AppKey, "***"},
		{"carriers[0].ebusiness_id", r.Carriers[0].EBusinessID, "1234567"},
		{"original shop.password", cfg.Shop.Password, "db-secret"},
		{"original carriers[1].app_key", cfg.Carriers[1].AppKey, "zto-key"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	out, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if r.Carriers[2].Secret != "***" {
		t.Errorf("carriers[2].secret = %q, want masked", r.Carriers[2].Secret)
	}
	for _, secret := range []string{"db-secret", "redis-secret", "app_key: secret", "zto-key", "gj-hmac-key"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("redacted config still shows %q:\n%s", secret, out)
		}
	}

	empty := Config{Carriers: []Carrier{{Name: "a"}}}.Redacted()
	if empty.Shop.Password != "" || empty.Carriers[0].AppKey != "" {
		t.Errorf("empty secrets should stay empty (a missing secret must look missing): %+v", empty)
	}
}

func TestCarrierAndSchemaTable(t *testing.T) {
	cfg := Config{Carriers: []Carrier{{Name: "sf", ShipperCode: "SF"}, {Name: "zto", ShipperCode: "ZTO"}}}
	if c, ok := cfg.Carrier("zto"); !ok || c.ShipperCode != "ZTO" {
		t.Errorf(`Carrier("zto") = %+v, %v`, c, ok)
	}
	if _, ok := cfg.Carrier("ems"); ok {
		t.Error(`Carrier("ems") found`)
	}
	for _, c := range []struct{ table, schema, name string }{
		{"shop.ecs_order_info", "shop", "ecs_order_info"},
		{"ecs_order_info", "", "ecs_order_info"},
		{"", "", ""},
	} {
		s, n := Orders{Table: c.table}.SchemaTable()
		if s != c.schema || n != c.name {
			t.Errorf("SchemaTable(%q) = %q, %q; want %q, %q", c.table, s, n, c.schema, c.name)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load("testdata/does-not-exist.yaml"); err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Errorf("Load of a missing file: %v", err)
	}
	_, err := Load("testdata/bad.yaml")
	if err == nil || !strings.Contains(err.Error(), "shop.server_id") {
		t.Errorf("Load(bad.yaml) = %v, want the file's problems", err)
	}
}
