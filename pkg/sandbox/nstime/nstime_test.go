package nstime

import (
	"testing"
	"time"
)

func TestCivilDays(t *testing.T) {
	for d := int64(-800000); d < 800000; d += 37 {
		y, m, dd := CivilFromDays(d)
		if got := DaysFromCivil(y, m, dd); got != d {
			t.Fatalf("round trip of day %d: %d-%d-%d -> %d", d, y, m, dd, got)
		}
		want := time.Unix(d*SecondsPerDay, 0).UTC()
		if want.Year() != y || int(want.Month()) != m || want.Day() != dd {
			t.Fatalf("day %d = %d-%d-%d, time package says %v", d, y, m, dd, want)
		}
	}
	if w := Weekday(Civil(2024, 3, 4, 12, 0, 0)); w != time.Monday {
		t.Errorf("2024-03-04 is a %v, want Monday", w)
	}
	if p := Split(Civil(1969, 12, 31, 23, 59, 58)); p != (Parts{1969, 12, 31, 23, 59, 58}) {
		t.Errorf("Split before the epoch = %+v", p)
	}
}

func TestZone(t *testing.T) {
	for _, name := range []string{"America/Los_Angeles", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "UTC"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		from := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		z := NewZone(loc, from, from.AddDate(6, 0, 0))
		for u := from.Unix() - 86400*400; u < from.AddDate(7, 0, 0).Unix(); u += 3517 {
			tt := time.Unix(u, 0).In(loc)
			want := Civil(tt.Year(), int(tt.Month()), tt.Day(), tt.Hour(), tt.Minute(), tt.Second())
			if got := z.ToCivil(u); got != want {
				t.Fatalf("%s: ToCivil(%v) = %v, want %v", name, tt, Split(got), Split(want))
			}
			if back := z.ToCivil(z.ToUnix(want)); back != want {
				t.Fatalf("%s: ToUnix(%v) does not round-trip", name, tt)
			}
		}
	}
	la, _ := time.LoadLocation("America/Los_Angeles")
	z := NewZone(la, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	// 01:30 on 2024-11-03 happens twice; ToUnix picks the earlier (PDT).
	amb := Civil(2024, 11, 3, 1, 30, 0)
	if got, want := z.ToUnix(amb), time.Date(2024, 11, 3, 8, 30, 0, 0, time.UTC).Unix(); got != want {
		t.Errorf("ToUnix(ambiguous) = %v, want %v", time.Unix(got, 0).UTC(), time.Unix(want, 0).UTC())
	}
}

func TestDatePref(t *testing.T) {
	c := Civil(2024, 3, 4, 21, 5, 9)
	tests := []struct {
		pattern, date, datetime string
	}{
		{"M/d/yyyy", "3/4/2024", "3/4/2024 9:05 pm"},
		{"MM/DD/YYYY", "03/04/2024", "03/04/2024 9:05 pm"},
		{"d.M.yyyy", "4.3.2024", "4.3.2024 9:05 pm"},
		{"DD-Mon-YYYY", "04-Mar-2024", "04-Mar-2024 9:05 pm"},
		{"yyyy-MM-dd", "2024-03-04", "2024-03-04 9:05 pm"},
		{"M/d/yy", "3/4/24", "3/4/24 9:05 pm"},
		{"d MMMM yyyy", "4 March 2024", "4 March 2024 9:05 pm"},
	}
	for _, tt := range tests {
		p, err := ParseDatePref(tt.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tt.pattern, err)
		}
		if got := string(p.AppendDate(nil, c)); got != tt.date {
			t.Errorf("%s: date = %q, want %q", tt.pattern, got, tt.date)
		}
		if got := string(p.AppendDateTime(nil, c)); got != tt.datetime {
			t.Errorf("%s: datetime = %q, want %q", tt.pattern, got, tt.datetime)
		}
		back, hasTime, err := p.Parse(tt.datetime)
		if err != nil || !hasTime || back != c-9 {
			t.Errorf("%s: Parse(%q) = %v %v %v", tt.pattern, tt.datetime, Split(back), hasTime, err)
		}
	}
	for _, bad := range []string{"", "M/d", "q/d/yyyy", "M/d/yyy"} {
		if _, err := ParseDatePref(bad); err == nil {
			t.Errorf("ParseDatePref(%q) accepted", bad)
		}
	}
	p, _ := ParseDatePref("M/d/yyyy")
	parses := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"8/5/2026 11:53 pm", Civil(2026, 8, 5, 23, 53, 0), true},
		{"8/5/2026 12:00 am", Civil(2026, 8, 5, 0, 0, 0), true},
		{"8/5/2026 23:53", Civil(2026, 8, 5, 23, 53, 0), true},
		{" 12/31/2024 ", Civil(2024, 12, 31, 0, 0, 0), true},
		{"2024-01-01", 0, false},
		{"2/30/2024", 0, false},
		{"8/5/2026 13:00 pm", 0, false},
		{"8/5/2026T11:53", 0, false},
	}
	for _, tt := range parses {
		got, _, err := p.Parse(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v ok=%v", tt.in, Split(got), err, Split(tt.want), tt.ok)
		}
	}
}

func TestModel(t *testing.T) {
	c := Civil(2024, 3, 2, 9, 15, 7)
	formats := []struct{ model, want string }{
		{"YYYY-MM-DD HH24:MI:SS", "2024-03-02 09:15:07"},
		{"YYYY-MM-DD", "2024-03-02"},
		{"HH24:MI:SS", "09:15:07"},
		{"HH:MI AM", "09:15 AM"},
		{"hh12:mi pm", "09:15 am"},
		{`YYYY-MM-DD"T"HH24:MI:SS`, "2024-03-02T09:15:07"},
		{"DD-MON-YY", "02-MAR-24"},
		{"Dy, DD Mon YYYY", "Sat, 02 Mar 2024"},
		{"SS.FF3", "07.000"},
	}
	for _, tt := range formats {
		m, err := CompileModel(tt.model)
		if err != nil {
			t.Fatalf("%s: %v", tt.model, err)
		}
		if got := m.Format(c); got != tt.want {
			t.Errorf("Format(%s) = %q, want %q", tt.model, got, tt.want)
		}
	}
	now := Civil(2024, 6, 1, 0, 0, 0)
	parses := []struct {
		model, in string
		want      int64
		ok        bool
	}{
		{"YYYY-MM-DD HH24:MI:SS", "2024-03-02 09:15:00", Civil(2024, 3, 2, 9, 15, 0), true},
		{"YYYY-MM-DD HH24:MI:SS", "2024-3-2 9:15:00", Civil(2024, 3, 2, 9, 15, 0), true},
		{"YYYY-MM-DD", "2024/03/02", Civil(2024, 3, 2, 0, 0, 0), true},
		{"MM/DD/YYYY HH:MI PM", "03/02/2024 12:05 AM", Civil(2024, 3, 2, 0, 5, 0), true},
		{"DD-MON-YYYY", "02-mar-2024", Civil(2024, 3, 2, 0, 0, 0), true},
		{"HH24:MI", "10:30", Civil(2024, 6, 1, 10, 30, 0), true},
		{"YYYY-MM-DD HH24:MI:SS", "2024-03-02", 0, false},
		{"YYYY-MM-DD", "2024-03-02 10:00", 0, false},
		{"YYYY-MM-DD", "2024-02-30", 0, false},
		{"HH24:MI", "24:00", 0, false},
	}
	for _, tt := range parses {
		m, err := CompileModel(tt.model)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Parse(tt.in, now)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Parse(%q, %q) = %v, %v; want %v ok=%v", tt.model, tt.in, Split(got), err, Split(tt.want), tt.ok)
		}
	}
	for _, bad := range []string{"YYYY-QQ", `"unterminated`, "T"} {
		if _, err := CompileModel(bad); err == nil {
			t.Errorf("CompileModel(%q) accepted", bad)
		}
	}
}
