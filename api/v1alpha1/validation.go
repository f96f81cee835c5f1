package v1alpha1

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The schema's patterns and limits, as the kubebuilder markers in partnerinvitation_types.go
// declare them. Markers cannot refer to Go constants, so TestValidationMatchesCRD compares
// these with the generated CRD: a marker changed without its constant here fails that test.
const (
	emailPattern         = `^[^@\s]+@[^@\s]+\.[^@\s]+$`
	uuidPattern          = `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	sponsorPattern       = `^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[^@\s/]+@[^@\s/]+)$`
	languagePattern      = `^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$`
	usageLocationPattern = `^[A-Z]{2}$`

	// redirectURLPrefix is the CEL rule self.startsWith('https://'): case-sensitive.
	redirectURLPrefix = "https://"

	emailMinLength       = 3
	emailMaxLength       = 254
	displayNameMaxLength = 256
	redirectURLMaxLength = 2048
	bodyMaxLength        = 2000
	languageMaxLength    = 35
	ccRecipientsMaxItems = 1
	profileNameMaxLength = 64 // givenName, surname, companyName, department, employeeType
	jobTitleMaxLength    = 128
	sponsorsMaxItems     = 5
	refMaxLength         = 256 // a sponsor, a group, an app role
	groupMinLength       = 1
	accessMaxItems       = 50 // groups, and applications
)

// Compiled once; regexps are safe for concurrent use and never change.
var (
	emailRE         = regexp.MustCompile(emailPattern)
	uuidRE          = regexp.MustCompile(uuidPattern)
	sponsorRE       = regexp.MustCompile(sponsorPattern)
	languageRE      = regexp.MustCompile(languagePattern)
	usageLocationRE = regexp.MustCompile(usageLocationPattern)
)

// The enums of the schema, in the markers' order.
func userTypes() []UserType { return []UserType{UserTypeGuest, UserTypeMember} }
func deletionPolicies() []DeletionPolicy {
	return []DeletionPolicy{DeletionPolicyDelete, DeletionPolicyOrphan}
}
func expiryActions() []ExpiryAction {
	return []ExpiryAction{ExpiryRevokeAccess, ExpiryDisable, ExpiryDelete}
}

// ValidateSpec checks a spec against every rule the API server applies to it from the CRD
// schema (the markers in partnerinvitation_types.go), and against the few the schema cannot
// express, which the controller enforces before any Graph write: addresses must parse as mail
// addresses and a redirect URL needs a host. So a spec it accepts is one the API server and
// the controller accept. The one rule it cannot check is a transition rule: spec.email is
// immutable, which needs the older object.
//
// Lengths count characters, as the API server does. An empty optional field is valid: the
// API server either omits it or fills in its default. Each field gets at most one error.
func ValidateSpec(spec *PartnerInvitationSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	add := func(err *field.Error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if spec.Email == "" {
		add(field.Required(path.Child("email"), "the partner's mail address"))
	} else {
		add(mailAddress(path.Child("email"), spec.Email, emailMinLength, emailMaxLength))
	}
	add(maxChars(path.Child("displayName"), spec.DisplayName, displayNameMaxLength))
	add(redirectURL(path.Child("redirectURL"), spec.RedirectURL))
	add(oneOf(path.Child("userType"), spec.UserType, userTypes()))
	add(oneOf(path.Child("deletionPolicy"), spec.DeletionPolicy, deletionPolicies()))
	add(oneOf(path.Child("expiryAction"), spec.ExpiryAction, expiryActions()))
	if m := spec.Message; m != nil {
		errs = append(errs, validateMessage(m, path.Child("message"))...)
	}
	if p := spec.Profile; p != nil {
		errs = append(errs, validateProfile(p, path.Child("profile"))...)
	}
	errs = append(errs, validateSponsors(spec.Sponsors, path.Child("sponsors"))...)
	if a := spec.Access; a != nil {
		errs = append(errs, validateAccess(a, path.Child("access"))...)
	}
	return errs
}

func validateMessage(m *InvitationMessage, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if err := maxChars(path.Child("body"), m.Body, bodyMaxLength); err != nil {
		errs = append(errs, err)
	}
	if m.Language != "" {
		if err := maxChars(path.Child("language"), m.Language, languageMaxLength); err != nil {
			errs = append(errs, err)
		} else if !languageRE.MatchString(m.Language) {
			errs = append(errs, field.Invalid(path.Child("language"), m.Language, "must be a BCP 47 language tag such as en-US"))
		}
	}
	cc := path.Child("ccRecipients")
	if len(m.CCRecipients) > ccRecipientsMaxItems {
		errs = append(errs, field.TooMany(cc, len(m.CCRecipients), ccRecipientsMaxItems))
	}
	for i, r := range m.CCRecipients {
		// The schema has no minimum length here, only the pattern, which needs 5 characters.
		if err := mailAddress(cc.Index(i), r, 0, emailMaxLength); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func validateProfile(p *GuestProfile, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"givenName", p.GivenName, profileNameMaxLength},
		{"surname", p.Surname, profileNameMaxLength},
		{"companyName", p.CompanyName, profileNameMaxLength},
		{"department", p.Department, profileNameMaxLength},
		{"jobTitle", p.JobTitle, jobTitleMaxLength},
		{"employeeType", p.EmployeeType, profileNameMaxLength},
	} {
		if err := maxChars(path.Child(f.name), f.value, f.max); err != nil {
			errs = append(errs, err)
		}
	}
	if p.UsageLocation != "" && !usageLocationRE.MatchString(p.UsageLocation) {
		errs = append(errs, field.Invalid(path.Child("usageLocation"), p.UsageLocation, "must be a two-letter country code in capitals, such as DE"))
	}
	return errs
}

func validateSponsors(sponsors []string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(sponsors) > sponsorsMaxItems {
		errs = append(errs, field.TooMany(path, len(sponsors), sponsorsMaxItems))
	}
	seen := make(map[string]bool, len(sponsors))
	for i, s := range sponsors {
		p := path.Index(i)
		switch {
		case seen[s]:
			errs = append(errs, field.Duplicate(p, s))
		case utf8.RuneCountInString(s) > refMaxLength:
			errs = append(errs, field.TooLongCharacters(p, s, refMaxLength))
		case !sponsorRE.MatchString(s):
			errs = append(errs, field.Invalid(p, s, "must be an object ID or a user principal name"))
		}
		seen[s] = true
	}
	return errs
}

func validateAccess(a *PartnerAccess, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	groups := path.Child("groups")
	if len(a.Groups) > accessMaxItems {
		errs = append(errs, field.TooMany(groups, len(a.Groups), accessMaxItems))
	}
	seen := make(map[string]bool, len(a.Groups))
	for i, g := range a.Groups {
		p := groups.Index(i)
		switch n := utf8.RuneCountInString(g); {
		case seen[g]:
			// The list is a set (x-kubernetes-list-type): the API server refuses repeats.
			errs = append(errs, field.Duplicate(p, g))
		case n < groupMinLength:
			errs = append(errs, field.TooShort(p, g, groupMinLength))
		case n > refMaxLength:
			errs = append(errs, field.TooLongCharacters(p, g, refMaxLength))
		}
		seen[g] = true
	}
	apps := path.Child("applications")
	if len(a.Applications) > accessMaxItems {
		errs = append(errs, field.TooMany(apps, len(a.Applications), accessMaxItems))
	}
	for i, app := range a.Applications {
		p := apps.Index(i)
		switch {
		case app.App == "":
			errs = append(errs, field.Required(p.Child("app"), "the application's appId or service principal object ID"))
		case !uuidRE.MatchString(app.App):
			errs = append(errs, field.Invalid(p.Child("app"), app.App, "must be an application's appId or its service principal's object ID (a GUID)"))
		}
		if err := maxChars(p.Child("role"), app.Role, refMaxLength); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// mailAddress checks an address against the schema's length and pattern, then, as the
// controller does, that it parses as a bare RFC 5322 address: the pattern alone lets through
// what Graph refuses, such as "a..b@example.com" or "<a@example.com>".
func mailAddress(path *field.Path, s string, minLength, maxLength int) *field.Error {
	n := utf8.RuneCountInString(s)
	if n > maxLength {
		return field.TooLongCharacters(path, s, maxLength)
	}
	if n < minLength {
		return field.TooShort(path, s, minLength)
	}
	if !emailRE.MatchString(s) {
		return field.Invalid(path, s, "must be a mail address such as name@example.com")
	}
	addr, err := mail.ParseAddress(s)
	if err != nil {
		return field.Invalid(path, s, fmt.Sprintf("is not a mail address: %v", err))
	}
	if addr.Address != s {
		return field.Invalid(path, s, fmt.Sprintf("must be the bare address %s, without a name, quotes or angle brackets", addr.Address))
	}
	return nil
}

// redirectURL checks the schema's two CEL rules (https:// and isURL, which is
// url.ParseRequestURI) and, as the controller does, that the URL names a host.
func redirectURL(path *field.Path, s string) *field.Error {
	if s == "" {
		return nil // the API server fills in its default
	}
	if err := maxChars(path, s, redirectURLMaxLength); err != nil {
		return err
	}
	if !strings.HasPrefix(s, redirectURLPrefix) {
		return field.Invalid(path, s, "must be an https:// URL")
	}
	if _, err := url.ParseRequestURI(s); err != nil {
		return field.Invalid(path, s, "must be a valid URL")
	}
	if u, err := url.Parse(s); err != nil || u.Host == "" {
		return field.Invalid(path, s, "must be an absolute https URL with a host")
	}
	return nil
}

func maxChars(path *field.Path, s string, max int) *field.Error {
	if utf8.RuneCountInString(s) > max {
		return field.TooLongCharacters(path, s, max)
	}
	return nil
}

func oneOf[T ~string](path *field.Path, v T, allowed []T) *field.Error {
	if v == "" {
		return nil // the API server fills in its default
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return field.NotSupported(path, v, allowed)
}
