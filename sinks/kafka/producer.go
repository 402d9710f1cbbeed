package kafka

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Retry backoff between failed attempts: doubling from backoffMin up to backoffMax, jittered.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
)

// maxBatchBytes bounds the key and value bytes (plus recordOverhead each) the loop hands to one
// write. Staying under the brokers' default message.max.bytes (1,048,588) means kafka-go never
// splits one partition's share of a write into two requests, which could fail separately and
// reorder a key's messages on retry; a single message up to MaxMessageBytes still fits.
const (
	maxBatchBytes  = 1<<20 - 1024
	recordOverhead = 32
)

// ErrClosed is returned by Send once Close has been called.
var ErrClosed = errors.New("kafka: producer closed")

// UndeliveredError is Close's error when messages could not be delivered before its deadline.
// Messages that were in flight when the deadline passed count as undelivered although the
// broker may have stored them: they are unconfirmed.
type UndeliveredError struct {
	Topic    string
	Messages int
	// Err is the last write error, or the context's error when no write had failed.
	Err error
}

func (e *UndeliveredError) Error() string {
	return fmt.Sprintf("kafka: %d messages not delivered to %s before the close deadline: %v", e.Messages, e.Topic, e.Err)
}

func (e *UndeliveredError) Unwrap() error { return e.Err }

// Stats are a Producer's counters since it was made.
type Stats struct {
	// Sent is how many messages the brokers acknowledged.
	Sent int64
	// Failed is how many write attempts failed (each is retried); FailedMessages is how many
	// messages those attempts carried, as reported to OnError.
	Failed, FailedMessages int64
	// Pending is how many accepted messages are queued or being written.
	Pending int64
	// Undelivered is how many messages Close gave up on when its deadline passed.
	Undelivered int64
}

// Producer publishes messages to one topic asynchronously. Send may be called from many
// goroutines; messages with the same key keep the order in which their Sends returned.
type Producer struct {
	topic     string
	batchSize int
	linger    time.Duration
	onError   func(err error, messages int)
	tr        *kafkago.Transport
	w         *kafkago.Writer

	queue chan kafkago.Message
	// closed turns Sends away; sending counts Sends past that check and not yet returned, so
	// the loop knows when no more messages can arrive.
	closed  atomic.Bool
	sending atomic.Int64
	closing chan struct{} // closed by Close: flush what is queued, then stop
	once    sync.Once
	// writeCtx bounds the loop's writes: Close cancels it when its own deadline passes.
	writeCtx context.Context
	abort    context.CancelFunc
	done     chan struct{} // closed when the loop has stopped

	sent, failed, failedMsgs, pending, undelivered atomic.Int64
	// Owned by the loop; read by Close only after done is closed.
	carry   *kafkago.Message // taken from the queue but left for the next batch
	lastErr error
	lost    int

	closeWriter sync.Once
}

// NewProducer validates cfg, applies its defaults and starts the background loop. It does not
// dial: an unreachable broker shows up as failed attempts. onError, which may be nil, is called
// from the loop after every failed attempt with the error and the number of messages that
// attempt carried (they will be retried); it must return quickly and must not call Close.
func NewProducer(cfg Config, onError func(err error, messages int)) (*Producer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kafka producer config: %w", err)
	}
	mech, err := cfg.SASL.Authenticator()
	if err != nil {
		return nil, fmt.Errorf("kafka producer config: %w", err)
	}
	if onError == nil {
		onError = func(error, int) {}
	}
	tr := &kafkago.Transport{
		TLS:            cfg.TLS,
		SASL:           mech,
		ClientID:       "shipsync",
		MetadataTopics: []string{cfg.Topic},
	}
	w := &kafkago.Writer{
		Addr:  kafkago.TCP(cfg.Brokers...),
		Topic: cfg.Topic,
		// Java-compatible murmur2, consistent for every key: a key always maps to the same
		// partition, the one Java, librdkafka and franz-go producers would choose too.
		Balancer:     &kafkago.Murmur2Balancer{Consistent: true},
		RequiredAcks: kafkago.RequireAll,
		Compression:  compressions[cfg.Compression],
		// The loop batches and retries itself, so that every failure is counted and reported:
		// the Writer makes one attempt per call. Each call's share for one partition becomes
		// one request (the loop keeps a call within BatchSize and maxBatchBytes), and since
		// the Writer holds a partial batch open for more messages until its BatchTimeout,
		// that timeout is kept to a token millisecond: the loop's own BatchTimeout is the
		// linger that matters.
		MaxAttempts:            1,
		BatchSize:              cfg.BatchSize,
		BatchBytes:             2 * maxBatchBytes,
		BatchTimeout:           time.Millisecond,
		AllowAutoTopicCreation: false,
		Transport:              tr,
	}
	// The loop's writes outlive any one caller's context; only Close ends them, so they run
	// under a context of their own that Close cancels when its deadline passes.
	writeCtx, abort := context.WithCancel(context.Background())
	p := &Producer{
		topic:     cfg.Topic,
		batchSize: cfg.BatchSize,
		linger:    cfg.BatchTimeout,
		onError:   onError,
		tr:        tr,
		w:         w,
		queue:     make(chan kafkago.Message, cfg.Queue),
		closing:   make(chan struct{}),
		writeCtx:  writeCtx,
		abort:     abort,
		done:      make(chan struct{}),
	}
	go p.run()
	return p, nil
}

// Send queues a message for the topic and returns at once, or blocks while the queue is full
// until there is room, ctx ends (the message is then not queued) or Close gives up. The key
// must not be empty: it picks the partition, which keeps one key's messages in order. The
// producer keeps value until the message is delivered: the caller must not modify it. A nil
// error means the message is accepted; delivery failures after that are retried, counted and
// reported to OnError, and what Close cannot deliver is in its error.
func (p *Producer) Send(ctx context.Context, key string, value []byte) error {
	return p.SendAcked(ctx, key, value, nil)
}

// SendAcked is Send with a callback: acked, when not nil, is called once the brokers have
// acknowledged the message (with acks=all), from the producer's loop, so it must return
// quickly. It is never called for a message that was not delivered. Split mode's reader
// advances its checkpoint with it.
func (p *Producer) SendAcked(ctx context.Context, key string, value []byte, acked func()) error {
	if key == "" {
		return errors.New("kafka: send: empty key")
	}
	if n := len(key) + len(value); n > MaxMessageBytes {
		return fmt.Errorf("kafka: send %s: message of %d bytes exceeds %d", key, n, MaxMessageBytes)
	}
	p.sending.Add(1)
	defer p.sending.Add(-1)
	if p.closed.Load() {
		return ErrClosed
	}
	// Stamped here, not at write time, so the record's timestamp says when the message was
	// produced and stays the same across retries.
	m := kafkago.Message{Key: []byte(key), Value: value, Time: time.Now()}
	if acked != nil {
		m.WriterData = acked
	}
	p.pending.Add(1)
	select {
	case p.queue <- m:
		return nil
	default:
	}
	select {
	case p.queue <- m:
		return nil
	case <-ctx.Done():
		p.pending.Add(-1)
		return fmt.Errorf("kafka: send %s: queue full: %w", key, ctx.Err())
	case <-p.writeCtx.Done():
		p.pending.Add(-1)
		return ErrClosed
	}
}

// Stats returns the producer's counters. It is safe to call at any time.
func (p *Producer) Stats() Stats {
	return Stats{
		Sent:           p.sent.Load(),
		Failed:         p.failed.Load(),
		FailedMessages: p.failedMsgs.Load(),
		Pending:        p.pending.Load(),
		Undelivered:    p.undelivered.Load(),
	}
}

// Close stops accepting messages and flushes what is queued, retrying failures, until all is
// delivered or ctx ends. It returns nil when everything was delivered, otherwise an
// *UndeliveredError with the count. Without a deadline on ctx it waits as long as the brokers
// stay unreachable. Calling it again waits for the first call's flush and returns the same
// outcome.
func (p *Producer) Close(ctx context.Context) error {
	p.once.Do(func() {
		p.closed.Store(true)
		close(p.closing)
	})
	select {
	case <-p.done:
	case <-ctx.Done():
		p.abort()
		<-p.done
	}
	p.closeWriter.Do(func() {
		// The writer has nothing left to flush (the loop waits for every write it starts),
		// except writes abandoned at the deadline, which need not be waited for.
		werr := make(chan error, 1)
		go func() { werr <- p.w.Close() }()
		select {
		case <-werr:
		case <-ctx.Done():
		}
		p.tr.CloseIdleConnections()
		p.abort()
	})
	if p.lost > 0 {
		cause := p.lastErr
		if cause == nil {
			cause = ctx.Err()
		}
		return &UndeliveredError{Topic: p.topic, Messages: p.lost, Err: cause}
	}
	return nil
}

// run is the background loop: collect a batch, write it until it is delivered, repeat; after
// Close, flush and stop.
func (p *Producer) run() {
	defer close(p.done)
	batch := make([]kafkago.Message, 0, p.batchSize)
	for {
		var ok bool
		batch, ok = p.collect(batch[:0])
		if !ok {
			return
		}
		if rest := p.deliver(batch); len(rest) > 0 {
			// Close's deadline passed: nothing more will be written.
			p.giveUp(len(rest))
			if p.carry != nil {
				p.carry = nil
				p.giveUp(1)
			}
			p.discardQueued()
			return
		}
	}
}

// collect waits for a first message, then gathers more until the batch is full (in count or
// bytes) or the first has waited the linger time. After Close it lingers no more, and it
// reports false once the queue is empty and no Send can still add to it.
func (p *Producer) collect(batch []kafkago.Message) ([]kafkago.Message, bool) {
	if p.carry != nil {
		batch = append(batch, *p.carry)
		p.carry = nil
	} else {
		select {
		case m := <-p.queue:
			batch = append(batch, m)
		case <-p.closing:
			m, ok := p.nextAfterClose()
			if !ok {
				return batch, false
			}
			batch = append(batch, m)
		}
	}
	size := messageBytes(batch[0])
	// add appends m unless it would overflow the batch's bytes, in which case it is carried
	// to the next batch; it reports whether the batch can take more.
	add := func(m kafkago.Message) bool {
		if size+messageBytes(m) > maxBatchBytes {
			p.carry = &m
			return false
		}
		batch = append(batch, m)
		size += messageBytes(m)
		return len(batch) < p.batchSize
	}
	linger := time.NewTimer(p.linger)
	defer linger.Stop()
	for len(batch) < p.batchSize {
		select {
		case m := <-p.queue:
			if !add(m) {
				return batch, true
			}
		case <-linger.C:
			return batch, true
		case <-p.closing:
			for {
				select {
				case m := <-p.queue:
					if !add(m) {
						return batch, true
					}
				default:
					return batch, true
				}
			}
		}
	}
	return batch, true
}

func messageBytes(m kafkago.Message) int { return len(m.Key) + len(m.Value) + recordOverhead }

// nextAfterClose returns the next queued message once Close has been called, waiting for
// Sends that passed their closed check before Close to finish; false when there is none.
func (p *Producer) nextAfterClose() (kafkago.Message, bool) {
	for {
		select {
		case m := <-p.queue:
			return m, true
		default:
		}
		// A Send enqueues before it stops counting in sending, so once sending reads zero the
		// queue holds everything that will ever arrive.
		if p.sending.Load() == 0 {
			select {
			case m := <-p.queue:
				return m, true
			default:
				return kafkago.Message{}, false
			}
		}
		select {
		case m := <-p.queue:
			return m, true
		case <-time.After(time.Millisecond):
		case <-p.writeCtx.Done():
			return kafkago.Message{}, false
		}
	}
}

// deliver writes batch until every message is acknowledged, retrying what failed with backoff.
// It returns the messages still unwritten when Close's deadline cut it short, else nil.
func (p *Producer) deliver(batch []kafkago.Message) []kafkago.Message {
	delay := backoffMin
	for {
		err := p.w.WriteMessages(p.writeCtx, batch...)
		if err == nil {
			p.acked(batch)
			return nil
		}
		if p.writeCtx.Err() != nil {
			// Cut short by Close's deadline: keep the last real failure as the cause.
			return batch
		}
		// Retry only what failed: messages of one partition share one request (see
		// maxBatchBytes), so they fail or succeed together and a key's order survives.
		var werrs kafkago.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(batch) {
			var failed, delivered []kafkago.Message
			err = nil
			for i, werr := range werrs {
				if werr != nil {
					failed = append(failed, batch[i])
					if err == nil {
						err = werr
					}
				} else {
					delivered = append(delivered, batch[i])
				}
			}
			p.acked(delivered)
			batch = failed
			if len(batch) == 0 {
				return nil
			}
		}
		err = fmt.Errorf("kafka: write %d messages to %s: %w", len(batch), p.topic, err)
		p.lastErr = err
		p.failed.Add(1)
		p.failedMsgs.Add(int64(len(batch)))
		p.onError(err, len(batch))
		// Drop cached connections and metadata so the retry rediscovers the cluster: a broker
		// that restarted, a leader that moved, a topic created meanwhile.
		p.tr.CloseIdleConnections()
		t := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-t.C:
		case <-p.writeCtx.Done():
			t.Stop()
			return batch
		}
		delay = min(2*delay, backoffMax)
	}
}

func (p *Producer) acked(msgs []kafkago.Message) {
	p.sent.Add(int64(len(msgs)))
	p.pending.Add(-int64(len(msgs)))
	for _, m := range msgs {
		if f, ok := m.WriterData.(func()); ok {
			f()
		}
	}
}

func (p *Producer) giveUp(n int) {
	p.lost += n
	p.undelivered.Add(int64(n))
	p.pending.Add(-int64(n))
}

// discardQueued counts as undelivered whatever is queued, and whatever Sends in progress
// still add, once Close has given up.
func (p *Producer) discardQueued() {
	for {
		select {
		case <-p.queue:
			p.giveUp(1)
			continue
		default:
		}
		if p.sending.Load() == 0 && len(p.queue) == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
