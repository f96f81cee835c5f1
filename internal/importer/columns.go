package importer

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// columnKey names a column the importer reads: the 2016 header, or the bracketed property
// name of the bulk-invite template, lower-cased (both are matched case-insensitively).
type columnKey string

const (
	keyEmail                columnKey = "email"
	keyDisplayName          columnKey = "displayname"
	keyInviteAppID          columnKey = "inviteappid"
	keyInviteReplyURL       columnKey = "invitereplyurl"
	keyInviteAppResources   columnKey = "inviteappresources"
	keyInviteGroupResources columnKey = "invitegroupresources"
	keyInviteContactUsURL   columnKey = "invitecontactusurl"

	keyInviteeEmail          columnKey = "inviteeemail"
	keyInviteRedirectURL     columnKey = "inviteredirecturl"
	keySendEmail             columnKey = "sendemail"
	keyCustomizedMessageBody columnKey = "customizedmessagebody"
)

const wantHeader = `want the classic portal's header ` +
	`"Email,DisplayName,InviteAppID,InviteReplyUrl,InviteAppResources,InviteGroupResources,InviteContactUsUrl", ` +
	`or Entra's bulk-invite template: "version:v1.0", then columns such as "Email address to invite [inviteeEmail] Required"`

func formatKeys(f Format) []columnKey {
	if f == FormatPortal2016 {
		return []columnKey{keyEmail, keyDisplayName, keyInviteAppID, keyInviteReplyURL, keyInviteAppResources, keyInviteGroupResources, keyInviteContactUsURL}
	}
	return []columnKey{keyInviteeEmail, keyInviteRedirectURL, keySendEmail, keyCustomizedMessageBody}
}

// field is the object's field a column fills, to name it in a problem with a cell.
func (k columnKey) field() string {
	switch k {
	case keyEmail, keyInviteeEmail:
		return "spec.email"
	case keyDisplayName:
		return "spec.displayName"
	case keyInviteReplyURL, keyInviteRedirectURL:
		return "spec.redirectURL"
	case keyInviteAppID, keyInviteAppResources:
		return "spec.access.applications"
	case keyInviteGroupResources:
		return "spec.access.groups"
	case keyInviteContactUsURL, keyCustomizedMessageBody:
		return "spec.message.body"
	case keySendEmail:
		return "spec.sendInvitationMessage"
	}
	return string(k)
}

// columns holds the key of each column of the file, "" for a column that is not read.
type columns []columnKey

// bracketed is the template's property name: "Email address to invite [inviteeEmail] Required".
var bracketed = regexp.MustCompile(`\[\s*([A-Za-z0-9_]+)\s*\]`)

// readHeader maps the header row to columns and settles the format (a bulk-invite template may
// have lost its version line). It reports false when the rows cannot be read.
func readHeader(res *Result, line int, rec []string) (columns, bool) {
	if res.Format == "" {
		res.Format = FormatPortal2016
		for _, cell := range rec {
			if bracketed.MatchString(cell) {
				res.Format = FormatBulkInvite
				res.notice(line, "header", "no version line (version:v1.0) before the bulk-invite header; reading it as the template")
				break
			}
		}
	}
	known, notices := formatKeys(res.Format), len(res.Notices)
	cols := make(columns, len(rec))
	at := map[columnKey]int{}
	for i, cell := range rec {
		cell = strings.TrimSpace(cell)
		key := columnKey(strings.ToLower(cell))
		if res.Format == FormatBulkInvite {
			key = ""
			if m := bracketed.FindStringSubmatch(cell); m != nil {
				key = columnKey(strings.ToLower(m[1]))
			}
		}
		switch {
		case cell == "":
		case !slices.Contains(known, key):
			res.notice(line, "header", fmt.Sprintf("column %d %q is not one the importer reads; ignored", i+1, cell))
		case at[key] > 0:
			res.refuse(line, "header", fmt.Sprintf("columns %d and %d are both %q", at[key], i+1, cell))
		default:
			at[key] = i + 1
			cols[i] = key
		}
	}
	switch {
	case len(at) == 0:
		res.Notices = res.Notices[:notices] // not a header: its columns are no news
		msg := "unrecognised header; " + wantHeader
		if len(rec) == 1 && strings.Contains(rec[0], ";") {
			msg = `unrecognised header: the file separates its columns with ";"; save it as "CSV UTF-8 (comma delimited)"`
		}
		res.refuse(line, "header", msg)
		return nil, false
	case at[known[0]] == 0:
		email := map[Format]string{FormatPortal2016: "Email", FormatBulkInvite: "[inviteeEmail]"}[res.Format]
		res.refuse(line, "header", fmt.Sprintf("no %s column: every row needs the partner's address", email))
		return nil, false
	}
	return cols, true
}
