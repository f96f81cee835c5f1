package v1alpha1

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The schema's rules and limits, as the kubebuilder markers in partnerinvitation_types.go
// declare them. Markers cannot refer to Go constants, so TestValidationMatchesCRD compares
// these with the generated CRD: a marker changed without its constant here fails that test.
//
// Patterns are written for both Go's regexp and CEL's matches() (the same RE2 syntax), with
// no backslash and no double quote, so that a rule is the pattern inside "..." verbatim.
// Every refusal has a message in words; none shows a pattern.
const (
	// The address grammar. Microsoft Graph's invitation resource
	// (https://learn.microsoft.com/graph/api/resources/invitation, invitedUserEmailAddress)
	// refuses these characters in an invited address: ~ ! # $ % ^ & * ( ) + = [ ] { } \ / | ; : "
	// < > ? , and allows a period or a hyphen anywhere in the user name except at its start or
	// end, an underscore anywhere. So the part before the @ is dot-separated runs of ASCII
	// letters, digits, '-', '_' and the apostrophe (which the page does not forbid: O'Brien),
	// not starting or ending with '.' or '-', with no two dots in a row (RFC 5322's dot-atom),
	// and at most 64 characters (RFC 5321). The backtick, which RFC 5322 allows and the page
	// does not mention, is left out; so are non-ASCII names, which Entra's user principal
	// names cannot carry.
	localPartChars = `A-Za-z0-9_'`
	localPart      = `[` + localPartChars + `](([.]?[` + localPartChars + `-])*[.]?[` + localPartChars + `])?`
	// The domain: at least two dot-separated DNS labels of ASCII letters, digits and hyphens,
	// 1 to 63 characters, not starting or ending with a hyphen; no trailing dot. An
	// international domain is written in punycode (xn--...): ValidateSpecWarnings looks at it.
	domainLabel = `[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?`
	domainName  = domainLabel + `([.]` + domainLabel + `)+`

	addressPattern = `^` + localPart + `@` + domainName + `$`
	// The checks that choose the message of an address that breaks the grammar.
	addressShapePattern = `^[^@<>[:space:]]+@[^@<>[:space:]]+$`
	localPartPattern    = `^` + localPart + `@`
	localLengthPattern  = `^[^@]{1,64}@`

	addressShapeMessage = "must be one bare mail address such as partner@fabrikam.com: a name, one @ and a domain, with no spaces, display name or angle brackets"
	localPartMessage    = "the name before the @ may hold only ASCII letters, digits and the characters . - _ ' (Microsoft Graph refuses + and other special characters in invited addresses); it must not start or end with a dot or a hyphen, hold two dots in a row, or be longer than 64 characters"
	domainMessage       = "the domain after the @ must be at least two labels of ASCII letters, digits and hyphens joined by single dots, such as fabrikam.com: no empty label, none longer than 63 characters or starting or ending with a hyphen, no dot at the end; write an international domain in punycode (xn--...)"

	// addressRule and addressMessageExpression are the CEL of spec.email and
	// spec.message.ccRecipients[]; mailAddress is the same in Go.
	addressRule              = `self.matches("` + addressPattern + `") && self.matches("` + localLengthPattern + `")`
	addressMessageExpression = `!self.matches("` + addressShapePattern + `") ? "` + addressShapeMessage + `" : !(self.matches("` + localPartPattern + `") && self.matches("` + localLengthPattern + `")) ? "` + localPartMessage + `" : "` + domainMessage + `"`

	uuidPattern = `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	// A sponsor's user principal name: a member's UPN is name@verified-domain (a guest's
	// holds #EXT#, which is why the name part is looser than an invited address's).
	upnPattern     = `^[^@[:space:]/]+@` + domainName + `$`
	sponsorRule    = `self.matches("` + uuidPattern + `") || self.matches("` + upnPattern + `")`
	sponsorMessage = "must be an object ID (a GUID) or a user principal name such as jane@contoso.com, whose domain is dot-separated labels of letters, digits and hyphens"

	appRule    = `self.matches("` + uuidPattern + `")`
	appMessage = "must be an application's appId or its service principal's object ID (a GUID)"

	languagePattern = `^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$`
	languageRule    = `self.matches("` + languagePattern + `")`
	languageMessage = "must be a BCP 47 language tag such as en-US"

	usageLocationPattern = `^[A-Z]{2}$`
	usageLocationRule    = `self.matches("` + usageLocationPattern + `")`
	usageLocationMessage = "must be a two-letter country code in capitals, such as DE"

	// redirectURLRule: isURL and url() are url.ParseRequestURI; startsWith is case-sensitive.
	redirectURLRule    = `self.startsWith("https://") && isURL(self) && url(self).getHostname() != ""`
	redirectURLMessage = "redirectURL must be an https:// URL with a host, such as https://myapps.microsoft.com"

	emailImmutableRule = "self == oldSelf"

	emailMinLength       = 3
	emailMaxLength       = 254
	displayNameMaxLength = 256
	// spec.recertification's who and why.
	recertifiedByMaxLength         = 256
	recertificationReasonMaxLength = 1024
	redirectURLMaxLength           = 2048
	bodyMaxLength                  = 2000
	languageMaxLength              = 35
	ccRecipientsMaxItems           = 1
	profileNameMaxLength           = 64 // givenName, surname, companyName, department, employeeType
	jobTitleMaxLength              = 128
	sponsorsMaxItems               = 5
	refMaxLength                   = 256 // a sponsor, a group, an app role
	objectNameMaxLength            = 253 // tenantRef.name: a Kubernetes object name
	groupMinLength                 = 1
	guidLength                     = 36 // bounds the cost of the app's CEL rule
	accessMaxItems                 = 50 // groups, and applications
)

// Compiled once; regexps are safe for concurrent use and never change.
var (
	addressRE       = regexp.MustCompile(addressPattern)
	addressShapeRE  = regexp.MustCompile(addressShapePattern)
	localPartRE     = regexp.MustCompile(localPartPattern)
	localLengthRE   = regexp.MustCompile(localLengthPattern)
	uuidRE          = regexp.MustCompile(uuidPattern)
	upnRE           = regexp.MustCompile(upnPattern)
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
func tenantKinds() []string { return []string{KindGraphTenant, KindClusterGraphTenant} }

// ValidateSpec checks a spec against every rule the API server applies to it from the CRD
// schema (the markers in partnerinvitation_types.go), with the same messages: a spec it
// accepts is one the API server accepts, and the controller applies it before any Graph write
// (for objects an older CRD let through). The one rule it cannot check is a transition rule:
// spec.email is immutable, which needs the older object.
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
	if rc := spec.Recertification; rc != nil {
		rp := path.Child("recertification")
		if rc.At.IsZero() {
			add(field.Required(rp.Child("at"), "when the access was confirmed"))
		}
		for _, f := range []struct {
			name, value, what string
			max               int
		}{{"by", rc.By, "who confirmed the access", recertifiedByMaxLength}, {"reason", rc.Reason, "why the access is still needed", recertificationReasonMaxLength}} {
			if f.value == "" {
				add(field.Required(rp.Child(f.name), f.what))
			}
			add(maxChars(rp.Child(f.name), f.value, f.max))
		}
	}
	if p := spec.Profile; p != nil {
		errs = append(errs, validateProfile(p, path.Child("profile"))...)
	}
	errs = append(errs, validateSponsors(spec.Sponsors, path.Child("sponsors"))...)
	if a := spec.Access; a != nil {
		errs = append(errs, validateAccess(a, path.Child("access"))...)
	}
	if t := spec.TenantRef; t != nil {
		add(oneOf(path.Child("tenantRef", "kind"), t.Kind, tenantKinds()))
		if t.Name == "" {
			add(field.Required(path.Child("tenantRef", "name"), "the tenant object's name"))
		} else {
			add(maxChars(path.Child("tenantRef", "name"), t.Name, objectNameMaxLength))
		}
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
			errs = append(errs, field.Invalid(path.Child("language"), m.Language, languageMessage))
		}
	}
	cc := path.Child("ccRecipients")
	if len(m.CCRecipients) > ccRecipientsMaxItems {
		errs = append(errs, field.TooMany(cc, len(m.CCRecipients), ccRecipientsMaxItems))
	}
	for i, r := range m.CCRecipients {
		// The schema has no minimum length here, only the grammar, which needs 5 characters.
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
		errs = append(errs, field.Invalid(path.Child("usageLocation"), p.UsageLocation, usageLocationMessage))
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
		case !uuidRE.MatchString(s) && !upnRE.MatchString(s):
			errs = append(errs, field.Invalid(p, s, sponsorMessage))
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
		case utf8.RuneCountInString(app.App) > guidLength:
			errs = append(errs, field.TooLongCharacters(p.Child("app"), app.App, guidLength))
		case !uuidRE.MatchString(app.App):
			errs = append(errs, field.Invalid(p.Child("app"), app.App, appMessage))
		}
		if err := maxChars(p.Child("role"), app.Role, refMaxLength); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// mailAddress checks an address against the schema's lengths and its address grammar (see
// addressPattern), with the message the schema's messageExpression picks.
func mailAddress(path *field.Path, s string, minLength, maxLength int) *field.Error {
	n := utf8.RuneCountInString(s)
	if n > maxLength {
		return field.TooLongCharacters(path, s, maxLength)
	}
	if n < minLength {
		return field.TooShort(path, s, minLength)
	}
	if msg := addressProblem(s); msg != "" {
		return field.Invalid(path, s, msg)
	}
	return nil
}

// addressProblem is addressRule and addressMessageExpression in Go: "" for an address the
// grammar accepts, else the message the API server gives.
func addressProblem(s string) string {
	switch {
	case addressRE.MatchString(s) && localLengthRE.MatchString(s):
		return ""
	case !addressShapeRE.MatchString(s):
		return addressShapeMessage
	case !(localPartRE.MatchString(s) && localLengthRE.MatchString(s)):
		return localPartMessage
	default:
		return domainMessage
	}
}

// redirectURL is the schema's redirectURLRule: an https:// URL (case-sensitive, as CEL's
// startsWith is) that url.ParseRequestURI accepts (CEL's isURL and url()) and that names a
// host (url().getHostname()).
func redirectURL(path *field.Path, s string) *field.Error {
	if s == "" {
		return nil // the API server fills in its default
	}
	if err := maxChars(path, s, redirectURLMaxLength); err != nil {
		return err
	}
	if !strings.HasPrefix(s, "https://") {
		return field.Invalid(path, s, redirectURLMessage)
	}
	if u, err := url.ParseRequestURI(s); err != nil || u.Hostname() == "" {
		return field.Invalid(path, s, redirectURLMessage)
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

// ValidateSpecWarnings returns what is allowed but worth a second look, one message per
// finding, each naming its field: today, international (punycode) domains in spec.email and
// spec.message.ccRecipients whose labels mix scripts, as look-alike (homoglyph) domains do
// ("xn--pple-43d.com" reads "аpple.com" with a Cyrillic а), or that do not decode at all. The
// address grammar admits only ASCII domains, so this is where a homoglyph shows. The messages
// never quote the address: they reach events and logs.
//
// The admission-time counterpart (config/policy) cannot decode punycode; it warns on every
// punycode label.
func ValidateSpecWarnings(spec *PartnerInvitationSpec, path *field.Path) []string {
	var out []string
	check := func(p *field.Path, addr string) {
		if w := domainWarning(addr); w != "" {
			out = append(out, p.String()+": "+w)
		}
	}
	check(path.Child("email"), spec.Email)
	if m := spec.Message; m != nil {
		for i, cc := range m.CCRecipients {
			check(path.Child("message", "ccRecipients").Index(i), cc)
		}
	}
	return out
}

// domainWarning looks at the punycode labels of an address's domain.
func domainWarning(addr string) string {
	at := strings.LastIndex(addr, "@")
	if at < 0 {
		return ""
	}
	for _, label := range strings.Split(addr[at+1:], ".") {
		if len(label) < 4 || !strings.EqualFold(label[:4], "xn--") {
			continue
		}
		// Lookup is the profile for names about to be resolved: it checks the decoded label
		// against IDNA 2008 as well as decoding it.
		decoded, err := idna.Lookup.ToUnicode(strings.ToLower(label))
		if err != nil || decoded == "" || decoded == strings.ToLower(label) {
			return "the domain has a punycode label (xn--) that does not decode to an international name; check it is the domain you mean"
		}
		if scripts := scriptsOf(decoded); len(scripts) > 1 {
			return fmt.Sprintf("the domain has a punycode label that mixes %s letters, as look-alike domains do; check it is the domain you mean", strings.Join(scripts, " and "))
		}
	}
	return ""
}

// cjk are scripts written together in one name (Japanese mixes Han and kana, Korean Han and
// Hangul): together they count as one.
var cjk = map[string]bool{"Han": true, "Hiragana": true, "Katakana": true, "Hangul": true, "Bopomofo": true}

// scriptsOf returns the sorted names of the scripts of s's letters; digits, hyphens and
// marks (Common and Inherited) belong to none.
func scriptsOf(s string) []string {
	seen := map[string]bool{}
	for _, r := range s {
		if !unicode.IsLetter(r) {
			continue
		}
		for name, table := range unicode.Scripts {
			if name == "Common" || name == "Inherited" || !unicode.Is(table, r) {
				continue
			}
			if cjk[name] {
				name = "CJK"
			}
			seen[name] = true
			break
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
