package main

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/metrics"
	"github.com/shipsync/shipsync/sync/pipeline"
	"github.com/shipsync/shipsync/sync/state"
)

func runCmd(ctx context.Context, args []string, stderr io.Writer) error {
	err := run(ctx, args, stderr)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Stopped (SIGTERM, SIGINT) while still starting, e.g. waiting for Redis to load its
		// AOF: nothing was begun, and being asked to stop is not a failure.
		return nil
	}
	return err
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "configuration file")
	recoverFlag := fs.Bool("recover", false, "the checkpoint was purged: restart at the current binlog position and run the backfill query")
	dryRun := fs.Bool("dry-run", false, "only detect paid orders (logged at debug level, counted in metrics): no lease, claim, carrier call, write-back or checkpoint")
	var level slog.Level
	fs.TextVar(&level, "log-level", slog.LevelInfo, "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	tuneGC()
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	d, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.close()
	carriers := map[string]pipeline.Carrier{}
	for _, c := range cfg.Carriers {
		cl, err := pipeline.NewCarrier(c)
		if err != nil {
			return err
		}
		carriers[c.Name] = cl
	}
	m := metrics.New()
	opts := pipeline.Options{Config: cfg, Log: log, Shop: d.shop, Meta: d.db, Store: d.store,
		Carriers: carriers, Recover: *recoverFlag, DryRun: *dryRun, Metrics: m}
	if cfg.Kafka != nil && !*dryRun {
		closeKafka, err := wireKafka(cfg, &opts, log, m)
		if err != nil {
			return err
		}
		defer closeKafka(ctx)
	}
	p, err := pipeline.New(opts)
	if err != nil {
		return err
	}
	log.Info("shipsync starting", "mode", cfg.Mode, "table", cfg.Orders.Table, "shop", cfg.Shop.Addr,
		"redis", strings.Join(cfg.State.Redis.Servers(), ","), "http", cfg.HTTP.Listen, "admin", cfg.Admin.Listen,
		"admin_token", cfg.Admin.Token != "")
	_, stopHTTP, err := serveHTTP(ctx, cfg.HTTP, pushMux(p), log)
	if err != nil {
		return err
	}
	defer stopHTTP()
	reload := reloader{path: *path, p: p, log: log}
	_, stopAdmin, err := serve(ctx, "admin.listen", cfg.Admin.Listen, nil, adminMux(p, cfg.Admin, reload, log), log)
	if err != nil {
		return err
	}
	defer stopAdmin()
	go reload.onSIGHUP(ctx)
	err = p.Run(ctx)
	orders := p.Metrics().Orders
	log.Info("shipsync stopped", "written", metrics.Value(orders.WithLabelValues(metrics.OrderWritten)),
		"dead_lettered", metrics.Value(orders.WithLabelValues(metrics.OrderDeadLettered)))
	return err
}

// tuneGC trades memory the daemon has to spare for CPU: its live heap is small (row images and
// order records, short-lived), so Go's default GOGC=100 collects many times a second under load.
// GOGC=400 with a 128 MiB soft limit collects a quarter as often and still keeps the heap well
// under the 150 MB the project promises. GOGC and GOMEMLIMIT in the environment take precedence.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(128 << 20)
	}
}

// deps are the connections every command needs.
type deps struct {
	db    *sql.DB
	rdb   redis.UniversalClient
	store *state.Store
	shop  *shopdb.DB
}

func open(ctx context.Context, cfg *config.Config) (*deps, error) {
	d, err := openState(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if d.db, err = connectShop(cfg.Shop, cfg.Shop.MaxConns); err != nil {
		d.close()
		return nil, err
	}
	if err := d.db.PingContext(ctx); err != nil {
		d.close()
		return nil, fmt.Errorf("shop database %s: %w", cfg.Shop.Addr, err)
	}
	if d.shop, err = shopdb.Open(ctx, d.db, shopConfig(cfg)); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// newRedis connects to one server, a Cluster (state.redis.addrs) or a Sentinel-monitored master
// (addrs and master_name), over TLS with state.redis.tls. It fails only on the TLS files.
func newRedis(r config.Redis) (redis.UniversalClient, error) {
	// No default server name: go-redis dials each node (Cluster, Sentinel) by its own address,
	// and crypto/tls takes the name from it.
	tc, err := r.TLS.Client("state.redis.tls", "")
	if err != nil {
		return nil, err
	}
	return redis.NewUniversalClient(&redis.UniversalOptions{Addrs: r.Servers(), MasterName: r.MasterName,
		Password: r.Password, DB: r.DB, IsClusterMode: r.Cluster(), TLSConfig: tc}), nil
}

// connectShop is shopdb.ConnectTLS for the shop section, over TLS with shop.tls. It fails only
// on the TLS files.
func connectShop(s config.Shop, maxConns int) (*sql.DB, error) {
	tc, err := s.TLS.Client("shop.tls", s.Addr)
	if err != nil {
		return nil, err
	}
	return shopdb.ConnectTLS(s.Addr, s.User, s.Password, s.Database, s.Charset, maxConns, tc), nil
}

func shopConfig(cfg *config.Config) shopdb.Config {
	return shopdb.Config{Query: cfg.Orders.Query, ItemsQuery: cfg.Orders.ItemsQuery, BackfillQuery: cfg.Orders.BackfillQuery,
		BackfillSince: cfg.Orders.BackfillSince, Waybill: cfg.Writeback.Waybill, CurrentWaybill: cfg.Writeback.CurrentWaybill, Status: cfg.Writeback.Status, Reissue: cfg.Writeback.Reissue,
		ReissueQuery: cfg.Orders.ReissueQuery, Separator: cfg.Writeback.Separator, ReadTimeout: cfg.Shop.ReadTimeout, WriteTimeout: cfg.Shop.WriteTimeout}
}

func (d *deps) close() {
	if d.shop != nil {
		d.shop.Close()
	}
	if d.rdb != nil {
		d.rdb.Close()
	}
	if d.db != nil {
		d.db.Close()
	}
}

// serveHTTP starts the push listener (http.listen), with its TLS when configured. It returns
// the address it listens on and a function that shuts it down, letting pushes in progress
// finish (a few seconds at most).
func serveHTTP(ctx context.Context, cfg config.HTTP, handler http.Handler, log *slog.Logger) (string, func(), error) {
	var tc *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return "", nil, fmt.Errorf("http.tls_cert/tls_key: %w", err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return serve(ctx, "http.listen", cfg.Listen, tc, handler, log)
}

// serve runs one listener (named by its YAML path in errors) until the returned function shuts
// it down.
func serve(ctx context.Context, path, addr string, tc *tls.Config, handler http.Handler, log *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("%s %s: %w", path, addr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second, TLSConfig: tc,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("listener stopped", "listener", path, "err", err)
		}
	}()
	return ln.Addr().String(), func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx) //nolint:errcheck // best effort at exit
	}, nil
}
