package sqlrow

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink/internal/core"
)

func ev(id string, lm time.Time, seq uint64) *calendarevent.Event {
	return &calendarevent.Event{
		Schema: calendarevent.EventSchema, Account: "A", ID: id, Title: id, LastModifiedAt: lm,
		Attendees:  []calendarevent.Attendee{{Entity: calendarevent.Ref{ID: "1"}}, {Entity: calendarevent.Ref{ID: "2"}}, {Entity: calendarevent.Ref{ID: "1"}}},
		Provenance: calendarevent.Provenance{RawSequence: seq},
	}
}

func TestPrepareDedupesAndSorts(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var in []*calendarevent.Event
	for i := 999; i >= 0; i-- { // large enough to run in parallel
		in = append(in, ev(fmt.Sprintf("e%04d", i), t0, uint64(i)))
	}
	in = append(in, ev("e0005", t0.Add(time.Second), 1), ev("e0005", t0, 99), ev("e0007", t0, 7))
	rows, err := Prepare(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1000 {
		t.Fatalf("%d rows, want 1000", len(rows))
	}
	for i, r := range rows {
		if want := fmt.Sprintf("e%04d", i); r.ID != want {
			t.Fatalf("row %d is %s, want %s", i, r.ID, want)
		}
		if len(r.Attendees) != 2 {
			t.Fatalf("row %s has %d attendees, want 2 (deduplicated)", r.ID, len(r.Attendees))
		}
	}
	if r := rows[5]; !r.LastModifiedAt.Equal(t0.Add(time.Second)) || r.Index != 1000 {
		t.Fatalf("e0005 kept version %v (index %d), want the newest (index 1000)", r.LastModifiedAt, r.Index)
	}
	if r := rows[7]; r.Index != 1000-1-7 {
		t.Fatalf("e0007 kept index %d, want the first of two equal versions (%d)", r.Index, 1000-1-7)
	}
}

func TestPrepareRejectsUnstorable(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	bad := []*calendarevent.Event{nil}
	huge := ev("x", t0, math.MaxUint64)
	nan := ev("y", t0, 1)
	nan.CustomFields = map[string]any{"custevent_x": math.NaN()}
	for name, in := range map[string][]*calendarevent.Event{"nil": bad, "seq": {huge}, "nan": {nan}} {
		if _, err := Prepare(in); err == nil || !core.IsPermanent(err) {
			t.Errorf("%s: Prepare = %v, want a permanent error", name, err)
		}
	}
	if _, err := DecodeStored([]byte(`{"custom_fields":{"n":1.50}}`)); err != nil {
		t.Fatal(err)
	}
	e, _ := DecodeStored([]byte(`{"custom_fields":{"n":1.50}}`))
	if n, ok := e.CustomFields["n"].(json.Number); !ok || n.String() != "1.50" {
		t.Fatalf("custom field decoded as %#v, want json.Number 1.50", e.CustomFields["n"])
	}
}

func TestPlanAndFlattenArePrepare(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	in := []*calendarevent.Event{ev("b", t0, 1), ev("a", t0, 2), ev("b", t0.Add(time.Second), 3), ev("c", t0, 4), ev("a", t0, 1)}
	enc := [][]byte{nil, []byte(`{"x":1}`), nil, nil, nil}
	want, err := PrepareEncoded(in, enc)
	if err != nil {
		t.Fatal(err)
	}
	order, err := Plan(in)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(order) != "[1 2 3]" {
		t.Fatalf("Plan = %v, want [1 2 3] (a's first version, b's newer, c)", order)
	}
	for k, i := range order {
		got, err := Flatten(i, in[i], enc[i])
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want[k]) {
			t.Fatalf("Flatten(%d) = %+v, want PrepareEncoded's %+v", i, got, want[k])
		}
	}
	if _, err := Plan([]*calendarevent.Event{nil}); err == nil || !core.IsPermanent(err) {
		t.Fatalf("Plan(nil event) = %v, want a permanent error", err)
	}
}
