// Package operator wires the manager: scheme, cache, metrics, the Graph client and the
// reconcilers. main, the demo and the integration tests all start the operator through it,
// so they run the same wiring.
package operator

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/controllers"
	"github.com/partnerops/partner-operator/internal/graph"
)

// Config is everything the operator needs besides a Kubernetes connection.
type Config struct {
	Directory               graph.Directory
	MetricsBindAddress      string
	HealthProbeBindAddress  string
	LeaderElection          bool
	LeaderElectionNamespace string
	Controller              controllers.Options
	// Budget paces Graph calls below the tenant's quotas; nil sends them unpaced.
	Budget *graph.Budget
}

// NewScheme returns a scheme with the core types and this operator's API.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := b2bv1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// NewManager builds a manager with the reconcilers registered. The cache holds only what the
// operator reads: PartnerInvitations, and the Secrets it labels (never the cluster's others).
func NewManager(ctx context.Context, restCfg *rest.Config, cfg Config) (ctrl.Manager, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	secretSelector, err := labels.Parse(b2bv1alpha1.LabelInvitation)
	if err != nil {
		return nil, fmt.Errorf("secret selector: %w", err)
	}
	// Client-side rate limits sized for ~30 invitations a second (the invitation manager's
	// quota) at about five API writes each.
	restCfg = rest.CopyConfig(restCfg)
	if restCfg.QPS == 0 {
		restCfg.QPS, restCfg.Burst = 200, 400
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: cfg.MetricsBindAddress},
		HealthProbeBindAddress:  cfg.HealthProbeBindAddress,
		LeaderElection:          cfg.LeaderElection,
		LeaderElectionID:        "partner-operator.b2b.partnerops.io",
		LeaderElectionNamespace: cfg.LeaderElectionNamespace,
		Cache: cache.Options{
			// managedFields are a large share of each cached object and never read here.
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				&corev1.Secret{}: {Label: secretSelector},
			},
		},
		GracefulShutdownTimeout: ptr(10 * time.Second),
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	metrics, err := graph.NewMetrics(crmetrics.Registry)
	if err != nil {
		return nil, fmt.Errorf("register graph metrics: %w", err)
	}
	dir := graph.Instrument(cfg.Directory, metrics)
	if cfg.Budget != nil {
		dir = graph.Pace(dir, *cfg.Budget)
	}
	r := &controllers.PartnerInvitationReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Directory: dir,
		Recorder:  mgr.GetEventRecorder("partner-operator"),
		Clock:     clock.RealClock{},
		Options:   cfg.Controller,
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return nil, fmt.Errorf("set up PartnerInvitation controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("ready check: %w", err)
	}
	return mgr, nil
}

func ptr[T any](v T) *T { return &v }
