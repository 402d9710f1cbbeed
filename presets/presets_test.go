package presets_test

import (
	"strings"
	"testing"

	"github.com/shipsync/shipsync/presets"
	"github.com/shipsync/shipsync/sync/config"
)

// placeholders stands in for every ${VAR}: the presets' secrets come from the environment.
func placeholders(string) (string, bool) { return "placeholder-secret-0000000000", true }

// TestEveryPresetLoads renders each embedded preset with its defaults and with another prefix
// and schema, and loads it with the config loader: every key known, every statement's
// parameters bound, every table named with the prefix.
func TestEveryPresetLoads(t *testing.T) {
	all := presets.List()
	if len(all) == 0 {
		t.Fatal("no presets embedded")
	}
	for _, p := range all {
		t.Run(p.Name, func(t *testing.T) {
			if p.System == "" || p.Database == "" || p.Summary == "" {
				t.Errorf("header incomplete: %+v", p)
			}
			def, err := presets.Render(p.Name, presets.Params{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := config.ParseEnv(def, placeholders); err != nil {
				t.Fatalf("the default rendering does not load:\n%v", err)
			}
			other, err := presets.Render(p.Name, presets.Params{Prefix: "zz9_", Database: "shop_db"})
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.ParseEnv(other, placeholders)
			if err != nil {
				t.Fatalf("rendered with prefix zz9_ it does not load:\n%v", err)
			}
			if !strings.HasPrefix(cfg.Orders.Table, "shop_db.zz9_") {
				t.Errorf("orders.table %q is not in the given schema with the given prefix", cfg.Orders.Table)
			}
			if p.Prefix != "" && strings.Contains(string(other), p.Prefix) {
				for i, l := range strings.Split(string(other), "\n") {
					if strings.Contains(l, p.Prefix) && !strings.HasPrefix(strings.TrimSpace(l), "#") {
						t.Errorf("line %d still names the default prefix %q: %s", i+1, p.Prefix, l)
					}
				}
			}
			g, err := presets.Grants(p.Name, presets.Params{Prefix: "zz9_", Database: "shop_db", User: "'u'@'10.0.0.%'"})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(g), "TO 'u'@'10.0.0.%'") || !strings.Contains(string(g), "REPLICATION SLAVE") {
				t.Errorf("grants do not name the account or lack REPLICATION SLAVE:\n%s", g)
			}
		})
	}
}

func TestParamsAreIdentifiers(t *testing.T) {
	for _, p := range []presets.Params{
		{Prefix: "oc_; DROP TABLE x"}, {Prefix: "a`b"}, {Database: "shop db"}, {Database: "x'y"},
		{User: "root"}, {User: "'u'@'%' IDENTIFIED BY 'x'"},
	} {
		if _, err := presets.Grants("ecshop", p); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	if _, err := presets.Render("no-such-shop", presets.Params{}); err == nil || !strings.Contains(err.Error(), "ecshop") {
		t.Errorf("unknown preset: %v (want the list of presets)", err)
	}
}

func TestSet(t *testing.T) {
	doc := []byte("# head\n\nshop:\n  addr: 127.0.0.1:3306 # where\n  user: shipsync\ncarriers:\n  - name: a\n    url: http://x\n\nretry:\n  interval: 5s\n")
	out, err := presets.Set(doc, []string{"shop.addr=10.0.0.5:3306", "carriers[0].url=https://api.example/x?a=b",
		"retry.interval=200ms", "orders.backfill_since=336h", `sender.mobile="0123"`, "paid.in=[2, 15]"})
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"addr: 10.0.0.5:3306 # where", "url: https://api.example/x?a=b", "interval: 200ms",
		"orders:\n  backfill_since: 336h", `mobile: "0123"`, "in: [2, 15]", "# head", "\n\nretry:"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in:\n%s", want, s)
		}
	}
	for _, bad := range []string{"shop.addr", "=x", "carriers[3].url=x", "carriers.x[0]=y", "shop.addr.port=1", "carriers[a].url=x"} {
		if _, err := presets.Set(doc, []string{bad}); err == nil {
			t.Errorf("--set %q accepted", bad)
		}
	}
}
