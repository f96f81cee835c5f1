package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// The CRD's bounds of spec.recertification.by and .reason, checked before any request.
const (
	maxRecertifiedBy     = 256
	maxRecertifiedReason = 1024
)

type recertifyOptions struct {
	p        *plugin
	reason   string
	by       string
	all      bool
	selector string
}

// newRecertifyCommand is "recertify": it records in spec.recertification that someone confirmed
// the guest still needs its access.
func newRecertifyCommand(p *plugin) *cobra.Command {
	o := &recertifyOptions{p: p}
	cmd := &cobra.Command{
		Use:   "recertify (NAME... | --all [-l SELECTOR]) --reason REASON [--by WHO]",
		Short: "Confirm that guests still need their access",
		Long: `Record that the guest of each named PartnerInvitation (in -n's namespace, or the
context's) still needs its access: spec.recertification becomes {at: now, by, reason}, with a
merge patch that writes nothing else. The newer time restarts the clock of a
PartnerAccessPolicy's recertification rule, and undoes what an overdue recertification or
inactivity did. --all recertifies every PartnerInvitation of the namespace, or with -l those
whose labels match.

--reason is required: why the access is still needed. --by names who confirmed it; without it,
the Kubernetes user name the cluster knows you by (a SelfSubjectReview). Where the manifests
in Git set spec.recertification, commit the recertification there instead: the next sync
writes Git's value back.

'kubectl partner status --due' lists the guests whose recertification is due.`,
		Example: `  kubectl partner recertify jane-fabrikam-com -n partners --reason "Q3 supplier audit, contract renewed"

  # Every guest of a namespace with a label, on behalf of their sponsor
  kubectl partner recertify --all -l project=apollo -n partners \
    --reason "Apollo runs until 2027" --by maria.lopez@contoso.com`,
		RunE: func(cmd *cobra.Command, names []string) error { return o.run(cmd.Context(), names) },
	}
	cmd.Flags().StringVar(&o.reason, "reason", "", "why the guests still need their access (required)")
	cmd.Flags().StringVar(&o.by, "by", "", "who confirms it (default: your Kubernetes user name)")
	cmd.Flags().BoolVar(&o.all, "all", false, "every PartnerInvitation of the namespace")
	cmd.Flags().StringVarP(&o.selector, "selector", "l", "", "with --all, only the PartnerInvitations whose labels match (e.g. project=apollo)")
	return cmd
}

func (o *recertifyOptions) run(ctx context.Context, names []string) error {
	if err := o.validate(names); err != nil {
		return err
	}
	c, err := clusterClient(o.p, 0)
	if err != nil {
		return err
	}
	ns, err := namespace(o.p)
	if err != nil {
		return err
	}
	by := strings.TrimSpace(o.by)
	if by == "" {
		if by, err = whoAmI(ctx, c); err != nil {
			return err
		}
	}
	if o.all {
		if names, err = o.selected(ctx, c, ns); err != nil {
			return err
		}
	}
	return recertify(ctx, o.p, c, ns, names, b2bv1alpha1.Recertification{
		By: by, Reason: strings.TrimSpace(o.reason), At: metav1.NewTime(time.Now().UTC().Truncate(time.Second)),
	})
}

// validate refuses, before any request, what the API server would refuse or what names no
// object.
func (o *recertifyOptions) validate(names []string) error {
	reason := strings.TrimSpace(o.reason)
	switch {
	case reason == "":
		return errors.New(`--reason is required: say why the access is still needed, e.g. --reason "contract renewed until 2027"`)
	case utf8.RuneCountInString(reason) > maxRecertifiedReason:
		return fmt.Errorf("--reason is %d characters long; at most %d", utf8.RuneCountInString(reason), maxRecertifiedReason)
	case utf8.RuneCountInString(strings.TrimSpace(o.by)) > maxRecertifiedBy:
		return fmt.Errorf("--by is %d characters long; at most %d", utf8.RuneCountInString(strings.TrimSpace(o.by)), maxRecertifiedBy)
	case o.selector != "" && !o.all:
		return errors.New("-l selects with --all: add --all, or name the PartnerInvitations")
	case len(names) > 0 && o.all:
		return errors.New("name PartnerInvitations or use --all, not both")
	case len(names) == 0 && !o.all:
		return errors.New("name a PartnerInvitation, or use --all for every one of the namespace")
	}
	if _, err := labels.Parse(o.selector); err != nil {
		return fmt.Errorf("-l %q: %w", o.selector, err)
	}
	return nil
}

// selected names the PartnerInvitations of ns that --all (and -l) select.
func (o *recertifyOptions) selected(ctx context.Context, c client.Client, ns string) ([]string, error) {
	sel, err := labels.Parse(o.selector)
	if err != nil {
		return nil, fmt.Errorf("-l %q: %w", o.selector, err)
	}
	var names []string
	opts := []client.ListOption{client.InNamespace(ns), client.MatchingLabelsSelector{Selector: sel}, client.Limit(statusListChunk)}
	for {
		var list b2bv1alpha1.PartnerInvitationList
		if err := c.List(ctx, &list, opts...); err != nil {
			return nil, fmt.Errorf("list PartnerInvitations: %w", err)
		}
		for i := range list.Items {
			names = append(names, list.Items[i].Name)
		}
		if list.Continue == "" {
			break
		}
		opts = []client.ListOption{client.InNamespace(ns), client.MatchingLabelsSelector{Selector: sel},
			client.Limit(statusListChunk), client.Continue(list.Continue)}
	}
	if len(names) == 0 {
		if o.selector != "" {
			return nil, fmt.Errorf("no PartnerInvitation in namespace %s matches -l %s", ns, o.selector)
		}
		return nil, fmt.Errorf("no PartnerInvitation in namespace %s", ns)
	}
	return names, nil
}

// whoAmI is the caller's user name, as the API server authenticated them.
func whoAmI(ctx context.Context, c client.Client) (string, error) {
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return "", fmt.Errorf("find your user name for recertification.by (SelfSubjectReview): %w; say who confirms with --by", err)
	}
	name := strings.TrimSpace(review.Status.UserInfo.Username)
	if name == "" {
		return "", errors.New("the cluster returned no user name for recertification.by (SelfSubjectReview); say who confirms with --by")
	}
	if n := utf8.RuneCountInString(name); n > maxRecertifiedBy {
		return "", fmt.Errorf("your user name is %d characters long, more than recertification.by holds (%d); say who confirms with --by", n, maxRecertifiedBy)
	}
	return name, nil
}

// recertify sets spec.recertification on every named object with a merge patch of that field
// only, so nothing else of the object is written and no resourceVersion can conflict.
func recertify(ctx context.Context, p *plugin, c client.Client, ns string, names []string, r b2bv1alpha1.Recertification) error {
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"recertification": r}})
	if err != nil {
		return fmt.Errorf("encode the patch: %w", err)
	}
	at := r.At.UTC().Format(time.RFC3339)
	return patchEach(ctx, c, ns, names, patch, func(obj *b2bv1alpha1.PartnerInvitation) {
		fmt.Fprintf(p.streams.Out, "partnerinvitation %s/%s recertified by %s at %s\n", ns, obj.Name, r.By, at)
	})
}
