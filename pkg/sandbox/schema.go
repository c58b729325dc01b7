package sandbox

// calendarEventSchema is the JSON Schema served at
// /services/rest/record/v1/metadata-catalog/calendarevent; {base} is
// replaced by the request's scheme and host.
const calendarEventSchema = `{
 "type": "object",
 "properties": {
  "accessLevel": {
   "title": "Access",
   "type": "object",
   "nullable": true,
   "properties": {
    "id": {
     "type": "string",
     "title": "Internal identifier",
     "enum": [
      "PUBLIC",
      "PRIVATE",
      "SHOW AS BUSY"
     ]
    },
    "refName": {
     "type": "string",
     "title": "Reference Name"
    }
   },
   "x-ns-custom-field": false
  },
  "allDayEvent": {
   "title": "All Day",
   "type": "boolean",
   "nullable": true,
   "x-ns-custom-field": false
  },
  "attendee": {
   "title": "Attendees",
   "type": "object",
   "nullable": true,
   "properties": {
    "items": {
     "type": "array",
     "items": {
      "type": "object"
     }
    }
   },
   "x-ns-custom-field": false
  },
  "company": {
   "title": "Company",
   "type": "object",
   "nullable": true,
   "$ref": "/services/rest/record/v1/metadata-catalog/nsResource",
   "x-ns-custom-field": false
  },
  "completedDate": {
   "title": "Date Completed",
   "type": "string",
   "nullable": true,
   "format": "date",
   "x-ns-custom-field": false
  },
  "contact": {
   "title": "Contact",
   "type": "object",
   "nullable": true,
   "$ref": "/services/rest/record/v1/metadata-catalog/nsResource",
   "x-ns-custom-field": false
  },
  "createdDate": {
   "title": "Date Created",
   "type": "string",
   "nullable": true,
   "format": "date-time",
   "x-ns-custom-field": false
  },
  "customForm": {
   "title": "Custom Form",
   "type": "object",
   "nullable": true,
   "properties": {
    "id": {
     "type": "string",
     "title": "Internal identifier"
    },
    "refName": {
     "type": "string",
     "title": "Reference Name"
    }
   },
   "x-ns-custom-field": false
  },
  "endTime": {
   "title": "End Time",
   "type": "string",
   "nullable": true,
   "x-ns-custom-field": false
  },
  "externalId": {
   "title": "External ID",
   "type": "string",
   "nullable": true,
   "x-ns-custom-field": false
  },
  "id": {
   "title": "Internal ID",
   "type": "string",
   "nullable": false,
   "x-ns-custom-field": false
  },
  "lastModifiedDate": {
   "title": "Last Modified Date",
   "type": "string",
   "nullable": true,
   "format": "date-time",
   "x-ns-custom-field": false
  },
  "location": {
   "title": "Location",
   "type": "string",
   "nullable": true,
   "x-ns-custom-field": false
  },
  "message": {
   "title": "Message",
   "type": "string",
   "nullable": true,
   "x-ns-custom-field": false
  },
  "organizer": {
   "title": "Organizer",
   "type": "object",
   "nullable": true,
   "$ref": "/services/rest/record/v1/metadata-catalog/nsResource",
   "x-ns-custom-field": false
  },
  "owner": {
   "title": "Owner",
   "type": "object",
   "nullable": true,
   "$ref": "/services/rest/record/v1/metadata-catalog/nsResource",
   "x-ns-custom-field": false
  },
  "recurrence": {
   "title": "Recurrence",
   "type": "string",
   "nullable": true,
   "x-ns-custom-field": false
  },
  "refName": {
   "title": "Reference Name",
   "type": "string",
   "nullable": true,
   "x-ns-custom-field": false
  },
  "relatedItem": {
   "title": "Related Item",
   "type": "object",
   "nullable": true,
   "$ref": "/services/rest/record/v1/metadata-catalog/nsResource",
   "x-ns-custom-field": false
  },
  "reminderMinutes": {
   "title": "Reminder",
   "type": "object",
   "nullable": true,
   "properties": {
    "id": {
     "type": "string",
     "title": "Internal identifier",
     "enum": [
      "0",
      "5",
      "10",
      "15",
      "30"
     ]
    },
    "refName": {
     "type": "string",
     "title": "Reference Name"
    }
   },
   "x-ns-custom-field": false
  },
  "reminderType": {
   "title": "Reminder Type",
   "type": "object",
   "nullable": true,
   "properties": {
    "id": {
     "type": "string",
     "title": "Internal identifier",
     "enum": [
      "POPUP",
      "EMAIL"
     ]
    },
    "refName": {
     "type": "string",
     "title": "Reference Name"
    }
   },
   "x-ns-custom-field": false
  },
  "resource": {
   "title": "Resources",
   "type": "object",
   "nullable": true,
   "properties": {
    "items": {
     "type": "array",
     "items": {
      "type": "object"
     }
    }
   },
   "x-ns-custom-field": false
  },
  "startDate": {
   "title": "Date",
   "type": "string",
   "nullable": true,
   "format": "date",
   "x-ns-custom-field": false
  },
  "startTime": {
   "title": "Start Time",
   "type": "string",
   "nullable": true,
   "x-ns-custom-field": false
  },
  "status": {
   "title": "Status",
   "type": "object",
   "nullable": true,
   "properties": {
    "id": {
     "type": "string",
     "title": "Internal identifier",
     "enum": [
      "TENTATIVE",
      "CONFIRMED",
      "COMPLETE",
      "CANCELLED"
     ]
    },
    "refName": {
     "type": "string",
     "title": "Reference Name"
    }
   },
   "x-ns-custom-field": false
  },
  "supportCase": {
   "title": "Support Case",
   "type": "object",
   "nullable": true,
   "$ref": "/services/rest/record/v1/metadata-catalog/nsResource",
   "x-ns-custom-field": false
  },
  "timedEvent": {
   "title": "Timed Event",
   "type": "boolean",
   "nullable": true,
   "x-ns-custom-field": false
  },
  "timezone": {
   "title": "Time Zone",
   "type": "string",
   "nullable": true,
   "x-ns-custom-field": false
  },
  "title": {
   "title": "Event Title",
   "type": "string",
   "nullable": true,
   "x-ns-custom-field": false
  },
  "transaction": {
   "title": "Transaction",
   "type": "object",
   "nullable": true,
   "$ref": "/services/rest/record/v1/metadata-catalog/nsResource",
   "x-ns-custom-field": false
  },
  "custevent_billable": {
   "title": "Billable",
   "type": "boolean",
   "nullable": true,
   "x-ns-custom-field": true
  },
  "custevent_follow_up_date": {
   "title": "Follow-up Date",
   "type": "string",
   "nullable": true,
   "format": "date",
   "x-ns-custom-field": true
  },
  "custevent_meeting_type": {
   "title": "Meeting Type",
   "type": "object",
   "nullable": true,
   "properties": {
    "id": {
     "type": "string",
     "title": "Internal identifier"
    },
    "refName": {
     "type": "string",
     "title": "Reference Name"
    }
   },
   "x-ns-custom-field": true
  },
  "custevent_notes": {
   "title": "Notes",
   "type": "string",
   "nullable": true,
   "x-ns-custom-field": true
  },
  "custevent_score": {
   "title": "Score",
   "type": "number",
   "nullable": true,
   "format": "double",
   "x-ns-custom-field": true
  }
 },
 "x-ns-filterable": [
  "id",
  "externalId",
  "title",
  "message",
  "location",
  "status",
  "accessLevel",
  "allDayEvent",
  "timedEvent",
  "startDate",
  "completedDate",
  "createdDate",
  "lastModifiedDate",
  "timezone",
  "recurrence",
  "reminderMinutes",
  "reminderType",
  "organizer",
  "owner",
  "company",
  "contact",
  "supportCase",
  "transaction",
  "relatedItem",
  "custevent_meeting_type",
  "custevent_billable",
  "custevent_score",
  "custevent_notes",
  "custevent_follow_up_date"
 ],
 "required": [
  "title"
 ],
 "links": [
  {
   "rel": "self",
   "href": "{base}/services/rest/record/v1/metadata-catalog/calendarevent"
  }
 ],
 "$schema": "http://json-schema.org/draft-06/hyper-schema#",
 "title": "Event",
 "description": "calendarEvent record (NSFlow sandbox)"
}`
