package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/shipsync/shipsync/sinks/label"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/sync/statuspage"
)

// LabelsHTML is labels as one printable document (sinks/label): one per page, in the order
// given, each of the configured template size.
func LabelsHTML(title string, labels []state.Label, size string) ([]byte, error) {
	ls := make([]label.Label, len(labels))
	for i, l := range labels {
		ls[i] = label.Label{Waybill: l.Waybill, Carrier: l.Carrier, OrderCode: l.OrderCode, HTML: l.HTML, Size: size}
	}
	var buf bytes.Buffer
	if err := label.Compose(&buf, title, ls); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Labels is the status page's view of the labels (statuspage.LabelSource).
func (p *Pipeline) Labels() statuspage.LabelSource { return labelSource{p} }

type labelSource struct{ p *Pipeline }

func (l labelSource) Document(ctx context.Context, which string) ([]byte, error) {
	return l.p.LabelDocument(ctx, which)
}

// One is one waybill's label, as the carrier made it.
func (l labelSource) One(ctx context.Context, waybill string) ([]byte, error) {
	labels, err := l.p.store.Labels(ctx, state.LabelQuery{Waybills: []string{waybill}, HTML: true})
	if err != nil {
		return nil, err
	}
	if len(labels) == 0 {
		return nil, statuspage.ErrNoLabels
	}
	return labels[0].HTML, nil
}

func (l labelSource) List(ctx context.Context, since time.Time, unprinted bool) ([]statuspage.LabelRow, error) {
	labels, err := l.p.store.Labels(ctx, state.LabelQuery{Since: since, Unprinted: unprinted})
	if err != nil {
		return nil, err
	}
	rows := make([]statuspage.LabelRow, len(labels))
	for i, x := range labels {
		rows[i] = statuspage.LabelRow{Waybill: x.Waybill, OrderCode: x.OrderCode, Carrier: x.Carrier, Parcel: x.Parcel + 1,
			Parcels: max(x.Parcels, 1), CreatedAt: x.CreatedAt, PrintedAt: x.PrintedAt}
	}
	return rows, nil
}

// LabelDocument is the status page's printable labels: which is "unprinted" (every label not
// printed yet; opening it marks nothing) or the id of a batch printed within labels.keep (a
// reprint). statuspage.ErrNoLabels when there is none.
func (p *Pipeline) LabelDocument(ctx context.Context, which string) ([]byte, error) {
	cfg := p.conf()
	q := state.LabelQuery{HTML: true, Unprinted: which == "unprinted"}
	title := "shipsync: labels not printed yet"
	if !q.Unprinted {
		batches, err := p.store.LabelBatches(ctx, time.Now().Add(-cfg.Labels.Keep))
		if err != nil {
			return nil, err
		}
		for _, b := range batches {
			if b.ID == which {
				q.Waybills, title = b.Waybills, fmt.Sprintf("shipsync: label batch %s (%d)", b.ID, len(b.Waybills))
			}
		}
		if q.Waybills == nil {
			return nil, statuspage.ErrNoLabels
		}
	}
	labels, err := p.store.Labels(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(labels) == 0 {
		return nil, statuspage.ErrNoLabels
	}
	return LabelsHTML(title, labels, cfg.Labels.TemplateSize)
}

// labelsView is the status page's labels panel: the unprinted count and today's batches.
func (p *Pipeline) labelsView(ctx context.Context) (*statuspage.Labels, error) {
	if !p.conf().Labels.Enabled {
		return nil, nil
	}
	n, err := p.store.UnprintedLabels(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	batches, err := p.store.LabelBatches(ctx, time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location()))
	if err != nil {
		return nil, err
	}
	v := &statuspage.Labels{Unprinted: n, Batches: []statuspage.LabelBatch{}}
	for _, b := range batches {
		v.Batches = append(v.Batches, statuspage.LabelBatch{ID: b.ID, At: b.At, Count: len(b.Waybills)})
	}
	return v, nil
}
