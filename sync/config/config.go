package config

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
)

// Config is the whole configuration file. Every key is documented in the root config.yaml.
//
// A Config returned by Load or Parse has its defaults applied and has passed Validate.
type Config struct {
	Mode      string    `yaml:"mode"` // all | reader | worker
	Shop      Shop      `yaml:"shop"`
	Orders    Orders    `yaml:"orders"`
	Writeback Writeback `yaml:"writeback"`
	Sender    Address   `yaml:"sender"`
	// Warehouses are several senders; each order ships from the one routing chooses (see
	// Warehouse). Without them, Sender is the only one.
	Warehouses []Warehouse `yaml:"warehouses"`
	// Addresses: how receivers' addresses are cleaned before a create.
	Addresses Addresses `yaml:"addresses"`
	Labels    Labels    `yaml:"labels"`
	Carriers  []Carrier `yaml:"carriers"`
	Routing   Routing   `yaml:"routing"`
	Retry     Retry     `yaml:"retry"`
	Watchdog  Watchdog  `yaml:"watchdog"`
	State     State     `yaml:"state"`
	HTTP      HTTP      `yaml:"http"`
	Admin     Admin     `yaml:"admin"`
	Kafka     *Kafka    `yaml:"kafka"` // nil when the file has no kafka section
	Workers   Workers   `yaml:"workers"`
}

// Modes of the daemon (Config.Mode).
const (
	ModeAll    = "all"    // binlog reader and workers in one process, no Kafka
	ModeReader = "reader" // tails the binlog and publishes paid orders to Kafka
	ModeWorker = "worker" // consumes paid orders from Kafka: carrier call and write-back
)

// Shop is the shop's database: binlog source and write-back target.
type Shop struct {
	Addr      string        `yaml:"addr"`
	User      string        `yaml:"user"`
	Password  string        `yaml:"password"`
	Database  string        `yaml:"database"` // default schema for queries and write-back
	Flavor    string        `yaml:"flavor"`   // mysql | mariadb
	ServerID  uint32        `yaml:"server_id"`
	Charset   string        `yaml:"charset"`   // connection charset, default utf8mb4
	MaxConns  int           `yaml:"max_conns"` // pool size for queries and write-back
	Heartbeat time.Duration `yaml:"heartbeat"` // binlog heartbeat period, keeps lag honest when idle
	// ReadTimeout bounds each enrichment read (orders.query, items_query) and
	// WriteTimeout each write-back transaction, so a shop connection that goes silent fails
	// the call (which retries) instead of holding a worker until TCP gives up.
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	TLS          *TLS          `yaml:"tls"` // nil when the section is absent: plaintext
}

// Orders says which table is watched, what "paid" means and how an order is read.
type Orders struct {
	Table      string      `yaml:"table"` // schema.table, or a table of Shop.Database
	Key        string      `yaml:"key"`   // primary key column, bound as :key
	Paid       Condition   `yaml:"paid"`
	When       []Condition `yaml:"when"` // extra conditions on the after-image
	Query      string      `yaml:"query"`
	ItemsQuery string      `yaml:"items_query"`
	// ReissueQuery reads an order for `shipsync waybill reissue`: orders.query without its
	// not-yet-shipped conditions (a shipped order no longer qualifies there). Optional:
	// orders.query.
	ReissueQuery  string `yaml:"reissue_query"`
	BackfillQuery string `yaml:"backfill_query"`
	// BackfillSince bounds the backfill to recent orders: the query's :since is bound to now
	// minus this, in unix seconds (0: no bound, :since is 0).
	BackfillSince time.Duration `yaml:"backfill_since"`
	ReadyTimeout  time.Duration `yaml:"ready_timeout"`
	ReadDelay     time.Duration `yaml:"read_delay"`
	// Cancelled, when set, is what "cancelled" means (a transition like paid, e.g. ECShop
	// order_status in [2, 3]): an order that turns cancelled after its waybill exists gets the
	// waybill cancelled at the carrier while the parcel is not picked up.
	Cancelled *Condition `yaml:"cancelled"`
}

// SchemaTable splits Table into its schema and table parts. The schema is empty when Table
// names a plain table; it then lives in Shop.Database (Validate insists that one is set).
func (o Orders) SchemaTable() (schema, table string) {
	if s, t, ok := strings.Cut(o.Table, "."); ok {
		return s, t
	}
	return "", o.Table
}

// Condition holds when the column's decoded text is one of In.
type Condition struct {
	Column string   `yaml:"column"`
	In     []string `yaml:"in"`
	// NotIn holds when the value is none of these (with In, both must hold).
	NotIn []string `yaml:"not_in"`
}

// Holds reports whether the column's text value v (ok: the column exists) meets the condition.
func (c Condition) Holds(v string, ok bool) bool {
	if !ok {
		return false
	}
	if len(c.In) > 0 && !slices.Contains(c.In, v) {
		return false
	}
	return !slices.Contains(c.NotIn, v)
}

// Writeback holds the SQL templates that write results into the shop's tables. Templates use
// named parameters (see shopdb.Params), bound as prepared-statement arguments.
type Writeback struct {
	// Waybill runs in one transaction once a waybill exists. The first statement is the guard
	// (e.g. "... AND invoice_no = ''"): the later ones run when it changed a row, and again when
	// the row already holds this waybill (completing a write cut short), so they are idempotent.
	Waybill []string `yaml:"waybill"`
	// CurrentWaybill reads the waybill already stored for :key; used to tell a replay (same
	// waybill) from a conflict (another one) when the guarded update changes nothing.
	CurrentWaybill string `yaml:"current_waybill"`
	// Status maps a canonical status (delivered, exception, ...) to its statements.
	Status map[string][]string `yaml:"status"`
	// Reissue replaces the shop's number after `shipsync waybill reissue`: the first statement
	// is guarded by the numbers the row holds (:previous_waybills). Without it a reissue records
	// and labels the new waybill, and the shop's row keeps the old number.
	Reissue []string `yaml:"reissue"`
	// Separator joins an order's waybill numbers in :waybills (several parcels), default ",";
	// ECShop's invoice_no shows them on separate lines with "<br>".
	Separator string `yaml:"separator"`
}

// Warehouse is one place orders ship from.
type Warehouse struct {
	Name string `yaml:"name"` // bound as :warehouse in the write-back
	// Sender is the warehouse's address as the carrier prints it on the label.
	Sender Address `yaml:"sender"`
	// Serves lists the receiver provinces (any spelling: 广东, 广东省, Guangdong, CN-GD) that
	// ship from here. An order to a province no warehouse serves ships from the nearest one
	// (by the distance between the provinces' capitals, or Latitude/Longitude when set), and
	// one whose province is unknown from the default.
	Serves    []string `yaml:"serves"`
	Latitude  *float64 `yaml:"latitude"`
	Longitude *float64 `yaml:"longitude"`
	Default   bool     `yaml:"default"` // at most one; else the first warehouse
}

// Addresses is the address clean-up before a create (sync/address.Normalize).
type Addresses struct {
	// Normalize (default true) completes province/city/district names the way Kdniao expects,
	// removes a province or city repeated at the start of the street, replaces the characters
	// that break carriers' signatures and parsers, and checks phone numbers; an address that
	// cannot be made valid is dead-lettered with the field named.
	Normalize *bool `yaml:"normalize"`
}

// Enabled reports whether addresses are normalised.
func (a Addresses) Enabled() bool { return a.Normalize == nil || *a.Normalize }

// Labels is the print templates kept with each waybill.
type Labels struct {
	// Enabled makes creates ask for the label (Kdniao IsReturnPrintTemplate=1) and keeps it.
	Enabled bool `yaml:"enabled"`
	// TemplateSize is the carrier's label size (Kdniao TemplateSize, e.g. "150" for 100x150 mm);
	// empty: the courier's default.
	TemplateSize string `yaml:"template_size"`
	// Keep is how long labels are kept in Redis (compressed), default 30 days.
	Keep time.Duration `yaml:"keep"`
}

// Parcels splits an order into several parcels (Kdniao Quantity).
type Parcels struct {
	// MaxKg: at most this weight per parcel (an order of 25 kg with max_kg 10 ships as 3).
	MaxKg float64 `yaml:"max_kg"`
	// Max caps the parcels of one order (default 20); a heavier order ships as Max.
	Max int `yaml:"max"`
}

// Address is a sender or receiver address.
type Address struct {
	Name     string `yaml:"name"`
	Mobile   string `yaml:"mobile"`
	Phone    string `yaml:"phone"`
	Province string `yaml:"province"`
	City     string `yaml:"city"`
	District string `yaml:"district"`
	Address  string `yaml:"address"`
	Postcode string `yaml:"postcode"`
	Company  string `yaml:"company"`
}

// Carrier is one configured carrier account.
type Carrier struct {
	Name        string        `yaml:"name"` // used in routing, /push/{name} and metric labels
	Type        string        `yaml:"type"` // kdniao
	URL         string        `yaml:"url"`
	TrackURL    string        `yaml:"track_url"` // trace queries (Kdniao 1002: its own endpoint, not url)
	EBusinessID string        `yaml:"ebusiness_id"`
	AppKey      string        `yaml:"app_key"`
	ShipperCode string        `yaml:"shipper_code"`
	PayType     int           `yaml:"pay_type"` // 1 sender pays, 2 receiver pays, 3 monthly account
	ExpType     int           `yaml:"exp_type"` // carrier product, 1 standard
	Timeout     time.Duration `yaml:"timeout"`
	// MaxInFlight bounds the calls in flight to the carrier: a number, or auto (the default),
	// which grows the bound while the carrier's latency stays flat and shrinks it when latency
	// rises or errors appear (see InFlight).
	MaxInFlight InFlight `yaml:"max_in_flight"`
	// Secret signs requests and pushes of the signedjson type (HMAC-SHA256).
	Secret string `yaml:"secret"`
	// Push says the carrier pushes status updates to /push/{name} (default true); without push
	// its waybills are polled every PollEvery.
	Push      *bool         `yaml:"push"`
	PollEvery time.Duration `yaml:"poll_every"`
	// RateLimit caps requests per second to this carrier (aggregators enforce quotas); 0: none.
	RateLimit float64 `yaml:"rate_limit"`
	// Breaker opens after Failures consecutive failed calls and lets one call through after
	// Cooldown; while open, orders fail over or wait.
	Breaker Breaker `yaml:"breaker"`
	// XML is the typed section of the xml carrier type (an SF Express BSP style XML API).
	XML XMLCarrier `yaml:"xml"`
	// Parcels, when set, ships heavy orders as several parcels; a parcels column of
	// orders.query, when the query returns one, sets the count instead.
	Parcels *Parcels `yaml:"parcels"`
}

// InFlight is a carrier's max_in_flight: "auto" or a positive number.
type InFlight string

// AutoInFlight is the value that sizes the bound by itself.
const AutoInFlight InFlight = "auto"

// AutoInFlightMax caps an auto bound: a carrier whose latency never rises still gets no more
// calls at once than this.
const AutoInFlightMax = 1024

// Fixed returns the configured bound, or auto true when it sizes itself.
func (f InFlight) Fixed() (n int, auto bool) {
	if f == "" || strings.EqualFold(string(f), string(AutoInFlight)) {
		return 0, true
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(f)))
	if err != nil {
		return 0, false
	}
	return n, false
}

// Max is the most calls that may be in flight: the fixed bound, or AutoInFlightMax.
func (f InFlight) Max() int {
	if n, auto := f.Fixed(); !auto {
		return n
	}
	return AutoInFlightMax
}

// XMLCarrier is the account at an XML carrier (type xml), modelled on SF Express's BSP
// interface: requests are signed with the account's check word.
type XMLCarrier struct {
	CustomerCode   string `yaml:"customer_code"`   // the account (SF: 顾客编码), sent in the request head
	Checkword      string `yaml:"checkword"`       // signs requests and pushes (SF: 校验码); never logged
	MonthlyAccount string `yaml:"monthly_account"` // the monthly-settlement card (SF: custid); optional
	ExpressType    int    `yaml:"express_type"`    // the carrier's product (SF: 1 standard express)
	PayMethod      int    `yaml:"pay_method"`      // 1 sender pays, 2 receiver pays, 3 third party
}

// Breaker is a carrier's circuit breaker.
type Breaker struct {
	Failures int           `yaml:"failures"`
	Cooldown time.Duration `yaml:"cooldown"`
}

// Pushes reports whether the carrier pushes status updates.
func (c Carrier) Pushes() bool { return c.Push == nil || *c.Push }

// Carrier returns the configured carrier with that name.
func (c *Config) Carrier(name string) (Carrier, bool) {
	for _, cr := range c.Carriers {
		if cr.Name == name {
			return cr, true
		}
	}
	return Carrier{}, false
}

// DefaultWarehouse is the index of the warehouse marked default, else 0.
func (c *Config) DefaultWarehouse() int {
	for i, w := range c.Warehouses {
		if w.Default {
			return i
		}
	}
	return 0
}

// Routing picks a carrier for an order.
type Routing struct {
	Default  string   `yaml:"default"`
	Failover []string `yaml:"failover"`
	// Rules pick a carrier by the order; the first whose conditions all hold wins.
	Rules []Rule `yaml:"rules"`
}

// Rule routes matching orders to Carrier. Empty conditions hold.
type Rule struct {
	Carrier  string   `yaml:"carrier"`
	Province []string `yaml:"province"` // receiver_province is one of these
	// Country: receiver_country is one of these (ISO codes or names as the shop stores them). An
	// order to a foreign country (not CN, China, 中国...) only ever matches a rule that names it.
	Country     []string   `yaml:"country"`
	MinWeightKg float64    `yaml:"min_weight_kg"` // weight_kg >= this
	MaxWeightKg float64    `yaml:"max_weight_kg"` // weight_kg <= this (0: no limit)
	Column      *Condition `yaml:"column"`        // a column orders.query returns, by its text
}

// Retry is the schedule for transient failures.
type Retry struct {
	Interval    time.Duration `yaml:"interval"`
	MaxAttempts int           `yaml:"max_attempts"`
	Backoff     string        `yaml:"backoff"` // fixed | exponential
	// MaxInterval caps the exponential backoff.
	MaxInterval time.Duration `yaml:"max_interval"`
}

// Watchdog flags parcels that stall.
type Watchdog struct {
	NoPickupAfter time.Duration `yaml:"no_pickup_after"` // waybill but no pickup: exception no_pickup
	ScanEvery     time.Duration `yaml:"scan_every"`
	// SilentAfter: a waybill of a pushing carrier with no update for this long is polled.
	SilentAfter time.Duration `yaml:"silent_after"`
	// StuckAfter: a paid order still without a waybill (retrying, dead-lettered) this long after
	// it was detected is reported.
	StuckAfter time.Duration `yaml:"stuck_after"`
}

// State is where shipsync keeps its own state.
type State struct {
	Redis Redis `yaml:"redis"`
	// LeaderTTL is the binlog reader's lease: only its holder tails the binlog and moves the
	// checkpoint; a standby takes over within this time after the leader dies.
	LeaderTTL time.Duration `yaml:"leader_ttl"`
	// Retention is how long a settled order (written with a delivered, returned or cancelled
	// parcel; conflict; skipped; dropped) keeps its record and waybill index after its last
	// status change. Open work (retrying, dead letter, undelivered parcels) never expires.
	Retention time.Duration `yaml:"retention"`
}

// Redis is a Redis connection.
type Redis struct {
	Addr string `yaml:"addr"`
	// Addrs, instead of Addr: the seed nodes of a Redis Cluster, or the Sentinels when
	// MasterName is set.
	Addrs      []string `yaml:"addrs"`
	MasterName string   `yaml:"master_name"` // Sentinel: the monitored master's name
	Password   string   `yaml:"password"`
	DB         int      `yaml:"db"`
	Prefix     string   `yaml:"prefix"` // prepended to every key shipsync writes
	TLS        *TLS     `yaml:"tls"`    // nil when the section is absent: plaintext
}

// Cluster reports whether the addresses are a Redis Cluster's.
func (r Redis) Cluster() bool { return len(r.Addrs) > 0 && r.MasterName == "" }

// Servers are the addresses to connect to: Addrs when set, else Addr.
func (r Redis) Servers() []string {
	if len(r.Addrs) > 0 {
		return r.Addrs
	}
	return []string{r.Addr}
}

// HTTP is the daemon's listener.
type HTTP struct {
	Listen  string   `yaml:"listen"`
	TLSCert string   `yaml:"tls_cert"` // PEM files; both or neither
	TLSKey  string   `yaml:"tls_key"`
	Allow   []string `yaml:"allow"` // addresses or CIDRs allowed to push; empty = any
	// TrustedProxies are reverse proxies in front of the listener (addresses or CIDRs): only
	// from them is the client address read from X-Forwarded-For, for Allow.
	TrustedProxies []string `yaml:"trusted_proxies"`
	MaxBody        int64    `yaml:"max_body"` // bytes of one push request
}

// Admin is the private listener: status page, /api, /metrics, /healthz, /readyz. It never
// shares the push listener, which faces the internet.
type Admin struct {
	Listen string `yaml:"listen"`
	// Token, when set, is required on every request as "Authorization: Bearer <token>".
	Token string `yaml:"token"`
	// OpenMetrics exempts /metrics, /healthz and /readyz from the token (for a scraper or a
	// probe that cannot send one).
	OpenMetrics bool `yaml:"open_metrics"`
	// Unmask shows receivers' names, phones and addresses unmasked on the console.
	Unmask bool `yaml:"unmask"`
}

// Kafka is used in split mode and as the events outlet.
type Kafka struct {
	Brokers     []string `yaml:"brokers"`
	OrdersTopic string   `yaml:"orders_topic"`
	EventsTopic string   `yaml:"events_topic"`
	Group       string   `yaml:"group"`
	// SessionTimeout: how long the group waits for a silent worker before giving its
	// partitions to the others.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	BatchSize      int           `yaml:"batch_size"`
	BatchTimeout   time.Duration `yaml:"batch_timeout"`
	Compression    string        `yaml:"compression"` // none | gzip | snappy | lz4 | zstd
	TLS            bool          `yaml:"tls"`
	CAFile         string        `yaml:"ca_file"` // PEM; empty: the system's roots
	SASL           KafkaSASL     `yaml:"sasl"`
}

// KafkaSASL authenticates to the brokers.
type KafkaSASL struct {
	Mechanism string `yaml:"mechanism"` // "" | PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
}

// Workers bounds the work in flight inside one process.
type Workers struct {
	Queue        int           `yaml:"queue"`         // paid orders buffered between binlog and workers
	LeaseTTL     time.Duration `yaml:"lease_ttl"`     // how long a claim on an order lasts
	DrainTimeout time.Duration `yaml:"drain_timeout"` // graceful shutdown budget
	// Batch is the most orders the ship stage takes at once (DESIGN.md §2 "Batches"); it never
	// waits for a batch to fill.
	Batch int `yaml:"batch"`
	// Batches is how many batches may be in flight at once (their carrier calls overlap).
	Batches int `yaml:"batches"`
}

// Load reads the file at path and returns its configuration, as Parse does.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data)
}

// Parse decodes a YAML configuration: ${VAR} and ${VAR:-default} are expanded in scalar
// values from the environment, unknown keys and wrong types are rejected, defaults are applied
// and the result is validated. The error lists every problem at once (errors.Join), one per
// line, each prefixed with its YAML path, in file order.
func Parse(data []byte) (*Config, error) {
	return parse(data, os.LookupEnv)
}

// ParseEnv is Parse with the environment read through lookup (e.g. a placeholder for every
// secret, to check a configuration before its secrets exist).
func ParseEnv(data []byte, lookup func(name string) (string, bool)) (*Config, error) {
	return parse(data, lookup)
}

// applyDefaults fills every unset (zero) value that has a default. It is the only place
// defaults live; config.yaml documents the same values.
func (c *Config) applyDefaults() {
	setString(&c.Mode, ModeAll)

	setString(&c.Shop.Flavor, "mariadb")
	setString(&c.Shop.Charset, "utf8mb4")
	setInt(&c.Shop.MaxConns, 16)
	setDuration(&c.Shop.Heartbeat, time.Second)
	setDuration(&c.Shop.ReadTimeout, 10*time.Second)
	setDuration(&c.Shop.WriteTimeout, 30*time.Second)
	if c.Shop.ServerID == 0 {
		c.Shop.ServerID = 4201
	}
	if schema, _ := c.Orders.SchemaTable(); schema != "" {
		setString(&c.Shop.Database, schema)
	}

	setDuration(&c.Orders.ReadyTimeout, 5*time.Second)

	for i := range c.Carriers {
		cr := &c.Carriers[i]
		setDuration(&cr.Timeout, 5*time.Second)
		if cr.MaxInFlight == "" {
			cr.MaxInFlight = AutoInFlight
		}
		if cr.Type == "xml" {
			setInt(&cr.XML.ExpressType, 1)
			setInt(&cr.XML.PayMethod, 1)
		}
		setInt(&cr.PayType, 1)
		setInt(&cr.ExpType, 1)
		setDuration(&cr.PollEvery, 30*time.Minute)
		if cr.Type == "kdniao" && cr.URL == kdniao.ProductionURL {
			setString(&cr.TrackURL, kdniao.ProductionTrackURL)
		}
		if cr.Parcels != nil {
			setInt(&cr.Parcels.Max, 20)
		}
		setInt(&cr.Breaker.Failures, 5)
		setDuration(&cr.Breaker.Cooldown, 30*time.Second)
	}
	if len(c.Carriers) > 0 {
		setString(&c.Routing.Default, c.Carriers[0].Name)
	}

	setDuration(&c.Retry.Interval, 5*time.Second)
	setInt(&c.Retry.MaxAttempts, 3)
	setString(&c.Retry.Backoff, "fixed")
	setDuration(&c.Retry.MaxInterval, 5*time.Minute)

	setDuration(&c.Labels.Keep, 30*24*time.Hour)
	setString(&c.Writeback.Separator, ",")
	if len(c.Warehouses) > 0 && c.Sender == (Address{}) {
		c.Sender = c.Warehouses[c.DefaultWarehouse()].Sender
	}

	setDuration(&c.Watchdog.NoPickupAfter, 48*time.Hour)
	setDuration(&c.Watchdog.ScanEvery, 5*time.Minute)
	setDuration(&c.Watchdog.SilentAfter, 24*time.Hour)
	setDuration(&c.Watchdog.StuckAfter, time.Hour)

	if len(c.State.Redis.Addrs) == 0 {
		setString(&c.State.Redis.Addr, "127.0.0.1:6379")
	}
	setString(&c.State.Redis.Prefix, "shipsync:")
	setDuration(&c.State.LeaderTTL, 10*time.Second)
	setDuration(&c.State.Retention, 90*24*time.Hour)

	setString(&c.HTTP.Listen, "127.0.0.1:9464")
	setString(&c.Admin.Listen, "127.0.0.1:9465")
	if c.HTTP.MaxBody == 0 {
		c.HTTP.MaxBody = 1 << 20
	}

	setInt(&c.Workers.Queue, 4096)
	setDuration(&c.Workers.LeaseTTL, 60*time.Second)
	setDuration(&c.Workers.DrainTimeout, 30*time.Second)
	setInt(&c.Workers.Batch, 128)
	setInt(&c.Workers.Batches, 8)

	if k := c.Kafka; k != nil {
		setString(&k.OrdersTopic, "shipsync.orders")
		setString(&k.EventsTopic, "shipsync.events")
		setString(&k.Group, "shipsync")
		setDuration(&k.SessionTimeout, 10*time.Second)
		setInt(&k.BatchSize, 100)
		setDuration(&k.BatchTimeout, 10*time.Millisecond)
		setString(&k.Compression, "none")
	}
}

func setString(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setInt(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

func setDuration(p *time.Duration, v time.Duration) {
	if *p == 0 {
		*p = v
	}
}

// Redacted returns a copy of c that is safe to log: passwords and app keys are replaced by
// "***" when set. The copy shares no slices with c that it changes.
func (c Config) Redacted() Config {
	const mask = "***"
	if c.Shop.Password != "" {
		c.Shop.Password = mask
	}
	if c.State.Redis.Password != "" {
		c.State.Redis.Password = mask
	}
	c.Carriers = append([]Carrier(nil), c.Carriers...)
	for i := range c.Carriers {
		if c.Carriers[i].AppKey != "" {
			c.Carriers[i].AppKey = mask
		}
		if c.Carriers[i].Secret != "" {
			c.Carriers[i].Secret = mask
		}
	}
	if c.Kafka != nil {
		k := *c.Kafka
		if k.SASL.Password != "" {
			k.SASL.Password = mask
		}
		c.Kafka = &k
	}
	return c
}
