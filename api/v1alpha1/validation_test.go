package v1alpha1_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// specCase changes a valid spec; field is the path ValidateSpec must name ("" when it must
// accept the spec).
type specCase struct {
	name   string
	change func(*b2bv1alpha1.PartnerInvitationSpec)
	field  string
}

func validSpec() b2bv1alpha1.PartnerInvitationSpec {
	return b2bv1alpha1.PartnerInvitationSpec{Email: "anna@fabrikam.example"}
}

func guid(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", s, i)
	}
	return out
}

// acceptedCases are valid to the API server and to ValidateSpec, many of them at a limit:
// lengths count characters, not bytes, as the API server does.
var acceptedCases = []specCase{
	{name: "minimal", change: func(*b2bv1alpha1.PartnerInvitationSpec) {}},
	{name: "every field at its limit", change: func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 52) + ".example" // 253
		s.DisplayName = strings.Repeat("ü", 256)
		s.RedirectURL = "https://partners.fabrikam.example/" + strings.Repeat("p", 2048-34)
		s.UserType = b2bv1alpha1.UserTypeMember
		s.DeletionPolicy = b2bv1alpha1.DeletionPolicyOrphan
		s.ExpiryAction = b2bv1alpha1.ExpiryDisable
		t := metav1.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		s.ExpiresAt = &t
		s.Message = &b2bv1alpha1.InvitationMessage{
			Body:         strings.Repeat("é", 2000),
			Language:     "de-" + strings.Repeat("abcdefgh-", 3) + "abcde", // 35
			CCRecipients: []string{"lead@fabrikam.example"},
		}
		s.Profile = &b2bv1alpha1.GuestProfile{
			GivenName: strings.Repeat("ä", 64), Surname: strings.Repeat("ö", 64),
			CompanyName: strings.Repeat("c", 64), Department: strings.Repeat("d", 64),
			JobTitle: strings.Repeat("j", 128), EmployeeType: strings.Repeat("e", 64), UsageLocation: "DE",
		}
		s.Sponsors = []string{guid(1), "boss@contoso.example", "x@y.example", guid(2), strings.Repeat("s", 250) + "@y.xyz"}
		s.Access = &b2bv1alpha1.PartnerAccess{Groups: append(repeat("group ", 49), strings.Repeat("g", 256))}
		for i := range 50 {
			// Applications are an atomic list: the same app twice is the API server's business no more than Graph's.
			s.Access.Applications = append(s.Access.Applications, b2bv1alpha1.ApplicationAccess{App: guid(i % 3), Role: strings.Repeat("r", 256)})
		}
	}},
	{name: "uppercase GUID app", change: func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Access = &b2bv1alpha1.PartnerAccess{Applications: []b2bv1alpha1.ApplicationAccess{{App: "CD3ED3DE-93EE-400B-8B19-B61EF44A0F29"}}}
	}},
	{name: "guest UPN sponsor", change: func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Sponsors = []string{"jane_contoso.example#EXT#@fabrikam.onmicrosoft.com"}
	}},
	{name: "redirectURL with a port and a query", change: func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.RedirectURL = "https://partners.fabrikam.example:8443/welcome?lang=de"
	}},
	{name: "three-letter language", change: func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Message = &b2bv1alpha1.InvitationMessage{Language: "gsw"}
	}},
}

// rejectedCases break one rule of the schema each; the API server refuses them too, naming the
// same field.
var rejectedCases = []specCase{
	{"email missing", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.Email = "" }, "spec.email"},
	{"email without @", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.Email = "anna.fabrikam.example" }, "spec.email"},
	{"email with a space", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.Email = "anna @fabrikam.example" }, "spec.email"},
	{"email without a dot in the domain", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.Email = "anna@localhost" }, "spec.email"},
	{"email too short", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.Email = "a@" }, "spec.email"},
	{"email too long", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 54) + ".example" // 255
	}, "spec.email"},
	{"displayName too long", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.DisplayName = strings.Repeat("ü", 257) }, "spec.displayName"},
	{"redirectURL http", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.RedirectURL = "http://fabrikam.example" }, "spec.redirectURL"},
	{"redirectURL upper-case scheme", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.RedirectURL = "HTTPS://fabrikam.example" }, "spec.redirectURL"},
	{"redirectURL bad escape", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.RedirectURL = "https://fabrikam.example/%zz" }, "spec.redirectURL"},
	{"redirectURL space in host", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.RedirectURL = "https://fab rikam.example" }, "spec.redirectURL"},
	{"redirectURL without a host", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.RedirectURL = "https:///welcome" }, "spec.redirectURL"},
	{"redirectURL scheme only", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.RedirectURL = "https://" }, "spec.redirectURL"},
	{"redirectURL port only", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.RedirectURL = "https://:443/welcome" }, "spec.redirectURL"},
	{"redirectURL too long", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.RedirectURL = "https://partners.fabrikam.example/" + strings.Repeat("p", 2048-33)
	}, "spec.redirectURL"},
	{"userType", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.UserType = "Admin" }, "spec.userType"},
	{"userType lower case", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.UserType = "guest" }, "spec.userType"},
	{"deletionPolicy", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.DeletionPolicy = "Keep" }, "spec.deletionPolicy"},
	{"expiryAction", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.ExpiryAction = "Explode" }, "spec.expiryAction"},
	{"message body too long", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Message = &b2bv1alpha1.InvitationMessage{Body: strings.Repeat("é", 2001)}
	}, "spec.message.body"},
	{"message language", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Message = &b2bv1alpha1.InvitationMessage{Language: "english"}
	}, "spec.message.language"},
	{"message language too long", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Message = &b2bv1alpha1.InvitationMessage{Language: "de-" + strings.Repeat("abcdefgh-", 3) + "abcdef"}
	}, "spec.message.language"},
	{"two ccRecipients", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Message = &b2bv1alpha1.InvitationMessage{CCRecipients: []string{"a@fabrikam.example", "b@fabrikam.example"}}
	}, "spec.message.ccRecipients"},
	{"ccRecipient not an address", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Message = &b2bv1alpha1.InvitationMessage{CCRecipients: []string{"lead"}}
	}, "spec.message.ccRecipients[0]"},
	{"ccRecipient too long", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Message = &b2bv1alpha1.InvitationMessage{CCRecipients: []string{strings.Repeat("a", 247) + "@b.example"}}
	}, "spec.message.ccRecipients[0]"},
	{"givenName too long", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Profile = &b2bv1alpha1.GuestProfile{GivenName: strings.Repeat("ä", 65)}
	}, "spec.profile.givenName"},
	{"surname too long", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Profile = &b2bv1alpha1.GuestProfile{Surname: strings.Repeat("s", 65)}
	}, "spec.profile.surname"},
	{"companyName too long", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Profile = &b2bv1alpha1.GuestProfile{CompanyName: strings.Repeat("c", 65)}
	}, "spec.profile.companyName"},
	{"department too long", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Profile = &b2bv1alpha1.GuestProfile{Department: strings.Repeat("d", 65)}
	}, "spec.profile.department"},
	{"jobTitle too long", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Profile = &b2bv1alpha1.GuestProfile{JobTitle: strings.Repeat("j", 129)}
	}, "spec.profile.jobTitle"},
	{"employeeType too long", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Profile = &b2bv1alpha1.GuestProfile{EmployeeType: strings.Repeat("e", 65)}
	}, "spec.profile.employeeType"},
	{"usageLocation lower case", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Profile = &b2bv1alpha1.GuestProfile{UsageLocation: "de"}
	}, "spec.profile.usageLocation"},
	{"six sponsors", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Sponsors = []string{guid(1), guid(2), guid(3), guid(4), guid(5), guid(6)}
	}, "spec.sponsors"},
	{"sponsor neither ID nor UPN", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.Sponsors = []string{"Jane Doe"} }, "spec.sponsors[0]"},
	{"sponsor with a slash", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.Sponsors = []string{"a/b@contoso.example"} }, "spec.sponsors[0]"},
	{"sponsor UPN without a dot in the domain", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.Sponsors = []string{"jane@contoso"} }, "spec.sponsors[0]"},
	{"sponsor UPN with a trailing dot", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.Sponsors = []string{"jane@contoso.example."} }, "spec.sponsors[0]"},
	{"sponsor twice", func(s *b2bv1alpha1.PartnerInvitationSpec) { s.Sponsors = []string{guid(1), guid(1)} }, "spec.sponsors[1]"},
	{"sponsor too long", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Sponsors = []string{strings.Repeat("s", 251) + "@y.xyz"}
	}, "spec.sponsors[0]"},
	{"51 groups", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Access = &b2bv1alpha1.PartnerAccess{Groups: repeat("group ", 51)}
	}, "spec.access.groups"},
	{"empty group", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Access = &b2bv1alpha1.PartnerAccess{Groups: []string{""}}
	}, "spec.access.groups[0]"},
	{"group twice", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Access = &b2bv1alpha1.PartnerAccess{Groups: []string{"Partners", "Partners"}}
	}, "spec.access.groups[1]"},
	{"group too long", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Access = &b2bv1alpha1.PartnerAccess{Groups: []string{strings.Repeat("g", 257)}}
	}, "spec.access.groups[0]"},
	{"51 applications", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Access = &b2bv1alpha1.PartnerAccess{Applications: make([]b2bv1alpha1.ApplicationAccess, 51)}
		for i := range s.Access.Applications {
			s.Access.Applications[i].App = guid(i)
		}
	}, "spec.access.applications"},
	{"application not a GUID", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Access = &b2bv1alpha1.PartnerAccess{Applications: []b2bv1alpha1.ApplicationAccess{{App: "Partner Portal"}}}
	}, "spec.access.applications[0].app"},
	{"application empty", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Access = &b2bv1alpha1.PartnerAccess{Applications: []b2bv1alpha1.ApplicationAccess{{Role: "Reader"}}}
	}, "spec.access.applications[0].app"},
	{"application GUID with braces", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Access = &b2bv1alpha1.PartnerAccess{Applications: []b2bv1alpha1.ApplicationAccess{{App: "{" + guid(1) + "}"}}}
	}, "spec.access.applications[0].app"},
	{"application GUID with a space", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Access = &b2bv1alpha1.PartnerAccess{Applications: []b2bv1alpha1.ApplicationAccess{{App: guid(1) + " "}}}
	}, "spec.access.applications[0].app"},
	{"role too long", func(s *b2bv1alpha1.PartnerInvitationSpec) {
		s.Access = &b2bv1alpha1.PartnerAccess{Applications: []b2bv1alpha1.ApplicationAccess{{App: guid(1), Role: strings.Repeat("r", 257)}}}
	}, "spec.access.applications[0].role"},
}

// graphForbidden are the characters Microsoft Graph's invitation resource forbids in
// invitedUserEmailAddress (https://learn.microsoft.com/graph/api/resources/invitation).
const graphForbidden = `~!#$%^&*()+=[]{}\/|;:"<>?,`

// addressCorpus is the shared corpus of addresses: ok says whether the address grammar
// accepts it. TestValidateSpec and TestValidateSpecAgreesWithAPIServer put every entry to
// ValidateSpec and to the API server, as spec.email and as a ccRecipient, and want the same
// answer from both.
func addressCorpus() []struct {
	addr, why string
	ok        bool
} {
	type entry = struct {
		addr, why string
		ok        bool
	}
	c := []entry{
		{"anna@fabrikam.example", "plain", true},
		{"anna.maria@fabrikam.example", "a dotted name", true},
		{"anna@mail.eu.fabrikam.example", "a subdomain", true},
		{"o'brien@fabrikam.example", "an apostrophe, which Graph does not forbid", true},
		{"_anna_@fabrikam.example", "underscores at both ends, which Graph allows", true},
		{"an-na.b-c@fab-rikam.example", "hyphens inside the name and a label", true},
		{"an.-na@fabrikam.example", "a hyphen after a dot, inside the name", true},
		{"ANNA@FABRIKAM.EXAMPLE", "capitals", true},
		{"a1@2b.example", "digits", true},
		{"a@b.co", "short", true},
		{"anna@xn--mller-kva.example", "a punycode label (müller)", true},
		{"anna@fabrikam.xn--p1ai", "a punycode top-level domain", true},
		{strings.Repeat("a", 64) + "@fabrikam.example", "a 64-character name", true},
		{"a@" + strings.Repeat("b", 63) + ".example", "a 63-character label", true},

		{"a..b@x.com", "two dots in a row", false},
		{"ab.@x.com", "a dot at the end of the name", false},
		{".ab@x.com", "a dot at the start of the name", false},
		{"-ab@x.com", "a hyphen at the start of the name", false},
		{"ab-@x.com", "a hyphen at the end of the name", false},
		{"x@fabrikam..com", "an empty label", false},
		{"x@.fabrikam.com", "an empty first label", false},
		{"<ab@x.com>", "angle brackets", false},
		{"Anna <ab@x.com>", "a display name", false},
		{`"anna"@fabrikam.example`, "a quoted name", false},
		{"x@gmail.com.", "a trailing dot", false},
		{"x@-fabrikam.com", "a label starting with a hyphen", false},
		{"x@fabrikam-.com", "a label ending with a hyphen", false},
		{"anna@localhost", "a domain of one label", false},
		{"anna.fabrikam.example", "no @", false},
		{"anna@@fabrikam.example", "two @ in a row", false},
		{"a@b@fabrikam.example", "two @", false},
		{"anna @fabrikam.example", "a space", false},
		{"anna@fabrikam.example\n", "a line break", false},
		{"anna@", "no domain", false},
		{"@fabrikam.example", "no name", false},
		{"jürgen@fabrikam.example", "a name that is not ASCII", false},
		{"anna@müller.example", "an international domain not in punycode", false},
		{"anna@fabrikam.exam_ple", "an underscore in the domain", false},
		{"anna@[192.0.2.1]", "an address literal", false},
		{"an`na@fabrikam.example", "a backtick", false},
		{strings.Repeat("a", 65) + "@fabrikam.example", "a 65-character name", false},
		{"a@" + strings.Repeat("b", 64) + ".example", "a 64-character label", false},
	}
	for _, r := range graphForbidden {
		c = append(c, entry{"an" + string(r) + "na@fabrikam.example", fmt.Sprintf("%q, which Graph forbids", r), false})
	}
	return c
}

// corpusCases turns the address corpus into spec cases: each address as spec.email and as a
// ccRecipient.
func corpusCases(ok bool) []specCase {
	var out []specCase
	for _, a := range addressCorpus() {
		if a.ok != ok {
			continue
		}
		email, cc := "spec.email", "spec.message.ccRecipients[0]"
		if ok {
			email, cc = "", ""
		}
		out = append(out,
			specCase{"email " + a.why, func(s *b2bv1alpha1.PartnerInvitationSpec) { s.Email = a.addr }, email},
			specCase{"ccRecipient " + a.why, func(s *b2bv1alpha1.PartnerInvitationSpec) {
				s.Message = &b2bv1alpha1.InvitationMessage{CCRecipients: []string{a.addr}}
			}, cc})
	}
	return out
}

func allAccepted() []specCase { return append(slices.Clone(acceptedCases), corpusCases(true)...) }
func allRejected() []specCase { return append(slices.Clone(rejectedCases), corpusCases(false)...) }

func (c specCase) build() b2bv1alpha1.PartnerInvitationSpec {
	s := validSpec()
	c.change(&s)
	return s
}

func TestValidateSpec(t *testing.T) {
	for _, c := range append(allAccepted(), allRejected()...) {
		t.Run(c.name, func(t *testing.T) {
			s := c.build()
			errs := b2bv1alpha1.ValidateSpec(&s, field.NewPath("spec"))
			checkNames(t, errs, c.field)
		})
	}
}

// checkNames wants exactly one error, on field, or none when field is empty.
func checkNames(t *testing.T, errs field.ErrorList, want string) {
	t.Helper()
	switch {
	case want == "" && len(errs) > 0:
		t.Errorf("ValidateSpec refused a valid spec: %v", errs.ToAggregate())
	case want != "" && (len(errs) != 1 || errs[0].Field != want):
		t.Errorf("ValidateSpec = %v, want one error on %s", errs.ToAggregate(), want)
	}
}

func TestValidateSpecNamesEveryBadField(t *testing.T) {
	s := b2bv1alpha1.PartnerInvitationSpec{
		Email: "nobody", UserType: "Admin", RedirectURL: "http://x.example",
		Access: &b2bv1alpha1.PartnerAccess{Groups: []string{"a", "a"}},
	}
	errs := b2bv1alpha1.ValidateSpec(&s, field.NewPath("spec"))
	var got []string
	for _, e := range errs {
		got = append(got, e.Field)
	}
	want := "spec.email spec.redirectURL spec.userType spec.access.groups[1]"
	if strings.Join(got, " ") != want {
		t.Errorf("fields = %v, want %s", got, want)
	}
}

func TestValidateSpecWarnings(t *testing.T) {
	for _, c := range []struct {
		email, cc string
		want      []string // substrings, one a warning
	}{
		{email: "anna@fabrikam.example"},
		{email: "anna@xn--mller-kva.example"},                                                  // müller: Latin only
		{email: "anna@xn--80ak6aa92e.example"},                                                 // all Cyrillic: no mix within a label
		{email: "anna@XN--wgv71a119e.example"},                                                 // 日本語: CJK only, capitals
		{email: "anna@xn--pple-43d.com", want: []string{"spec.email: ", "Cyrillic and Latin"}}, // аpple
		{email: "anna@fabrikam.example", cc: "lead@xn--pple-43d.com", want: []string{"spec.message.ccRecipients[0]: ", "mixes"}},
		{email: "anna@xn--a.example", want: []string{"spec.email: ", "does not decode"}},
	} {
		s := b2bv1alpha1.PartnerInvitationSpec{Email: c.email}
		if c.cc != "" {
			s.Message = &b2bv1alpha1.InvitationMessage{CCRecipients: []string{c.cc}}
		}
		got := b2bv1alpha1.ValidateSpecWarnings(&s, field.NewPath("spec"))
		if len(c.want) == 0 {
			if len(got) > 0 {
				t.Errorf("%s %s: warnings %q, want none", c.email, c.cc, got)
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%s %s: warnings %q, want one", c.email, c.cc, got)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(got[0], w) {
				t.Errorf("%s %s: warning %q does not say %q", c.email, c.cc, got[0], w)
			}
		}
		if strings.Contains(got[0], "@") || strings.Contains(got[0], "xn--pple") {
			t.Errorf("the warning quotes the address: %q", got[0])
		}
	}
}
