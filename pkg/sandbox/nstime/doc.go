// Package nstime holds the time representations the NetSuite sandbox needs:
// civil ("wall-clock") seconds, a fast UTC-offset table for one time zone,
// the user date-format preference NetSuite applies to SuiteQL output and REST
// `q` filters (for example "M/d/yyyy"), and Oracle format models as used by
// SuiteQL's TO_CHAR, TO_DATE and TO_TIMESTAMP.
//
// A civil time is an int64 count of seconds since 1970-01-01 00:00:00 of the
// wall clock, with no time zone attached: it is what a clock on the wall in
// some zone shows, encoded as if that zone were UTC. Civil times compare and
// sort like the wall clock does, which is how SuiteQL (whose timestamps carry
// no offset) orders them.
//
// Everything here is pure and safe for concurrent use once constructed.
package nstime
