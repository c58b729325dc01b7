package sandbox

import (
	"fmt"
)

// entityKind is the record type of a referenced record.
type entityKind uint8

const (
	kindEmployee entityKind = iota
	kindCustomer
	kindContact
	kindSupportCase
	kindTransaction
	kindItem
	kindResource
	kindMeetingType
)

// recordType is the REST record type used in reference links.
func (k entityKind) recordType() string {
	switch k {
	case kindEmployee:
		return "employee"
	case kindCustomer:
		return "customer"
	case kindContact:
		return "contact"
	case kindSupportCase:
		return "supportcase"
	case kindTransaction:
		return "salesorder"
	case kindItem:
		return "inventoryitem"
	case kindResource:
		return "calendarresource"
	}
	return "customlist_meeting_type"
}

func (k entityKind) String() string {
	switch k {
	case kindEmployee:
		return "employee"
	case kindCustomer:
		return "customer"
	case kindContact:
		return "contact"
	case kindSupportCase:
		return "support case"
	case kindTransaction:
		return "transaction"
	case kindItem:
		return "item"
	case kindResource:
		return "calendar resource"
	}
	return "meeting type"
}

// ID ranges of the generated records. Entities (employees, customers,
// contacts) share one ID space, as in NetSuite.
const (
	integrationUserID = 99
	employeeBase      = 100
	employeeCount     = 150
	customerBase      = 1500
	customerCount     = 300
	contactBase       = 3000
	contactCount      = 600
	supportCaseBase   = 20
	supportCaseCount  = 200
	transactionBase   = 7000
	transactionCount  = 400
	itemBase          = 800
	itemCount         = 40
	resourceBase      = 1
	meetingTypeBase   = 1
)

var (
	firstNames = []string{"Jane", "John", "María", "José", "Zoë", "Łukasz", "Søren", "Aiko", "Chen", "Priya",
		"Olivia", "Liam", "Fatima", "Noah", "Emma", "Mateo", "Yuki", "Ahmed", "Chloé", "Björn", "Ana", "Sean",
		"Ingrid", "Kwame", "Mei", "Raj", "Sofia", "Lucas", "Hannah", "Diego"}
	lastNames = []string{"Doe", "Smith", "García", "Müller", "O'Brien", "Nakamura", "Kowalski", "Nguyen",
		"Johansson", "Patel", "Rossi", "Dubois", "Kim", "Okafor", "Silva", "Schmidt", "Tanaka", "Haddad",
		"Novak", "Fernández", "佐藤", "Li", "Andersen", "Ivanova", "Brown", "Wilson", "Jensen", "Costa"}
	companyNames = []string{"Acme Inc", "Globex Corporation", "Initech", "Umbrella Corp", "Stark Industries",
		"Wayne Enterprises", "Müller & Söhne GmbH", "株式会社東京テック", "Société Générale d'Études",
		"Hooli", "Vandelay Industries", "Cyberdyne Systems", "Soylent Ltd", "Tyrell Corp", "Wonka Foods",
		"Oscorp", "Aperture Science", "Nakatomi Trading", "Gringotts Bank", "Duff Brewing",
		"Los Pollos Hermanos", "Blue Sun", "Monarch Solutions", "Pied Piper", "Dunder Mifflin"}
	companySuffix = []string{"", " (EMEA)", " (APAC)", " US", " Holdings", " Labs", " — Nordics", " Canada"}
	caseSubjects  = []string{"Printer jam", "Login fails", "Invoice mismatch", "Delivery delayed",
		"API returns 500", "Wrong tax rate", "Request for refund", "Cannot export report"}
	transactionKinds = []string{"Sales Order #SO", "Opportunity #OPP", "Estimate #EST", "Invoice #INV"}
	itemNames        = []string{"Widget", "Gadget", "Sprocket", "Gizmo", "Doohickey", "Flux Capacitor", "Thingamajig", "Contraption"}
	itemSuffix       = []string{" Pro", " Lite", " 2000", " XL", " Mini"}
	resourceNames    = []string{"Conference Room A", "Conference Room B", "Board Room", "Huddle Room 1",
		"Huddle Room 2", "Training Lab", "Projector #1", "Projector #2", "東京 会議室 3F", "Salle Réunion Paris",
		"Zoom Room", "Demo Van"}
	meetingTypes = []string{"Internal Meeting", "Customer Meeting", "Demo", "Training", "Interview"}
)

type entityRec struct {
	kind entityKind
	name string
}

// directory holds the generated records events refer to. It is immutable.
type directory struct {
	employees    []string
	customers    []string
	contacts     []string
	contactOf    []int64 // contact index → customer ID
	supportCases []string
	transactions []string
	items        []string
	resources    []string
	meetingTypes []string
}

func newDirectory(seed int64) *directory {
	d := &directory{}
	r := newRNG(uint64(seed), 0xd1ec7)
	person := func() string {
		return firstNames[r.intn(len(firstNames))] + " " + lastNames[r.intn(len(lastNames))]
	}
	for range employeeCount {
		d.employees = append(d.employees, person())
	}
	for i := range customerCount {
		name := companyNames[i%len(companyNames)] + companySuffix[(i/len(companyNames))%len(companySuffix)]
		d.customers = append(d.customers, name)
	}
	for range contactCount {
		cust := int64(customerBase + r.intn(customerCount))
		d.contactOf = append(d.contactOf, cust)
		d.contacts = append(d.contacts, d.customers[cust-customerBase]+" : "+person())
	}
	for i := range supportCaseCount {
		d.supportCases = append(d.supportCases, fmt.Sprintf("Case #%d: %s", 1000+i, caseSubjects[r.intn(len(caseSubjects))]))
	}
	for i := range transactionCount {
		d.transactions = append(d.transactions, fmt.Sprintf("%s%d", transactionKinds[r.intn(len(transactionKinds))], 20000+i))
	}
	for i := range itemCount {
		d.items = append(d.items, itemNames[i%len(itemNames)]+itemSuffix[(i/len(itemNames))%len(itemSuffix)])
	}
	d.resources = resourceNames
	d.meetingTypes = meetingTypes
	return d
}

func pick(list []string, base, id int64) (string, bool) {
	i := id - base
	if i < 0 || i >= int64(len(list)) {
		return "", false
	}
	return list[i], true
}

// lookup returns the name of record id of the given kind.
func (d *directory) lookup(k entityKind, id int64) (string, bool) {
	switch k {
	case kindEmployee:
		if id == integrationUserID {
			return "NSFlow Integration", true
		}
		return pick(d.employees, employeeBase, id)
	case kindCustomer:
		return pick(d.customers, customerBase, id)
	case kindContact:
		return pick(d.contacts, contactBase, id)
	case kindSupportCase:
		return pick(d.supportCases, supportCaseBase, id)
	case kindTransaction:
		return pick(d.transactions, transactionBase, id)
	case kindItem:
		return pick(d.items, itemBase, id)
	case kindResource:
		return pick(d.resources, resourceBase, id)
	}
	return pick(d.meetingTypes, meetingTypeBase, id)
}

// entity resolves an ID in the shared entity space (employees, customers,
// contacts).
func (d *directory) entity(id int64) (entityRec, bool) {
	for _, k := range []entityKind{kindEmployee, kindContact, kindCustomer} {
		if n, ok := d.lookup(k, id); ok {
			return entityRec{kind: k, name: n}, true
		}
	}
	return entityRec{}, false
}

// name returns the refName of a reference, or "" for an unknown one.
func (d *directory) name(k entityKind, id int64) string {
	n, _ := d.lookup(k, id)
	return n
}
