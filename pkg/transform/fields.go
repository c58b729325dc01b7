package transform

import "bytes"

// Source fields the mapping reads, by lower-case key. SuiteQL columns are
// lower case and REST properties camelCase; NetSuite matches property names
// case-insensitively, so the record is read by lower-cased key and one table
// serves both shapes. Keys that differ only in case are a duplicate.
const (
	fNone = iota
	fNoise
	fID
	fExternalID
	fTitle
	fMessage
	fLocation
	fStatus
	fAccessLevel
	fResponse
	fAllDay
	fTimed
	fStartDate
	fStartTime
	fEndTime
	fCompletedDate
	fTimeZone
	fRecurrence
	fReminderMinutes
	fReminderType
	fOrganizer
	fOwner
	fCompany
	fContact
	fSupportCase
	fTransaction
	fRelatedItem
	fCreated
	fLastModified
	fAttendee
	fResource
	// SuiteQL TO_CHAR and BUILTIN.DF aliases.
	fNsLastModified
	fNsCreated
	fNsStartDate
	fNsStartTime
	fNsEndTime
	fNsCompletedDate
	fNsStatusName
	fNsAccessLevelName
	fNsResponseName
	fNsReminderTypeName
	fNsOrganizerName
	fNsOwnerName
	fNsCompanyName
	fNsContactName
	fNsSupportCaseName
	fNsTransactionName
	fNsRelatedItemName
	numFields
)

// fieldOf returns the field a lower-case key maps to, fNone for a key the
// mapping does not know (custom or extra).
func fieldOf(lkey []byte) int {
	switch string(lkey) { // no allocation: the compiler uses the bytes in place
	case "links", "refname":
		return fNoise
	case "id":
		return fID
	case "externalid":
		return fExternalID
	case "title":
		return fTitle
	case "message":
		return fMessage
	case "location":
		return fLocation
	case "status":
		return fStatus
	case "accesslevel":
		return fAccessLevel
	case "response":
		return fResponse
	case "alldayevent":
		return fAllDay
	case "timedevent":
		return fTimed
	case "startdate":
		return fStartDate
	case "starttime":
		return fStartTime
	case "endtime":
		return fEndTime
	case "completeddate":
		return fCompletedDate
	case "timezone":
		return fTimeZone
	case "recurrence":
		return fRecurrence
	case "reminderminutes":
		return fReminderMinutes
	case "remindertype":
		return fReminderType
	case "organizer":
		return fOrganizer
	case "owner":
		return fOwner
	case "company":
		return fCompany
	case "contact":
		return fContact
	case "supportcase":
		return fSupportCase
	case "transaction":
		return fTransaction
	case "relateditem":
		return fRelatedItem
	case "createddate":
		return fCreated
	case "lastmodifieddate":
		return fLastModified
	case "attendee":
		return fAttendee
	case "resource":
		return fResource
	case "ns_lastmodified":
		return fNsLastModified
	case "ns_created":
		return fNsCreated
	case "ns_startdate":
		return fNsStartDate
	case "ns_starttime":
		return fNsStartTime
	case "ns_endtime":
		return fNsEndTime
	case "ns_completeddate":
		return fNsCompletedDate
	case "ns_status_name":
		return fNsStatusName
	case "ns_accesslevel_name":
		return fNsAccessLevelName
	case "ns_response_name":
		return fNsResponseName
	case "ns_remindertype_name":
		return fNsReminderTypeName
	case "ns_organizer_name":
		return fNsOrganizerName
	case "ns_owner_name":
		return fNsOwnerName
	case "ns_company_name":
		return fNsCompanyName
	case "ns_contact_name":
		return fNsContactName
	case "ns_supportcase_name":
		return fNsSupportCaseName
	case "ns_transaction_name":
		return fNsTransactionName
	case "ns_relateditem_name":
		return fNsRelatedItemName
	}
	return fNone
}

// keyField returns the field the key literal key maps to and, for a key the
// mapping does not know, whether it is a custom field (custevent*). The key
// is tried as it stands before it is lower-cased: every SuiteQL key is lower
// case already, and a key that matches as it stands is lower case.
func keyField(key []byte) (f int, custom bool) {
	inner := key[1 : len(key)-1]
	if f := fieldOf(inner); f != fNone {
		return f, false
	}
	if bytes.HasPrefix(inner, custevent) {
		return fNone, true
	}
	if !upperOrEscaped(key) {
		return fNone, false
	}
	var buf [64]byte
	lk := lowerKey(buf[:0], key)
	return fieldOf(lk), bytes.HasPrefix(lk, custevent)
}

var custevent = []byte("custevent")

// Columns of sublist rows the mapping reads.
const (
	colOther = iota
	colAttendee
	colAttendeeName // ns_attendee_name
	colRefName
	colAttendance
	colResponse
	colCalendarEvent
	colLinks
	colResource
	colResourceName // ns_resource_name
	colID
)

// columnOf returns the column a lower-case row key names.
func columnOf(lkey []byte) int {
	switch string(lkey) {
	case "attendee":
		return colAttendee
	case "ns_attendee_name":
		return colAttendeeName
	case "refname":
		return colRefName
	case "attendance":
		return colAttendance
	case "response":
		return colResponse
	case "calendarevent":
		return colCalendarEvent
	case "links":
		return colLinks
	case "resource":
		return colResource
	case "ns_resource_name":
		return colResourceName
	case "id":
		return colID
	}
	return colOther
}

// rowColumn returns the column the row key literal key names, trying the key
// as it stands before lower-casing it, as keyField does.
func rowColumn(key []byte) int {
	if c := columnOf(key[1 : len(key)-1]); c != colOther {
		return c
	}
	if !upperOrEscaped(key) {
		return colOther
	}
	var buf [32]byte
	return columnOf(lowerKey(buf[:0], key))
}
