package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	base := mustParse(t, readFile(t, "testdata/minimal.yaml"))
	if err := base.Validate(); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string
	}{
		{"valid", func(*Config) {}, nil},
		{"unmask without a token", func(c *Config) { c.Admin.Unmask = true },
			[]string{"admin.unmask: needs admin.token: without one, any local process could read the receivers' data"}},
		{"unmask with a token", func(c *Config) { c.Admin.Unmask, c.Admin.Token = true, "0123456789abcdef" }, nil},

		{"unknown mode", func(c *Config) { c.Mode = "both" }, []string{`mode: "both" is not one of all, reader, worker`}},
		{"reader without kafka", func(c *Config) { c.Mode = ModeReader }, []string{"kafka.brokers: required when mode is reader (paid orders travel through Kafka)"}},
		{"worker with kafka", func(c *Config) {
			c.Mode = ModeWorker
			c.Kafka = &Kafka{Brokers: []string{"k1:9092"}, OrdersTopic: "o", EventsTopic: "e", Group: "g", SessionTimeout: 6 * time.Second, BatchSize: 1, BatchTimeout: time.Millisecond, Compression: "none"}
		}, nil},
		{"kafka without brokers", func(c *Config) {
			c.Kafka = &Kafka{OrdersTopic: "o", EventsTopic: "e", Group: "g", SessionTimeout: 6 * time.Second, BatchSize: 1, BatchTimeout: time.Millisecond, Compression: "none"}
		}, []string{"kafka.brokers: required (or remove the kafka section)"}},
		{"bad broker", func(c *Config) {
			c.Kafka = &Kafka{Brokers: []string{"k1"}, OrdersTopic: "o", EventsTopic: "e", Group: "g", SessionTimeout: 6 * time.Second, BatchSize: 1, BatchTimeout: time.Millisecond, Compression: "none"}
		}, []string{`kafka.brokers[0]: "k1" is not host:port (e.g. "127.0.0.1:9092")`}},

		{"redis addr and addrs", func(c *Config) { c.State.Redis.Addrs = []string{"r1:6379"} },
			[]string{"state.redis.addrs: set addr (one server) or addrs (Cluster or Sentinel), not both", `state.redis.prefix: a Redis Cluster needs a hash tag in the prefix, e.g. "{shipsync}:", so that every key of one shop is in the same slot (got "shipsync:")`}},
		{"redis cluster", func(c *Config) {
			c.State.Redis.Addr, c.State.Redis.Addrs, c.State.Redis.Prefix = "", []string{"r1:6379", "r2:6379"}, "{shop1}:"
		}, nil},
		{"redis sentinel", func(c *Config) {
			c.State.Redis.Addr, c.State.Redis.Addrs, c.State.Redis.MasterName = "", []string{"s1:26379"}, "mymaster"
		}, nil},
		{"redis cluster db", func(c *Config) {
			c.State.Redis.Addr, c.State.Redis.Addrs, c.State.Redis.Prefix, c.State.Redis.DB = "", []string{"r1"}, "{}:", 2
		}, []string{`state.redis.addrs[0]: "r1" is not host:port (e.g. "127.0.0.1:6379")`, `state.redis.prefix: a Redis Cluster needs a hash tag in the prefix, e.g. "{shipsync}:", so that every key of one shop is in the same slot (got "{}:")`, "state.redis.db: a Redis Cluster has only db 0 (got 2)"}},
		{"master name alone", func(c *Config) { c.State.Redis.MasterName = "m" }, []string{"state.redis.master_name: needs the Sentinels' addresses in state.redis.addrs"}},
		{"retention", func(c *Config) { c.State.Retention = -time.Hour }, []string{"state.retention: must be > 0 (got -1h0m0s)"}},

		{"shop addr without port", func(c *Config) { c.Shop.Addr = "db.internal" }, []string{`shop.addr: "db.internal" is not host:port (e.g. "127.0.0.1:3306")`}},
		{"shop addr without host", func(c *Config) { c.Shop.Addr = ":3306" }, []string{`shop.addr: ":3306" is not host:port (e.g. "127.0.0.1:3306")`}},
		{"shop addr bad port", func(c *Config) { c.Shop.Addr = "db:99999" }, []string{`shop.addr: "db:99999" is not host:port (e.g. "127.0.0.1:3306")`}},
		{"shop addr ipv6", func(c *Config) { c.Shop.Addr = "[::1]:3306" }, nil},
		{"shop addr missing", func(c *Config) { c.Shop.Addr = "" }, []string{`shop.addr: required (e.g. "127.0.0.1:3306")`}},
		{"shop user", func(c *Config) { c.Shop.User = "" }, []string{"shop.user: required"}},
		{"shop flavor", func(c *Config) { c.Shop.Flavor = "percona" }, []string{`shop.flavor: "percona" is not one of mysql, mariadb`}},
		{"shop server_id", func(c *Config) { c.Shop.ServerID = 0 }, []string{"shop.server_id: must be > 0 (a replication client id, unique on the server)"}},
		{"shop max_conns", func(c *Config) { c.Shop.MaxConns = -1 }, []string{"shop.max_conns: must be >= 1 (got -1)"}},
		{"shop heartbeat", func(c *Config) { c.Shop.Heartbeat = -time.Second }, []string{"shop.heartbeat: must be > 0 (got -1s)"}},
		{"shop read timeout", func(c *Config) { c.Shop.ReadTimeout = -time.Second }, []string{"shop.read_timeout: must be > 0 (got -1s)"}},
		{"shop write timeout", func(c *Config) { c.Shop.WriteTimeout = -time.Second }, []string{"shop.write_timeout: must be > 0 (got -1s)"}},

		{"orders table missing", func(c *Config) { c.Orders.Table = "" }, []string{"orders.table: required (schema.table of the orders table, e.g. shop.ecs_order_info)"}},
		{"orders table three parts", func(c *Config) { c.Orders.Table = "a.b.c" }, []string{`orders.table: "a.b.c" is not schema.table or table (write names without quotes)`}},
		{"orders table quoted", func(c *Config) { c.Orders.Table = "`shop`.`orders`" }, []string{"orders.table: \"`shop`.`orders`\" is not schema.table or table (write names without quotes)"}},
		{"orders table empty part", func(c *Config) { c.Orders.Table = "shop." }, []string{`orders.table: "shop." is not schema.table or table (write names without quotes)`}},
		{"plain table with database", func(c *Config) { c.Orders.Table = "ecs_order_info" }, nil},
		{"plain table without database", func(c *Config) {
			c.Orders.Table = "ecs_order_info"
			c.Shop.Database = ""
		}, []string{"shop.database: required when orders.table has no schema (or write orders.table as schema.table)"}},
		{"orders key", func(c *Config) { c.Orders.Key = "" }, []string{"orders.key: required (the primary key column, e.g. order_id)"}},
		{"paid column and values", func(c *Config) { c.Orders.Paid = Condition{} }, []string{
			"orders.paid.column: required (the column that says an order is paid, e.g. pay_status)",
			`orders.paid.in: required (the values that mean paid, e.g. ["2"])`,
		}},
		{"when", func(c *Config) { c.Orders.When = []Condition{{Column: "a", In: []string{"0"}}, {}} }, []string{
			"orders.when[1].column: required",
			"orders.when[1].in: required (at least one value; or not_in)",
		}},
		{"query missing", func(c *Config) { c.Orders.Query = "" }, []string{"orders.query: required (reads the orders of :keys, an IN list, or one order by :key)"}},
		{"query without key", func(c *Config) { c.Orders.Query = "SELECT 1 AS order_code WHERE id = ':key'" }, []string{"orders.query: must use the parameter :key"}},
		{"query with other params", func(c *Config) { c.Orders.Query = "SELECT * FROM o WHERE id = :key AND x = :waybill" }, []string{"orders.query: unknown parameter :waybill (known: :key, :keys)"}},
		{"query with misspelled key", func(c *Config) { c.Orders.Query = "SELECT * FROM o WHERE id = :kye" }, []string{
			"orders.query: unknown parameter :kye (did you mean :key?)",
			"orders.query: must use the parameter :key",
		}},
		{"items query without key", func(c *Config) { c.Orders.ItemsQuery = "SELECT name FROM items" }, []string{"orders.items_query: must use the parameter :key"}},
		{"backfill query is not checked", func(c *Config) { c.Orders.BackfillQuery = "SELECT id FROM o" }, nil},
		{"ready_timeout", func(c *Config) { c.Orders.ReadyTimeout = -1 }, []string{"orders.ready_timeout: must be > 0 (got -1ns)"}},
		{"read_delay", func(c *Config) { c.Orders.ReadDelay = -time.Second }, []string{"orders.read_delay: must not be negative (got -1s)"}},

		{"waybill missing", func(c *Config) { c.Writeback.Waybill = nil }, []string{"writeback.waybill: required (at least one statement; the first writes :waybill, guarded)"}},
		{"waybill statements", func(c *Config) {
			c.Writeback.Waybill = []string{
				"UPDATE o SET note = ':waybill' WHERE id = :key",
				"INSERT INTO n (id, note) VALUES (:key, :waybil)",
				"INSERT INTO n (note) VALUES (:carrier)",
				"  ",
				"INSERT INTO n VALUES (:key, :foo)",
			}
			c.Writeback.CurrentWaybill = "SELECT note FROM o WHERE id = :key"
		}, []string{
			"writeback.waybill[0]: must use the parameter :waybill",
			"writeback.waybill[1]: unknown parameter :waybil (did you mean :waybill?)",
			"writeback.waybill[2]: must use the parameter :key",
			"writeback.waybill[3]: empty statement",
			"writeback.waybill[4]: unknown parameter :foo (known: :key, :waybill, :carrier, :shipper_code, :order_code, :status, :pickup_time, :reason, :event_time, :now, :waybills, :parcels, :warehouse, :previous_waybills)",
		}},
		{"every parameter is allowed", func(c *Config) {
			c.Writeback.Waybill = append(c.Writeback.Waybill,
				"INSERT INTO n VALUES (:key, :waybill, :carrier, :shipper_code, :order_code, :status, :pickup_time, :reason, :event_time, :now, :waybills, :parcels, :warehouse, :previous_waybills)")
			c.Writeback.CurrentWaybill = "SELECT note FROM o WHERE id = :key"
		}, nil},
		{"current_waybill is required, even with one waybill statement", func(c *Config) {
			c.Writeback.CurrentWaybill = ""
		}, []string{"writeback.current_waybill: required: the statement that reads the waybill the shop row holds for :key " +
			"(e.g. SELECT invoice_no FROM ecs_order_info WHERE order_id = :key); without it a row that already holds " +
			"another number cannot be told from our own write, and would be taken as written"}},
		{"a bare ? placeholder", func(c *Config) {
			c.Writeback.Waybill = []string{"UPDATE o SET note = :waybill WHERE id = :key AND note = '?' AND shop = ?"}
		}, []string{"writeback.waybill[0]: 1 bare ? placeholder(s): bind named parameters (:key, :waybill, ...); a literal question mark goes in quotes"}},
		{"current_waybill", func(c *Config) { c.Writeback.CurrentWaybill = "SELECT invoice_no FROM o" }, []string{"writeback.current_waybill: must use the parameter :key"}},
		{"status keys", func(c *Config) {
			c.Writeback.Status = map[string][]string{
				"delivered": {"UPDATE o SET s = 2 WHERE id = :key"},
				"shipped":   {"UPDATE o SET s = 1 WHERE id = :key"},
				"exception": {"INSERT INTO n VALUES (:key, :reason)", "INSERT INTO n VALUES (:reasn)"},
			}
		}, []string{
			"writeback.status.exception[1]: unknown parameter :reasn (did you mean :reason?)",
			"writeback.status.exception[1]: must use the parameter :key",
			"writeback.status.shipped: unknown status; valid statuses: created, picked_up, in_transit, out_for_delivery, ready_for_pickup, returning, delivered, returned, cancelled, exception",
		}},
		{"every canonical status", func(c *Config) {
			c.Writeback.Status = map[string][]string{}
			for _, s := range Statuses() {
				c.Writeback.Status[s] = []string{"UPDATE o SET s = :status WHERE id = :key"}
			}
		}, nil},

		{"sender", func(c *Config) { c.Sender = Address{} }, []string{
			"sender.name: required",
			"sender.mobile: required (or sender.phone)",
			"sender.province: required",
			"sender.city: required",
			"sender.address: required",
		}},
		{"sender phone instead of mobile", func(c *Config) { c.Sender.Mobile, c.Sender.Phone = "", "021-12345678" }, nil},

		{"no carriers", func(c *Config) { c.Carriers = nil; c.Routing = Routing{} }, []string{"carriers: at least one carrier is required"}},
		{"carrier fields", func(c *Config) {
			c.Carriers = []Carrier{{PayType: 4, ExpType: 0, Timeout: 0, MaxInFlight: "0"}}
		}, []string{
			"carriers[0].name: required",
			"carriers[0].type: required (supported: kdniao, signedjson, xml)",
			"carriers[0].url: required (the carrier's API endpoint)",
			"carriers[0].poll_every: must be > 0 (got 0s)",
			"carriers[0].breaker.failures: must be >= 1 (got 0)",
			"carriers[0].breaker.cooldown: must be > 0 (got 0s)",
			"carriers[0].shipper_code: required (the carrier's code, e.g. SF)",
			"carriers[0].pay_type: must be 1 (sender pays), 2 (receiver pays) or 3 (monthly account), got 4",
			"carriers[0].exp_type: must be >= 1 (got 0)",
			"carriers[0].timeout: must be > 0 (got 0s)",
			`carriers[0].max_in_flight: must be auto or a number >= 1 (got "0")`,
		}},
		{"carrier type", func(c *Config) { c.Carriers[0].Type = "sf-express" }, []string{`carriers[0].type: unsupported type "sf-express" (supported: kdniao, signedjson, xml)`}},
		{"kdniao credentials", func(c *Config) { c.Carriers[0].EBusinessID, c.Carriers[0].AppKey = "", "" }, []string{
			"carriers[0].ebusiness_id: required (set it, e.g. from ${KDNIAO_EBUSINESS_ID})",
			"carriers[0].app_key: required (set it, e.g. from ${KDNIAO_APP_KEY})",
		}},
		{"max_in_flight words", func(c *Config) { c.Carriers[0].MaxInFlight = "lots" }, []string{
			`carriers[0].max_in_flight: must be auto or a number >= 1 (got "lots")`,
		}},
		{"xml account", func(c *Config) {
			c.Carriers[0].Type = "xml"
			c.Carriers[0].XML.PayMethod = 1
			c.Carriers[0].XML.ExpressType = 1
		}, []string{
			"carriers[0].xml.customer_code: required (the account's customer code)",
			"carriers[0].xml.checkword: required (the account's check word, e.g. from ${SF_CHECKWORD})",
		}},
		{"xml section on another type", func(c *Config) { c.Carriers[0].XML.CustomerCode = "X" }, []string{
			"carriers[0].xml: only for type xml (this carrier is kdniao)",
		}},
		{"both :key and :keys", func(c *Config) { c.Orders.Query = "SELECT 1 WHERE id = :key OR id IN (:keys)" }, []string{
			"orders.query: uses both :key and :keys: use :keys (IN (:keys), rows named by an order_key column) or :key alone",
		}},
		{"signedjson secret", func(c *Config) { c.Carriers[0].Type = "signedjson" }, []string{
			"carriers[0].secret: required (the shared HMAC secret, e.g. from ${CARRIER_SECRET})",
		}},
		{"http push options", func(c *Config) {
			c.HTTP.TLSCert, c.HTTP.Allow, c.HTTP.MaxBody = "cert.pem", []string{"10.0.0.0/8", "127.0.0.1", "nope"}, 10
		}, []string{
			"http.tls_cert: tls_cert and tls_key go together (PEM certificate and key files)",
			`http.allow[2]: "nope" is not an IP address or CIDR (e.g. 10.0.0.0/8)`,
			"http.max_body: must be at least 1024 bytes (got 10)",
		}},
		{"carrier urls", func(c *Config) {
			second := c.Carriers[0]
			second.Name, second.URL = "b", "api.kdniao.com/api"
			third := c.Carriers[0]
			third.Name, third.URL = "c", "ftp://api.kdniao.com/api"
			c.Carriers = append(c.Carriers, second, third)
		}, []string{
			`carriers[1].url: "api.kdniao.com/api" is not an absolute http(s) URL`,
			`carriers[2].url: "ftp://api.kdniao.com/api" is not an absolute http(s) URL`,
		}},
		{"duplicate carrier names", func(c *Config) { c.Carriers = append(c.Carriers, c.Carriers[0], c.Carriers[0]) }, []string{
			`carriers[1].name: duplicate name "sf" (also carriers[0])`,
			`carriers[2].name: duplicate name "sf" (also carriers[0])`,
		}},
		{"one account, two keys", func(c *Config) {
			zto, yto, other := c.Carriers[0], c.Carriers[0], c.Carriers[0]
			zto.Name, zto.ShipperCode = "zto", "ZTO" // same account, same key: fine
			yto.Name, yto.ShipperCode, yto.AppKey = "yto", "YTO", "another-key"
			other.Name, other.EBusinessID, other.AppKey = "other", "another-account", "another-key" // another account
			c.Carriers = append(c.Carriers, zto, yto, other)
		}, []string{
			"carriers[2].app_key: differs from carriers[0].app_key, which has the same ebusiness_id: one Kdniao account has one key",
		}},
		{"carrier name in URLs", func(c *Config) { c.Carriers[0].Name = "sf express"; c.Routing.Default = "sf express" }, []string{
			`carriers[0].name: "sf express" may hold only letters, digits, '.', '_' and '-' (it appears in URLs and metrics)`,
		}},

		{"routing", func(c *Config) {
			c.Routing = Routing{Default: "zto", Failover: []string{"sf", "ems"}}
		}, []string{
			`routing.default: unknown carrier "zto" (configured: sf)`,
			`routing.failover[1]: unknown carrier "ems" (configured: sf)`,
		}},

		{"retry", func(c *Config) { c.Retry = Retry{Interval: -1, MaxAttempts: -1, Backoff: "linear"} }, []string{
			"retry.interval: must be > 0 (got -1ns)",
			"retry.max_attempts: must be >= 1 (got -1)",
			`retry.backoff: "linear" is not one of fixed, exponential`,
		}},
		{"watchdog", func(c *Config) {
			c.Watchdog = Watchdog{NoPickupAfter: -time.Hour, ScanEvery: -time.Minute, SilentAfter: time.Hour, StuckAfter: -time.Second}
		}, []string{
			"watchdog.no_pickup_after: must be > 0 (got -1h0m0s)",
			"watchdog.scan_every: must be > 0 (got -1m0s)",
			"watchdog.stuck_after: must be > 0 (got -1s)",
		}},
		{"redis", func(c *Config) { c.State.Redis.Addr = ""; c.State.Redis.DB = -1 }, []string{
			`state.redis.addr: required (e.g. "127.0.0.1:6379")`,
			"state.redis.db: must not be negative (got -1)",
		}},
		{"http listen on all interfaces", func(c *Config) { c.HTTP.Listen = ":9464" }, nil},
		{"http listen on any port", func(c *Config) { c.HTTP.Listen = "127.0.0.1:0" }, nil},
		{"http listen", func(c *Config) { c.HTTP.Listen = "9464" }, []string{`http.listen: "9464" is not host:port (e.g. "127.0.0.1:9464")`}},
		{"warehouses", func(c *Config) {
			lat := 91.0
			w := Warehouse{Name: "east", Sender: c.Sender, Serves: []string{"上海", "Jiangsu", "CN-ZJ"}, Default: true}
			c.Warehouses = []Warehouse{w, {Name: "east", Sender: Address{Name: "x"}, Serves: []string{"Bavaria"}, Latitude: &lat, Default: true}}
		}, []string{
			`warehouses[1].name: "east" is used by another warehouse`,
			"warehouses[1].sender.mobile: required (or warehouses[1].sender.phone)",
			"warehouses[1].sender.province: required",
			"warehouses[1].sender.city: required",
			"warehouses[1].sender.address: required",
			`warehouses[1].serves[0]: "Bavaria" is not one of China's provinces (write 广东, 广东省, Guangdong or CN-GD)`,
			"warehouses[1].latitude: latitude and longitude go together",
			"warehouses[1].latitude: must be within -90 and 90, got 91",
			"warehouses[1].default: only one warehouse can be the default",
		}},
		{"parcels and cancellations", func(c *Config) {
			c.Carriers[0].Parcels = &Parcels{MaxKg: 0, Max: 0}
			c.Orders.Cancelled = &Condition{Column: c.Orders.Paid.Column, In: c.Orders.Paid.In}
			c.Labels.TemplateSize = "big"
		}, []string{
			`orders.cancelled.in: shares a value with orders.paid.in: an order cannot be paid and cancelled at once`,
			`labels.template_size: must be the carrier's size number, e.g. "150" for 100x150 mm, got "big"`,
			"carriers[0].parcels.max_kg: must be > 0 (the most kilograms one parcel may weigh), got 0",
			"carriers[0].parcels.max: must be >= 1 (got 0)",
		}},
		{"workers", func(c *Config) { c.Workers = Workers{Queue: -1, LeaseTTL: -1, DrainTimeout: -1} }, []string{
			"workers.queue: must be >= 1 (got -1)",
			"workers.batch: must be >= 1 (got 0)",
			"workers.batches: must be >= 1 (got 0)",
			"workers.lease_ttl: must be > 0 (got -1ns)",
			"workers.drain_timeout: must be > 0 (got -1ns)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *base
			c.Carriers = slices.Clone(base.Carriers)
			tt.mutate(&c)
			if got := errLines(c.Validate()); !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestValidateReportsEverythingAtOnce(t *testing.T) {
	err := (&Config{}).Validate()
	got := errLines(err)
	// A zero Config breaks nearly every rule; each must be reported, not just the first.
	for _, want := range []string{
		`mode: "" is not one of all, reader, worker`,
		"shop.user: required",
		"orders.query: required (reads the orders of :keys, an IN list, or one order by :key)",
		"carriers: at least one carrier is required",
		"workers.drain_timeout: must be > 0 (got 0s)",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// TestTrackURL: trace queries go to the query endpoint, which defaults only for Kdniao's
// production create endpoint; any other kdniao carrier needs it, since its waybills are polled
// (push: false, or silent for watchdog.silent_after).
func TestTrackURL(t *testing.T) {
	const (
		simURL      = "http://127.0.0.1:8700/api/EOrderService"
		simTrackURL = "http://127.0.0.1:8700/Ebusiness/EbusinessOrderHandle.aspx"
	)
	tests := []struct {
		name    string
		carrier string // carriers[1], in flow style
		want    string // carriers[1].track_url after defaults
		probs   []string
	}{
		{"production default", `{name: x, type: kdniao, url: "https://api.kdniao.com/api/EOrderService", ebusiness_id: e, app_key: k, shipper_code: ZTO}`,
			"https://api.kdniao.com/Ebusiness/EbusinessOrderHandle.aspx", nil},
		{"production, own query endpoint", `{name: x, type: kdniao, url: "https://api.kdniao.com/api/EOrderService", track_url: "https://proxy.example/q", ebusiness_id: e, app_key: k, shipper_code: ZTO}`,
			"https://proxy.example/q", nil},
		{"simulator", `{name: x, type: kdniao, url: "` + simURL + `", track_url: "` + simTrackURL + `", ebusiness_id: e, app_key: k, shipper_code: SIM}`,
			simTrackURL, nil},
		{"simulator without track_url", `{name: x, type: kdniao, url: "` + simURL + `", ebusiness_id: e, app_key: k, shipper_code: SIM}`,
			"", []string{"carriers[1].track_url: required when url is not Kdniao's production endpoint (waybills silent for watchdog.silent_after are polled at the query endpoint, e.g. https://api.kdniao.com/Ebusiness/EbusinessOrderHandle.aspx)"}},
		{"without push or track_url", `{name: x, type: kdniao, url: "` + simURL + `", push: false, ebusiness_id: e, app_key: k, shipper_code: SIM}`,
			"", []string{"carriers[1].track_url: required when push is false (its waybills are polled at Kdniao's query endpoint, e.g. https://api.kdniao.com/Ebusiness/EbusinessOrderHandle.aspx)"}},
		{"not a URL", `{name: x, type: kdniao, url: "` + simURL + `", track_url: "127.0.0.1:8700/q", ebusiness_id: e, app_key: k, shipper_code: SIM}`,
			"127.0.0.1:8700/q", []string{`carriers[1].track_url: "127.0.0.1:8700/q" is not an absolute http(s) URL`}},
		{"signedjson sends no queries", `{name: x, type: signedjson, url: "https://y.example/api", secret: s, shipper_code: GJ}`,
			"", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse(append(readFile(t, "testdata/minimal.yaml"), "  - "+tt.carrier+"\n"...), env())
			if got := errLines(err); !slices.Equal(got, tt.probs) {
				t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.probs, "\n"))
			}
			if err != nil {
				return
			}
			if got := cfg.Carriers[1].TrackURL; got != tt.want {
				t.Errorf("carriers[1].track_url = %q, want %q", got, tt.want)
			}
		})
	}
}
