package suiteql

import (
	"errors"
	"testing"

	"github.com/nsflow/nsflow/pkg/sandbox/nstime"
)

// extractorQueries are the exact query shapes the extractor sends.
var extractorQueries = []string{
	`SELECT ce.*, TO_CHAR(ce.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS ns_lastmodified, TO_CHAR(ce.createddate, 'YYYY-MM-DD HH24:MI:SS') AS ns_created, TO_CHAR(ce.startdate, 'YYYY-MM-DD') AS ns_startdate, TO_CHAR(ce.starttime, 'HH24:MI:SS') AS ns_starttime, TO_CHAR(ce.endtime, 'HH24:MI:SS') AS ns_endtime, TO_CHAR(ce.completeddate, 'YYYY-MM-DD') AS ns_completeddate, BUILTIN.DF(ce.status) AS ns_status_name, BUILTIN.DF(ce.accesslevel) AS ns_accesslevel_name, BUILTIN.DF(ce.organizer) AS ns_organizer_name, BUILTIN.DF(ce.owner) AS ns_owner_name, BUILTIN.DF(ce.company) AS ns_company_name, BUILTIN.DF(ce.contact) AS ns_contact_name, BUILTIN.DF(ce.supportcase) AS ns_supportcase_name, BUILTIN.DF(ce.transaction) AS ns_transaction_name, BUILTIN.DF(ce.relateditem) AS ns_relateditem_name, BUILTIN.DF(ce.remindertype) AS ns_remindertype_name FROM calendarevent ce WHERE (ce.lastmodifieddate > TO_TIMESTAMP('2024-03-02 09:15:00', 'YYYY-MM-DD HH24:MI:SS') OR (ce.lastmodifieddate = TO_TIMESTAMP('2024-03-02 09:15:00', 'YYYY-MM-DD HH24:MI:SS') AND ce.id > 100425)) AND ce.lastmodifieddate <= TO_TIMESTAMP('2024-04-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS') ORDER BY ce.lastmodifieddate, ce.id`,
	`SELECT ce.* FROM calendarevent ce WHERE ce.lastmodifieddate >= TO_TIMESTAMP('2024-03-02 09:15:00', 'YYYY-MM-DD HH24:MI:SS') ORDER BY ce.lastmodifieddate, ce.id`,
	`SELECT att.calendarevent, att.attendee, BUILTIN.DF(att.attendee) AS ns_attendee_name, att.attendance, att.response FROM calendareventattendee att WHERE att.calendarevent IN (100425, 100426) ORDER BY att.calendarevent, att.attendee`,
	`SELECT res.calendarevent, res.resource, BUILTIN.DF(res.resource) AS ns_resource_name FROM calendareventresource res WHERE res.calendarevent IN (100425, 100426) ORDER BY res.calendarevent, res.resource`,
	`SELECT dr.recordid, dr.type, dr.name, dr.deletedby, dr.context, TO_CHAR(dr.deleteddate, 'YYYY-MM-DD HH24:MI:SS') AS ns_deleted FROM deletedrecord dr WHERE dr.type IN ('calendarevent', 'CalendarEvent') AND (dr.deleteddate > TO_TIMESTAMP('2024-03-02 09:15:00', 'YYYY-MM-DD HH24:MI:SS') OR (dr.deleteddate = TO_TIMESTAMP('2024-03-02 09:15:00', 'YYYY-MM-DD HH24:MI:SS') AND dr.recordid > 17)) ORDER BY dr.deleteddate, dr.recordid`,
	`SELECT COUNT(*) AS n FROM calendarevent ce`,
	`SELECT ce.id FROM calendarevent ce WHERE ROWNUM <= 1`,
}

func fuzzCatalog() memCatalog {
	mk := func(names ...string) *memTable {
		t := &memTable{}
		for _, n := range names {
			t.cols = append(t.cols, Column{Name: n, Display: true})
		}
		base := nstime.Civil(2024, 3, 2, 9, 15, 0)
		for i := range 5 {
			row := make([]Value, len(names))
			for c := range names {
				switch (i + c) % 5 {
				case 0:
					row[c] = Int(int64(100424 + i))
				case 1:
					row[c] = Str("calendarevent")
				case 2:
					row[c] = Timestamp(base + int64(i*60))
				case 3:
					row[c] = Date(base)
				}
			}
			t.rows = append(t.rows, row)
		}
		return t
	}
	return memCatalog{
		"calendarevent": mk("id", "title", "lastmodifieddate", "createddate", "startdate", "starttime", "endtime",
			"completeddate", "status", "accesslevel", "organizer", "owner", "company", "contact", "supportcase",
			"transaction", "relateditem", "remindertype"),
		"calendareventattendee": mk("calendarevent", "attendee", "attendance", "response"),
		"calendareventresource": mk("calendarevent", "resource"),
		"deletedrecord":         mk("recordid", "type", "name", "deletedby", "context", "deleteddate"),
	}
}

// FuzzParse checks that the parser and the compiler never panic, that
// invalid input yields an *Error, and that whatever compiles also executes
// without panicking.
func FuzzParse(f *testing.F) {
	for _, q := range extractorQueries {
		f.Add(q)
	}
	f.Add(`SELECT a.x || 'y', -(1+2)*3/4, NVL(NULL, 'a') FROM t a WHERE NOT a.b LIKE '%\_%' ESCAPE '\' ORDER BY 1 DESC NULLS LAST`)
	f.Add(`SELECT * FROM calendarevent ce LEFT JOIN calendareventattendee att ON att.calendarevent = ce.id WHERE ce.id BETWEEN 1 AND 2 /* c */ -- x`)
	cat := fuzzCatalog()
	env := Env{DatePref: testPref, Now: nstime.Civil(2024, 6, 1, 0, 0, 0)}
	f.Fuzz(func(t *testing.T, src string) {
		sel, err := Parse(src)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Parse(%q) error %T is not *Error", src, err)
			}
			return
		}
		if sel == nil {
			t.Fatalf("Parse(%q) returned nil without an error", src)
		}
		q, err := Compile(sel, cat, env)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Compile(%q) error %T is not *Error", src, err)
			}
			return
		}
		if _, err := q.Execute(nil, 0, 10); err != nil {
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Execute(%q) error %T is not *Error", src, err)
			}
		}
	})
}

func TestExtractorQueriesParse(t *testing.T) {
	for _, q := range extractorQueries {
		if _, err := Prepare(q, fuzzCatalog(), Env{DatePref: testPref}); err != nil {
			t.Errorf("Prepare(%.60q...): %v", q, err)
		}
	}
}
