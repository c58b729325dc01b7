package transform

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
