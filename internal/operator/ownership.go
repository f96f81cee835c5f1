package operator

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnerops/partner-operator/controllers"
)

// OwnershipSchema is the Graph client's registration of the ownership record's properties.
type OwnershipSchema interface {
	EnsureOwnershipProperties(ctx context.Context) error
}

// schemaRegistration registers the properties once this replica leads: a write from a
// replica that is not sure to lead would be fenced anyway. It retries with backoff; until it
// succeeds, the reconciler, the users-delta watcher and the recorder wait at the gate.
type schemaRegistration struct {
	schema OwnershipSchema
	gate   *controllers.Gate
	log    logr.Logger
}

func (s *schemaRegistration) NeedLeaderElection() bool { return true }

func (s *schemaRegistration) Start(ctx context.Context) error {
	backoff := wait.Backoff{Duration: 2 * time.Second, Factor: 2, Jitter: 0.1, Steps: math.MaxInt32, Cap: 5 * time.Minute}
	// The steps never run out: only the end of ctx stops the retries, so the error says nothing.
	_ = wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		if err := s.schema.EnsureOwnershipProperties(ctx); err != nil {
			s.log.Error(err, "cannot register the ownership record's directory extension properties; "+
				"grant Application.ReadWrite.OwnedBy with the operator's application as its own owner, or register them once as an admin (see docs/operations/credentials.md)")
			return false, nil
		}
		s.log.Info("ownership record's directory extension properties are registered")
		s.gate.Open()
		return true, nil
	})
	return nil
}

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
