package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/pipeline"
)

// reloadResult is what a reload did: the answer of POST /api/reload.
type reloadResult struct {
	Applied     bool     `json:"applied"`
	NeedRestart []string `json:"need_restart,omitempty"` // changed, but only a restart applies them
	Error       string   `json:"error,omitempty"`        // the new file's problems; the running config stays
}

// reloader re-reads the daemon's config file and puts what it can in force (Pipeline.Reload).
// A file that fails validation is refused whole, with its errors, and the running
// configuration stays.
type reloader struct {
	path string
	p    *pipeline.Pipeline
	log  *slog.Logger
}

func (r reloader) reload() reloadResult {
	cfg, err := config.Load(r.path)
	if err == nil {
		var restart []string
		if restart, err = r.p.Reload(cfg); err == nil {
			r.p.Metrics().ConfigReloads.WithLabelValues("applied").Inc()
			r.log.Info("configuration reloaded", "config", r.path, "need_restart", restart)
			return reloadResult{Applied: true, NeedRestart: restart}
		}
	}
	r.p.Metrics().ConfigReloads.WithLabelValues("refused").Inc()
	r.log.Error("configuration reload refused; the running one stays", "config", r.path, "err", err)
	return reloadResult{Error: err.Error()}
}

// onSIGHUP reloads on every SIGHUP until ctx ends.
func (r reloader) onSIGHUP(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload()
		}
	}
}

// serveReload is POST /api/reload on the admin listener.
func (r reloader) serveReload(w http.ResponseWriter, _ *http.Request) {
	res := r.reload()
	w.Header().Set("Content-Type", "application/json")
	if !res.Applied {
		w.WriteHeader(http.StatusUnprocessableEntity)
	}
	json.NewEncoder(w).Encode(res) //nolint:errcheck // the client went away
}

// reloadCmd is `shipsync reload --config FILE`: it checks the file here (so its problems are
// printed with their YAML paths), then asks the running daemon to reload it through its admin
// listener, and prints what took effect and what needs a restart.
func reloadCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "the running daemon's configuration file, edited")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(cfg.Admin.Listen)
	if err != nil {
		return fmt.Errorf("admin.listen %q: %w", cfg.Admin.Listen, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+net.JoinHostPort(host, port)+"/api/reload", nil)
	if err != nil {
		return err
	}
	if cfg.Admin.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.Admin.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ask the daemon on admin.listen %s: %w", cfg.Admin.Listen, err)
	}
	defer resp.Body.Close()
	var res reloadResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return fmt.Errorf("daemon answered %s: %w", resp.Status, err)
	}
	if !res.Applied {
		fmt.Fprintf(stdout, "refused; the running configuration stays:\n%s\n", res.Error)
		return exitCode(1)
	}
	fmt.Fprintln(stdout, "reloaded: routing, carriers, retry, watchdog and sender are in force")
	for _, p := range res.NeedRestart {
		fmt.Fprintf(stdout, "needs a restart: %s\n", p)
	}
	return nil
}
