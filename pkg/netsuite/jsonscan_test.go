package netsuite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseSuiteQL(t *testing.T) {
	t.Parallel()
	valid := suiteQLBody(suiteQLItems, false, 0, 3)
	tests := []struct {
		name  string
		body  string
		items int
		ok    bool
	}{
		{"valid", valid, 3, true},
		{"valid with whitespace", " \n\t" + valid + "\r\n ", 3, true},
		{"empty items", `{"items":[],"count":0,"hasMore":false}`, 0, true},
		{"scalar items kept", `{"items":[1,"a",null,[]]}`, 4, true},
		{"escaped key", `{"it\u0065ms":[{}]}`, 1, true},
		{"unknown keys skipped", `{"x":{"y":[1,{"z":"w"}]},"items":[{}]}`, 1, true},
		{"empty object", `{}`, 0, false},
		{"no items", `{"count":0,"hasMore":false}`, 0, false},
		{"items not array", `{"items":{}}`, 0, false},
		{"truncated mid item", valid[:len(valid)/2], 0, false},
		{"truncated at end", valid[:len(valid)-1], 0, false},
		{"truncated in string", `{"items":[{"a":"abc`, 0, false},
		{"truncated escape", `{"items":[{"a":"\u00`, 0, false},
		{"trailing garbage", valid + "x", 0, false},
		{"two objects", valid + valid, 0, false},
		{"trailing comma", `{"items":[{},]}`, 0, false},
		{"missing colon", `{"items" [{}]}`, 0, false},
		{"bad literal", `{"items":[tru]}`, 0, false},
		{"bad number", `{"items":[01]}`, 0, false},
		{"bad number 2", `{"items":[1.]}`, 0, false},
		{"bad number 3", `{"items":[-]}`, 0, false},
		{"bad escape", `{"items":["\x"]}`, 0, false},
		{"control char", "{\"items\":[\"a\tb\"]}", 0, false},
		{"single quotes", `{'items':[]}`, 0, false},
		{"html", `<html>oops</html>`, 0, false},
		{"empty", ``, 0, false},
		{"array top", `[]`, 0, false},
	}
	for _, tt := range tests {
		page, err := parseSuiteQL([]byte(tt.body))
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
			continue
		}
		if tt.ok && len(page.Items) != tt.items {
			t.Errorf("%s: items = %d, want %d", tt.name, len(page.Items), tt.items)
		}
	}
}

func TestParseSuiteQLDeepNesting(t *testing.T) {
	t.Parallel()
	deep := `{"items":[` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `]}`
	if _, err := parseSuiteQL([]byte(deep)); err == nil {
		t.Error("5000-deep nesting accepted")
	}
	ok := `{"items":[` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `]}`
	if _, err := parseSuiteQL([]byte(ok)); err != nil {
		t.Errorf("100-deep nesting: %v", err)
	}
}

// FuzzParseSuiteQL checks the scanner against encoding/json: it accepts
// exactly the documents json.Valid accepts that have an "items" array at the
// top level, and the items it returns are the ones encoding/json sees.
func FuzzParseSuiteQL(f *testing.F) {
	f.Add([]byte(suiteQLBody(suiteQLItems, true, 0, 3)))
	f.Add([]byte(`{"items":[]}`))
	f.Add([]byte(`{"items":[1,-0.5e+3,"\u00e9\n",true,false,null,{"a":[{}]}]}`))
	f.Add([]byte(`{"items":[{"a":"b"}],"items":[2]}`))
	f.Add([]byte(`{"items":[{]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		page, err := parseSuiteQL(body)
		// Our scanner, like json.Valid, does not check UTF-8.
		if !json.Valid(body) {
			if err == nil {
				t.Fatalf("accepted invalid JSON %q", body)
			}
			return
		}
		var top map[string]json.RawMessage // exact keys, last duplicate wins
		if json.Unmarshal(body, &top) != nil {
			if err == nil {
				t.Fatalf("accepted a non-object %q", body)
			}
			return
		}
		raw, has := top["items"]
		var items []json.RawMessage
		if !has || raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
			if err == nil {
				t.Fatalf("accepted %q without an items array", body)
			}
			return
		}
		ref := struct{ Items *[]json.RawMessage }{&items}
		if err != nil {
			t.Fatalf("rejected valid %q: %v", body, err)
		}
		if len(page.Items) != len(*ref.Items) {
			t.Fatalf("items = %d, encoding/json sees %d", len(page.Items), len(*ref.Items))
		}
		for i := range page.Items {
			if !bytes.Equal(page.Items[i], (*ref.Items)[i]) {
				t.Fatalf("item %d = %q, encoding/json sees %q", i, page.Items[i], (*ref.Items)[i])
			}
		}
	})
}

// suiteQLPage builds a realistic page: rows of about 1.5 KB of string
// values (SuiteQL returns every value as a string), HTML and unicode in the
// message, and "links":[].
func suiteQLPage(rows int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.WriteString(`{"links":[{"rel":"next","href":"https://1234567.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql?limit=1000&offset=1000"}],`)
	fmt.Fprintf(&b, `"count":%d,"hasMore":true,"items":[`, rows)
	words := []string{"Quarterly", "review", "Café", "Zürich", "会議", "<br />", "budget", "\\\"quoted\\\"", "customer", "follow-up", "\\n"}
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		var msg strings.Builder
		for msg.Len() < 900 {
			msg.WriteString(words[r.IntN(len(words))])
			msg.WriteByte(' ')
		}
		fmt.Fprintf(&b, `{"links":[],"id":"%d","title":"Meeting %d with %s","message":"%s","location":"Conference Room %d",`+
			`"startdate":"2024-03-%02d","starttime":"09:30","endtime":"10:30","timezone":"America/Los_Angeles",`+
			`"status":"CONFIRMED","accesslevel":"PUBLIC","organizer":"%d","owner":"%d","company":"%d","allday":"F","timedevent":"T",`+
			`"lastmodifieddate":"2024-03-02 09:15:%02d","createddate":"2024-03-01 17:04:00","custevent_meeting_type":"2","reminderminutes":"15"}`,
			100000+i, i, words[r.IntN(len(words))], msg.String(), i%20, 1+i%28, r.IntN(500), r.IntN(500), r.IntN(5000), i%60)
	}
	b.WriteString(`],"offset":0,"totalResults":25000}`)
	return b.Bytes()
}

func TestBenchmarkPageIsValid(t *testing.T) {
	t.Parallel()
	body := suiteQLPage(1000)
	if !json.Valid(body) {
		t.Fatal("generated page is not valid JSON")
	}
	page, err := parseSuiteQL(body)
	if err != nil || len(page.Items) != 1000 {
		t.Fatalf("parse: %v", err)
	}
	if avg := len(body) / 1000; avg < 1300 || avg > 1800 {
		t.Errorf("average row %d bytes, want about 1.5 KB", avg)
	}
}

// BenchmarkParseSuiteQLPage measures the hot path: splitting a 1000-row
// page into per-item raw slices.
func BenchmarkParseSuiteQLPage(b *testing.B) {
	body := suiteQLPage(1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		page, err := parseSuiteQL(body)
		if err != nil || len(page.Items) != 1000 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkEncodingJSONBaseline is the naive alternative (decode into
// RawMessages with encoding/json), for comparison.
func BenchmarkEncodingJSONBaseline(b *testing.B) {
	body := suiteQLPage(1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var p struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(body, &p); err != nil || len(p.Items) != 1000 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "rows/s")
}
