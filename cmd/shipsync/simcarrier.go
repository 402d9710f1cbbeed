package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
)

// simCarrierCmd runs `shipsync sim-carrier`: a Kdniao-compatible carrier on a port until ctx is
// done. The app key comes from KDNIAO_APP_KEY (or --app-key, which leaks into `ps`).
func simCarrierCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sim-carrier", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8700", "address to listen on")
	ebusinessID := fs.String("ebusiness-id", cmp.Or(os.Getenv("KDNIAO_EBUSINESS_ID"), "test-ebusiness"),
		"merchant id expected in EBusinessID (default from KDNIAO_EBUSINESS_ID)")
	appKey := fs.String("app-key", os.Getenv("KDNIAO_APP_KEY"),
		"app key that DataSign must verify with (default from KDNIAO_APP_KEY, the safer place for it)")
	latency := fs.Duration("latency", 0, "delay added before answering every create")
	errorRate := fs.Float64("error-rate", 0, "fraction of creates answered HTTP 500 without creating (0-1)")
	timeoutAfterCommit := fs.Float64("timeout-after-commit", 0,
		"fraction of first creates that create the waybill, then hang for --hang (0-1)")
	hang := fs.Duration("hang", 30*time.Second, "how long a timeout-after-commit create hangs")
	pickupAfter := fs.Duration("pickup-after", 0, "when > 0, replies carry PickupTime = now + this")
	seed := fs.Int64("seed", 1, "seed of the fault dice")
	prefix := fs.String("prefix", "SIM", "waybill number prefix")
	if err := fs.Parse(args); err != nil {
		return err
	}

	var problems []error
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if *appKey == "" {
		problems = append(problems, errors.New("app key missing: set KDNIAO_APP_KEY or --app-key"))
	}
	if *ebusinessID == "" {
		problems = append(problems, errors.New("--ebusiness-id is empty"))
	}
	rates := []struct {
		flag string
		rate float64
	}{{"--error-rate", *errorRate}, {"--timeout-after-commit", *timeoutAfterCommit}}
	for _, r := range rates {
		if r.rate < 0 || r.rate > 1 {
			problems = append(problems, fmt.Errorf("%s %v is outside 0-1", r.flag, r.rate))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return fmt.Errorf("sim-carrier: %w", err)
	}

	log := slog.New(slog.NewJSONHandler(stderr, nil))
	carrier := sim.New(sim.Config{
		EBusinessID:            *ebusinessID,
		AppKey:                 *appKey,
		Latency:                *latency,
		ErrorRate:              *errorRate,
		TimeoutAfterCommitRate: *timeoutAfterCommit,
		Hang:                   *hang,
		PickupAfter:            *pickupAfter,
		Seed:                   *seed,
		Prefix:                 *prefix,
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("sim-carrier: %w", err)
	}
	srv := &http.Server{
		Handler:           carrier,
		ReadHeaderTimeout: 10 * time.Second,
		// Requests inherit ctx so that hanging creates end when shutdown begins instead of
		// holding the graceful shutdown for --hang.
		BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	fmt.Fprintf(stdout, "sim-carrier listening on http://%s (POST /api/EOrderService, GET /stats)\n", ln.Addr())
	log.Info("sim-carrier started", "listen", ln.Addr().String(), "ebusiness_id", *ebusinessID,
		"latency", latency.String(), "error_rate", *errorRate, "timeout_after_commit", *timeoutAfterCommit,
		"hang", hang.String(), "pickup_after", pickupAfter.String(), "seed", *seed)

	select {
	case err := <-served:
		return fmt.Errorf("sim-carrier: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("sim-carrier: shutdown: %w", err)
	}
	<-served // http.ErrServerClosed once Shutdown has begun
	log.Info("sim-carrier stopped", "stats", carrier.Stats())
	return nil
}
