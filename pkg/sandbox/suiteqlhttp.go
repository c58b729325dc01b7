package sandbox

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/nsflow/nsflow/pkg/sandbox/suiteql"
)

// SuiteQLRowCap is the number of rows a SuiteQL query can page through.
const SuiteQLRowCap = 100_000

func hasPreferTransient(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "transient") {
				return true
			}
		}
	}
	return false
}

// handleSuiteQL runs POST /services/rest/query/v1/suiteql.
func (s *Sandbox) handleSuiteQL(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	if !hasPreferTransient(r) {
		writeNSError(w, http.StatusBadRequest, codeInvalidParameter,
			"The 'Prefer: transient' header is required for SuiteQL queries.", errHeader("Prefer"))
		return
	}
	limit, offset, ok := pageParams(w, r, false)
	if !ok {
		return
	}
	if offset >= SuiteQLRowCap {
		writeNSError(w, http.StatusBadRequest, codeInvalidParameter,
			"The value of the offset parameter is outside the allowed range. SuiteQL returns at most 100000 rows per query; use a narrower condition (keyset pagination).",
			queryParam("offset"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeNSError(w, http.StatusBadRequest, codeInvalidContent, "Error while accessing a resource. The request body could not be read.")
		return
	}
	var req struct {
		Q *string `json:"q"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Q == nil || strings.TrimSpace(*req.Q) == "" {
		writeNSError(w, http.StatusBadRequest, codeInvalidParameter, detailInvalidQuery)
		return
	}
	env := suiteql.Env{DatePref: s.pref, Now: s.zone.ToCivil(s.cfg.Now().Unix())}
	q, err := suiteql.Prepare(*req.Q, catalog{s: s.store}, env)
	if err != nil {
		s.writeQueryError(w, err)
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	window := min(limit, SuiteQLRowCap-offset)
	s.store.mu.RLock()
	page, err := q.Execute((*buf)[:0], offset, window)
	s.store.mu.RUnlock()
	if err != nil {
		s.writeQueryError(w, err)
		return
	}
	*buf = page.Items
	visible := min(page.Total, SuiteQLRowCap)
	hasMore := offset+page.Count < visible
	// The envelope is written around the items without copying them.
	jw := &jsonw{base: baseURL(r)}
	jw.b = append(jw.b, `{"links":`...)
	jw.pageLinks(pathSuiteQL, nil, offset, limit, page.Count, visible, hasMore)
	jw.b = append(jw.b, `,"count":`...)
	jw.b = strconv.AppendInt(jw.b, int64(page.Count), 10)
	jw.b = append(jw.b, `,"hasMore":`...)
	jw.b = strconv.AppendBool(jw.b, hasMore)
	jw.b = append(jw.b, `,"items":[`...)
	head := jw.b
	tail := append(append([]byte(`],"offset":`), strconv.Itoa(offset)...), `,"totalResults":`...)
	tail = append(strconv.AppendInt(tail, int64(page.Total), 10), '}')
	h := w.Header()
	h.Set("Content-Type", ctCollection)
	h.Set("Content-Length", strconv.Itoa(len(head)+len(page.Items)+len(tail)))
	w.WriteHeader(http.StatusOK)
	for _, part := range [][]byte{head, page.Items, tail} {
		if _, err := w.Write(part); err != nil {
			return // the client went away
		}
	}
}

func (s *Sandbox) writeQueryError(w http.ResponseWriter, err error) {
	var qe *suiteql.Error
	if errors.As(err, &qe) {
		writeNSError(w, http.StatusBadRequest, codeInvalidParameter, qe.Error())
		return
	}
	s.log.Error("run suiteql query", "error", err)
	writeNSError(w, http.StatusInternalServerError, codeUnexpected, detailUnexpectedPrefix+"sandbox")
}
