package sandbox

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const maxBody = 1 << 20

// parseID parses a positive internal ID.
func parseID(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || strings.HasPrefix(s, "0") || strings.HasPrefix(s, "+") {
		return 0, errors.New("invalid record ID")
	}
	return n, nil
}

// handleRecord dispatches /services/rest/record/v1/...
func (s *Sandbox) handleRecord(w http.ResponseWriter, r *http.Request) {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, pathRecord), "/")
	segs := strings.Split(rest, "/")
	if strings.EqualFold(segs[0], "metadata-catalog") {
		s.handleMetadata(w, r, segs[1:])
		return
	}
	if !strings.EqualFold(segs[0], "calendarevent") {
		writeNSError(w, http.StatusNotFound, codeNonexistentID, "Record type '"+segs[0]+"' does not exist.")
		return
	}
	switch len(segs) {
	case 1:
		switch r.Method {
		case http.MethodGet:
			s.handleList(w, r)
		case http.MethodPost:
			s.handleCreate(w, r)
		default:
			methodNotAllowed(w, "GET, POST")
		}
		return
	case 2, 3:
	default:
		writeNSError(w, http.StatusNotFound, codeNonexistentID, "The requested URL "+r.URL.Path+" was not found on this server.")
		return
	}
	id, ok := s.resolveID(w, segs[1])
	if !ok {
		return
	}
	if len(segs) == 3 {
		sub := strings.ToLower(segs[2])
		if r.Method != http.MethodGet {
			methodNotAllowed(w, "GET")
			return
		}
		if sub != "attendee" && sub != "resource" {
			writeNSError(w, http.StatusNotFound, codeNonexistentID, "Sublist '"+segs[2]+"' does not exist on record type calendarevent.")
			return
		}
		s.handleSublist(w, r, id, sub)
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.handleGet(w, r, id)
	case http.MethodPatch:
		s.handlePatch(w, r, id)
	case http.MethodDelete:
		if err := s.deleteEvent(id, ctxREST); err != nil {
			notFound(w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		methodNotAllowed(w, "GET, PATCH, DELETE")
	}
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeNSError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, "The requested method is not supported for this resource.")
}

func notFound(w http.ResponseWriter) {
	writeNSError(w, http.StatusNotFound, codeNonexistentID, detailNonexistentID)
}

// resolveID reads an internal ID or "eid:<external ID>".
func (s *Sandbox) resolveID(w http.ResponseWriter, seg string) (int64, bool) {
	if ext, ok := strings.CutPrefix(seg, "eid:"); ok {
		s.store.mu.RLock()
		id, found := s.store.byExternalID(ext)
		s.store.mu.RUnlock()
		if !found {
			notFound(w)
			return 0, false
		}
		return id, true
	}
	id, err := parseID(seg)
	if err != nil {
		writeNSError(w, http.StatusBadRequest, codeInvalidID,
			"Invalid record instance identifier '"+seg+"'. Provide a valid record instance ID.")
		return 0, false
	}
	return id, true
}

func parseBoolParam(v string) bool { return strings.EqualFold(v, "true") || v == "T" }

func (s *Sandbox) handleGet(w http.ResponseWriter, r *http.Request, id int64) {
	q := r.URL.Query()
	expand := parseBoolParam(q.Get("expandSubResources"))
	var fields map[string]bool
	if fs := q.Get("fields"); fs != "" {
		fields = map[string]bool{}
		for _, f := range strings.Split(fs, ",") {
			f = strings.TrimSpace(f)
			name, ok := restFieldIndex[strings.ToLower(f)]
			if !ok {
				writeNSError(w, http.StatusBadRequest, codeNonexistentField,
					"Error while accessing a resource. You have entered an invalid field name: "+f, queryParam("fields"))
				return
			}
			fields[name] = true
		}
	}
	s.store.mu.RLock()
	e, ok := s.store.materialise(id)
	s.store.mu.RUnlock()
	if !ok {
		notFound(w)
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	jw := &jsonw{b: (*buf)[:0], base: baseURL(r)}
	s.appendEvent(jw, e, expand, fields)
	*buf = jw.b
	writeBody(w, http.StatusOK, ctSingular, jw.b)
}

func (s *Sandbox) handleSublist(w http.ResponseWriter, r *http.Request, id int64, sub string) {
	s.store.mu.RLock()
	e, ok := s.store.materialise(id)
	s.store.mu.RUnlock()
	if !ok {
		notFound(w)
		return
	}
	jw := &jsonw{base: baseURL(r)}
	self := pathRecord + "calendarevent/" + strconv.FormatInt(id, 10)
	if sub == "attendee" {
		s.appendAttendees(jw, self, e, true)
	} else {
		s.appendResources(jw, self, e, true)
	}
	writeBody(w, http.StatusOK, ctCollection, jw.b)
}

// pageParams validates limit and offset of a collection request.
func pageParams(w http.ResponseWriter, r *http.Request, multiple bool) (limit, offset int, ok bool) {
	q := r.URL.Query()
	limit, offset = 1000, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeNSError(w, http.StatusBadRequest, codeInvalidParameter,
				"Invalid value for the 'limit' query parameter: "+v+". The value must be an integer between 1 and 1000.", queryParam("limit"))
			return 0, 0, false
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeNSError(w, http.StatusBadRequest, codeInvalidParameter,
				"Invalid value for the 'offset' query parameter: "+v+". The value must be a non-negative integer.", queryParam("offset"))
			return 0, 0, false
		}
		offset = n
	}
	if multiple && offset%limit != 0 {
		writeNSError(w, http.StatusBadRequest, codeInvalidParameter,
			"Invalid value for the 'offset' query parameter: "+strconv.Itoa(offset)+". The offset must be a multiple of the limit.", queryParam("offset"))
		return 0, 0, false
	}
	return limit, offset, true
}

// handleList lists event IDs in ascending order, optionally filtered by q.
func (s *Sandbox) handleList(w http.ResponseWriter, r *http.Request) {
	limit, offset, ok := pageParams(w, r, true)
	if !ok {
		return
	}
	q := r.URL.Query()
	var pred qPred
	var params [][2]string
	if qs, has := q["q"]; has {
		text := qs[len(qs)-1]
		p, err := parseQ(text, s.pref, s.cfg.TimeZone)
		if err != nil {
			writeNSError(w, http.StatusBadRequest, codeInvalidParameter, err.Error(), queryParam("q"))
			return
		}
		pred = p
		params = append(params, [2]string{"q", escapeQuery(text)})
	}
	var ids []int64
	total := 0
	s.store.mu.RLock()
	cur := s.store.idCursor(fullIDRange(), false)
	if pred == nil {
		total = cur.Len()
		cur.Skip(offset)
		for len(ids) < limit {
			id, ok := cur.nextID()
			if !ok {
				break
			}
			ids = append(ids, id)
		}
	} else {
		for {
			row, ok := cur.Next()
			if !ok {
				break
			}
			cr := row.(*ceRow)
			if !pred(cr) {
				continue
			}
			if total >= offset && len(ids) < limit {
				ids = append(ids, cr.id)
			}
			total++
		}
	}
	s.store.mu.RUnlock()

	buf := getBuf()
	defer putBuf(buf)
	jw := &jsonw{b: (*buf)[:0], base: baseURL(r)}
	hasMore := offset+len(ids) < total
	jw.b = append(jw.b, `{"links":`...)
	jw.pageLinks(pathRecord+"calendarevent", params, offset, limit, len(ids), total, hasMore)
	jw.b = append(jw.b, `,"count":`...)
	jw.b = strconv.AppendInt(jw.b, int64(len(ids)), 10)
	jw.b = append(jw.b, `,"hasMore":`...)
	jw.b = strconv.AppendBool(jw.b, hasMore)
	jw.b = append(jw.b, `,"items":[`...)
	for i, id := range ids {
		if i > 0 {
			jw.b = append(jw.b, ',')
		}
		ids := strconv.FormatInt(id, 10)
		jw.b = append(jw.b, `{"links":`...)
		jw.selfLinks(pathRecord + "calendarevent/" + ids)
		jw.b = append(jw.b, `,"id":"`...)
		jw.b = append(jw.b, ids...)
		jw.b = append(jw.b, `"}`...)
	}
	jw.b = append(jw.b, `],"offset":`...)
	jw.b = strconv.AppendInt(jw.b, int64(offset), 10)
	jw.b = append(jw.b, `,"totalResults":`...)
	jw.b = strconv.AppendInt(jw.b, int64(total), 10)
	jw.b = append(jw.b, '}')
	*buf = jw.b
	writeBody(w, http.StatusOK, ctCollection, jw.b)
}

func escapeQuery(s string) string { return url.QueryEscape(s) }

func (s *Sandbox) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeNSError(w, http.StatusBadRequest, codeInvalidContent, "Error while accessing a resource. The request body could not be read.")
		return nil, false
	}
	return body, true
}

func writeBodyError(w http.ResponseWriter, err error) {
	var be *bodyError
	if errors.As(err, &be) {
		var attrs []errAttr
		if be.path != "" {
			attrs = append(attrs, errPath(be.path))
		}
		writeNSError(w, http.StatusBadRequest, be.code, be.detail, attrs...)
		return
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		if fe.Field == "title" {
			writeNSError(w, http.StatusBadRequest, codeUserError, fe.Msg, errPath(fe.Field))
			return
		}
		writeNSError(w, http.StatusBadRequest, codeInvalidContent,
			"Error while accessing a resource. Invalid value for field "+fe.Field+": "+fe.Msg, errPath(fe.Field))
		return
	}
	if errors.Is(err, ErrNotFound) {
		notFound(w)
		return
	}
	writeNSError(w, http.StatusBadRequest, codeInvalidContent, "Error while accessing a resource. "+err.Error())
}

func strictNames(r *http.Request) bool {
	v := r.Header.Get("X-NetSuite-PropertyNameValidation")
	return v == "" || strings.EqualFold(v, "Error")
}

func (s *Sandbox) handleCreate(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	in, atts, ress, err := parseRecordBody(body, strictNames(r))
	if err != nil {
		writeBodyError(w, err)
		return
	}
	mergeSublists(in, nil, atts, ress, nil)
	id, err := s.createEvent(in)
	if err != nil {
		writeBodyError(w, err)
		return
	}
	w.Header().Set("Location", baseURL(r)+pathRecord+"calendarevent/"+strconv.FormatInt(id, 10))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sandbox) handlePatch(w http.ResponseWriter, r *http.Request, id int64) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	in, atts, ress, err := parseRecordBody(body, strictNames(r))
	if err != nil {
		writeBodyError(w, err)
		return
	}
	replace := map[string]bool{}
	for _, v := range strings.Split(r.URL.Query().Get("replace"), ",") {
		if v = strings.ToLower(strings.TrimSpace(v)); v != "" {
			replace[v] = true
		}
	}
	err = s.modifyEvent(id, func(e *event) error {
		mergeSublists(in, e, atts, ress, replace)
		return e.apply(in, s.store.gen.dir)
	})
	if err != nil {
		writeBodyError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleMetadata serves the metadata catalog and the calendarevent schema.
func (s *Sandbox) handleMetadata(w http.ResponseWriter, r *http.Request, segs []string) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, "GET")
		return
	}
	base := baseURL(r)
	if len(segs) == 0 || segs[0] == "" {
		cat := base + pathRecord + "metadata-catalog/calendarevent"
		body := `{"items":[{"name":"calendarevent","links":[` +
			`{"rel":"canonical","href":"` + cat + `","mediaType":"application/schema+json"},` +
			`{"rel":"alternate","href":"` + cat + `","mediaType":"application/swagger+json"},` +
			`{"rel":"alternate","href":"` + cat + `","mediaType":"application/schema+json"},` +
			`{"rel":"describes","href":"` + base + pathRecord + `calendarevent","mediaType":"application/json"}]}],` +
			`"links":[{"rel":"self","href":"` + base + pathRecord + `metadata-catalog"}]}`
		writeBody(w, http.StatusOK, "application/json", []byte(body))
		return
	}
	if len(segs) != 1 || !strings.EqualFold(segs[0], "calendarevent") {
		writeNSError(w, http.StatusNotFound, codeNonexistentID, "Record type '"+segs[len(segs)-1]+"' does not exist.")
		return
	}
	writeBody(w, http.StatusOK, "application/schema+json", []byte(strings.ReplaceAll(calendarEventSchema, "{base}", base)))
}
