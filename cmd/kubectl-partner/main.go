// Command kubectl-partner is the kubectl plugin of partner-operator: it brings guests from the
// portal's CSV files and from an existing tenant into Git as PartnerInvitation manifests, and
// reads the state of those in a cluster.
//
//	go install github.com/partnerops/partner-operator/cmd/kubectl-partner@latest
//	kubectl partner --help
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/partnerops/partner-operator/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if err := newRootCommand(streams).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(streams.ErrOut, "error:", err)
		os.Exit(1)
	}
}

// plugin is what every command shares: the kubectl connection flags, the output streams and
// the Graph connection flags.
type plugin struct {
	kube    *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams
	graph   graphFlags
}

// graphFlags reach Microsoft Graph the way the operator does: the credential the AZURE_*
// variables configure (msgraph.NewCredential: client secret or certificate, workload identity;
// a managed identity only with managedIdentity) and an endpoint that can point at the emulator.
type graphFlags struct {
	endpoint        string
	authority       string
	authorityCA     string
	managedIdentity bool
}

func newRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	p := &plugin{kube: genericclioptions.NewConfigFlags(true), streams: streams}
	root := &cobra.Command{
		Use:   "kubectl-partner",
		Short: "Bring Entra ID guests into Git as PartnerInvitations, and see how they are doing",
		Long: `kubectl partner works with partner-operator's PartnerInvitations:

  import     turn the portal's bulk-invite CSV files into manifests ready to commit
  export     write manifests that adopt the guests a tenant already has
  status     summarise the invitations in a cluster; --due: the recertifications due
  report     who has access to what, since when: the table an access review asks for
  recertify  confirm that guests still need their access
  resend     send a pending invitation again
  reset      reset a redeemed guest's redemption
  brake      see and release the accidental-deletion brake
  orphan     let PartnerInvitations go, guests kept, once the operator is uninstalled`,
		Version:       version.Get().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		// kubectl runs the binary kubectl-partner as "kubectl partner"; help says so.
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl partner"},
	}
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	p.kube.AddFlags(root.PersistentFlags())
	root.AddCommand(
		newImportCommand(p),
		newExportCommand(p),
		newStatusCommand(p),
		newReportCommand(p),
		newRecertifyCommand(p),
		newResendCommand(p, false),
		newResendCommand(p, true),
		newBrakeCommand(p),
		newOrphanCommand(p),
	)
	return root
}
