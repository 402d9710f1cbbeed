package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shipsync/shipsync/sync/config"
)

func TestRequireToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	const token = "0123456789abcdef"
	for _, tt := range []struct {
		name   string
		cfg    config.Admin
		path   string
		auth   string
		status int
	}{
		{"no token configured: open", config.Admin{}, "/api/status", "", 200},
		{"the token", config.Admin{Token: token}, "/api/status", "Bearer " + token, 200},
		{"no header", config.Admin{Token: token}, "/api/status", "", 401},
		{"wrong token", config.Admin{Token: token}, "/api/status", "Bearer 0123456789abcdeF", 401},
		{"a prefix of the token", config.Admin{Token: token}, "/api/status", "Bearer 0123", 401},
		{"not a bearer", config.Admin{Token: token}, "/api/status", token, 401},
		{"metrics need it too", config.Admin{Token: token}, "/metrics", "", 401},
		{"open_metrics: metrics", config.Admin{Token: token, OpenMetrics: true}, "/metrics", "", 200},
		{"open_metrics: probes", config.Admin{Token: token, OpenMetrics: true}, "/readyz", "", 200},
		{"open_metrics: not the page", config.Admin{Token: token, OpenMetrics: true}, "/", "", 401},
		{"open_metrics: not the API", config.Admin{Token: token, OpenMetrics: true}, "/api/status", "", 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			refused := prometheus.NewCounter(prometheus.CounterOpts{Name: "refused"})
			r := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			requireToken(ok, tt.cfg, refused).ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if want := float64(map[bool]int{true: 1}[tt.status == 401]); testutil.ToFloat64(refused) != want {
				t.Errorf("refusals counted %v, want %v", testutil.ToFloat64(refused), want)
			}
		})
	}
}
