// Package importer turns the Entra portal's bulk-invite CSV files into PartnerInvitations,
// judging every row by the rules the API server and the operator will apply to it, so that a
// bad row is found on the command line, with its line number, and not after a commit.
package importer

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/manifest"
	"github.com/partnerops/partner-operator/internal/policy"
)

// Format is a CSV layout the importer reads, recognised by its header.
type Format string

const (
	// FormatPortal2016 is the classic portal's "Users in partner organizations" upload:
	// Email,DisplayName,InviteAppID,InviteReplyUrl,InviteAppResources,InviteGroupResources,InviteContactUsUrl.
	FormatPortal2016 Format = "portal-2016"
	// FormatBulkInvite is the Entra admin center's bulk-invite template: a line version:v1.0,
	// then headers such as "Email address to invite [inviteeEmail] Required".
	FormatBulkInvite Format = "bulk-invite"
)

// Options say where the invitations go and which policies judge them.
type Options struct {
	// Namespace of every object.
	Namespace string
	// Policies judge every row as if they all selected Namespace (internal/policy's
	// Invitation, Group and Application rules). None: no policy check.
	Policies []b2bv1alpha1.PartnerAccessPolicy
	// TenantRef, when set, is every object's spec.tenantRef (and the policies judge it too).
	TenantRef *b2bv1alpha1.TenantReference
}

// Problem is something wrong (or, as a notice, worth knowing) at a line of the file.
type Problem struct {
	File string
	// Line is where the CSV record starts (a quoted field may span lines).
	Line int
	// Field is the object's field (spec.email), or what else is at fault: header, csv, server.
	Field   string
	Message string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Field, p.Message)
}

// Invitation is the object one row became.
type Invitation struct {
	Line   int
	Object *b2bv1alpha1.PartnerInvitation
}

// Result is what an import found: the objects in file order, and what is wrong with the file.
// An invitation with a problem on its line is not valid.
type Result struct {
	File        string
	Format      Format
	Invitations []Invitation
	// Problems make the import fail; in line order.
	Problems []Problem
	// Notices are worth reading but change nothing: an unknown column, the template's
	// example row skipped.
	Notices []Problem

	refused map[lineField]bool
}

// Valid returns the objects of the rows that have no problem, in file order.
func (r *Result) Valid() []*b2bv1alpha1.PartnerInvitation {
	bad := map[int]bool{}
	for _, p := range r.Problems {
		bad[p.Line] = true
	}
	var out []*b2bv1alpha1.PartnerInvitation
	for _, inv := range r.Invitations {
		if !bad[inv.Line] {
			out = append(out, inv.Object)
		}
	}
	return out
}

// refuse records a problem with a row, making it invalid. A field gets one problem per line,
// the first; Problems stay in line order.
func (r *Result) refuse(line int, fieldName, message string) {
	key := lineField{line, fieldName}
	if r.refused[key] {
		return
	}
	if r.refused == nil {
		r.refused = map[lineField]bool{}
	}
	r.refused[key] = true
	// After the last problem of its line: mostly the end, as rows are read in order.
	i, _ := slices.BinarySearchFunc(r.Problems, line+1, func(p Problem, l int) int { return cmp.Compare(p.Line, l) })
	r.Problems = slices.Insert(r.Problems, i, Problem{File: r.File, Line: line, Field: fieldName, Message: message})
}

type lineField struct {
	line  int
	field string
}

func (r *Result) notice(line int, fieldName, message string) {
	r.Notices = append(r.Notices, Problem{File: r.File, Line: line, Field: fieldName, Message: message})
}

// Import reads a CSV file in either format (UTF-8, with or without a byte order mark, any line
// ends) and returns one PartnerInvitation per row, each named after its address
// (manifest.Names). Problems are collected, not stopped at; the error is for a file that
// cannot be read at all.
func Import(r io.Reader, file string, opts Options) (*Result, error) {
	res := &Result{File: file}
	br := bufio.NewReader(r)
	if bom, err := br.Peek(3); err == nil && string(bom) == "\uFEFF" {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // rows may be shorter than the header (trailing cells left out)
	cr.TrimLeadingSpace = true

	var (
		cols      columns
		firstData = true
		seen      = map[string]int{} // folded address → line
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			res.refuse(pe.StartLine, "csv", parseMessage(pe))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
		line, _ := cr.FieldPos(0)
		if blank(rec) {
			continue
		}
		if cols == nil {
			if res.Format == "" {
				if v, ok := versionLine(rec); ok {
					res.Format = FormatBulkInvite
					if !strings.EqualFold(v, "v1.0") {
						res.notice(line, "header", fmt.Sprintf("template version %q; reading it as v1.0", v))
					}
					continue
				}
			}
			var ok bool
			if cols, ok = readHeader(res, line, rec); !ok {
				return res, nil
			}
			continue
		}
		// Spreadsheets write every row as wide as the widest, the header included: a longer
		// row has a comma too many, and its cells would land in the wrong columns.
		if len(rec) > len(cols) {
			res.refuse(line, "csv", fmt.Sprintf("the row has %d fields, the header %d: a comma in an unquoted field?", len(rec), len(cols)))
			continue
		}
		row := row{res: res, line: line, rec: rec, cols: cols}
		if firstData && res.Format == FormatBulkInvite && row.isTemplateExample() {
			res.notice(line, "row", fmt.Sprintf("skipped the template's example row (%s); delete it to silence this", row.cell(keyInviteeEmail)))
			continue
		}
		firstData = false
		spec := row.spec()
		for _, e := range b2bv1alpha1.ValidateSpec(&spec, field.NewPath("spec")) {
			res.refuse(line, e.Field, e.ErrorBody())
		}
		for _, w := range b2bv1alpha1.ValidateSpecWarnings(&spec, field.NewPath("spec")) {
			where, msg, _ := strings.Cut(w, ": ")
			res.notice(line, where, msg)
		}
		if spec.Email != "" {
			key := manifest.Fold(spec.Email)
			if first, dup := seen[key]; dup {
				res.refuse(line, "spec.email", fmt.Sprintf("Duplicate value: %q: the same address as line %d", spec.Email, first))
			} else {
				seen[key] = line
			}
		}
		spec.TenantRef = opts.TenantRef.DeepCopy()
		res.Invitations = append(res.Invitations, Invitation{Line: line, Object: &b2bv1alpha1.PartnerInvitation{
			ObjectMeta: metav1.ObjectMeta{Namespace: opts.Namespace},
			Spec:       spec,
		}})
	}
	if cols == nil {
		msg := "the file is empty; " + wantHeader
		switch {
		case len(res.Problems) > 0:
			msg = "no header row could be read"
		case res.Format == FormatBulkInvite:
			msg = "no header row after the version line; " + wantHeader
		}
		res.refuse(1, "header", msg)
		return res, nil
	}

	emails := make([]string, len(res.Invitations))
	for i, inv := range res.Invitations {
		emails[i] = inv.Object.Spec.Email
	}
	for i, name := range manifest.Names(emails) {
		res.Invitations[i].Object.Name = name
	}
	if len(opts.Policies) > 0 {
		checkPolicies(res, opts)
	}
	return res, nil
}

// checkPolicies judges the rows that are valid so far, as the admission policy and the
// controller will: every policy selects the namespace, and a row's place among the valid rows
// is its place in the namespace's count.
func checkPolicies(res *Result, opts Options) {
	selecting := make([]*b2bv1alpha1.PartnerAccessPolicy, len(opts.Policies))
	for i := range opts.Policies {
		selecting[i] = &opts.Policies[i]
	}
	valid := map[*b2bv1alpha1.PartnerInvitation]bool{}
	for _, obj := range res.Valid() {
		valid[obj] = true
	}
	index := 0 // among the rows the policies let through, as only those are written
	for _, inv := range res.Invitations {
		if !valid[inv.Object] {
			continue
		}
		refused := false
		deny := func(field string, v *policy.Violation) {
			res.refuse(inv.Line, field, v.String())
			refused = true
		}
		if v := policy.Invitation(selecting, policy.DenyUnselected, opts.Namespace, inv.Object, index); v != nil {
			deny(ruleField(v.Rule), v)
		}
		if a := inv.Object.Spec.Access; a != nil {
			for i, g := range a.Groups {
				if v := policy.Group(selecting, g, ""); v != nil {
					deny(fmt.Sprintf("spec.access.groups[%d]", i), v)
				}
			}
			for i, app := range a.Applications {
				if v := policy.Application(selecting, app.App, app.Role); v != nil {
					deny(fmt.Sprintf("spec.access.applications[%d]", i), v)
				}
			}
		}
		if !refused {
			index++
		}
	}
}

// ruleField is the field a rule of policy.Invitation judges.
func ruleField(rule string) string {
	switch rule {
	case "deniedDomains", "allowedDomains":
		return "spec.email"
	case "allowMemberUserType":
		return "spec.userType"
	case "allowCustomMessage":
		return "spec.message.body"
	case "maxInvitationsPerNamespace":
		return "metadata.namespace"
	}
	return "spec"
}

func parseMessage(pe *csv.ParseError) string {
	if pe.Line != pe.StartLine {
		return fmt.Sprintf("%v (line %d, column %d)", pe.Err, pe.Line, pe.Column)
	}
	return fmt.Sprintf("%v (column %d)", pe.Err, pe.Column)
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// versionLine recognises the bulk-invite template's first line, "version:v1.0", in a cell of
// its own (spreadsheets add empty cells after it).
func versionLine(rec []string) (string, bool) {
	const prefix = "version:"
	first := strings.TrimSpace(rec[0])
	if len(first) < len(prefix) || !strings.EqualFold(first[:len(prefix)], prefix) || !blank(rec[1:]) {
		return "", false
	}
	return strings.TrimSpace(first[len(prefix):]), true
}

// row reads the cells of one record by column key.
type row struct {
	res  *Result
	line int
	rec  []string
	cols columns
}

// get returns the trimmed cell of the column with the key, "" when the file has no such column
// or the row stops before it. Text that is not UTF-8 (a file saved as "CSV" from a spreadsheet
// in a Western code page) is reported, and what can be read of it kept.
func (r row) get(key columnKey) string {
	v := r.cell(key)
	if !utf8.ValidString(v) {
		r.res.refuse(r.line, key.field(), fmt.Sprintf("Invalid value: %q: not UTF-8 text; save the file as CSV UTF-8", v))
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	return v
}

// cell is the trimmed text of the column with the key, as it is in the file.
func (r row) cell(key columnKey) string {
	i := slices.Index(r.cols, key)
	if i < 0 || i >= len(r.rec) {
		return ""
	}
	return strings.TrimSpace(r.rec[i])
}

func (r row) spec() b2bv1alpha1.PartnerInvitationSpec {
	switch r.res.Format {
	case FormatPortal2016:
		return r.portal2016()
	default:
		return r.bulkInvite()
	}
}

// portal2016 maps the 2016 columns: both app columns become applications (default access, each
// app once), the group column groups, the contact URL a line of the invitation message.
func (r row) portal2016() b2bv1alpha1.PartnerInvitationSpec {
	spec := b2bv1alpha1.PartnerInvitationSpec{
		Email:       r.get(keyEmail),
		DisplayName: r.get(keyDisplayName),
		RedirectURL: r.get(keyInviteReplyURL),
	}
	var access b2bv1alpha1.PartnerAccess
	apps := append(strings.Fields(r.get(keyInviteAppID)), strings.Fields(r.get(keyInviteAppResources))...)
	for _, app := range apps {
		if !slices.ContainsFunc(access.Applications, func(a b2bv1alpha1.ApplicationAccess) bool { return strings.EqualFold(a.App, app) }) {
			access.Applications = append(access.Applications, b2bv1alpha1.ApplicationAccess{App: app})
		}
	}
	// Repeated groups are left to validation to report: the list is a set.
	access.Groups = strings.Fields(r.get(keyInviteGroupResources))
	if len(access.Applications)+len(access.Groups) > 0 {
		spec.Access = &access
	}
	if contact := r.get(keyInviteContactUsURL); contact != "" {
		spec.Message = &b2bv1alpha1.InvitationMessage{Body: "Questions: " + contact}
	}
	return spec
}

func (r row) bulkInvite() b2bv1alpha1.PartnerInvitationSpec {
	spec := b2bv1alpha1.PartnerInvitationSpec{
		Email:       r.get(keyInviteeEmail),
		RedirectURL: r.get(keyInviteRedirectURL),
	}
	switch send := r.get(keySendEmail); strings.ToLower(send) {
	case "":
	case "true":
		spec.SendInvitationMessage = ptr.To(true)
	case "false":
		spec.SendInvitationMessage = ptr.To(false)
	default:
		r.res.refuse(r.line, keySendEmail.field(), fmt.Sprintf("Invalid value: %q: sendEmail must be true or false", send))
	}
	if body := r.get(keyCustomizedMessageBody); body != "" {
		spec.Message = &b2bv1alpha1.InvitationMessage{Body: body}
	}
	return spec
}

// isTemplateExample recognises the example row Microsoft's template ships: labelled
// "Example" in its first cell, or inviting an address at a domain reserved for examples.
func (r row) isTemplateExample() bool {
	if first := strings.ToLower(strings.TrimSpace(r.rec[0])); strings.HasPrefix(first, "example") {
		return true
	}
	domain := strings.ToLower(r.cell(keyInviteeEmail))
	if at := strings.LastIndex(domain, "@"); at >= 0 {
		domain = domain[at+1:]
	}
	for _, reserved := range []string{"example.com", "example.net", "example.org"} {
		if domain == reserved || strings.HasSuffix(domain, "."+reserved) {
			return true
		}
	}
	return false
}
