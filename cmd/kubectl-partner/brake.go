package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/controllers/partnerinvitation"
)

// newBrakeCommand is "brake": the accidental-deletion brake's state and an admin's decision,
// written on the brake's Lease in the operator's namespace (which needs patch on that Lease:
// the deletion-brake-approver Role of the install).
func newBrakeCommand(p *plugin) *cobra.Command {
	var operatorNS string
	cmd := &cobra.Command{
		Use:   "brake [status|approve|cancel]",
		Short: "See and release the accidental-deletion brake",
		Long: `When more guests would be deleted within --deletion-window than --deletion-threshold
allows (a CRD, a namespace or an Argo CD application deleted at once), the operator deletes up
to the threshold and holds the rest: their PartnerInvitations wait, finalizer in place, with
Ready=False reason DeletionHeld.

  status   the brake's state and the PartnerInvitations it holds (the default)
  approve  delete the held guests, at Graph's pace
  cancel   keep the held guests: their objects go, the guests and their ownership record stay

approve and cancel apply to deletions requested until now, and write the current time to the
annotation ` + partnerinvitation.AnnotationBrakeApprove + ` or ` + partnerinvitation.AnnotationBrakeCancel + `
of the Lease ` + partnerinvitation.BrakeLeaseName + ` in the operator's namespace. Only who may patch
that Lease can decide: the cluster owner, or whoever holds the deletion-brake-approver Role.`,
		Example: `  kubectl partner brake
  kubectl partner brake approve`,
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: []string{"status", "approve", "cancel"},
		RunE: func(cmd *cobra.Command, args []string) error {
			action := "status"
			if len(args) == 1 {
				action = args[0]
			}
			switch action {
			case "status":
				return brakeStatus(cmd.Context(), p, operatorNS)
			case "approve":
				return brakeDecide(cmd.Context(), p, operatorNS, partnerinvitation.AnnotationBrakeApprove, "approved")
			case "cancel":
				return brakeDecide(cmd.Context(), p, operatorNS, partnerinvitation.AnnotationBrakeCancel, "cancelled")
			}
			return fmt.Errorf("unknown action %q: status, approve or cancel", action)
		},
	}
	cmd.Flags().StringVar(&operatorNS, "operator-namespace", partnerinvitation.DefaultClaimNamespace, "the namespace the operator runs in (its --claim-namespace)")
	return cmd
}

func brakeStatus(ctx context.Context, p *plugin, operatorNS string) error {
	c, err := clusterClient(p, 0)
	if err != nil {
		return err
	}
	lease := &coordinationv1.Lease{}
	err = c.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: partnerinvitation.BrakeLeaseName}, lease)
	if apierrors.IsNotFound(err) {
		fmt.Fprintf(p.streams.Out, "The brake has not been consulted yet: no guest deletion since the operator started keeping its ledger in %s.\n", operatorNS)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the brake: %w", err)
	}
	a := lease.Annotations
	admitted := len(strings.Fields(a[partnerinvitation.AnnotationBrakeAdmitted]))
	if since := a[partnerinvitation.AnnotationBrakeHeldSince]; since != "" {
		fmt.Fprintf(p.streams.Out, "HELD since %s: %d guest deletions admitted in the window, the rest wait for approve or cancel.\n", since, admitted)
	} else {
		fmt.Fprintf(p.streams.Out, "Released: %d guest deletions admitted in the current window.\n", admitted)
	}
	for _, k := range []string{partnerinvitation.AnnotationBrakeApprove, partnerinvitation.AnnotationBrakeCancel} {
		if v := a[k]; v != "" {
			fmt.Fprintf(p.streams.Out, "Last %s: %s\n", strings.TrimPrefix(k, "b2b.partnerops.io/"), v)
		}
	}
	var list b2bv1alpha1.PartnerInvitationList
	if err := c.List(ctx, &list); err != nil {
		return fmt.Errorf("list PartnerInvitations: %w", err)
	}
	w := tabwriter.NewWriter(p.streams.Out, 0, 4, 2, ' ', 0)
	held := 0
	for _, pinv := range list.Items {
		for _, cond := range pinv.Status.Conditions {
			if cond.Type == b2bv1alpha1.ConditionReady && cond.Reason == b2bv1alpha1.ReasonDeletionHeld {
				if held == 0 {
					fmt.Fprintln(w, "NAMESPACE\tNAME\tGUEST\tDELETION REQUESTED")
				}
				held++
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", pinv.Namespace, pinv.Name, pinv.Status.UserID, pinv.DeletionTimestamp.UTC().Format(time.RFC3339))
			}
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(p.streams.Out, "%d PartnerInvitations held.\n", held)
	return nil
}

// brakeDecide stamps the decision with a merge patch of the one annotation.
func brakeDecide(ctx context.Context, p *plugin, operatorNS, annotation, done string) error {
	c, err := clusterClient(p, 0)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Format(time.RFC3339)
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{annotation: now}}})
	if err != nil {
		return err
	}
	lease := &coordinationv1.Lease{}
	lease.Namespace, lease.Name = operatorNS, partnerinvitation.BrakeLeaseName
	if err := c.Patch(ctx, lease, client.RawPatch(types.MergePatchType, patch)); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("no brake in %s: the operator has deleted no guest yet (or runs in another namespace: --operator-namespace)", operatorNS)
		}
		return fmt.Errorf("write the decision: %w", err)
	}
	fmt.Fprintf(p.streams.Out, "Guest deletions requested until %s %s; held objects see it within 15 seconds.\n", now, done)
	return nil
}
