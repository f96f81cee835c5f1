package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

type reportOptions struct {
	p             *plugin
	allNamespaces bool
	output        string
}

// newReportCommand is "report": the access review an auditor asks for, one row per guest.
func newReportCommand(p *plugin) *cobra.Command {
	o := &reportOptions{p: p}
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Who has access to what, since when, and who vouches for it",
		Long: `Print one row per PartnerInvitation of a namespace (-n, or the context's) or of every
namespace (-A), sorted by namespace, sponsors and address: the guest (address, object ID,
redemption state), the access in effect (status.access: group:REF for a group membership,
app:APP/ROLE for an app role, joined with ';'), since when (redeemed, else invited), the last
sign-in, the latest recertification (when and by whom), when the next one is due and when the
access expires. A guest whose access an expiry ended shows it in STATE, for example
"Accepted (expired: RevokeAccess)".

-o csv writes the same columns as CSV with a header row, times in RFC 3339 and empty cells for
what is not known, for a spreadsheet.`,
		Example: `  # The current namespace
  kubectl partner report

  # Every namespace, for the auditor's spreadsheet
  kubectl partner report -A -o csv > access-review.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "report every namespace")
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or csv")
	return cmd
}

func (o *reportOptions) run(ctx context.Context) error {
	if o.output != "text" && o.output != "csv" {
		return fmt.Errorf("--output must be text or csv, not %q", o.output)
	}
	items, ns, err := listIn(ctx, o.p, o.allNamespaces)
	if err != nil {
		return err
	}
	rows := accessRows(items)
	if o.output == "csv" {
		return writeAccessCSV(o.p.streams.Out, rows)
	}
	if len(rows) == 0 {
		scope := "namespace " + ns
		if ns == "" {
			scope = "any namespace"
		}
		fmt.Fprintf(o.p.streams.ErrOut, "No PartnerInvitations in %s.\n", scope)
		return nil
	}
	return writeAccessTable(o.p.streams.Out, rows)
}

// accessRow is one guest of the report.
type accessRow struct {
	Namespace     string
	Sponsors      []string
	Email         string
	UserID        string
	State         string
	Access        []string
	Since         *metav1.Time
	LastSignIn    *metav1.Time
	RecertifiedAt *metav1.Time
	RecertifiedBy string
	Due           *metav1.Time
	Expires       *metav1.Time

	name string
}

// accessHeader is the report's columns.
func accessHeader() []string {
	return []string{"NAMESPACE", "SPONSORS", "EMAIL", "USER-ID", "STATE", "ACCESS", "SINCE",
		"LAST-SIGN-IN", "RECERTIFIED-AT", "RECERTIFIED-BY", "DUE", "EXPIRES"}
}

// accessRows is the report's rows, sorted by namespace, sponsors (none last) and address.
func accessRows(items []b2bv1alpha1.PartnerInvitation) []accessRow {
	rows := make([]accessRow, 0, len(items))
	for i := range items {
		p := &items[i]
		r := accessRow{Namespace: p.Namespace, Email: p.Spec.Email, UserID: p.Status.UserID,
			State: cmp.Or(string(p.Status.State), stateNone), Access: accessOf(p.Status.Access),
			Since: p.Status.RedeemedAt, LastSignIn: p.Status.LastSignInAt, Due: p.Status.RecertificationDueAt,
			Expires: p.Status.ExpiresAt, name: p.Name}
		if r.Since == nil {
			r.Since = p.Status.InvitedAt
		}
		if s := sponsorsOf(p); s[0] != noSponsor {
			r.Sponsors = s
		}
		if x := p.Status.Expiry; x != nil {
			r.State += " (expired: " + string(x.Action) + ")"
		}
		if rc := p.Spec.Recertification; rc != nil {
			at := rc.At
			r.RecertifiedAt, r.RecertifiedBy = &at, rc.By
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b accessRow) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace),
			compareSponsors(a.sponsorsCell(noSponsor), b.sponsorsCell(noSponsor)),
			cmp.Compare(strings.ToLower(a.Email), strings.ToLower(b.Email)),
			cmp.Compare(a.name, b.name))
	})
	return rows
}

// accessOf lists the grants in effect: group:REF and app:APP/ROLE (app:APP for default access).
func accessOf(a *b2bv1alpha1.AccessStatus) []string {
	if a == nil {
		return nil
	}
	var out []string
	for _, g := range a.Groups {
		out = append(out, "group:"+g.Ref)
	}
	for _, app := range a.Applications {
		entry := "app:" + app.App
		if app.Role != "" {
			entry += "/" + app.Role
		}
		out = append(out, entry)
	}
	return out
}

func (r *accessRow) sponsorsCell(none string) string {
	if len(r.Sponsors) == 0 {
		return none
	}
	return strings.Join(r.Sponsors, ";")
}

// cells is the row's columns, with none for what is not known and unsponsored for no sponsor.
func (r *accessRow) cells(none, unsponsored string) []string {
	or := func(s string) string { return cmp.Or(s, none) }
	at := func(t *metav1.Time) string {
		if t == nil {
			return none
		}
		return t.UTC().Format(time.RFC3339)
	}
	return []string{r.Namespace, r.sponsorsCell(unsponsored), r.Email, or(r.UserID), r.State,
		or(strings.Join(r.Access, ";")), at(r.Since), at(r.LastSignIn), at(r.RecertifiedAt),
		or(r.RecertifiedBy), at(r.Due), at(r.Expires)}
}

// writeAccessTable aligns the rows in columns, "-" for what is not known.
func writeAccessTable(out io.Writer, rows []accessRow) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(accessHeader(), "\t"))
	for i := range rows {
		fmt.Fprintln(w, strings.Join(rows[i].cells("-", noSponsor), "\t"))
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}

// writeAccessCSV writes a header row and the rows, empty cells for what is not known.
func writeAccessCSV(out io.Writer, rows []accessRow) error {
	w := csv.NewWriter(out)
	records := make([][]string, 0, len(rows)+1)
	records = append(records, accessHeader())
	for i := range rows {
		records = append(records, rows[i].cells("", ""))
	}
	if err := w.WriteAll(records); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}
