package calendarevent

import (
	"strings"
)

// Stream names provisioned by the broker.
const (
	// StreamRaw holds raw NetSuite records, one message per event version or deletion.
	StreamRaw = "NETSUITE_RAW"
	// StreamEvents holds canonical events (schema v1).
	StreamEvents = "EVENTS"
	// StreamDLQ holds dead letters from every stage.
	StreamDLQ = "DLQ"
)

// Subject wildcards bound to the streams above.
const (
	RawSubjects    = "netsuite.*.calendarevent.raw"
	EventSubjects  = "netsuite.*.calendarevent.v1"
	DLQSubjects    = "dlq.>"
	subjectPrefix  = "netsuite."
	rawSuffix      = ".calendarevent.raw"
	eventSuffix    = ".calendarevent.v1"
	dlqSubjectRoot = "dlq."
)

// AccountToken turns a NetSuite account ID into the single subject token used
// for it: lowercase, with '_' replaced by '-' (the same rule NetSuite uses for
// host names, so "1234567_SB1" becomes "1234567-sb1"). Characters that NATS
// subjects do not allow in a token ('.', '*', '>', white space) become '-'.
func AccountToken(account string) string {
	var b strings.Builder
	b.Grow(len(account))
	for _, r := range strings.ToLower(account) {
		switch {
		case r == '_' || r == '.' || r == '*' || r == '>' || r <= ' ':
			b.WriteByte('-')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// RawSubject is the subject raw records of account are published on.
func RawSubject(account string) string {
	return subjectPrefix + AccountToken(account) + rawSuffix
}

// EventSubject is the subject canonical events of account are published on.
func EventSubject(account string) string {
	return subjectPrefix + AccountToken(account) + eventSuffix
}

// DLQSubject is the subject dead letters of stage for account are published on:
// dlq.<stage>.<account token>.
func DLQSubject(stage, account string) string {
	if account == "" {
		account = "unknown"
	}
	return dlqSubjectRoot + stage + "." + AccountToken(account)
}

// AccountFromSubject returns the account token of a raw or event subject, or ""
// when subject is neither.
func AccountFromSubject(subject string) string {
	if !strings.HasPrefix(subject, subjectPrefix) {
		return ""
	}
	rest := subject[len(subjectPrefix):]
	i := strings.IndexByte(rest, '.')
	if i <= 0 {
		return ""
	}
	return rest[:i]
}
