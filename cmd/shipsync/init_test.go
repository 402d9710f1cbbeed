package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shipsync/shipsync/sync/config"
)

func TestInit(t *testing.T) {
	run := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := dispatch(context.Background(), append([]string{"init"}, args...), &out, &errOut)
		return out.String(), errOut.String(), err
	}
	out, _, err := run("--list")
	if err != nil || !strings.Contains(out, "ecshop") || !strings.Contains(out, "PRESET") {
		t.Fatalf("init --list: %v\n%s", err, out)
	}
	out, next, err := run("--preset", "ecshop", "--prefix", "shop_", "--database", "myshop",
		"--set", "shop.addr=10.0.0.5:3306", "--set", "carriers[0].shipper_code=SF")
	if err != nil {
		t.Fatalf("init: %v\n%s", err, next)
	}
	cfg, err := config.ParseEnv([]byte(out), func(string) (string, bool) { return "x-secret-0123456789", true })
	if err != nil {
		t.Fatalf("the printed config does not load: %v\n%s", err, out)
	}
	if cfg.Orders.Table != "myshop.shop_order_info" || cfg.Shop.Addr != "10.0.0.5:3306" || cfg.Carriers[0].ShipperCode != "SF" {
		t.Errorf("table %q, addr %q, shipper %q", cfg.Orders.Table, cfg.Shop.Addr, cfg.Carriers[0].ShipperCode)
	}
	if !strings.Contains(next, "backfill_since (336h0m0s)") || !strings.Contains(next, "--grants") {
		t.Errorf("init does not say what comes next, nor the backfill bound:\n%s", next)
	}
	out, _, err = run("--preset", "ecshop", "--grants", "--database", "myshop", "--user", "'ss'@'10.0.0.%'")
	if err != nil || !strings.Contains(out, "GRANT SELECT ON `myshop`.`ecs_order_info` TO 'ss'@'10.0.0.%'") {
		t.Errorf("init --grants: %v\n%s", err, out)
	}
	// Mistakes: named by YAML path like the loader's, or by flag.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--preset", "ecshop", "--set", "shop.adr=x"}, `shop.adr: unknown key (did you mean "addr"?)`},
		{[]string{"--preset", "ecshop", "--set", "retry.interval=5"}, "retry.interval"},
		{[]string{"--preset", "ecshop", "--set", "shop.addr"}, "want PATH=VALUE"},
		{[]string{"--preset", "opencrat"}, `no preset "opencrat"`},
		{[]string{"--preset", "ecshop", "--prefix", "x`;DROP"}, "--prefix"},
	} {
		_, _, err := run(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("init %v: %v, want an error with %q", c.args, err, c.want)
		}
	}
}

// TestHelpExitsZero: asking a command for help is not an error.
func TestHelpExitsZero(t *testing.T) {
	for _, cmd := range []string{"run", "check", "status", "dlq", "reload", "init", "sim-carrier", "labels", "waybill"} {
		var out, errOut bytes.Buffer
		err := dispatch(context.Background(), []string{cmd, "--help"}, &out, &errOut)
		var code exitCode
		if err != nil && !(errors.As(err, &code) && code == 0) {
			t.Errorf("%s --help: %v", cmd, err)
		}
		if out.Len()+errOut.Len() == 0 {
			t.Errorf("%s --help printed nothing", cmd)
		}
	}
	var out bytes.Buffer
	if err := dispatch(context.Background(), []string{"--help"}, &out, &out); err != nil || !strings.Contains(out.String(), "--dry-run") ||
		!strings.Contains(out.String(), "init --preset") {
		t.Errorf("shipsync --help: %v\n%s", err, out.String())
	}
}
