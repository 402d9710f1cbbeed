package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/segmentio/kafka-go/sasl"

	"github.com/shipsync/shipsync/sinks/kafka"
	kafkasrc "github.com/shipsync/shipsync/sources/kafka"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/metrics"
	"github.com/shipsync/shipsync/sync/pipeline"
)

// wireKafka adds the Kafka parts the mode needs to opts: the lifecycle events outlet always, the
// paid-order outlet (reader) or inbox (worker). The returned func flushes the events at exit.
func wireKafka(cfg *config.Config, opts *pipeline.Options, log *slog.Logger, m *metrics.Metrics) (func(context.Context), error) {
	k := cfg.Kafka
	base, err := kafkaBase(k)
	if err != nil {
		return nil, err
	}
	events, err := producer(base, k.EventsTopic, func(err error, messages int) {
		m.EventsFailed.Add(float64(messages))
		log.Warn("lifecycle events not delivered yet; retrying", "messages", messages, "err", err)
	})
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	opts.Events = events
	switch cfg.Mode {
	case config.ModeReader:
		// The pipeline closes it (flushing) before its final checkpoint.
		opts.Orders, err = producer(base, k.OrdersTopic, func(err error, messages int) {
			m.OrdersTopic.WithLabelValues("failed").Add(float64(messages))
			log.Warn("paid orders not acknowledged by Kafka yet; retrying (the checkpoint waits)", "messages", messages, "err", err)
		})
	case config.ModeWorker:
		var mech sasl.Mechanism
		if mech, err = base.SASL.Authenticator(); err == nil {
			opts.Inbox, err = kafkasrc.NewConsumer(kafkasrc.Config{Brokers: k.Brokers, Topic: k.OrdersTopic, Group: k.Group,
				SessionTimeout: k.SessionTimeout, TLS: base.TLS, SASL: mech, Log: log})
		}
	}
	if err != nil {
		events.Close(context.Background()) //nolint:errcheck // nothing was queued yet
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return func(ctx context.Context) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := events.Close(cctx); err != nil {
			log.Error("lifecycle events not delivered at shutdown", "err", err)
		}
	}, nil
}

// kafkaBase is the connection part of the kafka section: brokers, batching, TLS, SASL.
func kafkaBase(k *config.Kafka) (kafka.Config, error) {
	kc := kafka.Config{Brokers: k.Brokers, BatchSize: k.BatchSize, BatchTimeout: k.BatchTimeout,
		Compression: k.Compression, SASL: kafka.SASL{Mechanism: k.SASL.Mechanism, Username: k.SASL.Username, Password: k.SASL.Password}}
	if k.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if k.CAFile != "" {
			pem, err := os.ReadFile(k.CAFile)
			if err != nil {
				return kc, fmt.Errorf("kafka.ca_file: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return kc, fmt.Errorf("kafka.ca_file %s: no PEM certificate in it", k.CAFile)
			}
		}
		kc.TLS = tc
	}
	return kc, nil
}

func producer(base kafka.Config, topic string, onError func(error, int)) (*kafka.Producer, error) {
	base.Topic = topic
	return kafka.NewProducer(base, onError)
}
