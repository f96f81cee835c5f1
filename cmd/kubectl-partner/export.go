package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/controllers/partnerinvitation"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/msgraph"
	"github.com/partnerops/partner-operator/internal/manifest"
	"github.com/partnerops/partner-operator/internal/organization"
	"github.com/partnerops/partner-operator/internal/tenant"
)

// progressEvery is how many guests pass between two progress lines on stderr.
const progressEvery = 500

type exportOptions struct {
	p            *plugin
	domain       string
	createdAfter string
	state        string
	withAccess   bool
	out          string
	overwrite    bool
	output       string
	tenantSize   string
	operatorApp  string
	handOverTo   string
	// tenantRef, when set, exports a tenant object's directory with its credentials, and the
	// manifests name it in spec.tenantRef.
	tenantRef  string
	operatorNS string
	clouds     []string
	// orgs also exports the tenant's partner configurations as PartnerOrganizations.
	orgs bool
}

// exportClients are what the export reads and writes with.
type exportClients struct {
	// ref is the tenant object the manifests name; nil for the flags' tenant.
	ref      *b2bv1alpha1.TenantReference
	reader   graph.GuestReader
	writer   graph.Directory
	partners graph.PartnerReader
}

func newExportCommand(p *plugin) *cobra.Command {
	o := &exportOptions{p: p}
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write manifests that adopt the guests a tenant already has",
		Long: `Read the tenant's guest accounts (userType Guest; member accounts are never exported)
from Microsoft Graph and write one PartnerInvitation per guest that adopts it: spec.email is
the guest's mail (else its first other mail address), spec.displayName its display name,
sendInvitationMessage false, and deletionPolicy Orphan, so that deleting a manifest never
deletes a person until someone decides so. Guests without an address, and second guests with
an address already exported, are reported and skipped.

With --with-access the manifests also carry the guest's direct group memberships
(spec.access.groups, by object ID) and app role assignments (spec.access.applications: the
application's service principal object ID and the role ID, empty for default access).
Only what the operator could manage is exported: memberships of dynamic, on-premises and
mail-enabled groups, and roles the guest holds through a group, are reported and left out.

The operator adopts the guests only where a PartnerAccessPolicy selecting the namespace says
adoption: Adopt (or AdoptAndDelete) and allows the groups and applications the manifests
grant. No invitation is sent for an adopted guest.

With --operator-app-id, the export reads each guest's ownership record (the directory
extension properties the operator writes) and shows its owner; a guest recorded for another
installation is never adopted by any other. --hand-over-to OWNER rewrites the records of the
exported guests to name OWNER and their manifest, on purpose: the installation started with
--owner-id OWNER then takes them as its own when the manifests are applied, without a policy.

Graph is reached as the operator reaches it, with the credential the AZURE_* variables
configure: AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_CLIENT_SECRET or
AZURE_CLIENT_CERTIFICATE_PATH, or with AZURE_FEDERATED_TOKEN_FILE (workload identity). A
managed identity is used only when asked for, with --managed-identity (or
AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential). Without any, the export stops before
sending anything and says what to set. Reading guests needs User.Read.All; --with-access also needs
Directory.Read.All (Microsoft's least-privileged permission for another user's memberOf and
appRoleAssignments). Requests are paced to the tenant's quota (--tenant-size), and a
progress line goes to stderr every ` + fmt.Sprint(progressEvery) + ` guests.

With --tenant ClusterGraphTenant/NAME (or GraphTenant/NAME, in the namespace -n names), Graph is
reached as that tenant object says instead: its tenant, application, cloud and credential, read
from its Secret with your kubeconfig's rights; the manifests name it in spec.tenantRef, and
--operator-app-id defaults to its application. Clouds other than the built-in ones are given
with --cloud, as to the operator.`,
		Example: `  # Every guest of the tenant, into a directory ready to commit
  kubectl partner export -n partners --out guests/

  # Guests from one partner who redeemed, with their groups and applications
  kubectl partner export -n fabrikam --domain fabrikam.com --state Accepted --with-access --out fabrikam/

  # Guests invited since the start of the year, to stdout
  kubectl partner export --created-after 2025-01-01

  # A ClusterGraphTenant's directory, manifests that name it
  kubectl partner export -n fabrikam --tenant ClusterGraphTenant/fabrikam-prod --out fabrikam/

  # Against the project's Graph emulator
  kubectl partner export --graph-endpoint http://127.0.0.1:8080 \
    --azure-authority-host https://127.0.0.1:8443/ --azure-authority-ca-file emulator-ca.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.domain, "domain", "", "only guests with an address (mail or other mails) at this domain")
	f.StringVar(&o.createdAfter, "created-after", "", "only guests created at or after this time (RFC 3339, or a date such as 2025-01-31)")
	f.StringVar(&o.state, "state", "", "only guests in this redemption state: PendingAcceptance or Accepted")
	f.BoolVar(&o.orgs, "organizations", false, "also export the tenant's partner configurations (cross-tenant access settings) as PartnerOrganizations that adopt them as they are, with deletionPolicy Orphan (needs Policy.Read.All and CrossTenantInformation.ReadBasic.All)")
	f.BoolVar(&o.withAccess, "with-access", false, "also export group memberships and app role assignments")
	f.StringVar(&o.out, "out", "", "write <name>.yaml files and a kustomization.yaml into this directory instead of stdout")
	f.BoolVar(&o.overwrite, "overwrite", false, "with --out, replace files that exist")
	f.StringVarP(&o.output, "output", "o", "yaml", "stdout format: yaml, json or name")
	f.StringVar(&o.tenantSize, "tenant-size", graph.TenantSmall, "Graph throttling tier to pace the reads to: small, medium or large")
	f.StringVar(&o.operatorApp, "operator-app-id", "", "the operator's application (its --directory-extension-app-id): read each guest's ownership record, show its owner in the annotation "+annotationRecordedOwner+" and the report")
	f.StringVar(&o.handOverTo, "hand-over-to", "", "with --operator-app-id, rewrite each exported guest's ownership record to name this owner ID and its manifest's object, so the installation with that --owner-id takes the guests as its own when the manifests are applied (needs User.ReadWrite.All)")
	f.StringVar(&p.graph.endpoint, "graph-endpoint", msgraph.DefaultEndpoint, "Microsoft Graph base URL without /v1.0")
	f.StringVar(&p.graph.authority, "azure-authority-host", os.Getenv("AZURE_AUTHORITY_HOST"), "Entra ID authority host; empty means Azure's public cloud")
	f.StringVar(&p.graph.authorityCA, "azure-authority-ca-file", "", "PEM CA to trust for the authority host (the emulator's)")
	f.StringVar(&o.tenantRef, "tenant", "", "export the directory of this tenant object, KIND/NAME (ClusterGraphTenant/prod, GraphTenant/own), with its credentials; the manifests name it in spec.tenantRef")
	f.StringVar(&o.operatorNS, "operator-namespace", partnerinvitation.DefaultClaimNamespace, "with --tenant ClusterGraphTenant/...: the operator's namespace, which holds its Secret")
	f.StringArrayVar(&o.clouds, "cloud", nil, "with --tenant: a cloud besides the built-in ones, NAME=AUTHORITY_HOST,GRAPH_ENDPOINT[,CA_FILE], as the operator's --cloud")
	f.BoolVar(&p.graph.managedIdentity, "managed-identity", false, "get tokens from this host's managed identity (AZURE_CLIENT_ID selects a user-assigned one); never tried unless asked")
	return cmd
}

func (o *exportOptions) run(ctx context.Context) error {
	q, err := o.query()
	if err != nil {
		return err
	}
	if o.handOverTo != "" && o.operatorApp == "" {
		return errors.New("--hand-over-to rewrites ownership records: it needs --operator-app-id, the application that holds them")
	}
	if len(o.handOverTo) > graph.MaxExtensionValue {
		return fmt.Errorf("--hand-over-to is longer than Graph's %d characters", graph.MaxExtensionValue)
	}
	if !slices.Contains([]string{"yaml", "json", "name"}, o.output) {
		return fmt.Errorf("--output must be yaml, json or name, not %q", o.output)
	}
	if o.out != "" && o.output != "yaml" {
		return errors.New("--out writes YAML files; --output applies to stdout only")
	}
	if !slices.Contains([]string{graph.TenantSmall, graph.TenantMedium, graph.TenantLarge}, o.tenantSize) {
		return fmt.Errorf("--tenant-size must be small, medium or large, not %q", o.tenantSize)
	}
	ns, err := namespace(o.p)
	if err != nil {
		return err
	}
	clients, err := o.connect(ctx, ns)
	if err != nil {
		return err
	}
	ref, reader, writer := clients.ref, clients.reader, clients.writer
	var orgs []*b2bv1alpha1.PartnerOrganization
	if o.orgs {
		if ref != nil && ref.Kind != b2bv1alpha1.KindClusterGraphTenant {
			return fmt.Errorf("--organizations with --tenant %s: a PartnerOrganization is configured in a ClusterGraphTenant, not a namespace's GraphTenant", o.tenantRef)
		}
		if orgs, err = exportOrganizations(ctx, clients.partners, ref); err != nil {
			return err
		}
	}

	rep := &exportReport{}
	guests, err := readGuests(ctx, reader, q, o.p.streams.ErrOut)
	if err != nil {
		return err
	}
	guests = rep.exportable(guests)
	var access map[string]*guestAccess
	if o.withAccess {
		if access, err = readAccess(ctx, reader, guests, rep, o.p.streams.ErrOut); err != nil {
			return err
		}
	}
	objs := rep.manifests(guests, access, ns)
	for _, obj := range objs {
		obj.Spec.TenantRef = ref
	}
	if o.handOverTo != "" {
		// Records first, manifests after: a manifest written is one that the new owner takes.
		if objs, err = rep.handOver(ctx, writer, guests, objs, o.handOverTo); err != nil {
			return err
		}
	}

	all := make([]manifest.Object, 0, len(objs)+len(orgs))
	for _, obj := range objs {
		all = append(all, obj)
	}
	for _, org := range orgs {
		all = append(all, org)
	}
	if err := writeManifests(o.p.streams.Out, all, o.out, o.output, o.overwrite); err != nil {
		return err
	}
	rep.print(o.p.streams.ErrOut, ns, o.out)
	if o.orgs {
		fmt.Fprintf(o.p.streams.ErrOut, "%d partner configurations exported as PartnerOrganizations that adopt them\n", len(orgs))
	}
	if rep.invalid > 0 {
		return fmt.Errorf("%d guests could not be exported as valid PartnerInvitations (listed above)", rep.invalid)
	}
	return nil
}

// query turns the filter flags into a GuestQuery, refusing values Graph would not understand.
func (o *exportOptions) query() (graph.GuestQuery, error) {
	q := graph.GuestQuery{Domain: strings.ToLower(strings.TrimPrefix(strings.TrimSpace(o.domain), "@"))}
	if strings.ContainsAny(q.Domain, "@ \t'") {
		return q, fmt.Errorf("--domain %q is not a domain name", o.domain)
	}
	switch {
	case o.state == "":
	case strings.EqualFold(o.state, string(b2bv1alpha1.StatePendingAcceptance)):
		q.State = string(b2bv1alpha1.StatePendingAcceptance)
	case strings.EqualFold(o.state, string(b2bv1alpha1.StateAccepted)):
		q.State = string(b2bv1alpha1.StateAccepted)
	default:
		return q, fmt.Errorf("--state must be PendingAcceptance or Accepted, not %q", o.state)
	}
	if o.createdAfter != "" {
		t, err := time.Parse(time.RFC3339, o.createdAfter)
		if err != nil {
			// A date alone is midnight UTC.
			if t, err = time.Parse(time.DateOnly, o.createdAfter); err != nil {
				return q, fmt.Errorf("--created-after %q is neither RFC 3339 (2025-01-31T00:00:00Z) nor a date (2025-01-31)", o.createdAfter)
			}
		}
		q.CreatedAfter = t
	}
	return q, nil
}

// connect reaches the tenant to export: a tenant object's (--tenant), or the one the AZURE_*
// variables and Graph flags name. It returns the reference the manifests carry.
func (o *exportOptions) connect(ctx context.Context, ns string) (*exportClients, error) {
	if o.tenantRef == "" {
		return o.graphClient()
	}
	ref, err := parseTenantFlag(o.tenantRef)
	if err != nil {
		return nil, err
	}
	clouds, err := tenant.ParseClouds(o.clouds)
	if err != nil {
		return nil, err
	}
	c, err := clusterClient(o.p, 0)
	if err != nil {
		return nil, err
	}
	obj, err := tenant.Get(ctx, c, tenant.RefIn(ns, ref))
	if err != nil {
		return nil, fmt.Errorf("--tenant: %w", err)
	}
	// The person running the export reads the Secret with their own rights; the operator's
	// restriction on ambient identities protects the operator's identity, not theirs.
	creds, err := tenant.ReadCredentials(ctx, c, obj, tenant.Options{Clouds: clouds, OperatorNamespace: o.operatorNS, NamespacedAmbient: true})
	if err != nil {
		return nil, fmt.Errorf("--tenant %s: %w", o.tenantRef, err)
	}
	if o.operatorApp == "" {
		// The operator keeps this tenant's ownership records under its application.
		o.operatorApp = creds.ClientID
	}
	client, err := msgraph.DialTenant(creds, msgraph.Config{UserAgent: "kubectl-partner",
		Retry: msgraph.RetryOptions{MaxRetries: 5, MaxInlineWait: time.Minute}, ExtensionAppID: o.operatorApp})
	if err != nil {
		return nil, err
	}
	size := string(obj.TenantSpec().Size)
	if size == "" {
		size = graph.TenantSmall
	}
	budget := graph.BudgetFor(size)
	return &exportClients{ref: ref, reader: graph.PaceReader(client, budget), writer: graph.Pace(client, budget, nil), partners: client}, nil
}

// graphClient connects to Graph with the operator's choice of credential and paces the reads
// to the tenant's quota. The retries wait out throttling inline, as a person at a terminal
// would. The Directory is for the hand-over's record writes.
func (o *exportOptions) graphClient() (*exportClients, error) {
	cred, err := msgraph.NewCredential(msgraph.CredentialOptions{AuthorityHost: o.p.graph.authority, AuthorityCAFile: o.p.graph.authorityCA,
		ManagedIdentity: o.p.graph.managedIdentity, ManagedIdentityFlag: "--managed-identity"})
	if err != nil {
		return nil, err
	}
	c, err := msgraph.NewClient(msgraph.Config{
		Endpoint: o.p.graph.endpoint, Credential: cred, UserAgent: "kubectl-partner",
		Retry:          msgraph.RetryOptions{MaxRetries: 5, MaxInlineWait: time.Minute},
		ExtensionAppID: o.operatorApp,
	})
	if err != nil {
		return nil, err
	}
	budget := graph.BudgetFor(o.tenantSize)
	return &exportClients{reader: graph.PaceReader(c, budget), writer: graph.Pace(c, budget, nil), partners: c}, nil
}

// exportOrganizations turns each partner configuration into a PartnerOrganization that adopts
// it as it is: the partner's default domain, its tenant ID, the settings Graph holds. The
// cluster owner adds the partner's other domains before applying it.
func exportOrganizations(ctx context.Context, partners graph.PartnerReader, ref *b2bv1alpha1.TenantReference) ([]*b2bv1alpha1.PartnerOrganization, error) {
	configs, err := partners.ListPartners(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the partner configurations: %w", err)
	}
	var tenantRef *b2bv1alpha1.OrganizationTenantReference
	if ref != nil {
		tenantRef = &b2bv1alpha1.OrganizationTenantReference{Kind: ref.Kind, Name: ref.Name}
	}
	var out []*b2bv1alpha1.PartnerOrganization
	for i := range configs {
		info, err := partners.FindTenantByID(ctx, configs[i].TenantID)
		if err != nil {
			return nil, fmt.Errorf("name the partner tenant %s: %w", configs[i].TenantID, err)
		}
		domain := strings.ToLower(info.DefaultDomainName)
		out = append(out, &b2bv1alpha1.PartnerOrganization{
			ObjectMeta: metav1.ObjectMeta{Name: domain},
			Spec: b2bv1alpha1.PartnerOrganizationSpec{Domains: []string{domain}, TenantID: strings.ToLower(configs[i].TenantID),
				TenantRef: tenantRef, PartnerSettings: *organization.Observed(&configs[i]),
				Adoption: b2bv1alpha1.OrganizationAdoptionAdopt, DeletionPolicy: b2bv1alpha1.DeletionPolicyOrphan},
		})
	}
	slices.SortFunc(out, func(a, b *b2bv1alpha1.PartnerOrganization) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// annotationRecordedOwner shows, on an exported manifest, the owner the guest's ownership
// record named at the export. The operator does not read it: the record in the directory decides.
const annotationRecordedOwner = "b2b.partnerops.io/recorded-owner"

// handOver rewrites the record of each exported guest to name owner and the guest's manifest,
// keeping how the guest came to be managed (a guest without a record counts as adopted, so its
// new owner keeps it on deletion unless a policy says AdoptAndDelete). A guest whose record
// cannot be written is left out of the manifests, and reported.
func (rep *exportReport) handOver(ctx context.Context, d graph.Directory, guests []graph.User, objs []*b2bv1alpha1.PartnerInvitation, owner string) ([]*b2bv1alpha1.PartnerInvitation, error) {
	byEmail := map[string]*graph.User{}
	for i := range guests {
		byEmail[manifest.Fold(guestAddress(&guests[i]))] = &guests[i]
	}
	var kept []*b2bv1alpha1.PartnerInvitation
	for _, obj := range objs {
		u := byEmail[manifest.Fold(obj.Spec.Email)]
		origin := u.Ownership.Origin
		if origin == "" {
			origin = b2bv1alpha1.GuestOriginAdopted
		}
		rec := graph.Ownership{Owner: owner, Object: graph.ObjectRef(obj.Namespace, obj.Name), Origin: origin}
		if err := d.UpdateUser(ctx, u.ID, graph.UserUpdate{Ownership: &rec}); err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			rep.problems = append(rep.problems, fmt.Sprintf("guest %s: its ownership record was not handed over: %v", u.ID, err))
			rep.invalid++
			continue
		}
		rep.handedOver++
		if obj.Annotations == nil {
			obj.Annotations = map[string]string{}
		}
		obj.Annotations[annotationRecordedOwner] = owner
		kept = append(kept, obj)
	}
	rep.exported = len(kept)
	return kept, nil
}

// readGuests lists the guests, with a progress line every progressEvery.
func readGuests(ctx context.Context, r graph.GuestReader, q graph.GuestQuery, progress io.Writer) ([]graph.User, error) {
	var guests []graph.User
	pages := 0
	err := r.ListGuests(ctx, q, func(page []graph.User) error {
		pages++
		before := len(guests)
		guests = append(guests, page...)
		if len(guests)/progressEvery > before/progressEvery {
			fmt.Fprintf(progress, "export: %d guests read (page %d)\n", len(guests), pages)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the guests: %w", err)
	}
	return guests, nil
}

// exportReport collects what was left out, to tell the person running the export.
type exportReport struct {
	exported  int
	noAddress []string // guest IDs
	// duplicates are addresses a second guest also has: "address: guest A exported, guest B not".
	duplicates []string
	// skippedGroups counts, per group left out, the guests that are members.
	skippedGroups map[string]*skippedGroup
	// viaGroups counts app role assignments held through a group, which follow the membership.
	viaGroups int
	truncated []string
	invalid   int
	// owners counts the exported guests by the owner their record names ("" none).
	owners     map[string]int
	handedOver int
	problems   []string
	groups     map[string]bool
	apps       map[string]bool
}

type skippedGroup struct {
	name, why string
	members   int
}

// exportable keeps the guests that can become a manifest: one with an address, the first of
// those that share one.
func (rep *exportReport) exportable(guests []graph.User) []graph.User {
	seen := map[string]string{} // folded address -> guest ID
	var out []graph.User
	for _, u := range guests {
		addr := guestAddress(&u)
		if addr == "" {
			rep.noAddress = append(rep.noAddress, u.ID)
			continue
		}
		key := manifest.Fold(addr)
		if first, dup := seen[key]; dup {
			rep.duplicates = append(rep.duplicates, fmt.Sprintf("%s: guest %s exported, guest %s not", addr, first, u.ID))
			continue
		}
		seen[key] = u.ID
		out = append(out, u)
	}
	return out
}

// guestAddress is the address that identifies the guest to the operator, which looks guests
// up by mail and otherMails: mail, else the first other mail address.
func guestAddress(u *graph.User) string {
	if addr := strings.TrimSpace(u.Mail); addr != "" {
		return addr
	}
	for _, addr := range u.OtherMails {
		if addr = strings.TrimSpace(addr); addr != "" {
			return addr
		}
	}
	return ""
}

// manifests builds one PartnerInvitation per guest, sorted by name, and leaves out (counting
// them) those the API server would refuse.
func (rep *exportReport) manifests(guests []graph.User, access map[string]*guestAccess, ns string) []*b2bv1alpha1.PartnerInvitation {
	emails := make([]string, len(guests))
	for i := range guests {
		emails[i] = guestAddress(&guests[i])
	}
	names := manifest.Names(emails)
	var objs []*b2bv1alpha1.PartnerInvitation
	for i, u := range guests {
		obj := &b2bv1alpha1.PartnerInvitation{
			TypeMeta:   metav1.TypeMeta{APIVersion: b2bv1alpha1.GroupVersion.String(), Kind: "PartnerInvitation"},
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names[i]},
			Spec: b2bv1alpha1.PartnerInvitationSpec{
				Email:                 emails[i],
				DisplayName:           u.DisplayName,
				SendInvitationMessage: ptr.To(false),
				DeletionPolicy:        b2bv1alpha1.DeletionPolicyOrphan,
			},
		}
		if owner := u.Ownership.Owner; owner != "" {
			obj.Annotations = map[string]string{annotationRecordedOwner: owner}
		}
		if a := access[u.ID]; a != nil && (len(a.groups) > 0 || len(a.apps) > 0) {
			obj.Spec.Access = &b2bv1alpha1.PartnerAccess{Groups: a.groups, Applications: a.apps}
		}
		if errs := b2bv1alpha1.ValidateSpec(&obj.Spec, field.NewPath("spec")); len(errs) > 0 {
			rep.invalid++
			rep.problems = append(rep.problems, fmt.Sprintf("guest %s (%s): %s", u.ID, emails[i], errs.ToAggregate()))
			continue
		}
		if rep.owners == nil {
			rep.owners = map[string]int{}
		}
		rep.owners[u.Ownership.Owner]++
		objs = append(objs, obj)
	}
	slices.SortFunc(objs, func(a, b *b2bv1alpha1.PartnerInvitation) int { return strings.Compare(a.Name, b.Name) })
	rep.exported = len(objs)
	return objs
}

func (rep *exportReport) print(w io.Writer, ns, dir string) {
	where := ""
	if dir != "" {
		where = " to " + dir
	}
	fmt.Fprintf(w, "export: %d guests exported%s, namespace %s\n", rep.exported, where, ns)
	for _, owner := range slices.Sorted(maps.Keys(rep.owners)) {
		if owner != "" {
			fmt.Fprintf(w, "export: %d of them recorded as owned by partner-operator installation %q (annotation %s); only that installation takes them, unless handed over (--hand-over-to)\n",
				rep.owners[owner], owner, annotationRecordedOwner)
		}
	}
	if rep.handedOver > 0 {
		fmt.Fprintf(w, "export: %d guests' ownership records handed over\n", rep.handedOver)
	}
	if n := len(rep.noAddress); n > 0 {
		fmt.Fprintf(w, "export: %d guests skipped, they have no mail address: %s\n", n, abbreviate(rep.noAddress, 10))
	}
	for _, d := range rep.duplicates {
		fmt.Fprintf(w, "export: duplicate address %s\n", d)
	}
	for _, p := range rep.problems {
		fmt.Fprintf(w, "export: not exported: %s\n", p)
	}
	ids := make([]string, 0, len(rep.skippedGroups))
	for id := range rep.skippedGroups {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		g := rep.skippedGroups[id]
		fmt.Fprintf(w, "export: group %s (%s) left out, %s: %d guests are members\n", id, g.name, g.why, g.members)
	}
	if rep.viaGroups > 0 {
		fmt.Fprintf(w, "export: %d app role assignments held through a group left out; they follow the membership\n", rep.viaGroups)
	}
	for _, t := range rep.truncated {
		fmt.Fprintf(w, "export: %s\n", t)
	}
	if rep.exported > 0 {
		fmt.Fprintf(w, "export: to adopt them, a PartnerAccessPolicy selecting namespace %s needs adoption: Adopt", ns)
		if len(rep.groups)+len(rep.apps) > 0 {
			fmt.Fprintf(w, ", and must allow the %d groups (allowedGroups) and %d applications (allowedApplications) they grant", len(rep.groups), len(rep.apps))
		}
		fmt.Fprintln(w)
	}
}

func abbreviate(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:n], ", ") + fmt.Sprintf(" and %d more", len(ids)-n)
}
