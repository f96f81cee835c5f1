package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/importer"
	"github.com/partnerops/partner-operator/internal/manifest"
	"github.com/partnerops/partner-operator/internal/organization"
)

type importOptions struct {
	p            *plugin
	out          string
	overwrite    bool
	skipInvalid  bool
	policyFile   string
	serverDryRun bool
	output       string
	tenant       string
	orgs         bool
}

func newImportCommand(p *plugin) *cobra.Command {
	o := &importOptions{p: p}
	cmd := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Turn the portal's bulk-invite CSV files into PartnerInvitation manifests",
		Long: `Read a CSV file of the Azure portal's bulk invitations and write one PartnerInvitation per
row, named after the address, into a directory ready to commit (--out, with a
kustomization.yaml listing the files) or to stdout. The format is recognised by its header:

  - the classic portal's 2016 upload, with the header
    Email,DisplayName,InviteAppID,InviteReplyUrl,InviteAppResources,InviteGroupResources,InviteContactUsUrl
    InviteAppID and InviteAppResources (app IDs, space-separated) become spec.access.applications,
    InviteGroupResources (group object IDs, space-separated) spec.access.groups, InviteReplyUrl
    spec.redirectURL, and InviteContactUsUrl a line "Questions: <url>" of spec.message.body;

  - the Entra admin center's bulk-invite template: the line version:v1.0, then columns known by
    their bracketed name: [inviteeEmail] (spec.email), [inviteRedirectURL] (spec.redirectURL),
    [sendEmail] (spec.sendInvitationMessage) and [customizedMessageBody] (spec.message.body).
    Other columns are reported and ignored; the template's example row is skipped.

Every row is checked by the rules the API server applies to a PartnerInvitation and those the
operator adds, by the PartnerAccessPolicies of --policy as if they selected the namespace,
and, with --server-dry-run, by the cluster itself: a dry-run create per row, judged by the
CRD schema and the admission policy installed there. Each problem is reported on stderr as
FILE:LINE: field: message. An http:// redirect URL is reported, never rewritten.

Nothing is written when any row has a problem, unless --skip-invalid, which writes the valid
rows and still fails. The same file gives byte-identical output every time, and files that
exist in --out are only replaced with --overwrite. The file is UTF-8, with or without a byte
order mark; "-" reads stdin.`,
		Example: `  # Preview the manifests of the 2016 portal's CSV file
  kubectl partner import invitations.csv -n partners

  # Write them into a directory to commit; kustomization.yaml lists them
  kubectl partner import invitations.csv -n partners --out clusters/prod/partners/

  # Check the rows against the policies in Git and against the cluster, write the good ones
  kubectl partner import bulk-invite.csv -n partners --policy policies.yaml --server-dry-run \
    --skip-invalid --out partners/

  # Import again after fixing the file: replace what the first run wrote
  kubectl partner import invitations.csv -n partners --out partners/ --overwrite`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), args[0]) },
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "write <name>.yaml files and a kustomization.yaml into this directory instead of stdout")
	f.BoolVar(&o.overwrite, "overwrite", false, "with --out, replace files that exist")
	f.BoolVar(&o.skipInvalid, "skip-invalid", false, "write the valid rows even when others have problems (the command still fails)")
	f.StringVar(&o.policyFile, "policy", "", "YAML file of PartnerAccessPolicies to check every row against, as if they selected the namespace")
	f.BoolVar(&o.serverDryRun, "server-dry-run", false, "also create every valid row with dry-run in the cluster, so its CRD schema and admission policy judge it")
	f.StringVarP(&o.output, "output", "o", "yaml", "stdout format: yaml, json or name")
	f.BoolVar(&o.orgs, "organizations", false, "also write a PartnerOrganization per mail domain of the valid rows (cluster-scoped: the cluster owner's to review and apply; each resolves its domain to a tenant and, once applied, creates that partner's cross-tenant access configuration)")
	f.StringVar(&o.tenant, "tenant", "", "name this tenant object in every manifest's spec.tenantRef, KIND/NAME (ClusterGraphTenant/prod, GraphTenant/own); default: none, the operator's default tenant")
	return cmd
}

func (o *importOptions) run(ctx context.Context, file string) error {
	if !slices.Contains([]string{"yaml", "json", "name"}, o.output) {
		return fmt.Errorf("--output must be yaml, json or name, not %q", o.output)
	}
	if o.out != "" && o.output != "yaml" {
		return errors.New("--out writes YAML files; --output applies to stdout only")
	}
	ns, err := namespace(o.p)
	if err != nil {
		return err
	}
	opts := importer.Options{Namespace: ns}
	if o.tenant != "" {
		if opts.TenantRef, err = parseTenantFlag(o.tenant); err != nil {
			return err
		}
	}
	if o.policyFile != "" {
		if opts.Policies, err = readPolicies(o.policyFile); err != nil {
			return err
		}
	}
	res, err := o.importFile(file, opts)
	if err != nil {
		return err
	}
	if o.serverDryRun && len(res.Valid()) > 0 {
		c, err := clusterClient(o.p, 50)
		if err != nil {
			return err
		}
		if err := res.CheckWithServer(ctx, c); err != nil {
			return err
		}
	}

	errOut := o.p.streams.ErrOut
	for _, n := range res.Notices {
		fmt.Fprintf(errOut, "warning: %s\n", n)
	}
	for _, p := range res.Problems {
		fmt.Fprintln(errOut, p)
	}
	valid := res.Valid()
	if len(res.Problems) > 0 && !o.skipInvalid {
		return fmt.Errorf("%s: %d problems; nothing written (--skip-invalid writes the %d valid rows)", file, len(res.Problems), len(valid))
	}
	objs := make([]manifest.Object, 0, len(valid))
	for _, v := range valid {
		objs = append(objs, v)
	}
	var orgs []*b2bv1alpha1.PartnerOrganization
	if o.orgs {
		if orgs, err = organizationsFor(valid, opts.TenantRef); err != nil {
			return err
		}
		for _, org := range orgs {
			objs = append(objs, org)
		}
	}
	if err := writeManifests(o.p.streams.Out, objs, o.out, o.output, o.overwrite); err != nil {
		return err
	}
	if o.out != "" {
		fmt.Fprintf(errOut, "%s: %d PartnerInvitations written to %s\n", file, len(valid), o.out)
		if o.orgs {
			fmt.Fprintf(errOut, "%s: %d PartnerOrganizations written to %s\n", file, len(orgs), o.out)
		}
	}
	if len(res.Problems) > 0 {
		return fmt.Errorf("%s: %d problems; the %d valid rows were written", file, len(res.Problems), len(valid))
	}
	return nil
}

func (o *importOptions) importFile(file string, opts importer.Options) (*importer.Result, error) {
	var in io.Reader = o.p.streams.In
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in = f
	}
	return importer.Import(in, file, opts)
}

// organizationsFor declares one PartnerOrganization per domain the invitations go to, named
// after the domain, with no settings: the tenant's stay as they are until the cluster owner
// writes some. A namespace's GraphTenant cannot hold one (organizations are cluster-scoped).
func organizationsFor(invs []*b2bv1alpha1.PartnerInvitation, ref *b2bv1alpha1.TenantReference) ([]*b2bv1alpha1.PartnerOrganization, error) {
	var tenantRef *b2bv1alpha1.OrganizationTenantReference
	if ref != nil {
		if ref.Kind != b2bv1alpha1.KindClusterGraphTenant {
			return nil, fmt.Errorf("--organizations with --tenant %s/%s: a PartnerOrganization is configured in a ClusterGraphTenant, not a namespace's GraphTenant", ref.Kind, ref.Name)
		}
		tenantRef = &b2bv1alpha1.OrganizationTenantReference{Kind: ref.Kind, Name: ref.Name}
	}
	seen := map[string]bool{}
	var out []*b2bv1alpha1.PartnerOrganization
	for _, inv := range invs {
		d := organization.DomainOf(inv.Spec.Email)
		if d == "" || seen[d] {
			continue
		}
		seen[d] = true
		out = append(out, &b2bv1alpha1.PartnerOrganization{ObjectMeta: metav1.ObjectMeta{Name: d},
			Spec: b2bv1alpha1.PartnerOrganizationSpec{Domains: []string{d}, TenantRef: tenantRef}})
	}
	slices.SortFunc(out, func(a, b *b2bv1alpha1.PartnerOrganization) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// writeManifests writes import's and export's objects: into dir (with a kustomization.yaml),
// or to out as yaml, json or names.
func writeManifests(out io.Writer, objs []manifest.Object, dir, output string, overwrite bool) error {
	var err error
	switch {
	case len(objs) == 0:
		return nil // an empty kustomization helps no one
	case dir != "":
		err = manifest.WriteDir(dir, objs, overwrite)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w (--overwrite replaces them)", err)
		}
	case output == "json":
		err = manifest.EncodeJSON(out, objs)
	case output == "name":
		for _, obj := range objs {
			kind := "partnerinvitation"
			if _, ok := obj.(*b2bv1alpha1.PartnerOrganization); ok {
				kind = "partnerorganization"
			}
			fmt.Fprintf(out, "%s.%s/%s\n", kind, b2bv1alpha1.GroupVersion.Group, obj.GetName())
		}
	default:
		err = manifest.Encode(out, objs)
	}
	if err != nil {
		return fmt.Errorf("write the manifests: %w", err)
	}
	return nil
}

func readPolicies(file string) ([]b2bv1alpha1.PartnerAccessPolicy, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("--policy: %w", err)
	}
	defer f.Close()
	policies, err := importer.ReadPolicies(f)
	if err != nil {
		return nil, fmt.Errorf("--policy %s: %w", file, err)
	}
	return policies, nil
}
