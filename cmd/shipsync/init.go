package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/shipsync/shipsync/presets"
	"github.com/shipsync/shipsync/sync/config"
)

// setFlags collects repeated --set PATH=VALUE.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ", ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// initCmd prints a preset's configuration (or its grants) for a shop system, filled in.
func initCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	list := fs.Bool("list", false, "list the presets")
	name := fs.String("preset", "", "the shop system: "+presetNames())
	prefix := fs.String("prefix", "", "the shop's table prefix (default: the system's own, e.g. oc_)")
	database := fs.String("database", "", "the schema the shop's tables are in")
	grants := fs.Bool("grants", false, "print the SQL that creates shipsync's user with exactly the grants the preset needs")
	user := fs.String("user", "", "with --grants: the account, as 'name'@'host' (default 'shipsync'@'%')")
	var sets setFlags
	fs.Var(&sets, "set", "PATH=VALUE: set any key by its YAML path, e.g. --set shop.addr=10.0.0.5:3306 (repeatable)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: shipsync init --preset NAME [--prefix P] [--database D] [--set PATH=VALUE]... > shipsync.yaml\n"+
			"       shipsync init --preset NAME [--prefix P] [--database D] --grants [--user \"'shipsync'@'10.0.0.%'\"]\n"+
			"       shipsync init --list\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitCode(2)
	}
	if *list {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PRESET\tSYSTEM\tPREFIX\tWHAT IT DOES")
		for _, p := range presets.List() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.System, p.Prefix, p.Summary)
		}
		return tw.Flush()
	}
	if *name == "" {
		fs.Usage()
		return exitCode(2)
	}
	params := presets.Params{Prefix: *prefix, Database: *database, User: *user}
	if *grants {
		out, err := presets.Grants(*name, params)
		if err != nil {
			return err
		}
		_, err = stdout.Write(out)
		return err
	}
	out, err := presets.Render(*name, params)
	if err != nil {
		return err
	}
	if out, err = presets.Set(out, sets); err != nil {
		return err
	}
	// The loader's own checks, by YAML path, with every ${VAR} standing in as set: the secrets
	// come later, from the environment.
	cfg, err := config.ParseEnv(out, func(string) (string, bool) { return "placeholder-secret-0000000000", true })
	if err != nil {
		return fmt.Errorf("the configuration would not load:\n%s", indent(err.Error()))
	}
	if _, err := stdout.Write(out); err != nil {
		return err
	}
	p, _ := presets.Find(*name)
	fmt.Fprintf(stderr, "shipsync init: %s preset for %s (prefix %q). Next:\n"+
		"  1. set shop.addr, sender.* and state.redis.addr (edit the file, or --set PATH=VALUE)\n"+
		"  2. export SHOP_DB_PASSWORD, KDNIAO_EBUSINESS_ID, KDNIAO_APP_KEY\n"+
		"  3. create the database user: shipsync init --preset %s --grants | mysql -u root -p\n"+
		"  4. shipsync check --config FILE, then shipsync run --config FILE\n"+
		"  The first start ships paid, unshipped orders placed within orders.backfill_since (%s); older ones are left alone.\n",
		p.Name, p.System, cmp.Or(*prefix, p.Prefix), p.Name, backfillSince(cfg))
	return nil
}

func presetNames() string {
	var names []string
	for _, p := range presets.List() {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}

func backfillSince(cfg *config.Config) string {
	if cfg.Orders.BackfillSince == 0 {
		return "no bound"
	}
	return cfg.Orders.BackfillSince.String()
}
