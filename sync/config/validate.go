package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/address"
	"github.com/shipsync/shipsync/sync/status"
)

// Statuses returns the canonical shipment statuses (carriers/kdniao.md), the valid keys of
// writeback.status.
func Statuses() []string {
	var out []string
	for _, s := range status.All() {
		out = append(out, string(s))
	}
	return append(out, status.ExceptionKey)
}

// Params returns the named parameters a write-back template may use.
func Params() []string {
	return []string{
		"key", "waybill", "carrier", "shipper_code", "order_code",
		"status", "pickup_time", "reason", "event_time", "now",
		"waybills", "parcels", "warehouse", "previous_waybills",
	}
}

// CarrierTypes returns the supported carrier types.
func CarrierTypes() []string { return []string{"kdniao", "signedjson", "xml"} }

// Validate checks the configuration without any I/O and returns every problem (errors.Join),
// each prefixed with its YAML path. It expects defaults to be applied, as Load and Parse do.
func (c *Config) Validate() error {
	return joinProblems(c.problems())
}

type validator struct {
	probs []problem
}

func (v *validator) add(path, format string, args ...any) {
	v.probs = append(v.probs, problem{path: path, msg: fmt.Sprintf(format, args...)})
}

func (v *validator) required(path, value, hint string) {
	if strings.TrimSpace(value) == "" {
		v.add(path, "required%s", hint)
	}
}

func (v *validator) oneOf(path, value string, options ...string) {
	if !slices.Contains(options, value) {
		v.add(path, "%q is not one of %s", value, strings.Join(options, ", "))
	}
}

func (v *validator) positive(path string, d time.Duration) {
	if d <= 0 {
		v.add(path, "must be > 0 (got %s)", d)
	}
}

func (v *validator) atLeast(path string, n, low int) {
	if n < low {
		v.add(path, "must be >= %d (got %d)", low, n)
	}
}

// hostPort checks a host:port address; listen addresses may leave the host empty (all
// interfaces) and use port 0 (any free port).
func (v *validator) hostPort(path, addr, example string, listen bool) {
	if addr == "" {
		v.add(path, "required (e.g. %q)", example)
		return
	}
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || (host == "" && !listen) || perr != nil || n < 0 || n > 65535 || (n == 0 && !listen) {
		v.add(path, "%q is not host:port (e.g. %q)", addr, example)
	}
}

// sql checks a SQL template: parameters must be among allowed, and those in need must appear.
func (v *validator) sql(path, sql string, allowed []string, need ...string) {
	if strings.TrimSpace(sql) == "" {
		v.add(path, "empty statement")
		return
	}
	if n := shopdb.BarePlaceholders(sql); n > 0 {
		v.add(path, "%d bare ? placeholder(s): bind named parameters (:key, :waybill, ...); a literal question mark goes in quotes", n)
	}
	used := map[string]bool{}
	for _, p := range shopdb.Params(sql) {
		if used[p] {
			continue
		}
		used[p] = true
		if slices.Contains(allowed, p) {
			continue
		}
		switch s := suggest(p, allowed); {
		case s != "":
			v.add(path, "unknown parameter :%s (did you mean :%s?)", p, s)
		case len(allowed) == 1:
			v.add(path, "unknown parameter :%s (only :%s is bound here)", p, allowed[0])
		default:
			v.add(path, "unknown parameter :%s (known: :%s)", p, strings.Join(allowed, ", :"))
		}
	}
	for _, p := range need {
		if !used[p] {
			v.add(path, "must use the parameter :%s", p)
		}
	}
}

// orderQuery checks an enrichment query: it reads by :keys (`WHERE o.order_id IN (:keys)`, one
// statement per batch, each row naming its order in an order_key column) or by :key (one
// statement per order), not both.
func (v *validator) orderQuery(path, sql string, allowed []string) {
	ps := shopdb.Params(sql)
	hasKey, hasKeys := slices.Contains(ps, "key"), slices.Contains(ps, "keys")
	switch {
	case hasKey && hasKeys:
		v.add(path, "uses both :key and :keys: use :keys (IN (:keys), rows named by an order_key column) or :key alone")
		return
	case hasKeys:
		v.sql(path, sql, allowed, "keys")
	default:
		v.sql(path, sql, allowed, "key")
	}
}

// problems is Validate's list, unsorted and unjoined, for Parse to merge with its own.
func (c *Config) problems() []problem {
	v := &validator{}
	c.validateMode(v)
	c.validateShop(v)
	c.validateOrders(v)
	c.validateWriteback(v)
	c.validateSender(v)
	c.validateWarehouses(v)
	c.validateLabels(v)
	c.validateCarriers(v)
	c.validateRouting(v)

	v.positive("retry.interval", c.Retry.Interval)
	v.atLeast("retry.max_attempts", c.Retry.MaxAttempts, 1)
	v.oneOf("retry.backoff", c.Retry.Backoff, "fixed", "exponential")
	if c.Retry.MaxInterval < c.Retry.Interval {
		v.add("retry.max_interval", "must be >= retry.interval (%s), got %s", c.Retry.Interval, c.Retry.MaxInterval)
	}

	v.positive("watchdog.no_pickup_after", c.Watchdog.NoPickupAfter)
	v.positive("watchdog.scan_every", c.Watchdog.ScanEvery)
	v.positive("watchdog.silent_after", c.Watchdog.SilentAfter)
	v.positive("watchdog.stuck_after", c.Watchdog.StuckAfter)

	c.validateRedis(v)
	v.positive("state.leader_ttl", c.State.LeaderTTL)
	v.positive("state.retention", c.State.Retention)
	if c.State.Redis.DB < 0 {
		v.add("state.redis.db", "must not be negative (got %d)", c.State.Redis.DB)
	}

	v.hostPort("http.listen", c.HTTP.Listen, "127.0.0.1:9464", true)
	if (c.HTTP.TLSCert == "") != (c.HTTP.TLSKey == "") {
		v.add("http.tls_cert", "tls_cert and tls_key go together (PEM certificate and key files)")
	}
	for i, a := range c.HTTP.Allow {
		if _, err := netip.ParsePrefix(a); err != nil {
			if _, err := netip.ParseAddr(a); err != nil {
				v.add(fmt.Sprintf("http.allow[%d]", i), "%q is not an IP address or CIDR (e.g. 10.0.0.0/8)", a)
			}
		}
	}
	for i, a := range c.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(a); err != nil {
			if _, err := netip.ParseAddr(a); err != nil {
				v.add(fmt.Sprintf("http.trusted_proxies[%d]", i), "%q is not an IP address or CIDR (e.g. 127.0.0.1)", a)
			}
		}
	}
	if c.HTTP.MaxBody < 1024 {
		v.add("http.max_body", "must be at least 1024 bytes (got %d)", c.HTTP.MaxBody)
	}
	v.hostPort("admin.listen", c.Admin.Listen, "127.0.0.1:9465", true)
	if c.Admin.Listen != "" && c.Admin.Listen == c.HTTP.Listen && !strings.HasSuffix(c.Admin.Listen, ":0") {
		v.add("admin.listen", "must differ from http.listen: the push listener may face the internet, the admin surface never")
	}
	if t := c.Admin.Token; t != "" && len(t) < 16 {
		v.add("admin.token", "too short (%d characters): use at least 16 random characters, from the environment", len(t))
	}
	if c.Admin.Unmask && c.Admin.Token == "" {
		v.add("admin.unmask", "needs admin.token: without one, any local process could read the receivers' data")
	}

	v.atLeast("workers.queue", c.Workers.Queue, 1)
	v.atLeast("workers.batch", c.Workers.Batch, 1)
	v.atLeast("workers.batches", c.Workers.Batches, 1)
	v.positive("workers.lease_ttl", c.Workers.LeaseTTL)
	v.positive("workers.drain_timeout", c.Workers.DrainTimeout)

	c.validateKafka(v)
	return v.probs
}

func (c *Config) validateRedis(v *validator) {
	r := c.State.Redis
	switch {
	case len(r.Addrs) > 0 && r.Addr != "":
		v.add("state.redis.addrs", "set addr (one server) or addrs (Cluster or Sentinel), not both")
	case len(r.Addrs) == 0:
		v.hostPort("state.redis.addr", r.Addr, "127.0.0.1:6379", false)
		if r.MasterName != "" {
			v.add("state.redis.master_name", "needs the Sentinels' addresses in state.redis.addrs")
		}
	}
	for i, a := range r.Addrs {
		v.hostPort(fmt.Sprintf("state.redis.addrs[%d]", i), a, "127.0.0.1:6379", false)
	}
	v.validateTLS("state.redis.tls", r.TLS)
	if r.Cluster() {
		// shipsync's scripts touch several keys at once; in a Cluster they must share a slot.
		open, end := strings.Index(r.Prefix, "{"), strings.Index(r.Prefix, "}")
		if open < 0 || end < open+2 {
			v.add("state.redis.prefix", "a Redis Cluster needs a hash tag in the prefix, e.g. \"{shipsync}:\", so that "+
				"every key of one shop is in the same slot (got %q)", r.Prefix)
		}
		if r.DB != 0 {
			v.add("state.redis.db", "a Redis Cluster has only db 0 (got %d)", r.DB)
		}
	}
}

func (c *Config) validateMode(v *validator) {
	v.oneOf("mode", c.Mode, ModeAll, ModeReader, ModeWorker)
	if (c.Mode == ModeReader || c.Mode == ModeWorker) && (c.Kafka == nil || len(c.Kafka.Brokers) == 0) {
		v.add("kafka.brokers", "required when mode is %s (paid orders travel through Kafka)", c.Mode)
	}
}

func (c *Config) validateShop(v *validator) {
	s := c.Shop
	v.hostPort("shop.addr", s.Addr, "127.0.0.1:3306", false)
	v.required("shop.user", s.User, "")
	v.oneOf("shop.flavor", s.Flavor, "mysql", "mariadb")
	if s.ServerID == 0 {
		v.add("shop.server_id", "must be > 0 (a replication client id, unique on the server)")
	}
	v.required("shop.charset", s.Charset, "")
	v.atLeast("shop.max_conns", s.MaxConns, 1)
	v.positive("shop.heartbeat", s.Heartbeat)
	v.positive("shop.read_timeout", s.ReadTimeout)
	v.positive("shop.write_timeout", s.WriteTimeout)
	v.validateTLS("shop.tls", s.TLS)
}

func (c *Config) validateOrders(v *validator) {
	o := c.Orders
	key := []string{"key", "keys"}
	switch parts := strings.Split(o.Table, "."); {
	case o.Table == "":
		v.add("orders.table", "required (schema.table of the orders table, e.g. shop.ecs_order_info)")
	case len(parts) > 2 || slices.Contains(parts, "") || strings.ContainsAny(o.Table, "` \t"):
		v.add("orders.table", "%q is not schema.table or table (write names without quotes)", o.Table)
	case len(parts) == 1 && c.Shop.Database == "":
		v.add("shop.database", "required when orders.table has no schema (or write orders.table as schema.table)")
	}
	v.required("orders.key", o.Key, " (the primary key column, e.g. order_id)")
	v.required("orders.paid.column", o.Paid.Column, " (the column that says an order is paid, e.g. pay_status)")
	if len(o.Paid.In) == 0 {
		v.add("orders.paid.in", `required (the values that mean paid, e.g. ["2"])`)
	}
	for i, w := range o.When {
		p := fmt.Sprintf("orders.when[%d]", i)
		v.required(p+".column", w.Column, "")
		if len(w.In) == 0 && len(w.NotIn) == 0 {
			v.add(p+".in", "required (at least one value; or not_in)")
		}
	}
	if cn := o.Cancelled; cn != nil {
		v.required("orders.cancelled.column", cn.Column, " (the column that says an order is cancelled, e.g. order_status)")
		if len(cn.In) == 0 {
			v.add("orders.cancelled.in", `required (the values that mean cancelled, e.g. ["2", "3"])`)
		}
		if cn.Column == o.Paid.Column && len(cn.In) > 0 && slices.ContainsFunc(cn.In, func(x string) bool { return slices.Contains(o.Paid.In, x) }) {
			v.add("orders.cancelled.in", "shares a value with orders.paid.in: an order cannot be paid and cancelled at once")
		}
	}
	if o.Query == "" {
		v.add("orders.query", "required (reads the orders of :keys, an IN list, or one order by :key)")
	} else {
		v.orderQuery("orders.query", o.Query, key)
	}
	if o.ItemsQuery != "" {
		v.orderQuery("orders.items_query", o.ItemsQuery, key)
	}
	if o.ReissueQuery != "" {
		v.orderQuery("orders.reissue_query", o.ReissueQuery, key)
	}
	if o.BackfillQuery != "" {
		v.sql("orders.backfill_query", o.BackfillQuery, []string{"since"})
	}
	if o.BackfillSince < 0 {
		v.add("orders.backfill_since", "must not be negative (got %s)", o.BackfillSince)
	}
	v.positive("orders.ready_timeout", o.ReadyTimeout)
	if o.ReadDelay < 0 {
		v.add("orders.read_delay", "must not be negative (got %s)", o.ReadDelay)
	}
}

func (c *Config) validateWriteback(v *validator) {
	w := c.Writeback
	params := Params()
	if len(w.Waybill) == 0 {
		v.add("writeback.waybill", "required (at least one statement; the first writes :waybill, guarded)")
	}
	for i, sql := range w.Waybill {
		need := []string{"key"}
		if i == 0 {
			need = append(need, waybillParam(sql))
		}
		v.sql(fmt.Sprintf("writeback.waybill[%d]", i), sql, params, need...)
	}
	if w.CurrentWaybill == "" {
		v.add("writeback.current_waybill", "required: the statement that reads the waybill the shop row holds for :key "+
			"(e.g. SELECT invoice_no FROM ecs_order_info WHERE order_id = :key); without it a row that already holds "+
			"another number cannot be told from our own write, and would be taken as written")
	} else {
		v.sql("writeback.current_waybill", w.CurrentWaybill, params, "key")
	}
	for i, sql := range w.Reissue {
		need := []string{"key"}
		if i == 0 {
			need = append(need, waybillParam(sql), "previous_waybills")
		}
		v.sql(fmt.Sprintf("writeback.reissue[%d]", i), sql, params, need...)
	}
	statuses := Statuses()
	keys := make([]string, 0, len(w.Status))
	for k := range w.Status {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := "writeback.status." + k
		if !slices.Contains(statuses, k) {
			hint := ""
			if s := suggest(k, statuses); s != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", s)
			}
			v.add(p, "unknown status%s; valid statuses: %s", hint, strings.Join(statuses, ", "))
			continue
		}
		for i, sql := range w.Status[k] {
			v.sql(fmt.Sprintf("%s[%d]", p, i), sql, params, "key")
		}
	}
}

// waybillParam is the parameter a guarded waybill statement must write: :waybills when it
// writes every parcel's number, else :waybill.
func waybillParam(sql string) string {
	if slices.Contains(shopdb.Params(sql), "waybills") {
		return "waybills"
	}
	return "waybill"
}

func (c *Config) validateSender(v *validator) {
	if len(c.Warehouses) > 0 {
		return // each warehouse's sender is checked, and sender defaults to the default one's
	}
	validateAddress(v, "sender", c.Sender)
}

func validateAddress(v *validator, p string, s Address) {
	v.required(p+".name", s.Name, "")
	if strings.TrimSpace(s.Mobile) == "" && strings.TrimSpace(s.Phone) == "" {
		v.add(p+".mobile", "required (or %s.phone)", p)
	}
	v.required(p+".province", s.Province, "")
	v.required(p+".city", s.City, "")
	v.required(p+".address", s.Address, "")
}

func (c *Config) validateWarehouses(v *validator) {
	names := map[string]bool{}
	defaults := 0
	for i, w := range c.Warehouses {
		p := fmt.Sprintf("warehouses[%d]", i)
		v.required(p+".name", w.Name, "")
		if names[w.Name] && w.Name != "" {
			v.add(p+".name", "%q is used by another warehouse", w.Name)
		}
		names[w.Name] = true
		validateAddress(v, p+".sender", w.Sender)
		for j, pr := range w.Serves {
			if _, _, ok := address.Capital(pr); !ok {
				v.add(fmt.Sprintf("%s.serves[%d]", p, j), "%q is not one of China's provinces (write 广东, 广东省, Guangdong or CN-GD)", pr)
			}
		}
		if (w.Latitude == nil) != (w.Longitude == nil) {
			v.add(p+".latitude", "latitude and longitude go together")
		}
		if w.Latitude != nil && (*w.Latitude < -90 || *w.Latitude > 90) {
			v.add(p+".latitude", "must be within -90 and 90, got %v", *w.Latitude)
		}
		if w.Longitude != nil && (*w.Longitude < -180 || *w.Longitude > 180) {
			v.add(p+".longitude", "must be within -180 and 180, got %v", *w.Longitude)
		}
		if w.Default {
			defaults++
			if defaults > 1 {
				v.add(p+".default", "only one warehouse can be the default")
			}
		}
	}
}

func (c *Config) validateLabels(v *validator) {
	l := c.Labels
	v.positive("labels.keep", l.Keep)
	if s := strings.TrimSpace(l.TemplateSize); s != "" {
		if _, err := strconv.Atoi(s); err != nil {
			v.add("labels.template_size", "must be the carrier's size number, e.g. \"150\" for 100x150 mm, got %q", s)
		}
	}
}

func (c *Config) validateCarriers(v *validator) {
	if len(c.Carriers) == 0 {
		v.add("carriers", "at least one carrier is required")
		return
	}
	first := map[string]int{}
	account := map[string]int{} // ebusiness_id -> its first Kdniao carrier
	for i, cr := range c.Carriers {
		p := fmt.Sprintf("carriers[%d]", i)
		switch j, dup := first[cr.Name]; {
		case cr.Name == "":
			v.add(p+".name", "required")
		case dup:
			v.add(p+".name", "duplicate name %q (also carriers[%d])", cr.Name, j)
		case strings.IndexFunc(cr.Name, notNameRune) >= 0:
			v.add(p+".name", "%q may hold only letters, digits, '.', '_' and '-' (it appears in URLs and metrics)", cr.Name)
		default:
			first[cr.Name] = i
		}
		types := CarrierTypes()
		switch {
		case cr.Type == "":
			v.add(p+".type", "required (supported: %s)", strings.Join(types, ", "))
		case !slices.Contains(types, cr.Type):
			v.add(p+".type", "unsupported type %q (supported: %s)", cr.Type, strings.Join(types, ", "))
		}
		if u, err := url.Parse(cr.URL); cr.URL == "" {
			v.add(p+".url", "required (the carrier's API endpoint)")
		} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(p+".url", "%q is not an absolute http(s) URL", cr.URL)
		}
		c.validateTrackURL(v, p, cr)
		switch cr.Type {
		case "kdniao":
			v.required(p+".ebusiness_id", cr.EBusinessID, " (set it, e.g. from ${KDNIAO_EBUSINESS_ID})")
			v.required(p+".app_key", cr.AppKey, " (set it, e.g. from ${KDNIAO_APP_KEY})")
			// One EBusinessID is one account: Kdniao signs all its pushes with its one key, and any
			// of the account's /push URLs verifies them.
			if j, ok := account[cr.EBusinessID]; !ok {
				account[cr.EBusinessID] = i
			} else if c.Carriers[j].AppKey != cr.AppKey {
				v.add(p+".app_key", "differs from carriers[%d].app_key, which has the same ebusiness_id: one Kdniao account has one key", j)
			}
		case "signedjson":
			v.required(p+".secret", cr.Secret, " (the shared HMAC secret, e.g. from ${CARRIER_SECRET})")
		case "xml":
			v.required(p+".xml.customer_code", cr.XML.CustomerCode, " (the account's customer code)")
			v.required(p+".xml.checkword", cr.XML.Checkword, " (the account's check word, e.g. from ${SF_CHECKWORD})")
			if cr.XML.PayMethod < 1 || cr.XML.PayMethod > 3 {
				v.add(p+".xml.pay_method", "must be 1 (sender pays), 2 (receiver pays) or 3 (third party), got %d", cr.XML.PayMethod)
			}
			v.atLeast(p+".xml.express_type", cr.XML.ExpressType, 1)
		}
		if cr.Type != "xml" && cr.XML != (XMLCarrier{}) {
			v.add(p+".xml", "only for type xml (this carrier is %s)", cr.Type)
		}
		v.positive(p+".poll_every", cr.PollEvery)
		if cr.RateLimit < 0 {
			v.add(p+".rate_limit", "must not be negative (got %v)", cr.RateLimit)
		}
		if pc := cr.Parcels; pc != nil {
			if cr.Type != "kdniao" {
				v.add(p+".parcels", "only the kdniao type ships several parcels (Quantity and SubOrders); %s carriers ship one", cr.Type)
			}
			if !(pc.MaxKg > 0) {
				v.add(p+".parcels.max_kg", "must be > 0 (the most kilograms one parcel may weigh), got %v", pc.MaxKg)
			}
			v.atLeast(p+".parcels.max", pc.Max, 1)
		}
		v.atLeast(p+".breaker.failures", cr.Breaker.Failures, 1)
		v.positive(p+".breaker.cooldown", cr.Breaker.Cooldown)
		v.required(p+".shipper_code", cr.ShipperCode, " (the carrier's code, e.g. SF)")
		if cr.PayType < 1 || cr.PayType > 3 {
			v.add(p+".pay_type", "must be 1 (sender pays), 2 (receiver pays) or 3 (monthly account), got %d", cr.PayType)
		}
		v.atLeast(p+".exp_type", cr.ExpType, 1)
		v.positive(p+".timeout", cr.Timeout)
		if n, auto := cr.MaxInFlight.Fixed(); !auto && n < 1 {
			v.add(p+".max_in_flight", "must be auto or a number >= 1 (got %q)", string(cr.MaxInFlight))
		}
	}
}

// validateTrackURL: Kdniao answers trace queries (1002) only on its query endpoint, so a
// carrier whose waybills are polled needs it unless url is Kdniao's production create endpoint
// (then the default is the production query endpoint).
func (c *Config) validateTrackURL(v *validator, p string, cr Carrier) {
	switch u, err := url.Parse(cr.TrackURL); {
	case cr.TrackURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == ""):
		v.add(p+".track_url", "%q is not an absolute http(s) URL", cr.TrackURL)
	case cr.TrackURL == "" && cr.Type == "kdniao" && !cr.Pushes():
		v.add(p+".track_url", "required when push is false (its waybills are polled at Kdniao's query endpoint, e.g. %s)",
			kdniao.ProductionTrackURL)
	case cr.TrackURL == "" && cr.Type == "kdniao" && c.Watchdog.SilentAfter > 0:
		v.add(p+".track_url", "required when url is not Kdniao's production endpoint (waybills silent for "+
			"watchdog.silent_after are polled at the query endpoint, e.g. %s)", kdniao.ProductionTrackURL)
	}
}

func notNameRune(r rune) bool {
	return !(r < 0x80 && (isNameChar(byte(r)) || r == '.' || r == '-'))
}

func (c *Config) validateRouting(v *validator) {
	if len(c.Carriers) == 0 {
		return // carriers: at least one ... says it all
	}
	var names []string
	for _, cr := range c.Carriers {
		if cr.Name != "" {
			names = append(names, cr.Name)
		}
	}
	if len(names) == 0 {
		return // carriers[i].name: required says it all
	}
	known := func(path, name string) {
		if !slices.Contains(names, name) {
			v.add(path, "unknown carrier %q (configured: %s)", name, strings.Join(names, ", "))
		}
	}
	known("routing.default", c.Routing.Default)
	for i, name := range c.Routing.Failover {
		known(fmt.Sprintf("routing.failover[%d]", i), name)
	}
	for i, r := range c.Routing.Rules {
		p := fmt.Sprintf("routing.rules[%d]", i)
		known(p+".carrier", r.Carrier)
		if r.MinWeightKg < 0 || r.MaxWeightKg < 0 || (r.MaxWeightKg > 0 && r.MaxWeightKg < r.MinWeightKg) {
			v.add(p, "weights must be >= 0 and max_weight_kg >= min_weight_kg")
		}
		if r.Column != nil && (r.Column.Column == "" || len(r.Column.In) == 0 && len(r.Column.NotIn) == 0) {
			v.add(p+".column", "needs column and in (or not_in)")
		}
	}
}

func (c *Config) validateKafka(v *validator) {
	k := c.Kafka
	if k == nil {
		return
	}
	if len(k.Brokers) == 0 && c.Mode == ModeAll {
		v.add("kafka.brokers", "required (or remove the kafka section)")
	}
	for i, b := range k.Brokers {
		v.hostPort(fmt.Sprintf("kafka.brokers[%d]", i), b, "127.0.0.1:9092", false)
	}
	v.required("kafka.orders_topic", k.OrdersTopic, "")
	v.required("kafka.events_topic", k.EventsTopic, "")
	v.required("kafka.group", k.Group, "")
	if k.SessionTimeout < 6*time.Second {
		v.add("kafka.session_timeout", "must be at least 6s (the brokers' default group.min.session.timeout.ms), got %v", k.SessionTimeout)
	}
	v.atLeast("kafka.batch_size", k.BatchSize, 1)
	v.positive("kafka.batch_timeout", k.BatchTimeout)
	v.oneOf("kafka.compression", k.Compression, "none", "gzip", "snappy", "lz4", "zstd")
	if k.SASL.Mechanism != "" {
		v.oneOf("kafka.sasl.mechanism", k.SASL.Mechanism, "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
		v.required("kafka.sasl.username", k.SASL.Username, "")
	}
}
