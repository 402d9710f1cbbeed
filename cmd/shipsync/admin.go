package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/pipeline"
	"github.com/shipsync/shipsync/sync/statuspage"
)

// pushMux is the listener that may face the internet (http.listen): POST /push/{carrier} and
// nothing else. Every other request is 404, so the listener tells a scanner nothing about what
// else runs here.
func pushMux(p *pipeline.Pipeline) http.Handler {
	mux := http.NewServeMux()
	p.PushHandler().Register(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/push/") {
			http.NotFound(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// adminMux is the private listener (admin.listen): the status page, its API, metrics, health
// and readiness, behind the admin token when one is set.
func adminMux(p *pipeline.Pipeline, cfg config.Admin, r reloader, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/reload", r.serveReload)
	mux.Handle("GET /metrics", p.Metrics().Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ok, why := p.Ready(); !ok {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	// Actions (POST) need the token: without one the listener is open to anything local.
	page := statuspage.New(p.Snapshot).WithLabels(p.Labels()).WithConsole(p.Console()).WithUnmask(cfg.Unmask).
		WithDeadLetter(p.DeadLetter(), cfg.Token != "", log.With("component", "admin"))
	if cfg.Token != "" {
		page.WithLinkKey(statuspage.LinkKey(cfg.Token))
	}
	page.Register(mux)
	return requireToken(mux, cfg, p.Metrics().AdminUnauthorized)
}

// requireToken lets a request through only with "Authorization: Bearer <token>" when a token is
// configured (compared in constant time); with open_metrics, /metrics and the probes need none.
// The console's shell (its page, script and style, which carry no data) needs none either, so
// a browser can open it and ask for the token; nor does a label document's signed link (which
// opens that document alone, for statuspage.LinkLifetime). Refusals are 401 and counted.
func requireToken(next http.Handler, cfg config.Admin, refused prometheus.Counter) http.Handler {
	if cfg.Token == "" {
		return next
	}
	want := sha256.Sum256([]byte(cfg.Token))
	links := statuspage.LinkKey(cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cfg.OpenMetrics && (r.URL.Path == "/metrics" || r.URL.Path == "/healthz" || r.URL.Path == "/readyz") ||
			statuspage.Shell(r) || statuspage.SignedLink(r, links) {
			next.ServeHTTP(w, r)
			return
		}
		given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		// Hashing first makes the compare constant-time whatever the lengths.
		got := sha256.Sum256([]byte(given))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			refused.Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="shipsync admin"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
