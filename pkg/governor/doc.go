// Package governor bounds the number of concurrent NetSuite requests for an
// account. NetSuite enforces one concurrency limit per account, shared with
// the customer's other integrations, so every replica of the extractor must
// stay within one configured budget. Both limiters implement
// netsuite.Limiter: Acquire(ctx) (release func(), err error); release is
// idempotent.
//
// Local is an in-process semaphore for standalone mode and tests.
//
// KV is a distributed counting semaphore on NATS JetStream KV shared by all
// replicas. The bucket is provisioned by the caller (e.g. netsuite_state).
// There are n slot keys, sem.<hostid>.0 … sem.<hostid>.<n-1>, where hostid
// is netsuite.HostID(account). A slot value is {"holder", "expires"}.
//
//   - Acquire tries the slots from a random start: kv.Create takes a free
//     slot (absent or deleted); a slot whose lease has expired is taken over
//     with kv.Update on the revision that was read, so two replicas racing
//     for it cannot both win.
//   - While all slots are held it waits, woken by a background KV watch on
//     sem.<hostid>.* when a slot is released, and otherwise polling at a
//     jittered PollInterval, or just after the earliest known lease expiry.
//   - A holder renews its lease every LeaseTTL/3 with a revision-checked
//     Update; release stops renewing and deletes the key at the revision it
//     last wrote, so it can never free a slot someone else took over.
//   - Handover: when a request of this replica releases its slot while
//     another Acquire call of the same replica is waiting, the slot passes
//     straight to the oldest waiter, still held in the bucket under the same
//     lease: no KV write and no wake-up round, so a backlog of requests (a
//     backfill with more readers than slots) keeps every slot busy. At most
//     64 handovers in a row, then the slot goes back to the bucket; never
//     when the lease has less than half of LeaseTTL left (a renewal failed).
//
// Guarantee: each slot key has at most one holder at a time (Create and
// Update are compare-and-set on the key's last revision), so at most n
// holders exist across all replicas. A replica that crashes holds its slots
// only until their leases expire (LeaseTTL, default 30s). The one case the
// semaphore cannot cover is a replica that is alive but cut off from NATS
// for longer than LeaseTTL while a request is in flight: its slot is taken
// over, it logs "lost a concurrency slot", and NetSuite may briefly see n+1
// requests. NetSuite tolerates short bursts; choose n with that margin.
// Lease expiries are absolute times from the writer's clock: replicas'
// clocks must agree to well within LeaseTTL (NTP).
//
// InUse and Peak report this replica's own holdings, for metrics.
package governor
