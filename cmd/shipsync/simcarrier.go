package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
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
	pickupAfter := fs.Duration("pickup-after", 0,
		"when > 0, replies carry PickupTime = now + this, and the pickup trace comes this much simulated time after the create")
	seed := fs.Int64("seed", 1, "seed of the fault dice and of the trace plans")
	prefix := fs.String("prefix", "SIM", "waybill number prefix")
	pushTo := fs.String("push-to", "",
		"URL to POST signed 101 trace pushes to, e.g. http://127.0.0.1:9464/push/sim (empty: no pushes; 1002 queries work either way)")
	timeScale := fs.Float64("time-scale", 3600,
		"simulated seconds per real second for trace progressions (86400: a day a second)")
	pushEvery := fs.Duration("push-every", 50*time.Millisecond, "real-time tick of the push loop")
	pushDuplicates := fs.Float64("push-duplicates", 0, "fraction of pushes sent twice (0-1)")
	pushOutOfOrder := fs.Float64("push-out-of-order", 0, "fraction of pushes held back and sent after the next one (0-1)")
	pushBadSignature := fs.Float64("push-bad-signature", 0, "fraction of pushes sent first with a corrupted DataSign (0-1)")
	pushDrop := fs.Float64("push-drop", 0, "fraction of pushes never sent nor retried (0-1)")
	exceptionRate := fs.Float64("exception-rate", 0, "fraction of waybills with a delivery exception before delivery (0-1)")
	returnRate := fs.Float64("return-rate", 0, "fraction of waybills refused and returned to the sender (0-1)")
	noPickupRate := fs.Float64("no-pickup-rate", 0, "fraction of waybills never picked up (0-1)")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
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
	}{{"--error-rate", *errorRate}, {"--timeout-after-commit", *timeoutAfterCommit},
		{"--push-duplicates", *pushDuplicates}, {"--push-out-of-order", *pushOutOfOrder},
		{"--push-bad-signature", *pushBadSignature}, {"--push-drop", *pushDrop},
		{"--exception-rate", *exceptionRate}, {"--return-rate", *returnRate}, {"--no-pickup-rate", *noPickupRate}}
	for _, r := range rates {
		if !(r.rate >= 0 && r.rate <= 1) { // also catches NaN
			problems = append(problems, fmt.Errorf("%s %v is outside 0-1", r.flag, r.rate))
		}
	}
	if sum := *exceptionRate + *returnRate + *noPickupRate; sum > 1 {
		problems = append(problems, fmt.Errorf("--exception-rate + --return-rate + --no-pickup-rate = %v is more than 1", sum))
	}
	if !(*timeScale > 0) || math.IsInf(*timeScale, 0) {
		problems = append(problems, fmt.Errorf("--time-scale %v must be > 0", *timeScale))
	}
	if *pushEvery <= 0 {
		problems = append(problems, fmt.Errorf("--push-every %v must be > 0", *pushEvery))
	}
	if *pushTo != "" {
		if u, err := url.Parse(*pushTo); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Errorf("--push-to %q is not an http(s) URL", *pushTo))
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
		PushTo:                 *pushTo,
		TimeScale:              *timeScale,
		PushEvery:              *pushEvery,
		DuplicateRate:          *pushDuplicates,
		OutOfOrderRate:         *pushOutOfOrder,
		BadSignatureRate:       *pushBadSignature,
		DropRate:               *pushDrop,
		ExceptionRate:          *exceptionRate,
		ReturnRate:             *returnRate,
		NoPickupRate:           *noPickupRate,
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
	// The push loop stops with pushCtx: on shutdown, or when serving fails.
	pushCtx, stopPushes := context.WithCancel(ctx)
	defer stopPushes()
	var pushed chan error // stays nil, never ready, when pushes are off
	pushes := "pushes off (no --push-to)"
	if *pushTo != "" {
		pushed = make(chan error, 1)
		go func() { pushed <- carrier.Run(pushCtx) }()
		pushes = fmt.Sprintf("pushing traces to %s at %v× time", *pushTo, *timeScale)
	}

	fmt.Fprintf(stdout, "sim-carrier listening on http://%s (POST %s: 1007 create; POST %s: 1002 query; GET /stats); %s\n",
		ln.Addr(), sim.CreatePath, sim.TrackPath, pushes)
	log.Info("sim-carrier started", "listen", ln.Addr().String(), "ebusiness_id", *ebusinessID,
		"latency", latency.String(), "error_rate", *errorRate, "timeout_after_commit", *timeoutAfterCommit,
		"hang", hang.String(), "pickup_after", pickupAfter.String(), "seed", *seed,
		"push_to", *pushTo, "time_scale", *timeScale, "push_every", pushEvery.String(),
		"push_duplicates", *pushDuplicates, "push_out_of_order", *pushOutOfOrder,
		"push_bad_signature", *pushBadSignature, "push_drop", *pushDrop,
		"exception_rate", *exceptionRate, "return_rate", *returnRate, "no_pickup_rate", *noPickupRate)

	var failed error
	select {
	case err := <-served:
		failed, served = fmt.Errorf("sim-carrier: serve: %w", err), nil
	case err := <-pushed:
		// Run returns before ctx is done only on an error.
		if err != nil {
			failed = fmt.Errorf("sim-carrier: %w", err)
		}
		pushed = nil
	case <-ctx.Done():
	}
	stopPushes()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && failed == nil {
		failed = fmt.Errorf("sim-carrier: shutdown: %w", err)
	}
	if served != nil {
		<-served // http.ErrServerClosed once Shutdown has begun
	}
	if pushed != nil {
		<-pushed // nil: pushCtx is done; pushes in flight have ended
	}
	log.Info("sim-carrier stopped", "stats", carrier.Stats())
	return failed
}
