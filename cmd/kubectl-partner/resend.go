package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// newResendCommand is "resend" or, with reset, "reset": both ask the operator, through an
// annotation it handles once per value, to send the invitation again.
func newResendCommand(p *plugin, reset bool) *cobra.Command {
	annotation, what := b2bv1alpha1.AnnotationResendRequestedAt, "resend"
	cmd := &cobra.Command{
		Use:   "resend NAME...",
		Short: "Send a pending invitation again",
		Long: `Ask the operator to send the invitation of each named PartnerInvitation again, for a
partner who lost the mail or whose link expired. It sets the annotation
` + b2bv1alpha1.AnnotationResendRequestedAt + ` to the current time, as
'kubectl annotate --overwrite' would; the operator sends once per value, keeps the new
redemption URL in the object's Secret and records the value in status.lastHandledResendAt.
A partner who has already redeemed is not sent anything: see 'kubectl partner reset'.`,
		Example: `  kubectl partner resend jane-fabrikam-com -n partners`,
	}
	if reset {
		annotation, what = b2bv1alpha1.AnnotationResetRequestedAt, "reset of the redemption"
		cmd.Use = "reset NAME..."
		cmd.Short = "Reset a redeemed guest's redemption and invite again"
		cmd.Long = `Ask the operator to reset the redemption of each named PartnerInvitation's guest: the
partner is invited again and redeems anew, possibly with another account, and keeps the
guest's object ID and access. It sets the annotation
` + b2bv1alpha1.AnnotationResetRequestedAt + ` to the current time; the
operator handles each value once and records it in status.lastHandledResetAt.

Whoever redeems the new link gets the guest's access, so a PartnerAccessPolicy that selects
the namespace must allow it (spec.allowResetRedemption: true); without one the object
reports Ready=False with reason ResetDenied and nothing is sent.`
		cmd.Example = `  kubectl partner reset jane-fabrikam-com -n partners`
	}
	cmd.Args = cobra.MinimumNArgs(1)
	cmd.RunE = func(cmd *cobra.Command, names []string) error {
		return requestSendAgain(cmd.Context(), p, names, annotation, what)
	}
	return cmd
}

// requestSendAgain sets the annotation on every named object with a merge patch, so nothing
// else of the object is written and no resourceVersion can conflict.
func requestSendAgain(ctx context.Context, p *plugin, names []string, annotation, what string) error {
	c, err := clusterClient(p, 0)
	if err != nil {
		return err
	}
	ns, err := namespace(p)
	if err != nil {
		return err
	}
	// Nanoseconds: two requests in the same second are two requests.
	at := time.Now().UTC().Format(time.RFC3339Nano)
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{annotation: at}}})
	if err != nil {
		return err
	}
	return patchEach(ctx, c, ns, names, patch, func(obj *b2bv1alpha1.PartnerInvitation) {
		fmt.Fprintf(p.streams.Out, "partnerinvitation.%s/%s: %s requested for %s (%s=%s)\n",
			b2bv1alpha1.GroupVersion.Group, obj.Name, what, obj.Spec.Email, annotation, at)
		if annotation == b2bv1alpha1.AnnotationResendRequestedAt && obj.Status.State == b2bv1alpha1.StateAccepted {
			// The operator answers this with a condition, not a mail; say so now.
			fmt.Fprintf(p.streams.ErrOut, "warning: %s has redeemed the invitation, so nothing will be sent; 'kubectl partner reset %s' invites again\n",
				obj.Spec.Email, obj.Name)
		}
	})
}

// patchEach merge-patches every named PartnerInvitation of ns with patch and hands each
// patched object, as the API server returned it, to done. It goes on past a failure and
// returns every name's error.
func patchEach(ctx context.Context, c client.Client, ns string, names []string, patch []byte, done func(*b2bv1alpha1.PartnerInvitation)) error {
	var errs []error
	for _, name := range names {
		obj := &b2bv1alpha1.PartnerInvitation{}
		obj.Namespace, obj.Name = ns, name
		if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
			errs = append(errs, fmt.Errorf("partnerinvitation %s/%s: %w", ns, name, err))
			continue
		}
		done(obj)
	}
	return errors.Join(errs...)
}
