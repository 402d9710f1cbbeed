package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	testkafka "github.com/shipsync/shipsync/testenv/kafka"
)

func TestRunServesTopics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, "127.0.0.1:0", []string{"a", "b"}, 2, func(addr string) { addrc <- addr })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("kfake did not start")
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	defer pcancel()
	if err := cl.ProduceSync(pctx, &kgo.Record{Topic: "b", Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("produce to a seeded topic: %v", err)
	}
	got := testkafka.Consume(t, []string{addr}, "b", 1, 10*time.Second)
	if string(got[0].Value) != "v" {
		t.Fatalf("read back %q, want %q", got[0].Value, "v")
	}

	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run after interrupt: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

func TestRunRejects(t *testing.T) {
	for _, tc := range []struct {
		name, listen string
		partitions   int
	}{
		{"not loopback", "0.0.0.0:0", 1},
		{"no port", "127.0.0.1", 1},
		{"zero partitions", "127.0.0.1:0", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.listen, nil, tc.partitions, func(string) { t.Error("ready called") })
			if err == nil {
				t.Fatal("run accepted it")
			}
		})
	}
}

func TestSplitList(t *testing.T) {
	if got := splitList(" a, ,b,"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("splitList = %q", got)
	}
}
