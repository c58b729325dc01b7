package transform

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// Options configures a Transformer.
type Options struct {
	// DefaultTimeZone is the IANA zone used for wall-clock values when the raw
	// message names no account zone (Raw.TimeZone is empty). Default "UTC".
	DefaultTimeZone string
}

// Meta is what the caller knows about the raw message besides its payload.
type Meta struct {
	// RawSequence is the NETSUITE_RAW stream sequence of the raw message.
	RawSequence uint64
	// RawSchema is the message's calendarevent.HeaderSchema value; empty means
	// the current calendarevent.RawSchema.
	RawSchema string
}

// Transformer maps raw NetSuite calendar events to canonical events. It is
// safe for concurrent use.
type Transformer struct {
	defaultZone     string
	defaultLocation *time.Location
	zones           zoneCache
}

// New returns a Transformer. It fails when DefaultTimeZone is not a known
// IANA zone.
func New(opts Options) (*Transformer, error) {
	t := &Transformer{defaultZone: opts.DefaultTimeZone}
	if t.defaultZone == "" {
		t.defaultZone = "UTC"
	}
	loc, err := t.zones.load(t.defaultZone)
	if err != nil {
		return nil, fmt.Errorf("new transformer: default time zone %s: %w", quoteShort(t.defaultZone), err)
	}
	t.defaultLocation = loc
	return t, nil
}

// TransformBytes decodes a raw message payload and transforms it. Payloads in
// the shape calendarevent.Raw.AppendJSON writes are read by a fast in-place
// decoder; anything else is decoded by calendarevent.DecodeRaw. Both give the
// same result.
func (t *Transformer) TransformBytes(payload []byte, meta Meta) (*calendarevent.Event, error) {
	if err := checkRawSchema(meta.RawSchema); err != nil {
		return nil, err
	}
	m := newMapper(t, newDecoder(payload))
	defer func() { m.free() }()
	if m.decodeEnvelope(payload) {
		if ev, err := m.run(&m.rawBuf, meta, split); err == nil {
			return ev, nil
		}
		// Let the standard decoder judge what the fast path did not take.
	}
	raw, err := calendarevent.DecodeRaw(payload)
	if err != nil {
		return nil, classifyDecode(err)
	}
	m.free()
	m = newMapper(t, newDecoder(raw.Record))
	return m.run(raw, meta, validated)
}

// Transform maps one raw message to a canonical event. It never panics; every
// error it returns is an *Error (see Class) and is permanent.
func (t *Transformer) Transform(raw *calendarevent.Raw, meta Meta) (*calendarevent.Event, error) {
	if err := checkRawSchema(meta.RawSchema); err != nil {
		return nil, err
	}
	var d decoder
	if raw != nil {
		d = newDecoder(raw.Record)
	}
	m := newMapper(t, d)
	defer m.free()
	return m.run(raw, meta, validateAll)
}

// validation says what of a Raw is known to be valid JSON.
type validation int

const (
	// validateAll: nothing (a Raw built by the caller).
	validateAll validation = iota
	// validated: everything (calendarevent.DecodeRaw).
	validated
	// split: everything, and the record and the envelope's sublist rows
	// are split into members already (decodeEnvelope).
	split
)

// run does the work; v says what is known of raw (see validation).
func (m *mapper) run(raw *calendarevent.Raw, meta Meta, v validation) (*calendarevent.Event, error) {
	if raw == nil {
		return nil, newErr(ClassInvalidRecord, "", "raw message is nil")
	}
	if err := raw.Validate(); err != nil {
		return nil, &Error{Class: ClassInvalidRecord, Problem: "raw envelope", Err: err}
	}
	if !inRange(raw.ExtractedAt) {
		return nil, newErr(ClassInvalidDate, "extracted_at", "outside the years 0001-9999")
	}
	m.raw, m.meta = raw, meta
	if err := m.prepare(v); err != nil {
		return nil, err
	}
	switch {
	case raw.Kind == calendarevent.KindTombstone && raw.API == calendarevent.APIDeletedRecord:
		return m.tombstone()
	case raw.Kind == calendarevent.KindEvent && (raw.API == calendarevent.APISuiteQL || raw.API == calendarevent.APIREST):
		return m.event()
	case raw.API != calendarevent.APISuiteQL && raw.API != calendarevent.APIREST && raw.API != calendarevent.APIDeletedRecord:
		return nil, newErr(ClassInvalidRecord, "api", quoteShort(raw.API)+" is not one of suiteql, rest, deletedrecord")
	default:
		return nil, newErr(ClassInvalidRecord, "kind", fmt.Sprintf("%s does not go with api %s", quoteShort(raw.Kind), quoteShort(raw.API)))
	}
}

// checkRawSchema accepts the current raw schema, any older or equal version
// of it, and the empty string; a newer major version or another schema
// family is unsupported.
func checkRawSchema(s string) error {
	if s == "" || s == calendarevent.RawSchema {
		return nil
	}
	family, current := splitSchema(calendarevent.RawSchema)
	f, v, ok := strings.Cut(s, "/v")
	if !ok || f != family[:len(family)-2] {
		return newErr(ClassUnsupportedSchema, "", fmt.Sprintf("raw schema %s is not %s", quoteShort(s), calendarevent.RawSchema))
	}
	majorText, _, _ := strings.Cut(v, ".")
	major, err := strconv.Atoi(majorText)
	if err != nil || major < 0 || majorText != strconv.Itoa(major) {
		return newErr(ClassUnsupportedSchema, "", fmt.Sprintf("raw schema %s has no readable version", quoteShort(s)))
	}
	if major > current {
		return newErr(ClassUnsupportedSchema, "", fmt.Sprintf("raw schema %s is newer than %s", quoteShort(s), calendarevent.RawSchema))
	}
	return nil
}

// splitSchema splits "name/vN" into "name/v" and N.
func splitSchema(s string) (string, int) {
	i := strings.LastIndex(s, "/v")
	n, _ := strconv.Atoi(s[i+2:])
	return s[:i+2], n
}
