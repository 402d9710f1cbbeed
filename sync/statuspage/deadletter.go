package statuspage

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// DeadLetter is the dead letter as the admin API shows and works it (sync/state through the
// daemon). Retry sends an order back to the retry schedule (false: it is not in the dead
// letter); Drop takes it out for good (never shipped by shipsync). Safe for concurrent use.
type DeadLetter interface {
	Dead(ctx context.Context, limit int) ([]DeadRow, error)
	Retry(ctx context.Context, key string) (bool, error)
	Drop(ctx context.Context, key string) (bool, error)
}

// DeadRow is one dead-lettered order.
type DeadRow struct {
	Key       string    `json:"order"`
	OrderCode string    `json:"order_code"`
	Carrier   string    `json:"carrier"`
	Pinned    bool      `json:"pinned"` // only its carrier may be asked again: it may hold the waybill
	Attempts  int       `json:"attempts"`
	Reason    string    `json:"reason"`
	Since     time.Time `json:"since"`
}

// WithDeadLetter serves GET /api/dlq (the dead letter, oldest first) and, when actions is true,
// the actions POST /api/dlq/{key}/retry, POST /api/dlq/{key}/drop and POST
// /api/dlq/retry?reason=TEXT (every order whose reason contains TEXT). Actions change state, so
// they are POST only and answered 403 unless the admin listener has a token (admin.token): the
// token travels in the Authorization header, which no other site's page can make a browser send,
// so they are safe from cross-site requests. Each action is logged with what it did and for whom.
func (h *Handler) WithDeadLetter(dl DeadLetter, actions bool, log *slog.Logger) *Handler {
	h.dead, h.actions, h.log = dl, actions, log
	return h
}

func (h *Handler) registerDeadLetter(mux *http.ServeMux) {
	mux.Handle("/api/dlq", readOnly(http.HandlerFunc(h.serveDead)))
	mux.Handle("POST /api/dlq/{key}/{action}", action(h.actions, http.HandlerFunc(h.serveDeadAction)))
	mux.Handle("POST /api/dlq/retry", action(h.actions, http.HandlerFunc(h.serveRetryReason)))
}

// action sets the security headers and refuses actions when they are off.
func action(enabled bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		if !enabled {
			http.Error(w, "actions need admin.token: set it (from the environment) to enable them", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *Handler) serveDead(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	rows, err := h.dead.Dead(ctx, 1000)
	if err != nil {
		http.Error(w, "dead letter unavailable", http.StatusServiceUnavailable)
		return
	}
	if rows == nil {
		rows = []DeadRow{}
	}
	writeJSON(w, rows)
}

// actionResult is what an action answers.
type actionResult struct {
	Action string   `json:"action"`
	Orders []string `json:"orders"` // the orders it changed
	Missed []string `json:"missed"` // named, but not in the dead letter (any more)
}

func (h *Handler) serveDeadAction(w http.ResponseWriter, r *http.Request) {
	key, act := r.PathValue("key"), r.PathValue("action")
	var do func(context.Context, string) (bool, error)
	switch act {
	case "retry":
		do = h.dead.Retry
	case "drop":
		do = h.dead.Drop
	default:
		http.NotFound(w, r)
		return
	}
	h.act(w, r, "dlq "+act, []string{key}, do)
}

func (h *Handler) serveRetryReason(w http.ResponseWriter, r *http.Request) {
	reason := strings.TrimSpace(r.URL.Query().Get("reason"))
	if reason == "" {
		http.Error(w, "reason: the text the orders' reasons contain", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	rows, err := h.dead.Dead(ctx, 0)
	if err != nil {
		http.Error(w, "dead letter unavailable", http.StatusServiceUnavailable)
		return
	}
	var keys []string
	for _, d := range rows {
		if strings.Contains(d.Reason, reason) {
			keys = append(keys, d.Key)
		}
	}
	h.act(w, r, "dlq retry reason", keys, h.dead.Retry)
}

// act applies do to every key, logs what it did, and answers which orders it changed.
func (h *Handler) act(w http.ResponseWriter, r *http.Request, name string, keys []string, do func(context.Context, string) (bool, error)) {
	ctx, cancel := context.WithTimeout(withOperator(r), 30*time.Second)
	defer cancel()
	res := actionResult{Action: name, Orders: []string{}, Missed: []string{}}
	for _, k := range keys {
		ok, err := do(ctx, k)
		if err != nil {
			h.log.Warn("admin action failed", "action", name, "order", k, "who", operator(r), "from", r.RemoteAddr, "err", err)
			http.Error(w, name+" "+k+": "+err.Error(), http.StatusConflict)
			return
		}
		if ok {
			res.Orders = append(res.Orders, k)
		} else {
			res.Missed = append(res.Missed, k)
		}
	}
	h.log.Info("admin action", "action", name, "orders", len(res.Orders), "first", first(res.Orders), "missed", len(res.Missed),
		"who", operator(r), "from", r.RemoteAddr)
	writeJSON(w, res)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away
}
