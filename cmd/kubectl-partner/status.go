package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/tenant"
)

// statusListChunk is how many objects one list request asks for, so a large cluster is read
// in pages rather than in one answer.
const statusListChunk = 500

type statusOptions struct {
	p             *plugin
	allNamespaces bool
	pendingFor    dayDuration
	output        string
	// due lists the invitations whose recertification is due within the horizon instead.
	due    bool
	within dayDuration
}

func newStatusCommand(p *plugin) *cobra.Command {
	o := &statusOptions{p: p, pendingFor: dayDuration(7 * 24 * time.Hour), within: dayDuration(defaultDueWithin)}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Summarise the PartnerInvitations of a namespace or of the cluster",
		Long: `Summarise the PartnerInvitations of a namespace (-n, or the context's) or of every
namespace (-A): how many are in each redemption state, which invitations have waited
for the partner longer than --pending-for since they were last sent, which objects are
not Ready and why, and which addresses are held by another object or a member account.

With --due, list instead, per sponsor (spec.sponsors; "(no sponsor)" for none), the
invitations whose recertification is due (status.recertificationDueAt) within --within or
is overdue, and those whose access an overdue recertification or inactivity has ended
(status.expiry), soonest first. 'kubectl partner recertify' records a recertification.`,
		Example: `  # The current namespace
  kubectl partner status

  # Every namespace, invitations pending for more than two weeks
  kubectl partner status -A --pending-for 14d

  # For a script or a dashboard
  kubectl partner status -A -o json

  # Every namespace, the recertifications due in the next 30 days, per sponsor
  kubectl partner status -A --due --within 30d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case !o.due && cmd.Flags().Changed("within"):
				return errors.New("--within goes with --due")
			case o.due && cmd.Flags().Changed("pending-for"):
				return errors.New("--pending-for does not go with --due")
			}
			return o.run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "summarise every namespace")
	cmd.Flags().Var(&o.pendingFor, "pending-for", "list invitations pending for longer than this since last sent (e.g. 7d, 36h)")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: json or yaml (default: tables)")
	cmd.Flags().BoolVar(&o.due, "due", false, "list, per sponsor, the invitations whose recertification is due or was acted on")
	cmd.Flags().Var(&o.within, "within", "with --due, how far ahead a recertification counts as due (e.g. 14d, 36h)")
	return cmd
}

// statusReport is what status prints; -o json and -o yaml print it as it is.
type statusReport struct {
	// Namespace is the namespace summarised, empty for all of them.
	Namespace string `json:"namespace,omitempty"`
	Total     int    `json:"total"`
	Ready     int    `json:"ready"`
	// States counts the objects by status.state; "None" for those without one yet.
	States map[string]int `json:"states"`
	// PendingFor is the --pending-for threshold.
	PendingFor string         `json:"pendingFor"`
	Pending    []pendingEntry `json:"pending"`
	NotReady   []problemEntry `json:"notReady"`
	Conflicts  []problemEntry `json:"conflicts"`
	// Tenants summarises the objects per tenant (spec.tenantRef; "default" for none).
	Tenants []tenantEntry `json:"tenants"`
	// Organizations summarises them per PartnerOrganization (status.organization; "none" for
	// addresses no organization declares).
	Organizations []organizationEntry `json:"organizations"`
}

// tally counts a group of objects.
type tally struct {
	Total  int            `json:"total"`
	Ready  int            `json:"ready"`
	States map[string]int `json:"states"`
}

func (t *tally) add(state string, ready bool) {
	if t.States == nil {
		t.States = map[string]int{}
	}
	t.Total++
	t.States[state]++
	if ready {
		t.Ready++
	}
}

type tenantEntry struct {
	// Tenant is "default", or the kind and name of the tenant object (a GraphTenant's in the
	// namespace of its invitations).
	Tenant string `json:"tenant"`
	tally
}

type organizationEntry struct {
	Organization string `json:"organization"`
	tally
}

// noOrganization groups the invitations to addresses no PartnerOrganization declares.
const noOrganization = "none"

type pendingEntry struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	// Since is when the invitation was last sent (or, for a guest adopted while pending, when
	// the object was created: the invitation is at least that old).
	Since   metav1.Time `json:"since"`
	Pending string      `json:"pending"`
}

type problemEntry struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Reason    string `json:"reason"`
	Message   string `json:"message"`
	// Owner is who holds the address, as a conflict's message names it.
	Owner string `json:"owner,omitempty"`
}

// stateNone is the state of objects Graph has reported none for yet.
const stateNone = "None"

func (o *statusOptions) run(ctx context.Context) error {
	if o.output != "" && o.output != "json" && o.output != "yaml" {
		return fmt.Errorf("--output must be json or yaml, not %q", o.output)
	}
	items, ns, err := listIn(ctx, o.p, o.allNamespaces)
	if err != nil {
		return err
	}
	if o.due {
		due := dueFor(items, ns, time.Duration(o.within), time.Now())
		return printReport(o.p.streams.Out, o.output, due, due.printTables)
	}
	report := summarise(items, ns, time.Duration(o.pendingFor), time.Now())
	return printReport(o.p.streams.Out, o.output, report, report.printTables)
}

// printReport writes v as JSON or YAML, or, without a format, as tables does.
func printReport(out io.Writer, format string, v any, tables func(io.Writer) error) error {
	switch format {
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		raw, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = out.Write(raw)
		return err
	}
	return tables(out)
}

// listIn lists the PartnerInvitations of the namespace kubectl would use or, with
// allNamespaces, of every namespace; ns is that namespace, or "" for every namespace.
func listIn(ctx context.Context, p *plugin, allNamespaces bool) (items []b2bv1alpha1.PartnerInvitation, ns string, err error) {
	c, err := clusterClient(p, 0)
	if err != nil {
		return nil, "", err
	}
	if !allNamespaces {
		if ns, err = namespace(p); err != nil {
			return nil, "", err
		}
	}
	items, err = listInvitations(ctx, c, ns)
	return items, ns, err
}

// listInvitations reads every PartnerInvitation of ns ("": all), a chunk at a time.
func listInvitations(ctx context.Context, c client.Client, ns string) ([]b2bv1alpha1.PartnerInvitation, error) {
	var items []b2bv1alpha1.PartnerInvitation
	opts := []client.ListOption{client.InNamespace(ns), client.Limit(statusListChunk)}
	for {
		var list b2bv1alpha1.PartnerInvitationList
		if err := c.List(ctx, &list, opts...); err != nil {
			return nil, fmt.Errorf("list PartnerInvitations: %w", err)
		}
		items = append(items, list.Items...)
		if list.Continue == "" {
			return items, nil
		}
		opts = []client.ListOption{client.InNamespace(ns), client.Limit(statusListChunk), client.Continue(list.Continue)}
	}
}

func summarise(items []b2bv1alpha1.PartnerInvitation, ns string, pendingFor time.Duration, now time.Time) *statusReport {
	sort.Slice(items, func(i, j int) bool {
		if items[i].Namespace != items[j].Namespace {
			return items[i].Namespace < items[j].Namespace
		}
		return items[i].Name < items[j].Name
	})
	r := &statusReport{Namespace: ns, Total: len(items), States: map[string]int{}, PendingFor: dayDuration(pendingFor).String(),
		Pending: []pendingEntry{}, NotReady: []problemEntry{}, Conflicts: []problemEntry{}}
	tenants, orgs := map[string]*tally{}, map[string]*tally{}
	for i := range items {
		p := &items[i]
		state := string(p.Status.State)
		if state == "" {
			state = stateNone
		}
		r.States[state]++
		ready := meta.FindStatusCondition(p.Status.Conditions, b2bv1alpha1.ConditionReady)
		isReady := ready != nil && ready.Status == metav1.ConditionTrue
		groupOf(tenants, tenantOf(p)).add(state, isReady)
		groupOf(orgs, organizationOf(p)).add(state, isReady)
		if p.Status.State == b2bv1alpha1.StatePendingAcceptance {
			if since := lastSent(p); now.Sub(since) > pendingFor {
				r.Pending = append(r.Pending, pendingEntry{Namespace: p.Namespace, Name: p.Name, Email: p.Spec.Email,
					Since: metav1.NewTime(since), Pending: dayDuration(now.Sub(since).Truncate(time.Minute)).String()})
			}
		}
		if isReady {
			r.Ready++
			continue
		}
		e := problemEntry{Namespace: p.Namespace, Name: p.Name, Email: p.Spec.Email, Reason: "NotReconciled",
			Message: "the operator has not reported on it yet"}
		if ready != nil {
			e.Reason, e.Message = ready.Reason, ready.Message
		}
		r.NotReady = append(r.NotReady, e)
		if e.Reason == b2bv1alpha1.ReasonConflict {
			e.Owner = conflictOwner(e.Message)
			r.Conflicts = append(r.Conflicts, e)
		}
	}
	r.Tenants, r.Organizations = []tenantEntry{}, []organizationEntry{}
	for _, name := range slices.Sorted(maps.Keys(tenants)) {
		r.Tenants = append(r.Tenants, tenantEntry{Tenant: name, tally: *tenants[name]})
	}
	for _, name := range slices.Sorted(maps.Keys(orgs)) {
		r.Organizations = append(r.Organizations, organizationEntry{Organization: name, tally: *orgs[name]})
	}
	return r
}

func groupOf(groups map[string]*tally, key string) *tally {
	if groups[key] == nil {
		groups[key] = &tally{}
	}
	return groups[key]
}

// organizationOf names the invitation's organization, as status reports it.
func organizationOf(p *b2bv1alpha1.PartnerInvitation) string {
	if p.Status.Organization != "" {
		return p.Status.Organization
	}
	return noOrganization
}

// tenantOf names the tenant an invitation uses, as status reports it.
func tenantOf(p *b2bv1alpha1.PartnerInvitation) string {
	if ref := tenant.RefOf(p); !ref.IsDefault() {
		return ref.String()
	}
	return "default"
}

// lastSent is when the partner was last sent the invitation. A guest adopted while pending
// has neither time; its invitation is at least as old as the object.
func lastSent(p *b2bv1alpha1.PartnerInvitation) time.Time {
	switch {
	case p.Status.LastSentAt != nil:
		return p.Status.LastSentAt.Time
	case p.Status.InvitedAt != nil:
		return p.Status.InvitedAt.Time
	}
	return p.CreationTimestamp.Time
}

// The holders a Conflict's message names: another PartnerInvitation (namespace/name), or a
// member account (its object ID).
var (
	ownerObject = regexp.MustCompile(`PartnerInvitation ([a-z0-9][-a-z0-9.]*/[a-z0-9][-a-z0-9.]*)`)
	ownerMember = regexp.MustCompile(`member account \(([^)]+)\)`)
)

func conflictOwner(message string) string {
	if m := ownerObject.FindStringSubmatch(message); m != nil {
		return "PartnerInvitation " + m[1]
	}
	if m := ownerMember.FindStringSubmatch(message); m != nil {
		return "member account " + m[1]
	}
	return "unknown"
}

// scopedTable is a tabwriter for the tables of status and status --due, and the scope their
// title names: "namespace NS", or "all namespaces" for ns "".
func scopedTable(out io.Writer, ns string) (*tabwriter.Writer, string) {
	scope := "namespace " + ns
	if ns == "" {
		scope = "all namespaces"
	}
	return tabwriter.NewWriter(out, 0, 4, 2, ' ', 0), scope
}

func (r *statusReport) printTables(out io.Writer) error {
	w, scope := scopedTable(out, r.Namespace)
	fmt.Fprintf(w, "%d PartnerInvitations in %s, %d Ready\n\n", r.Total, scope, r.Ready)
	fmt.Fprintln(w, "STATE\tCOUNT")
	states := make([]string, 0, len(r.States))
	for s := range r.States {
		states = append(states, s)
	}
	sort.Strings(states)
	for _, s := range states {
		fmt.Fprintf(w, "%s\t%d\n", s, r.States[s])
	}

	if len(r.Tenants) > 1 || (len(r.Tenants) == 1 && r.Tenants[0].Tenant != "default") {
		fmt.Fprintln(w, "\nTENANT\tTOTAL\tREADY\tPENDING\tACCEPTED")
		for _, t := range r.Tenants {
			t.printRow(w, t.Tenant)
		}
	}
	if len(r.Organizations) > 1 || (len(r.Organizations) == 1 && r.Organizations[0].Organization != noOrganization) {
		fmt.Fprintln(w, "\nORGANIZATION\tTOTAL\tREADY\tPENDING\tACCEPTED")
		for _, o := range r.Organizations {
			o.printRow(w, o.Organization)
		}
	}

	fmt.Fprintf(w, "\nPENDING LONGER THAN %s: %d\n", r.PendingFor, len(r.Pending))
	if len(r.Pending) > 0 {
		fmt.Fprintln(w, "NAMESPACE\tNAME\tEMAIL\tLAST SENT\tPENDING")
		for _, e := range r.Pending {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Namespace, e.Name, e.Email, e.Since.UTC().Format(time.RFC3339), e.Pending)
		}
	}

	fmt.Fprintf(w, "\nNOT READY: %d\n", len(r.NotReady))
	if len(r.NotReady) > 0 {
		fmt.Fprintln(w, "NAMESPACE\tNAME\tEMAIL\tREASON\tMESSAGE")
		for _, e := range r.NotReady {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Namespace, e.Name, e.Email, e.Reason, oneLine(e.Message))
		}
	}

	fmt.Fprintf(w, "\nCONFLICTS: %d\n", len(r.Conflicts))
	if len(r.Conflicts) > 0 {
		fmt.Fprintln(w, "NAMESPACE\tNAME\tEMAIL\tHELD BY")
		for _, e := range r.Conflicts {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Namespace, e.Name, e.Email, e.Owner)
		}
	}
	return w.Flush()
}

func (t tally) printRow(w io.Writer, name string) {
	fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\n", name, t.Total, t.Ready,
		t.States[string(b2bv1alpha1.StatePendingAcceptance)], t.States[string(b2bv1alpha1.StateAccepted)])
}

// oneLine keeps a message on its table row.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// dayDuration is a time.Duration flag that also takes days ("7d", "1d12h"), as people count
// how long an invitation has waited.
type dayDuration time.Duration

func (d dayDuration) String() string {
	v := time.Duration(d)
	days := v / (24 * time.Hour)
	rest := v - days*24*time.Hour
	switch {
	case days == 0:
		return rest.String()
	case rest == 0:
		return strconv.FormatInt(int64(days), 10) + "d"
	}
	return strconv.FormatInt(int64(days), 10) + "d" + rest.String()
}

func (d *dayDuration) Set(s string) error {
	if s == "" {
		return fmt.Errorf("an empty duration; say 7d or 36h")
	}
	var days int64
	rest := s
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 7d or 36h", s)
		}
		days, rest = n, s[i+1:]
	}
	var v time.Duration
	if rest != "" {
		var err error
		if v, err = time.ParseDuration(rest); err != nil {
			return fmt.Errorf("%q is not a duration such as 7d or 36h", s)
		}
	}
	v += time.Duration(days) * 24 * time.Hour
	if v < 0 {
		return fmt.Errorf("%q is negative", s)
	}
	*d = dayDuration(v)
	return nil
}

func (d *dayDuration) Type() string { return "duration" }
