package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shipsync/shipsync/sinks/label"
	"github.com/shipsync/shipsync/sync/pipeline"
	"github.com/shipsync/shipsync/sync/state"
)

const labelsUsage = `usage: shipsync labels <print|list> --config FILE [selection]

  print (--order CODE... | --since D | --batch next) [--format html|pdf] --out FILE
        writes the labels as one printable file, one label per page, by carrier then paid time,
        each with its waybill number as text under it. --batch next takes every label not yet
        printed and marks them printed; --order and --since reprint (a reprint never asks the
        carrier for anything). PDF goes through headless Chromium ($SHIPSYNC_CHROMIUM, else
        chromium on PATH).
  list [--since D] [--unprinted]
        the labels kept (labels.keep), with their order, carrier and when they were printed

Only Redis is needed.
`

// labelsCmd is `shipsync labels`.
func labelsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, labelsUsage)
		return exitCode(2)
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, labelsUsage)
		return nil
	}
	sub := args[0]
	fs := flag.NewFlagSet("labels "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.yaml", "configuration file")
	var orders multiFlag
	fs.Var(&orders, "order", "print: an order's code or key (repeatable)")
	since := fs.Duration("since", 0, "labels created within this long (e.g. 8h)")
	batch := fs.String("batch", "", "print: next = every label not printed yet, marked printed")
	format := fs.String("format", "html", "print: html or pdf")
	out := fs.String("out", "", "print: the file to write")
	unprinted := fs.Bool("unprinted", false, "list: only labels not printed yet")
	if err := fs.Parse(args[1:]); err != nil {
		return flagError(err)
	}
	cfg, err := loadAdminConfig(*path)
	if err != nil {
		return err
	}
	q := state.LabelQuery{Unprinted: *unprinted}
	if *since > 0 {
		q.Since = time.Now().Add(-*since)
	}
	switch sub {
	case "list":
	case "print":
		chosen := 0
		for _, set := range []bool{len(orders) > 0, *since > 0, *batch != ""} {
			if set {
				chosen++
			}
		}
		switch {
		case chosen != 1:
			return usageError(stderr, "labels print: give exactly one of --order, --since, --batch next")
		case *batch != "" && *batch != "next":
			return usageError(stderr, "labels print: --batch takes only next")
		case *format != "html" && *format != "pdf":
			return usageError(stderr, "labels print: --format is html or pdf")
		case *out == "":
			return usageError(stderr, "labels print: --out FILE is required")
		}
		q.Orders, q.Unprinted, q.HTML = orders, *batch == "next", true
	default:
		fmt.Fprint(stderr, labelsUsage)
		return exitCode(2)
	}
	d, err := openState(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.close()
	labels, err := d.store.Labels(ctx, q)
	if err != nil {
		return err
	}
	if sub == "list" {
		return labelsList(labels, stdout)
	}
	if len(labels) == 0 {
		fmt.Fprintln(stdout, "no labels to print")
		return nil
	}
	doc, err := renderLabels(ctx, labels, cfg.Labels.TemplateSize, *format)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, doc, 0o640); err != nil {
		return fmt.Errorf("write labels: %w", err)
	}
	if *batch == "next" {
		b := state.LabelBatch{ID: batchID(), At: time.Now()}
		for _, l := range labels {
			b.Waybills = append(b.Waybills, l.Waybill)
		}
		if err := d.store.MarkPrinted(ctx, b); err != nil {
			return fmt.Errorf("labels written to %s but not marked printed (the next batch repeats them): %w", *out, err)
		}
		fmt.Fprintf(stdout, "batch %s: %d labels written to %s and marked printed\n", b.ID, len(labels), *out)
		return nil
	}
	fmt.Fprintf(stdout, "%d labels written to %s\n", len(labels), *out)
	return nil
}

// renderLabels makes one printable document of labels, HTML or PDF.
func renderLabels(ctx context.Context, labels []state.Label, size, format string) ([]byte, error) {
	title := fmt.Sprintf("shipsync labels %s (%d)", time.Now().Format("2006-01-02 15:04"), len(labels))
	doc, err := pipeline.LabelsHTML(title, labels, size)
	if err != nil || format == "html" {
		return doc, err
	}
	chromium, err := label.Chromium()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return label.PDF(ctx, chromium, doc)
}

func labelsList(labels []state.Label, w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WAYBILL\tORDER\tCARRIER\tPARCEL\tCREATED\tPRINTED")
	for _, l := range labels {
		printed := "-"
		if !l.PrintedAt.IsZero() {
			printed = l.PrintedAt.Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", l.Waybill, l.OrderCode, l.Carrier, l.Parcel+1, max(l.Parcels, 1),
			l.CreatedAt.Format(time.DateTime), printed)
	}
	return tw.Flush()
}

func batchID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return time.Now().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }

func (m *multiFlag) Set(v string) error {
	*m = append(*m, v)
	return nil
}

// usageError prints a usage problem and exits 2.
func usageError(stderr io.Writer, msg string) error {
	fmt.Fprintln(stderr, msg)
	return exitCode(2)
}
