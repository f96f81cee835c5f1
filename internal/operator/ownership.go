package operator

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnerops/partner-operator/controllers/partnerinvitation"
)

// OwnershipSchema is the Graph client's registration of the ownership record's properties.
type OwnershipSchema = partnerinvitation.OwnershipSchema

// DefaultOwnerID names the installation when --owner-id is not given: the operator's namespace
// and the UID of the cluster's kube-system namespace, so two clusters never share one by
// accident. A cluster rebuilt from Git has a new UID: set --owner-id to keep its guests.
func DefaultOwnerID(ctx context.Context, cfg *rest.Config, namespace string) (string, error) {
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return "", fmt.Errorf("kubernetes client: %w", err)
	}
	ns := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: "kube-system"}, ns); err != nil {
		return "", fmt.Errorf("read the kube-system namespace to derive --owner-id (or set it): %w", err)
	}
	return fmt.Sprintf("%s.%s", namespace, ns.UID), nil
}
