package suiteql

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nsflow/nsflow/pkg/sandbox/nstime"
)

var statusNames = map[string]string{"CONFIRMED": "Confirmed", "TENTATIVE": "Tentative", "CANCELLED": "Cancelled"}

func testCatalog(absorb bool) memCatalog {
	ev := &memTable{
		cols: []Column{{Name: "id"}, {Name: "title"}, {Name: "status", Display: true}, {Name: "lm"},
			{Name: "sd"}, {Name: "owner", Display: true}, {Name: "flag"}},
		disp: map[int]func(Value) Value{
			2: func(v Value) Value { return Str(statusNames[v.Str]) },
			5: func(v Value) Value {
				if v.IsNull() {
					return Null
				}
				return Str(fmt.Sprintf("Owner %d", int(v.Num)))
			},
		},
		absorb: absorb,
	}
	statuses := []string{"CONFIRMED", "TENTATIVE", "CANCELLED"}
	base := nstime.Civil(2024, 3, 1, 0, 0, 0)
	for i := range 200 {
		title := Str(fmt.Sprintf("Meeting %d", i))
		if i%17 == 0 {
			title = Null
		}
		owner := Int(int64(10 + i%7))
		if i%11 == 0 {
			owner = Null
		}
		// Many rows share a timestamp so keyset ties matter.
		lm := Timestamp(base + int64(i/3)*3600)
		ev.rows = append(ev.rows, []Value{
			Int(int64(1000 + (i*37)%200)), title, Str(statuses[i%3]), lm,
			Date(base + int64(i%30)*nstime.SecondsPerDay), owner, Bool(i%2 == 0),
		})
	}
	att := &memTable{cols: []Column{{Name: "event"}, {Name: "person", Display: true}}, absorb: absorb,
		disp: map[int]func(Value) Value{1: func(v Value) Value { return Str(fmt.Sprintf("Person %d", int(v.Num))) }}}
	for i := range 200 {
		for k := range i % 4 {
			att.rows = append(att.rows, []Value{Int(int64(1000 + i)), Int(int64(500 + k))})
		}
	}
	return memCatalog{"event": ev, "att": att}
}

func testEnv() Env {
	return Env{DatePref: testPref, Now: nstime.Civil(2024, 6, 1, 12, 0, 0)}
}

func runQuery(t *testing.T, cat Catalog, q string, offset, limit int) (Page, []map[string]string) {
	t.Helper()
	cq, err := Prepare(q, cat, testEnv())
	if err != nil {
		t.Fatalf("prepare %q: %v", q, err)
	}
	p, err := cq.Execute(nil, offset, limit)
	if err != nil {
		t.Fatalf("execute %q: %v", q, err)
	}
	var items []map[string]any
	if err := json.Unmarshal(append(append([]byte{'['}, p.Items...), ']'), &items); err != nil {
		t.Fatalf("items of %q are not JSON: %v\n%s", q, err, p.Items)
	}
	var out []map[string]string
	for _, it := range items {
		m := map[string]string{}
		for k, v := range it {
			if k == "links" {
				if l, ok := v.([]any); !ok || len(l) != 0 {
					t.Fatalf("links = %v, want []", v)
				}
				continue
			}
			s, ok := v.(string)
			if !ok {
				t.Fatalf("column %q = %#v, want a string", k, v)
			}
			m[k] = s
		}
		out = append(out, m)
	}
	if len(out) != p.Count {
		t.Fatalf("count = %d, items = %d", p.Count, len(out))
	}
	return p, out
}

func TestExecuteValues(t *testing.T) {
	cat := testCatalog(false)
	tests := []struct {
		name  string
		q     string
		want  []map[string]string
		total int
	}{
		{
			name: "columns, DF, TO_CHAR and default date rendering",
			q: `SELECT e.id, e.title AS "Title", BUILTIN.DF(e.status) AS sname, TO_CHAR(e.lm, 'YYYY-MM-DD HH24:MI:SS') ts,
			    e.lm, e.sd, TO_CHAR(e.sd, 'YYYY-MM-DD'), e.flag FROM event e WHERE e.id = 1037`,
			want: []map[string]string{{"id": "1037", "title": "Meeting 1", "sname": "Tentative",
				"ts": "2024-03-01 00:00:00", "lm": "3/1/2024 12:00 am", "sd": "3/2/2024", "expr7": "2024-03-02", "flag": "F"}},
			total: 1,
		},
		{
			name:  "NULL columns are omitted",
			q:     `SELECT e.id, e.title, e.owner, BUILTIN.DF(e.owner) AS o FROM event e WHERE e.id = 1000`,
			want:  []map[string]string{{"id": "1000"}},
			total: 1,
		},
		{
			name:  "count",
			q:     `SELECT COUNT(*) AS n, COUNT(e.title) t, MIN(e.id) lo, MAX(e.lm) hi FROM event e`,
			want:  []map[string]string{{"n": "200", "t": "188", "lo": "1000", "hi": "3/3/2024 6:00 pm"}},
			total: 1,
		},
		{
			name:  "rownum",
			q:     `SELECT e.id FROM event e WHERE ROWNUM <= 2 ORDER BY e.id`,
			want:  []map[string]string{{"id": "1000"}, {"id": "1037"}},
			total: 2,
		},
		{
			name:  "like, upper, nvl, in with strings",
			q:     `SELECT UPPER(e.title) u, NVL(e.owner, -1) o FROM event e WHERE e.title LIKE 'Meeting 1_' AND e.status IN ('CONFIRMED', 'X') ORDER BY e.title DESC`,
			want:  []map[string]string{{"u": "MEETING 18", "o": "14"}, {"u": "MEETING 15", "o": "11"}, {"u": "MEETING 12", "o": "15"}},
			total: 3,
		},
		{
			name:  "join",
			q:     `SELECT e.id, a.person, BUILTIN.DF(a.person) AS pn FROM event e JOIN att a ON a.event = e.id WHERE e.id IN (1002, 1003) ORDER BY e.id, a.person`,
			want:  []map[string]string{{"id": "1002", "person": "500", "pn": "Person 500"}, {"id": "1002", "person": "501", "pn": "Person 501"}, {"id": "1003", "person": "500", "pn": "Person 500"}, {"id": "1003", "person": "501", "pn": "Person 501"}, {"id": "1003", "person": "502", "pn": "Person 502"}},
			total: 5,
		},
		{
			name:  "left join keeps unmatched rows",
			q:     `SELECT e.id, a.person FROM event e LEFT OUTER JOIN att a ON a.event = e.id WHERE e.id = 1000`,
			want:  []map[string]string{{"id": "1000"}},
			total: 1,
		},
		{
			name:  "timestamp literal comparison, between, arithmetic",
			q:     `SELECT e.id + 1 AS n FROM event e WHERE e.lm BETWEEN TO_TIMESTAMP('2024-03-03 17:00:00', 'YYYY-MM-DD HH24:MI:SS') AND TO_DATE('3/3/2024 18:00', 'MM/DD/YYYY HH24:MI') ORDER BY 1`,
			want:  []map[string]string{{"n": "1016"}, {"n": "1053"}, {"n": "1090"}, {"n": "1127"}, {"n": "1164"}},
			total: 5,
		},
		{
			name:  "null semantics: NOT IN with NULL matches nothing",
			q:     `SELECT e.id FROM event e WHERE e.id NOT IN (1000, NULL)`,
			want:  nil,
			total: 0,
		},
		{
			name:  "empty string is NULL",
			q:     `SELECT e.id FROM event e WHERE e.title = ''`,
			want:  nil,
			total: 0,
		},
		{
			name:  "numeric comparison with numeric string",
			q:     `SELECT e.id FROM event e WHERE e.id > '1197' ORDER BY e.id`,
			want:  []map[string]string{{"id": "1198"}, {"id": "1199"}},
			total: 2,
		},
		{
			name:  "to_char formats",
			q:     `SELECT TO_CHAR(e.lm, 'DD-MON-YY HH12:MI AM') a, TO_CHAR(e.lm, 'Mon DD, YYYY "at" HH:MI pm') b FROM event e WHERE e.id = 1111`,
			want:  []map[string]string{{"a": "01-MAR-24 01:00 AM", "b": "Mar 01, 2024 at 01:00 am"}},
			total: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, got := runQuery(t, cat, tt.q, 0, 1000)
			if p.Total != tt.total {
				t.Errorf("total = %d, want %d", p.Total, tt.total)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("rows:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestQueryErrors(t *testing.T) {
	cat := testCatalog(false)
	tests := []struct {
		q    string
		want string
	}{
		{"SELECT foo FROM event", "Unknown identifier 'foo'"},
		{"SELECT e.foo FROM event e", "Unknown identifier 'e.foo'"},
		{"SELECT x.id FROM event e", "Unknown identifier 'x.id'"},
		{"SELECT id FROM nosuchtable", "Record 'nosuchtable' was not found."},
		{"SELECT FOO(id) FROM event", "Unknown function 'foo'"},
		{"SELECT id FROM event WHERE", "Syntax error: unexpected end of query at position 27"},
		{"SELECT id FROM event WHERE id = = 3", "Syntax error: unexpected '=' at position 33"},
		{"SELECT id, FROM event", "Syntax error: unexpected 'FROM' at position 12"},
		{"SELECT id FROM event LIMIT 5", "LIMIT is not supported"},
		{"SELECT id FROM event WHERE title = 'x", "unterminated string literal at position 36"},
		{"SELECT id FROM event GROUP BY id", "GROUP is not supported"},
		{"SELECT id, COUNT(*) FROM event", "not a single-group group function"},
		{"SELECT id FROM event WHERE COUNT(*) > 1", "group function is not allowed here"},
		{"SELECT TO_CHAR(lm, 'YYYY-QQ') FROM event", "date format not recognized"},
		{"SELECT id FROM event WHERE lm > TO_TIMESTAMP('2024-01-01', 'YYYY-MM-DD HH24:MI:SS')", "does not match format string"},
		{"SELECT id FROM event WHERE lm > TO_TIMESTAMP('2024-13-01', 'YYYY-MM-DD')", "out of range"},
		{"SELECT id FROM event WHERE title > 5", "invalid number 'Meeting 1'"},
		{"SELECT id FROM event WHERE lm > 5", "inconsistent datatypes"},
		{"SELECT id FROM event WHERE id", "invalid relational operator"},
		{"SELECT id FROM event, att", "Syntax error: unexpected ','"},
		{"SELECT e.id FROM event e JOIN event f ON f.id = e.id WHERE id = 1", "Column ambiguously defined: 'id'"},
		{"SELECT e.id FROM event e JOIN event e ON e.id = e.id", "Duplicate table alias 'e'"},
		{"SELECT e.id FROM event e WHERE ROWNUM > 3", "Unsupported use of ROWNUM"},
		{"SELECT e.id FROM event e WHERE ROWNUM <= 3 OR e.id = 1", "Unsupported use of ROWNUM"},
		{"SELECT BUILTIN.DF(1) FROM event", "BUILTIN.DF requires a field reference"},
		{"SELECT id FROM event WHERE id IN (SELECT id FROM event)", "subqueries are not supported"},
		{"SELECT id FROM event WHERE id = ?", "bind variables are not supported"},
		{"SELECT id FROM event ORDER BY 9", "ORDER BY item must be the number"},
		{"SELECT id FROM event WHERE id = 1 / 0", "divisor is equal to zero"},
		{"DELETE FROM event", "expected SELECT but found 'DELETE'"},
		{"SELECT id FROM event; DROP TABLE event", "unexpected ';'"},
		{"SELECT id FROM event WHERE title = 'a' ESCAPE 'x'", "unexpected 'ESCAPE'"},
		{"SELECT " + strings.Repeat("(", 500) + "1" + strings.Repeat(")", 500) + " FROM event", "too deeply nested"},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			q, err := Prepare(tt.q, cat, testEnv())
			if err == nil {
				_, err = q.Execute(nil, 0, 1000)
			}
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if !strings.HasPrefix(err.Error(), DetailPrefix) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestPlannedMatchesUnplanned checks that a table absorbing the planner's
// predicates and order gives the same pages as plain filtering and sorting.
func TestPlannedMatchesUnplanned(t *testing.T) {
	planned, plain := testCatalog(true), testCatalog(false)
	queries := []string{
		`SELECT e.id, e.lm FROM event e WHERE (e.lm > TO_TIMESTAMP('2024-03-02 01:00:00', 'YYYY-MM-DD HH24:MI:SS') OR (e.lm = TO_TIMESTAMP('2024-03-02 01:00:00', 'YYYY-MM-DD HH24:MI:SS') AND e.id > 1100)) AND e.lm <= TO_TIMESTAMP('2024-03-03 00:00:00', 'YYYY-MM-DD HH24:MI:SS') ORDER BY e.lm, e.id`,
		`SELECT e.id FROM event e WHERE (e.id > 1100 AND e.lm = TO_TIMESTAMP('2024-03-02 01:00:00', 'YYYY-MM-DD HH24:MI:SS')) OR e.lm > TO_TIMESTAMP('2024-03-02 01:00:00', 'YYYY-MM-DD HH24:MI:SS') ORDER BY e.lm, e.id`,
		`SELECT e.id FROM event e WHERE e.lm < TO_TIMESTAMP('2024-03-02 01:00:00', 'YYYY-MM-DD HH24:MI:SS') OR (e.lm = TO_TIMESTAMP('2024-03-02 01:00:00', 'YYYY-MM-DD HH24:MI:SS') AND e.id <= 1100) ORDER BY e.lm DESC, e.id DESC`,
		`SELECT e.id FROM event e WHERE e.lm >= TO_TIMESTAMP('2024-03-02 01:00:00', 'YYYY-MM-DD HH24:MI:SS') ORDER BY e.lm, e.id`,
		`SELECT e.id FROM event e WHERE e.id IN (1001, 1002, 1003, 1500) ORDER BY e.id`,
		`SELECT e.id FROM event e WHERE e.id IN (1001, 1002, 1003, 1500) AND e.status = 'CONFIRMED' ORDER BY e.id DESC`,
		`SELECT e.id FROM event e WHERE 1050 < e.id AND e.id <= 1070 ORDER BY e.title NULLS FIRST, e.id`,
		`SELECT a.event, a.person FROM att a WHERE a.event IN (1001, 1002, 1003) ORDER BY a.event, a.person`,
		`SELECT COUNT(*) AS n FROM event e WHERE e.lm > TO_TIMESTAMP('2024-03-02 01:00:00', 'YYYY-MM-DD HH24:MI:SS')`,
		`SELECT e.id FROM event e WHERE e.owner = 12 AND ROWNUM <= 5`,
	}
	for _, q := range queries {
		for _, win := range [][2]int{{0, 1000}, {0, 7}, {7, 7}, {21, 7}, {1000, 10}} {
			p1, r1 := runQuery(t, planned, q, win[0], win[1])
			p2, r2 := runQuery(t, plain, q, win[0], win[1])
			if p1.Total != p2.Total || fmt.Sprint(r1) != fmt.Sprint(r2) {
				t.Errorf("%s @%v:\nplanned %d %v\n  plain %d %v", q, win, p1.Total, r1, p2.Total, r2)
			}
		}
	}
}

func TestPredicateExtraction(t *testing.T) {
	cat := testCatalog(false)
	tests := []struct {
		where string
		want  string
	}{
		{"e.id > 5", "[{[0] 3 [5]}]"},
		{"5 < e.id", "[{[0] 3 [5]}]"},
		{"e.id IN (1, 2, NULL)", "[{[0] 5 [1 2]}]"},
		{"(e.lm > TO_TIMESTAMP('2024-01-01', 'YYYY-MM-DD') OR (e.lm = TO_TIMESTAMP('2024-01-01', 'YYYY-MM-DD') AND e.id > 7))", "[{[3 0] 3 [ts 7]}]"},
		{"(e.lm > TO_TIMESTAMP('2024-01-01', 'YYYY-MM-DD') OR (e.lm = TO_TIMESTAMP('2024-01-02', 'YYYY-MM-DD') AND e.id > 7))", "[]"},
		{"e.id + 0 > 5", "[]"},
		{"e.id > e.owner", "[]"},
		{"NOT e.id > 5", "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.where, func(t *testing.T) {
			q, err := Prepare("SELECT e.id FROM event e WHERE "+tt.where, cat, testEnv())
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, p := range q.preds {
				var vals []string
				for _, v := range p.Vals {
					if v.Kind == KindTimestamp {
						vals = append(vals, "ts")
					} else {
						vals = append(vals, textOf(v, testPref))
					}
				}
				parts = append(parts, fmt.Sprintf("{%v %d [%s]}", p.Cols, p.Op, strings.Join(vals, " ")))
			}
			if got := "[" + strings.Join(parts, " ") + "]"; got != tt.want {
				t.Errorf("preds = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestLikeMatch(t *testing.T) {
	tests := []struct {
		s, p string
		want bool
	}{
		{"Réunion Q3", "R_union%", true},
		{"abc", "a%c", true},
		{"abc", "a%b", false},
		{"100%", `100\%`, true},
		{"100x", `100\%`, false},
		{"", "%", true},
		{"東京", "_京", true},
	}
	for _, tt := range tests {
		if got := likeMatch(tt.s, tt.p, '\\'); got != tt.want {
			t.Errorf("likeMatch(%q, %q) = %v", tt.s, tt.p, got)
		}
	}
}

func TestAppendJSONBody(t *testing.T) {
	in := "a\"b\\c\n\t\x01<b>東京</b>\u2028\xff"
	out := appendJSONString(nil, in)
	var s string
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("not JSON: %s: %v", out, err)
	}
	if want := strings.ToValidUTF8(in, "\ufffd"); s != want {
		t.Errorf("round trip = %q, want %q", s, want)
	}
}
