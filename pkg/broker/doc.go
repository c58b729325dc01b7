// Package broker is the pipeline's JetStream layer: connecting to NATS,
// provisioning streams, consumers and KV buckets, and a Watermill Publisher and
// Subscriber built directly on nats.go/jetstream (watermill-nats is not used;
// see docs/adr/0001-own-jetstream-pubsub.md).
//
// # Contract
//
// Provisioning. Streams, durable pull consumers and KV buckets are created or
// updated by [Provision], explicitly and idempotently, at start or from the CLI.
// A [Subscriber] only binds to a consumer that exists; it never creates or
// deletes one, so a restart resumes exactly where the durable left off.
//
// Topics. A Publisher topic is a NATS subject. A Subscriber topic names a
// durable consumer as "<stream>/<consumer>" ([ConsumerTopic]).
//
// Publishing. [Publisher.Publish] sends every message asynchronously and
// returns once the server has stored all of them (or reported them as
// duplicates). Calls are handed to one writer goroutine that submits what has
// queued back to back, so the connection writes many messages per syscall. Metadata becomes NATS headers one to one and the payload is
// sent as is. The Nats-Msg-Id header is the metadata value of the same name
// when set, otherwise the message UUID: stages set it deterministically, so a
// redelivered input produces an output the server drops as a duplicate.
//
// Consuming. Messages are acked explicitly (never AckAll). Up to
// SubscriberConfig.MaxInFlight messages per subscription are handed to the
// router at once. The handler does not ack: Watermill's Ack becomes a
// JetStream Ack (sent in coalesced bursts), Nack becomes NakWithDelay with a
// delay that grows with the delivery count. On Close the subscription stops
// pulling, waits for in-flight messages to finish (CloseTimeout), naks what is
// left, and flushes pending acks.
//
// Errors. Handlers return [Permanent] errors for input that can never succeed
// (decode, validation, unknown schema); those skip retries. Every error that
// survives the retry middleware is dead-lettered by [DeadLetter]: the original
// payload and headers go to dlq.<stage>.<account> with the nsflow-dlq-* headers
// (stage, reason, error class, original subject, stream and sequence, attempts),
// and the original is acked only after the dead letter is stored. A panic is
// recovered and treated as permanent.
//
// Metadata keys set on consumed messages, besides the headers: [MetaStream],
// [MetaStreamSeq], [MetaSubject], [MetaDelivered].
package broker
