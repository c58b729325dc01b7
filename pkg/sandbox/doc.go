// Package sandbox is a local Oracle NetSuite account for tests, demos and
// benchmarks of the calendar-event pipeline. It serves, on one base URL,
// NetSuite's OAuth 2.0 endpoints, the REST record API for calendarEvent,
// SuiteQL over REST, and a control API (under /sandbox/v1/) that changes
// data and behaviour while a pipeline runs. Facts about the real service
// come from /work/shared/reference/netsuite-api.md; where the reference is
// unsure, the choice made here is stated below.
//
// # Use
//
//	sb, err := sandbox.New(sandbox.Config{Events: 100_000, Seed: 1})
//	base, err := sb.Start("127.0.0.1:0") // or sb.ListenAndServe(ctx, addr), or sb.Handler()
//	defer sb.Close()
//	// token URL: base+"/services/rest/auth/oauth2/v1/token", refresh token: sb.RefreshToken()
//
// Every path is served for any Host header; links in bodies use the
// request's scheme and host. A Sandbox is safe for concurrent use. New
// validates the Config and fills defaults (see Config); the zero value of
// ConcurrencyLimit means the default 5 and a negative one unlimited, while
// the --concurrency-limit flag (BindFlags), SetConcurrencyLimit and the
// control API take 0 as unlimited. Logs go to Config.Logger (discarded by
// default); payloads are never logged.
//
// # Data
//
// The data set is derived from Seed: the same Seed gives the same events,
// attendees, resources, deleted records and fault sequence. Generated event
// i is computed on demand from (Seed, id) with a splitmix64 generator; only
// compact keys (ID, created, last-modified) and an index ordered by
// (lastmodifieddate, id) stay in memory, plus an overlay holding events
// created, changed or deleted through the APIs (about 40 MB of heap for
// 1,000,000 events). IDs start at 1000 and ascend with creation time; about
// one slot in 33 is an event deleted before the sandbox started, listed in
// deletedrecord. Created and last-modified times spread over the two years
// before Config.Now (last-modified ≥ created, some shared by several events).
// Events have time zones (a mix of Olson IDs; about 30% NULL, meaning the
// account zone), all-day events (08:00-18:00 placeholders), events ending
// at or before their start time (crossing midnight), events in the skipped
// or repeated hour of a DST change, recurrence text on about 10%, statuses,
// access levels, reminders, organizer/owner employees, customers, contacts,
// support cases, transactions, items, 0-6 attendees (employees and
// contacts), 0-2 resources (rooms), custom fields (custevent_meeting_type,
// custevent_billable, custevent_score, custevent_notes,
// custevent_follow_up_date), and HTML and non-ASCII text ("Réunion <b>Q3</b>
// — 東京"). GET /sandbox/v1/info lists the ID ranges of referenced records.
//
// # OAuth 2.0
//
// One confidential client (Config.ClientID/ClientSecret) exists.
//
//   - GET /app/login/oauth2/authorize.nl: response_type=code, client_id,
//     redirect_uri (https, a custom scheme, or http only for 127.0.0.1,
//     localhost and ::1), scope (restlets, rest_webservices,
//     suite_analytics, openid, email; mcp alone), state (22-1024 printable
//     characters) and PKCE with S256 (required). It approves at once: 302 to
//     redirect_uri?state=…&role=3&entity=99&company=<Account>&code=… .
//     Errors redirect with error= (unsupported_response_type,
//     invalid_request, invalid_scope) and the state; an unknown client or an
//     unacceptable redirect_uri gets an HTML error page (400), no redirect.
//   - POST /services/rest/auth/oauth2/v1/token, form encoded:
//     authorization_code (HTTP Basic client auth; the code is single-use,
//     valid 10 minutes, redirect_uri and code_verifier checked) returns
//     access_token, refresh_token, expires_in as a string ("3600") and
//     token_type "bearer"; refresh_token (Basic auth) returns a new access
//     token only, never a new refresh token; client_credentials with
//     client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
//     and a client_assertion JWT: alg PS256/384/512 or ES256/384/512, kid a
//     certificate ID registered with RegisterCertificate or
//     POST /sandbox/v1/certificates, iss the client ID, aud the token URL
//     (as requested, or https://<account-host>.suitetalk.api.netsuite.com/...),
//     exp required and exp-iat at most 3600 s, scope an array or a comma or
//     space separated string; it returns an access token only. Errors are
//     {"error":"<code>"}: 401 invalid_client for client authentication,
//     400 otherwise (invalid_request, invalid_grant — including every
//     rejected assertion, expired or revoked refresh tokens — invalid_scope,
//     unsupported_grant_type). The reason, which NetSuite shows only in its
//     Login Audit Trail, is in the X-Sandbox-Reason response header.
//   - POST /services/rest/auth/oauth2/v1/revoke (Basic auth, token=…): 200;
//     a revoked refresh token also invalidates its access tokens.
//
// Access and refresh tokens are RS256 JWTs in NetSuite's shape (kid
// c.<ACCOUNT>.<date> or s.SYSTEM.2020_1, sub "3;99", scope, iss, jti) signed
// with Config.SigningKey (generated on first use when nil); the sandbox
// accepts only tokens it issued and still holds as valid. Lifetimes follow
// AccessTokenTTL and RefreshTokenTTL on the Config.Now clock; the refresh
// token of RefreshToken() lives RefreshTokenTTL from New.
//
// # Errors and governance
//
// REST and SuiteQL errors use NetSuite's body with Content-Type
// application/vnd.oracle.resource+json; type=error:
// {"type":…,"title":…,"status":…,"o:errorDetails":[{"detail":…,
// ["o:errorQueryParam"|"o:errorPath"|"o:errorHeader":…,] "o:errorCode":…}]}.
// A missing, unknown, expired or revoked bearer token gets 401 INVALID_LOGIN
// with exactly the body of reference §4.1. Every record and SuiteQL request
// passes, in order: the account concurrency limit (requests over it are
// refused at once with CONCURRENCY_LIMIT_EXCEEDED, "Concurrent request limit
// exceeded. Request blocked.", status 429 or Config.ConcurrencyErrorStatus
// 400); the latency (Config.Latency/SetLatency, real time, also applied to
// the OAuth endpoints; changing it affects requests already waiting);
// bearer authentication; the DenyPermission switch (403
// INSUFFICIENT_PERMISSION); injected faults (SetFaults: rates of 429, 500
// UNEXPECTED_ERROR, 503 HTML maintenance page, timeouts that hang
// Faults.TimeoutHang and then answer 504 or drop the connection, and 200
// responses cut in half; which request fails is a function of Seed and the
// request's sequence number). Counters reports responses by endpoint
// (oauth2.authorize, oauth2.token, oauth2.revoke, record.list, record.get,
// record.create, record.update, record.delete, record.sublist,
// record.metadata, suiteql) and status, refusals, 429s, peak and current
// concurrency of admitted requests, injected faults and issued tokens.
//
// # REST record API
//
// Under /services/rest/record/v1/, the record type segment is
// case-insensitive (calendarevent, calendarEvent); other types get 404
// NONEXISTENT_ID "Record type 'x' does not exist.".
//
//   - GET calendarevent?limit=&offset=&q=: limit 1-1000 (default 1000),
//     offset a multiple of limit, otherwise 400 INVALID_PARAMETER with
//     o:errorQueryParam. Items are {"links":[self],"id":"…"} in ascending ID
//     order; links first/prev (after the first page), next/last (when more
//     follow) and self; count, hasMore, offset, totalResults.
//   - q: conditions "field OPERATOR value" joined by AND/OR (AND binds
//     tighter) with parentheses. Fields (case-insensitive) are those listed
//     in x-ns-filterable of the schema. Operators: dates ON, AFTER, BEFORE,
//     ON_OR_AFTER, ON_OR_BEFORE; strings IS, CONTAIN, START_WITH, END_WITH
//     (case-insensitive); lists IS, ANY_OF ["A", "B"]; booleans IS true/false;
//     numbers and references ANY_OF [1, 2], EQUAL, GREATER, GREATER_OR_EQUAL,
//     LESS, LESS_OR_EQUAL, BETWEEN; EMPTY; each with a _NOT form. Date
//     literals are in the DateFormat preference, optionally with a time
//     ("8/5/2026 11:53 pm"), in the account time zone; a literal denotes its
//     day (or minute): ON matches inside it, AFTER after its end, BEFORE
//     before its start, the _OR_ forms include it. Errors: 400
//     INVALID_PARAMETER, o:errorQueryParam "q", detail "Invalid search
//     query. Search error occurred: Parse of date/time "…" failed with date
//     format "M/d/yyyy" in time zone America/Los_Angeles", "Unknown field name
//     'foo' in the search query." or "Invalid search query. Provide a valid
//     search query.".
//   - GET calendarevent/{id | eid:<external ID>}?expandSubResources=&fields=:
//     type=singular. Fields in alphabetical order (custom fields last);
//     references {"links":[self],"id","refName"}, enums and list values
//     {"links":[],"id","refName"}, booleans as JSON booleans, custevent_score
//     a JSON number, empty fields omitted, createdDate/lastModifiedDate ISO
//     UTC with Z, startDate/completedDate YYYY-MM-DD, startTime/endTime
//     HH:mm:ss wall clock in the event's timezone (or the account zone).
//     attendee and resource are {"links":[self]} unless expandSubResources
//     is true, then collections {links,items,totalResults,count,hasMore,
//     offset}. fields= (comma separated, case-insensitive) restricts the body
//     fields; links and id always remain; an unknown name is 400
//     NONEXISTENT_FIELD. GET calendarevent/{id}/attendee and /resource return
//     the expanded sublist (type=collection). Unknown IDs: 404 NONEXISTENT_ID;
//     malformed ones: 400 INVALID_ID.
//   - POST calendarevent: 204 with Location .../calendarevent/<new id>.
//     Property names are case-insensitive; enums are "X" or {"id":"X"};
//     references {"id":"5"}, "5" or 5; null clears a field; title is
//     required (400 USER_ERROR "Please enter value(s) for: Title"); bad values
//     are 400 INVALID_CONTENT with o:errorPath; unknown properties 400
//     NONEXISTENT_FIELD unless X-NetSuite-PropertyNameValidation is Warning or
//     Ignore; read-only properties (id, links, refName, createdDate,
//     lastModifiedDate, customForm) are ignored. References must name
//     existing records.
//   - PATCH calendarevent/{id}: 204, lastModifiedDate set to now. Sublists
//     {"items":[…]} merge by attendee/resource unless ?replace=attendee (or
//     resource, comma separated) replaces them.
//   - DELETE calendarevent/{id}: 204; adds a deletedrecord row (context
//     REST_WEBSERVICES, deleted by the integration user).
//   - GET metadata-catalog and metadata-catalog/calendarevent: a small static
//     catalog and JSON Schema (x-ns-filterable, x-ns-custom-field).
//
// # SuiteQL
//
// POST /services/rest/query/v1/suiteql?limit=&offset= with body {"q":"…"}
// requires the header Prefer: transient (400 INVALID_PARAMETER otherwise).
// limit is 1-1000 (default 1000). Rows beyond 100,000 are never returned:
// offset ≥ 100000 is 400 INVALID_PARAMETER (o:errorQueryParam offset), a
// page is cut at row 100,000 and hasMore is false there, but totalResults
// reports the true count. The response (type=collection) is
// {links,count,hasMore,items,offset,totalResults}; each item is
// {"links":[],<column>:"<value>",…}: keys are the lowercase column name or
// alias (expr<N>, N the 1-based select-list position, for other unaliased
// expressions; a repeated key is emitted once), every value is a JSON string,
// checkboxes "T"/"F", NULL columns omitted. DATE values without TO_CHAR
// render in the DateFormat preference ("3/4/2024"), DATETIME values as date
// plus "9:15 am".
//
// Time: DATETIME values are wall-clock times in the account time zone, with
// no offset, and compare and sort as such (so during the repeated hour at the
// end of DST an event changed at 01:10 PST sorts before one changed at 01:30
// PDT); TO_TIMESTAMP and TO_DATE literals are read as wall-clock times in the
// same zone. starttime and endtime are DATETIMEs whose date is startdate and
// whose time is the event's wall-clock time in its own timezone (endtime
// keeps startdate even when the event crosses midnight).
//
// The parser (package suiteql: lexer, recursive descent, AST, binder,
// evaluator) accepts:
//
//	SELECT item [, item]… FROM table [alias]
//	       { [INNER] JOIN | LEFT [OUTER] JOIN table [alias] ON condition }
//	       [WHERE condition] [ORDER BY expr [ASC|DESC] [NULLS FIRST|LAST] [, …]]
//	item:      * | alias.* | expr [[AS] alias]
//	condition: AND, OR, NOT, parentheses; = <> != ^= < <= > >=; [NOT] IN (list);
//	           IS [NOT] NULL; [NOT] LIKE pattern [ESCAPE 'c']; [NOT] BETWEEN a AND b;
//	           a top-level ROWNUM <= n (or < n, = 1) conjunct
//	expr:      column | alias.column | 'string' | number | NULL | + - * / || | (expr) | function
//	functions: TO_CHAR(x [, fmt]), TO_DATE(s [, fmt]), TO_TIMESTAMP(s [, fmt]),
//	           BUILTIN.DF(column), UPPER, LOWER, NVL, COALESCE, TRUNC(date|number),
//	           LENGTH, SUBSTR, COUNT(*), COUNT(x), MIN, MAX, SUM, AVG (no GROUP BY),
//	           SYSDATE / CURRENT_DATE / CURRENT_TIMESTAMP
//	formats:   YYYY RRRR YY RR MM MON MONTH DD DY DAY HH24 HH12 HH MI SS FF[1-9]
//	           AM PM A.M. P.M., punctuation and "quoted text"
//
// Semantics follow Oracle: case-insensitive identifiers and keywords,
// case-sensitive strings, an empty string is NULL, three-valued logic, implicit
// string-to-number and string-to-date (DateFormat) conversion, ROWNUM
// applied before ORDER BY, ORDER BY by alias or position, NULLs last
// ascending and first descending. Anything else — unknown tables ("Record
// 'foo' was not found."), columns ("Unknown identifier 'ce.foo'"), functions
// ("Unknown function 'foo'"), syntax errors (naming the token and its
// 1-based position), GROUP BY, DISTINCT, subqueries, bind variables,
// conversion errors at run time — is 400 INVALID_PARAMETER with detail
// "Invalid search query. Search error occurred: …", never a partial answer.
//
// Tables and columns (SELECT * order):
//
//	calendarevent: id, externalid, title, message, location, status
//	  (TENTATIVE|CONFIRMED|COMPLETE|CANCELLED), accesslevel (PUBLIC|PRIVATE|
//	  SHOW AS BUSY), alldayevent, timedevent, startdate (DATE), starttime,
//	  endtime (DATETIME), completeddate (DATE), timezone, recurrence,
//	  reminderminutes, remindertype (POPUP|EMAIL), organizer, owner, company,
//	  contact, supportcase, transaction, relateditem, createddate,
//	  lastmodifieddate (DATETIME, seconds), custevent_meeting_type,
//	  custevent_billable, custevent_score, custevent_notes,
//	  custevent_follow_up_date (DATE)
//	calendareventattendee: calendarevent, attendee, attendance
//	  (REQUIRED|OPTIONAL), response (ACCEPTED|DECLINED|TENTATIVE|NO_RESPONSE)
//	calendareventresource: calendarevent, resource
//	deletedrecord: recordid, type ('calendarevent'), name, deletedby,
//	  context (USER_INTERFACE|REST_WEBSERVICES|CSV_IMPORT|WEBSERVICES|
//	  SCHEDULED), deleteddate (DATETIME), iscustomrecord, iscustomlist,
//	  iscustomtransaction ('F')
//
// BUILTIN.DF gives the refName of references and list values (names of
// employees, customers, contacts, cases, transactions, items, rooms, meeting
// types; "Confirmed", "15 minutes", "User Interface", "Event" for type) and
// the rendered value of other columns.
//
// Access paths: the planner hands each table the top-level AND-ed
// conditions with constant operands, including the keyset form
// "a > v OR (a = v AND b > w)" as a tuple condition. calendarevent answers
// id = / IN by ID lookup; ranges and keyset tuples on (lastmodifieddate, id),
// or ORDER BY lastmodifieddate, from the (lastmodifieddate, id) index in either
// direction; id ranges or ORDER BY id from the ID order. The attendee and
// resource tables use calendarevent = / IN to visit only those events, and
// deletedrecord a (deleteddate, recordid) index. When the table covers the
// whole WHERE clause and the order, a page costs O(log n + offset + limit)
// and totalResults is counted from the index; otherwise the remaining
// conditions are evaluated row by row (generating only the columns they
// read) and rows are sorted when the index order does not match.
//
// # Control API
//
// JSON under /sandbox/v1/, no token, no latency, not governed; errors are
// {"error":"…"} with 400 or 404.
//
//	POST   /sandbox/v1/events             EventInput JSON → 201 {"id":"…"}, Location /sandbox/v1/events/{id}
//	GET    /sandbox/v1/events/{id}        the record as the REST API renders it, sublists expanded
//	PATCH  /sandbox/v1/events/{id}        EventInput JSON (set fields change) → 204
//	DELETE /sandbox/v1/events/{id}        → 204 (deletedrecord context USER_INTERFACE)
//	POST   /sandbox/v1/tokens/expire      → 204, every access token issued so far is invalid
//	POST   /sandbox/v1/tokens/revoke      → 204, every refresh token and its access tokens are revoked
//	GET|PUT /sandbox/v1/latency           {"latency":"200ms"}
//	GET|PUT /sandbox/v1/faults            {"rate429":0.1,"rate500":0,"rate503":0,"rateTimeout":0,
//	                                       "rateMalformed":0,"timeoutHang":"30s","denyPermission":false}
//	GET|PUT /sandbox/v1/concurrency-limit {"limit":4} (0 = unlimited)
//	GET    /sandbox/v1/counters           Counters JSON; DELETE resets it
//	POST   /sandbox/v1/certificates       {"certificateId":"…","pem":"-----BEGIN PUBLIC KEY or CERTIFICATE-----…"} → 201
//	GET    /sandbox/v1/info               account, accountHost, clientId, clientSecret, refreshToken,
//	                                      events (live count), seed, timeZone, dateFormat,
//	                                      concurrencyLimit, latency, endpoint URLs, entityIds
//
// The Go methods CreateEvent, UpdateEvent, DeleteEvent, LiveEventCount,
// ExpireAccessTokens, RevokeRefreshTokens, SetLatency, SetConcurrencyLimit,
// SetFaults, Faults, Counters, ResetCounters, RegisterCertificate and Info
// do the same in process. EventInput fields are pointers: nil leaves a field
// unset or unchanged, "" or 0 clears it; Attendees and Resources replace the
// sublist. Changes bump lastmodifieddate to Config.Now.
//
// # Not modelled
//
// Public OAuth clients (refresh-token rotation), OIDC id_token, PUT upserts
// and batch record operations, Prefer: respond-async, simpleEnumFormat,
// expandRecords, the REST list's 100,000-result limit, timeItem, other record
// types, GROUP BY/DISTINCT/CASE/subqueries in SuiteQL, and per-integration
// rate limits.
package sandbox
