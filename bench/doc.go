// Package bench is nsflow's benchmark harness (issue #7). [Run] measures, in
// one invocation on one machine:
//
//  1. reference: a plain nats.go/jetstream three-hop relay (async publish →
//     pull consume and republish, acking each input after its PubAck → pull
//     consume and ack) of as many messages as the end-to-end run carried,
//     with payloads and headers sampled from real raw messages, over the
//     product's own streams and durable consumers (broker.Provision);
//  2. e2e: the product in standalone mode (embedded NATS, zero-latency
//     sandbox, extractor → transformer → loader → SQLite): events/s, the
//     ratio to (1) of the same pair, CPU seconds per 1,000 events, peak RSS;
//  3. replay: the canonical stream of the last e2e run into a fresh SQLite
//     file and a fresh PostgreSQL schema (skipped, with the reason, when no
//     server is reachable): rows/s;
//  4. extraction: the sandbox at 200 ms per request and a concurrency limit
//     of 4, headers only and with attendees: NetSuite requests per 1,000
//     records, records/s, and the concurrency budget in use (in-flight
//     requests sampled every 10 ms while the backfill runs);
//  5. memory: each stage as its own process (the services/* binaries) against
//     a NATS server run here, with the backlog waiting in its input (the
//     sandbox for the extractor, NETSUITE_RAW for the transformer, EVENTS for
//     the loader): VmHWM of each process;
//  6. latency: time from a change in the sandbox to the row in SQLite, at the
//     configured polling interval.
//
// Sections 1 and 2 run as Repeat same-run pairs; figures are medians with
// the min–max spread. Nothing here asserts a speed: [Targets] only reports
// which targets a result meets. cmd/nsbench is the command (`make bench`);
// the package test runs every section at a tiny size to prove the harness
// still works.
package bench
