package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/statuspage"
)

func TestRequireToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	const token = "0123456789abcdef"
	key := statuspage.LinkKey(token)
	soon := time.Now().Add(time.Minute)
	for _, tt := range []struct {
		name   string
		cfg    config.Admin
		path   string
		auth   string
		status int
		method string
	}{
		{"no token configured: open", config.Admin{}, "/api/status", "", 200, ""},
		{"the token", config.Admin{Token: token}, "/api/status", "Bearer " + token, 200, ""},
		{"no header", config.Admin{Token: token}, "/api/status", "", 401, ""},
		{"wrong token", config.Admin{Token: token}, "/api/status", "Bearer 0123456789abcdeF", 401, ""},
		{"a prefix of the token", config.Admin{Token: token}, "/api/status", "Bearer 0123", 401, ""},
		{"not a bearer", config.Admin{Token: token}, "/api/status", token, 401, ""},
		{"metrics need it too", config.Admin{Token: token}, "/metrics", "", 401, ""},
		{"open_metrics: metrics", config.Admin{Token: token, OpenMetrics: true}, "/metrics", "", 200, ""},
		{"open_metrics: probes", config.Admin{Token: token, OpenMetrics: true}, "/readyz", "", 200, ""},
		{"open_metrics: not the API", config.Admin{Token: token, OpenMetrics: true}, "/api/status", "", 401, ""},
		{"the page's shell needs none", config.Admin{Token: token}, "/", "", 200, ""},
		{"nor its script", config.Admin{Token: token}, "/static/app.js", "", 200, ""},
		{"nor its style", config.Admin{Token: token}, "/static/app.css", "", 200, ""},
		{"a POST to the shell does", config.Admin{Token: token}, "/", "", 401, http.MethodPost},
		{"the API does", config.Admin{Token: token}, "/api/orders/1001", "", 401, ""},
		{"an action does", config.Admin{Token: token}, "/api/dlq/1001/retry", "", 401, http.MethodPost},
		{"a label document does", config.Admin{Token: token}, "/labels/unprinted", "", 401, ""},
		{"a signed label link needs none", config.Admin{Token: token}, "/" + statuspage.Sign(key, "labels/unprinted", soon), "", 200, ""},
		{"one label's signed link", config.Admin{Token: token}, "/" + statuspage.Sign(key, "api/labels/ZT1", soon), "", 200, ""},
		{"an expired link", config.Admin{Token: token}, "/" + statuspage.Sign(key, "labels/unprinted", time.Now().Add(-time.Second)), "", 401, ""},
		{"a link too long-lived to be ours", config.Admin{Token: token}, "/" + statuspage.Sign(key, "labels/unprinted", time.Now().Add(time.Hour)), "", 401, ""},
		{"a link signed for another document", config.Admin{Token: token},
			"/labels/b1?" + strings.SplitN(statuspage.Sign(key, "labels/unprinted", soon), "?", 2)[1], "", 401, ""},
		{"a link signed with another token", config.Admin{Token: token}, "/" + statuspage.Sign(statuspage.LinkKey("another-token-0000"), "labels/unprinted", soon), "", 401, ""},
		{"a signature opens no list", config.Admin{Token: token},
			"/api/labels?" + strings.SplitN(statuspage.Sign(key, "api/labels", soon), "?", 2)[1], "", 401, ""},
		{"a signature changes nothing", config.Admin{Token: token}, "/" + statuspage.Sign(key, "labels/unprinted", soon), "", 401, http.MethodPost},
	} {
		t.Run(tt.name, func(t *testing.T) {
			refused := prometheus.NewCounter(prometheus.CounterOpts{Name: "refused"})
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			r := httptest.NewRequest(method, tt.path, nil)
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
