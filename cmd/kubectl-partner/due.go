package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// defaultDueWithin is how far ahead status --due looks when --within is not given.
const defaultDueWithin = 14 * 24 * time.Hour

// noSponsor groups the invitations without spec.sponsors.
const noSponsor = "(no sponsor)"

// dueReport is what status --due prints; -o json and -o yaml print it as it is.
type dueReport struct {
	// Namespace is the namespace listed, empty for all of them.
	Namespace string `json:"namespace,omitempty"`
	// Within is the --within horizon.
	Within string `json:"within"`
	// Total counts the invitations listed, each once however many sponsors it has.
	Total int `json:"total"`
	// Sponsors holds the invitations per entry of their spec.sponsors, sorted by sponsor, the
	// invitations without one last.
	Sponsors []sponsorDue `json:"sponsors"`
}

type sponsorDue struct {
	Sponsor     string     `json:"sponsor"`
	Invitations []dueEntry `json:"invitations"`
}

type dueEntry struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	// DueAt is status.recertificationDueAt.
	DueAt *metav1.Time `json:"dueAt,omitempty"`
	// Due is what the DUE column shows: the due time, "overdue", or "acted: ACTION".
	Due string `json:"due"`
	// Acted is status.expiry, when an overdue recertification or inactivity ended the access.
	Acted        *b2bv1alpha1.ExpiryStatus `json:"acted,omitempty"`
	LastSignInAt *metav1.Time              `json:"lastSignInAt,omitempty"`
	// Recertification is spec.recertification: the latest one, if any.
	Recertification *b2bv1alpha1.Recertification `json:"recertification,omitempty"`

	// at orders the entries: when the operator acted, else when recertification is due.
	at time.Time
}

// dueFor lists the invitations whose recertification is due within the horizon from now (or is
// overdue), and those whose access an overdue recertification or inactivity has ended.
func dueFor(items []b2bv1alpha1.PartnerInvitation, ns string, within time.Duration, now time.Time) *dueReport {
	r := &dueReport{Namespace: ns, Within: dayDuration(within).String(), Sponsors: []sponsorDue{}}
	groups := map[string][]dueEntry{}
	horizon := now.Add(within)
	for i := range items {
		p := &items[i]
		e, ok := dueEntryOf(p, horizon, now)
		if !ok {
			continue
		}
		r.Total++
		for _, s := range sponsorsOf(p) {
			groups[s] = append(groups[s], e)
		}
	}
	for _, s := range slices.SortedFunc(maps.Keys(groups), compareSponsors) {
		entries := groups[s]
		slices.SortFunc(entries, func(a, b dueEntry) int {
			return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
		})
		r.Sponsors = append(r.Sponsors, sponsorDue{Sponsor: s, Invitations: entries})
	}
	return r
}

// dueEntryOf is p's entry, when p is due by horizon or was acted on.
func dueEntryOf(p *b2bv1alpha1.PartnerInvitation, horizon, now time.Time) (dueEntry, bool) {
	e := dueEntry{Namespace: p.Namespace, Name: p.Name, Email: p.Spec.Email, DueAt: p.Status.RecertificationDueAt,
		LastSignInAt: p.Status.LastSignInAt, Recertification: p.Spec.Recertification}
	if x := p.Status.Expiry; x != nil && (x.Rule == b2bv1alpha1.RuleRecertification || x.Rule == b2bv1alpha1.RuleInactivity) {
		e.Acted, e.Due, e.at = x, "acted: "+string(x.Action), x.At.Time
		return e, true
	}
	due := p.Status.RecertificationDueAt
	if due == nil || due.After(horizon) {
		return e, false
	}
	e.Due, e.at = due.UTC().Format(time.RFC3339), due.Time
	if !due.After(now) {
		e.Due = "overdue"
	}
	return e, true
}

// sponsorsOf is p's spec.sponsors, each once and sorted, or noSponsor.
func sponsorsOf(p *b2bv1alpha1.PartnerInvitation) []string {
	var out []string
	for _, s := range p.Spec.Sponsors {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return []string{noSponsor}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// compareSponsors sorts sponsors by name, noSponsor last.
func compareSponsors(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == noSponsor:
		return 1
	case b == noSponsor:
		return -1
	}
	return strings.Compare(a, b)
}

func (r *dueReport) printTables(out io.Writer) error {
	w, scope := scopedTable(out, r.Namespace)
	fmt.Fprintf(w, "%d PartnerInvitations in %s due for recertification within %s, or acted on\n", r.Total, scope, r.Within)
	for _, g := range r.Sponsors {
		fmt.Fprintf(w, "\nSPONSOR %s: %d\n", g.Sponsor, len(g.Invitations))
		fmt.Fprintln(w, "NAMESPACE\tNAME\tEMAIL\tDUE\tLAST-SIGN-IN\tRECERTIFIED")
		for _, e := range g.Invitations {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Namespace, e.Name, e.Email, e.Due,
				orDash(e.LastSignInAt), recertified(e.Recertification))
		}
	}
	return w.Flush()
}

// recertified is the RECERTIFIED column: who and when, or "never".
func recertified(r *b2bv1alpha1.Recertification) string {
	if r == nil {
		return "never"
	}
	return r.By + ", " + r.At.UTC().Format(time.RFC3339)
}

// orDash is t in RFC 3339 (UTC), or "-" when there is none.
func orDash(t *metav1.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
