package calendarevent

// Header names carried on raw and canonical messages. Watermill metadata keys
// are the same strings: the broker maps metadata to NATS headers one to one.
const (
	// HeaderMsgID is JetStream's de-duplication header.
	HeaderMsgID = "Nats-Msg-Id"

	// CloudEvents attributes (binary content mode over NATS headers).
	HeaderCEID          = "ce-id"
	HeaderCEType        = "ce-type"
	HeaderCESource      = "ce-source"
	HeaderCETime        = "ce-time"
	HeaderCESpecVersion = "ce-specversion"
	HeaderCESubject     = "ce-subject"

	// HeaderAccount is the NetSuite account ID as configured (not the subject token).
	HeaderAccount = "nsflow-account"
	// HeaderRecordID is the NetSuite internal id of the event.
	HeaderRecordID = "nsflow-record-id"
	// HeaderLastModified is the record's lastModified instant (RFC 3339, UTC, seconds);
	// for a tombstone, the deletion instant.
	HeaderLastModified = "nsflow-last-modified"
	// HeaderExtractedAt is when the extractor read the record (RFC 3339 UTC, nanoseconds).
	HeaderExtractedAt = "nsflow-extracted-at"
	// HeaderSchema is the payload schema: RawSchema or EventSchema.
	HeaderSchema = "nsflow-schema"
	// HeaderKind is "event" or "tombstone".
	HeaderKind = "nsflow-kind"
	// HeaderCorrelationID follows a record through every stage (Watermill's key).
	HeaderCorrelationID = "correlation_id"
	// HeaderRawSequence is set on canonical events: the raw stream sequence they came from.
	HeaderRawSequence = "nsflow-raw-seq"
)

// Dead-letter headers, set on every message in the DLQ stream.
const (
	HeaderDLQStage          = "nsflow-dlq-stage"
	HeaderDLQReason         = "nsflow-dlq-reason"
	HeaderDLQErrorClass     = "nsflow-dlq-error-class"
	HeaderDLQSubject        = "nsflow-dlq-original-subject"
	HeaderDLQStream         = "nsflow-dlq-original-stream"
	HeaderDLQSequence       = "nsflow-dlq-original-sequence"
	HeaderDLQAttempts       = "nsflow-dlq-attempts"
	HeaderDLQHandler        = "nsflow-dlq-handler"
	HeaderDLQDeadLetteredAt = "nsflow-dlq-at"
)

// CloudEvents type values.
const (
	CETypeRaw       = "com.netsuite.calendarevent.raw"
	CETypeEvent     = "com.netsuite.calendarevent.v1"
	CETypeTombstone = "com.netsuite.calendarevent.deleted.v1"
	CESpecVersion   = "1.0"
)
