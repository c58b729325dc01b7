package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/natsembed"
)

// reference relays n messages like the sampled raw ones through a plain
// nats.go/jetstream pipeline of three hops, on the product's own streams and
// durable consumers (same settings: broker.Provision with the default
// topology) and the same transport (in-process connections to an embedded
// server, one per hop):
//
//	producer: PublishMsgAsync to the raw subject (bounded pending, as the product)
//	relay:    Consume on NETSUITE_RAW/transformer, PublishMsgAsync the same
//	          payload and headers (a derived Nats-Msg-Id) to the canonical
//	          subject, Ack the input once its PubAck arrives
//	sink:     Consume on EVENTS/loader-sqlite, Ack
//
// It does no application work: it is the transport's limit on this machine.
func (b *runner) reference(ctx context.Context, n int) (RefRun, error) {
	if len(b.sample) == 0 {
		return RefRun{}, errors.New("no sample of raw messages")
	}
	dir, err := b.dir("reference")
	if err != nil {
		return RefRun{}, err
	}
	defer os.RemoveAll(dir)
	cfg, err := standaloneConfig(dir, 0)
	if err != nil {
		return RefRun{}, err
	}
	srv, err := natsembed.Start(natsembed.Config{StoreDir: dir, NoListen: true, Logger: b.logger()})
	if err != nil {
		return RefRun{}, err
	}
	defer srv.Shutdown()
	var js [3]jetstream.JetStream
	for i := range js {
		nc, err := srv.Connect(nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			b.logf("nats async error on %q: %v", subj, err)
		}))
		if err != nil {
			return RefRun{}, err
		}
		defer nc.Close()
		if js[i], err = broker.JetStream(nc, cfg.NATS); err != nil {
			return RefRun{}, err
		}
	}
	topo := cfg.Topology
	topo.Sinks = []string{"sqlite"}
	if err := broker.Provision(ctx, js[0], topo); err != nil {
		return RefRun{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Sink hop.
	var received atomic.Int64
	done := make(chan struct{})
	sinkCons, err := js[2].Consumer(ctx, calendarevent.StreamEvents, broker.LoaderConsumer("sqlite"))
	if err != nil {
		return RefRun{}, fmt.Errorf("sink consumer: %w", err)
	}
	sinkCC, err := sinkCons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		if received.Add(1) == int64(n) {
			close(done)
		}
	}, jetstream.PullMaxMessages(512), jetstream.PullExpiry(broker.DefaultPullExpiry), jetstream.PullHeartbeat(broker.DefaultPullHeartbeat))
	if err != nil {
		return RefRun{}, fmt.Errorf("sink consume: %w", err)
	}
	defer sinkCC.Stop()

	// Relay hop: one goroutine acks inputs in order as their PubAcks arrive.
	type pending struct {
		in  jetstream.Msg
		ack jetstream.PubAckFuture
	}
	queue := make(chan pending, 4096)
	acker := make(chan struct{})
	go func() {
		defer close(acker)
		for {
			var p pending
			select {
			case p = <-queue:
			case <-ctx.Done():
				return
			}
			select {
			case <-p.ack.Ok():
				_ = p.in.Ack()
			case <-p.ack.Err():
				_ = p.in.Nak()
			case <-ctx.Done():
				return
			}
		}
	}()
	relayCons, err := js[1].Consumer(ctx, calendarevent.StreamRaw, broker.ConsumerTransformer)
	if err != nil {
		return RefRun{}, fmt.Errorf("relay consumer: %w", err)
	}
	relayJS := js[1]
	relayCC, err := relayCons.Consume(func(m jetstream.Msg) {
		h := nats.Header{}
		for k, v := range m.Headers() {
			h[k] = v
		}
		h.Set(calendarevent.HeaderMsgID, calendarevent.EventMsgID(h.Get(calendarevent.HeaderMsgID)))
		out := &nats.Msg{Subject: strings.TrimSuffix(m.Subject(), ".raw") + ".v1", Header: h, Data: m.Data()}
		f, err := relayJS.PublishMsgAsync(out, jetstream.WithStallWait(time.Minute))
		if err != nil {
			_ = m.Nak()
			return
		}
		select {
		case queue <- pending{in: m, ack: f}:
		case <-ctx.Done():
		}
	}, jetstream.PullMaxMessages(512), jetstream.PullExpiry(broker.DefaultPullExpiry), jetstream.PullHeartbeat(broker.DefaultPullHeartbeat), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		b.logf("relay consume error: %v", err)
	}))
	if err != nil {
		return RefRun{}, fmt.Errorf("relay consume: %w", err)
	}
	defer func() {
		// Stop does not wait for a callback still running, so the queue is
		// never closed: cancelling ctx ends the callback's send and the
		// acker.
		relayCC.Stop()
		cancel()
		<-acker
	}()

	// Producer hop.
	sizes := make([]int, len(b.sample))
	for i, s := range b.sample {
		sizes[i] = len(s.data)
	}
	slices.Sort(sizes)
	freeMemory()
	stopProfile := b.startProfile(fmt.Sprintf("reference-%d", len(b.res.refRuns)+1))
	defer stopProfile()
	cpu0 := cpuTime()
	start := time.Now()
	for i := range n {
		s := b.sample[i%len(b.sample)]
		h := make(nats.Header, len(s.header))
		for k, v := range s.header {
			h[k] = v
		}
		h.Set(calendarevent.HeaderMsgID, "ref:"+strconv.Itoa(i))
		msg := &nats.Msg{Subject: s.subject, Header: h, Data: s.data}
		if _, err := js[0].PublishMsgAsync(msg, jetstream.WithStallWait(time.Minute)); err != nil {
			return RefRun{}, fmt.Errorf("publish %d: %w", i, err)
		}
	}
	select {
	case <-js[0].PublishAsyncComplete():
	case <-ctx.Done():
		return RefRun{}, ctx.Err()
	}
	b.logf("produced %d in %s", n, time.Since(start))
	timeout := time.NewTimer(time.Duration(n)*time.Millisecond + time.Minute)
	defer timeout.Stop()
	select {
	case <-done:
	case <-timeout.C:
		return RefRun{}, fmt.Errorf("relay stalled: %d of %d messages arrived", received.Load(), n)
	case <-ctx.Done():
		return RefRun{}, ctx.Err()
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	return RefRun{
		Messages: n, PayloadBytes: sizes[len(sizes)/2], Seconds: round(elapsed.Seconds(), 2),
		EventsPerSec:  round(perSecond(uint64(n), elapsed), 0),
		CPUMicrosPerE: round(float64(cpu.Microseconds())/float64(n), 1),
	}, nil
}
