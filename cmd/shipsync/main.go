// Command shipsync tails a shop's MySQL/MariaDB binlog, gets a waybill from a carrier for every
// order that becomes paid and writes it back into the shop's own tables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: shipsync <command> [flags]

commands:
  init --preset NAME [--prefix P] [--database D] [--set PATH=VALUE]... [--grants]
                                  print a complete config for a shop system (init --list: the systems)
  run --config FILE [--recover] [--dry-run]
                                  the daemon (JSON logs on stderr); --dry-run only detects paid orders
  check --config FILE             preflight checks, one line each; exit 1 on any failure
  status --config FILE [--json]   checkpoint, binlog position, orders by state, parcels by status
  dlq list|show|retry|drop        the dead letter (shipsync dlq for details)
  labels print|list               the waybills' labels as one printable HTML or PDF file
  waybill cancel|reissue --order KEY
                                  cancel an order's waybill while not picked up; reissue: and create another
  reload --config FILE            the running daemon re-reads its config (as on SIGHUP)
  sim-carrier [flags]             a Kdniao-compatible carrier simulator (see --help)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	var exit exitCode
	switch {
	case errors.As(err, &exit):
		os.Exit(int(exit))
	case err != nil:
		fmt.Fprintln(os.Stderr, "shipsync:", err)
		os.Exit(1)
	}
}

// flagError is a command's answer to its flags failing to parse: exit status 2, or 0 after
// -h/--help printed the usage (asking for help is not an error).
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return exitCode(0)
	}
	return exitCode(2)
}

// exitCode ends the process with a status after the command printed its own report.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitCode(2)
	}
	switch args[0] {
	case "run":
		return runCmd(ctx, args[1:], stderr)
	case "check":
		return checkCmd(ctx, args[1:], stdout, stderr)
	case "status":
		return statusCmd(ctx, args[1:], stdout, stderr)
	case "dlq":
		return dlqCmd(ctx, args[1:], stdout, stderr)
	case "reload":
		return reloadCmd(ctx, args[1:], stdout, stderr)
	case "init":
		return initCmd(args[1:], stdout, stderr)
	case "labels":
		return labelsCmd(ctx, args[1:], stdout, stderr)
	case "waybill":
		return waybillCmd(ctx, args[1:], stdout, stderr)
	case "sim-carrier":
		return simCarrierCmd(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "shipsync: unknown command %q\n\n%s", args[0], usage)
	return exitCode(2)
}
