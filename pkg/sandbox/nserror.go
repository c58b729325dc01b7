package sandbox

import (
	"net/http"
	"strconv"

	"github.com/nsflow/nsflow/pkg/sandbox/suiteql"
)

// Media types of REST responses.
const (
	ctSingular   = "application/vnd.oracle.resource+json; type=singular"
	ctCollection = "application/vnd.oracle.resource+json; type=collection"
	ctError      = "application/vnd.oracle.resource+json; type=error"
)

// Error codes used in o:errorDetails.
const (
	codeInvalidParameter   = "INVALID_PARAMETER"
	codeInvalidContent     = "INVALID_CONTENT"
	codeInvalidID          = "INVALID_ID"
	codeNonexistentID      = "NONEXISTENT_ID"
	codeNonexistentField   = "NONEXISTENT_FIELD"
	codeInvalidLogin       = "INVALID_LOGIN"
	codeInsufficientPerm   = "INSUFFICIENT_PERMISSION"
	codeConcurrency        = "CONCURRENCY_LIMIT_EXCEEDED"
	codeUnexpected         = "UNEXPECTED_ERROR"
	codeMethodNotAllowed   = "METHOD_NOT_ALLOWED"
	codeUserError          = "USER_ERROR"
	detailInvalidLogin     = "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail."
	detailConcurrency      = "Concurrent request limit exceeded. Request blocked."
	detailNonexistentID    = "The record instance does not exist. Provide a valid record instance ID."
	detailInvalidQuery     = "Invalid search query. Provide a valid search query."
	detailPermission       = "Permission Violation: You need the 'Lists -> Events' permission to access this page. Please contact your account administrator."
	detailUnexpectedPrefix = "An unexpected error occurred. Error ID: "
)

const rfc2616 = "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html"

func errorType(status int) string {
	switch status {
	case 400:
		return rfc2616 + "#sec10.4.1"
	case 401:
		return rfc2616
	case 403:
		return rfc2616 + "#sec10.4.4"
	case 404:
		return rfc2616 + "#sec10.4.5"
	case 405:
		return rfc2616 + "#sec10.4.6"
	case 415:
		return rfc2616 + "#sec10.4.16"
	case 429:
		return "https://tools.ietf.org/html/rfc6585#section-4"
	case 503:
		return rfc2616 + "#sec10.5.4"
	case 504:
		return rfc2616 + "#sec10.5.5"
	}
	return rfc2616 + "#sec10.5.1"
}

// errAttr is an optional attribute of an error detail, such as
// o:errorQueryParam.
type errAttr struct{ key, val string }

func queryParam(name string) errAttr { return errAttr{"o:errorQueryParam", name} }
func errPath(path string) errAttr    { return errAttr{"o:errorPath", path} }
func errHeader(name string) errAttr  { return errAttr{"o:errorHeader", name} }

// appendNSError renders NetSuite's error body.
func appendNSError(b []byte, status int, code, detail string, attrs ...errAttr) []byte {
	b = append(b, `{"type":`...)
	b = suiteql.AppendJSONString(b, errorType(status))
	b = append(b, `,"title":`...)
	b = suiteql.AppendJSONString(b, http.StatusText(status))
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"o:errorDetails":[{"detail":`...)
	b = suiteql.AppendJSONString(b, detail)
	for _, a := range attrs {
		b = append(b, ',')
		b = suiteql.AppendJSONString(b, a.key)
		b = append(b, ':')
		b = suiteql.AppendJSONString(b, a.val)
	}
	b = append(b, `,"o:errorCode":`...)
	b = suiteql.AppendJSONString(b, code)
	return append(b, "}]}"...)
}

// writeNSError writes a NetSuite error response.
func writeNSError(w http.ResponseWriter, status int, code, detail string, attrs ...errAttr) {
	body := appendNSError(nil, status, code, detail, attrs...)
	h := w.Header()
	h.Set("Content-Type", ctError)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
