package emulator

import (
	"reflect"
	"strings"
	"sync"

	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// userProperty is one structural property of microsoft.graph.user, as msgraph-sdk-go's model
// (generated from Graph's metadata) defines it.
type userProperty struct {
	name       string // canonical spelling, e.g. "companyName"
	str        bool   // Edm.String: kept in User.Profile
	collection bool   // a collection: [] rather than null when unset
}

// userSchema maps the lower-cased names of every structural property of a user (navigation
// properties such as manager or memberOf excluded) to its description. $select is
// case-insensitive on Graph, so lookups are too.
var userSchema = sync.OnceValue(func() map[string]userProperty { return modelSchema(models.NewUser()) })

// modelSchema describes the structural properties of an msgraph-sdk-go model (navigation
// properties excluded), keyed by lower-cased name.
func modelSchema(m absser.Parsable) map[string]userProperty {
	out := map[string]userProperty{}
	for name := range m.GetFieldDeserializers() {
		if strings.HasPrefix(name, "@") {
			continue
		}
		t := propertyType(m, name)
		if t == nil {
			continue
		}
		elem := t
		if t.Kind() == reflect.Slice {
			elem = t.Elem()
		}
		if elem.Kind() == reflect.Interface && elem.Implements(entityType) {
			continue // an entity: a navigation property, not selectable as a value
		}
		out[strings.ToLower(name)] = userProperty{
			name:       name,
			str:        t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.String,
			collection: t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8,
		}
	}
	return out
}

// schemaNames maps a schema's lower-cased names to their canonical spelling.
func schemaNames(schema map[string]userProperty) map[string]string {
	m := make(map[string]string, len(schema))
	for k, p := range schema {
		m[k] = p.name
	}
	return m
}

// userProps maps lower-cased property names to their canonical spelling, for parseSelect:
// every structural property of microsoft.graph.user can be selected, and one that is not set
// reads as null (or [] for a collection), as on Graph.
var userProps = sync.OnceValue(func() map[string]string { return schemaNames(userSchema()) })

// userWritable are the properties PATCH /users/{id} may set, from the request body table of
// https://learn.microsoft.com/en-us/graph/api/user-update (v1.0). Every other property of a
// user is read-only (id, createdDateTime, creationType, externalUserState, ...) or managed
// through its own API (assignedLicenses, manager, sponsors).
var userWritable = canonicalNames(
	"aboutMe", "accountEnabled", "ageGroup", "birthday", "businessPhones", "city", "companyName",
	"consentProvidedForMinor", "country", "customSecurityAttributes", "department", "displayName",
	"employeeHireDate", "employeeId", "employeeLeaveDateTime", "employeeOrgData", "employeeType",
	"faxNumber", "givenName", "hireDate", "identities", "interests", "jobTitle", "mail",
	"mailNickname", "mobilePhone", "mySite", "officeLocation", "onPremisesExtensionAttributes",
	"onPremisesImmutableId", "otherMails", "passwordPolicies", "passwordProfile", "pastProjects",
	"postalCode", "preferredDataLocation", "preferredLanguage", "preferredName", "responsibilities",
	"schools", "skills", "state", "streetAddress", "surname", "usageLocation", "userPrincipalName",
	"userType",
)

// ProfileLimits are the maximum lengths, in characters, that Microsoft documents for user
// properties (the user resource page and the descriptions in Graph's metadata); a longer value
// is answered 400. usageLocation must moreover be a two-letter ISO 3166 code.
var ProfileLimits = map[string]int{
	"displayName": 256, "givenName": 64, "surname": 64, "jobTitle": 128, "companyName": 64,
	"department": 64, "mailNickname": 64, "employeeId": 16, "employeeType": 64, "city": 128,
	"country": 128, "state": 128, "postalCode": 40, "streetAddress": 1024, "mobilePhone": 64,
	"usageLocation": 2,
}

// Collection limits of the user resource: otherMails holds up to 250 addresses of up to 250
// characters each, businessPhones a single number.
const (
	maxOtherMails      = 250
	maxOtherMailLength = 250
	maxBusinessPhones  = 1
)

// Graph's message for a value a user property does not accept.
func invalidUserValue(prop string) string {
	return "Invalid value specified for property '" + prop + "' of resource 'User'."
}

// msgReadOnlyProperty is the emulator's wording (Graph's is undocumented) for a write to a
// property the user-update page does not list.
const msgReadOnlyProperty = "Property '%s' is read-only and cannot be set."

// msgUPNTaken is Graph's message for a userPrincipalName another object holds.
const msgUPNTaken = "Another object with the same value for property userPrincipalName already exists."
