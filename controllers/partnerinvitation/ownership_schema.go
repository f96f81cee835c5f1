package partnerinvitation

import (
	"context"
	"math"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"
)

// OwnershipSchema is the Graph client's registration of the ownership record's properties.
type OwnershipSchema interface {
	EnsureOwnershipProperties(ctx context.Context) error
}

// SchemaRegistration registers the properties once this replica leads: a write from a
// replica that is not sure to lead would be fenced anyway. It retries with backoff; until it
// succeeds, the reconciler, the users-delta watcher and the recorder of its tenant wait at the
// gate.
type SchemaRegistration struct {
	Schema OwnershipSchema
	Gate   *Gate
	Log    logr.Logger
}

func (s *SchemaRegistration) NeedLeaderElection() bool { return true }

func (s *SchemaRegistration) Start(ctx context.Context) error {
	backoff := wait.Backoff{Duration: 2 * time.Second, Factor: 2, Jitter: 0.1, Steps: math.MaxInt32, Cap: 5 * time.Minute}
	// The steps never run out: only the end of ctx stops the retries, so the error says nothing.
	_ = wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		if err := s.Schema.EnsureOwnershipProperties(ctx); err != nil {
			s.Log.Error(err, "cannot register the ownership record's directory extension properties; "+
				"grant Application.ReadWrite.OwnedBy with the operator's application as its own owner, or register them once as an admin (see docs/operations/credentials.md)")
			return false, nil
		}
		s.Log.Info("ownership record's directory extension properties are registered")
		s.Gate.Open()
		return true, nil
	})
	return nil
}
