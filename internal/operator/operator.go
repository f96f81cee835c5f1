// Package operator wires the manager: scheme, cache, metrics, the Graph client and the
// reconcilers. main, the demo and the integration tests all start the operator through it,
// so they run the same wiring.
package operator

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/controllers/graphtenant"
	"github.com/partnerops/partner-operator/controllers/partneraccesspolicy"
	"github.com/partnerops/partner-operator/controllers/partnerinvitation"
	"github.com/partnerops/partner-operator/controllers/partnerorganization"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/leader"
	"github.com/partnerops/partner-operator/internal/organization"
	"github.com/partnerops/partner-operator/internal/signin"
	"github.com/partnerops/partner-operator/internal/tenant"
)

// Config is everything the operator needs besides a Kubernetes connection.
type Config struct {
	Directory graph.Directory
	// Partners is the default tenant's cross-tenant access settings (PartnerOrganizations); nil:
	// Directory's, where it offers them.
	Partners graph.CrossTenantAccess
	// SignIns reads the default tenant's guests' sign-in activity (inactivity); nil:
	// Directory's, where it offers it.
	SignIns graph.SignInReader
	// OrganizationSyncInterval is how often a PartnerOrganization's configuration is read back
	// and drift corrected; partnerorganization.DefaultSyncInterval when 0.
	OrganizationSyncInterval time.Duration
	// MetricsBindAddress is where /metrics is served ("0": nowhere). It is HTTPS, answered
	// only to bearer tokens the API server authenticates (TokenReview) and authorizes for
	// GET /metrics (SubjectAccessReview), unless MetricsInsecure.
	MetricsBindAddress string
	// MetricsInsecure serves plain HTTP to anyone: for local use only.
	MetricsInsecure bool
	// MetricsCertDir holds the metrics endpoint's tls.crt and tls.key, reloaded when they
	// change; empty means a self-signed certificate generated at start.
	MetricsCertDir string

	HealthProbeBindAddress string
	// PprofBindAddress serves /debug/pprof ("" or "0": nowhere). It has no authentication,
	// so it is off unless asked for.
	PprofBindAddress        string
	LeaderElection          bool
	LeaderElectionNamespace string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election; zero takes
	// controller-runtime's defaults (15 s, 10 s, 2 s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Controller                                partnerinvitation.Options
	// Budget paces Graph calls below the tenant's quotas; nil sends them unpaced.
	Budget *graph.Budget
	// OwnershipSchema registers the ownership record's directory extension properties once
	// this replica leads (Controller.OwnerID set); nil registers nothing.
	OwnershipSchema OwnershipSchema
	// LookupBatchWindow is how long a lookup by address waits for others to share its
	// request (graph.Coalesce); 0 looks each address up on its own.
	LookupBatchWindow time.Duration
	// Fence admits writes only while this replica surely leads; main passes the same fence to
	// the Graph client's transport. Nil: unfenced without leader election, and with it a fence
	// for the manager's own writes.
	Fence *leader.Fence
	// ReplicaName is this replica's name (its pod's), the first part of its leader-election
	// identity; empty: the hostname.
	ReplicaName string
	// Clock tells the reconciler the time (expiry, grace periods); nil is the real clock.
	// Tests step a fake one instead of sleeping.
	Clock clock.PassiveClock
	// Tenants, when set, serves the GraphTenants and ClusterGraphTenants that invitations name
	// besides the default tenant; nil serves the default tenant only.
	Tenants *Tenants
}

// Tenants configures the tenant objects.
type Tenants struct {
	// Dial builds one tenant object's Graph client from its credentials; the operator paces it
	// for the tenant's size, batches its lookups and counts its requests.
	Dial func(ctx context.Context, creds *tenant.Credentials) (TenantClient, error)
	// Options are the cluster owner's: the clouds, the operator's namespace (ClusterGraphTenants'
	// Secrets), ambient credentials for GraphTenants.
	Options tenant.Options
	// VerifyInterval: graphtenant.DefaultVerifyInterval when 0.
	VerifyInterval time.Duration
}

// TenantClient is a tenant object's Graph client.
type TenantClient interface {
	graph.Directory
	graph.TenantVerifier
	graph.CrossTenantAccess
	partnerinvitation.OwnershipSchema
}

// DefaultLookupBatchWindow is the operator's default Config.LookupBatchWindow: at Graph's
// invitation rate (30 a second) a batch of 15 addresses fills in half a second.
const DefaultLookupBatchWindow = 500 * time.Millisecond

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
// operator watches: PartnerInvitations, PartnerAccessPolicies and Namespaces.
func NewManager(ctx context.Context, restCfg *rest.Config, cfg Config) (ctrl.Manager, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	// Client-side rate limits sized for ~30 invitations a second (the invitation manager's
	// quota) at about five API writes each.
	restCfg = rest.CopyConfig(restCfg)
	if restCfg.QPS == 0 {
		restCfg.QPS, restCfg.Burst = 200, 400
	}
	metricsOpts, err := metricsOptions(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Fence == nil {
		cfg.Fence = NewFence(cfg)
	}
	var lock resourcelock.Interface
	if cfg.LeaderElection {
		if lock, err = fencedLeaseLock(ctx, restCfg, cfg, cfg.Fence); err != nil {
			return nil, err
		}
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  cfg.HealthProbeBindAddress,
		PprofBindAddress:        cfg.PprofBindAddress,
		LeaderElection:          cfg.LeaderElection,
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: cfg.LeaderElectionNamespace,
		// The fence learns of each renewal through the lock (internal/leader).
		LeaderElectionResourceLockInterface: lock,
		// On SIGTERM the leader stops its controllers, lets in-flight reconciles finish (up to
		// GracefulShutdownTimeout), then gives the Lease up: the standby takes over within a
		// retry period instead of waiting out the lease.
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 nonZero(cfg.LeaseDuration),
		RenewDeadline:                 nonZero(cfg.RenewDeadline),
		RetryPeriod:                   nonZero(cfg.RetryPeriod),
		Cache: cache.Options{
			// managedFields are a large share of each cached object and never read here.
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				&b2bv1alpha1.PartnerInvitation{}: {Transform: trimInvitation},
				&corev1.Namespace{}:              {Transform: trimNamespace},
			},
		},
		Client: client.Options{Cache: &client.CacheOptions{
			// Secrets are read one by one, by name, from the API server: the operator may not
			// list or watch them, so no other Secret of the cluster is ever in its memory.
			// Claims are read live too: they decide who may write to Graph.
			DisableFor: []client.Object{&corev1.Secret{}, &coordinationv1.Lease{}},
		}},
		GracefulShutdownTimeout: ptr(10 * time.Second),
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	m, err := registerMetrics(crmetrics.Registry, partnerinvitation.NewInventoryCollector(
		partnerinvitation.WalkInformer(mgr.GetCache()), mgr.Elected(), cfg.Clock, mgr.GetLogger().WithName("metrics")))
	if err != nil {
		return nil, err
	}
	var dir graph.Directory
	signIns := cfg.SignIns
	if s, ok := cfg.Directory.(graph.SignInReader); ok && signIns == nil {
		signIns = s
	}
	if cfg.Directory != nil {
		dir = graph.Instrument(cfg.Directory, m.graph)
		if cfg.Budget != nil {
			dir = graph.Pace(dir, *cfg.Budget, m.graph)
		}
		// Sign-in reads draw from the same quota windows as everything else.
		signIns = graph.PaceSignIns(graph.InstrumentSignIns(signIns, m.graph), dir)
		// Outermost, so one shared lookup is paced and counted as the one request it is.
		dir = graph.Coalesce(dir, cfg.LookupBatchWindow)
	} else {
		signIns = nil
	}
	signInStates := signin.NewRegistry()
	var schemaGate *partnerinvitation.Gate
	if cfg.OwnershipSchema != nil && cfg.Controller.OwnerID != "" {
		schemaGate = partnerinvitation.NewGate()
	}
	partners := cfg.Partners
	if p, ok := cfg.Directory.(graph.CrossTenantAccess); ok && partners == nil {
		partners = p
	}
	if err := organization.Register(ctx, mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	r := &partnerinvitation.Reconciler{
		Partners:        partners,
		OwnershipSchema: schemaGate,
		Metrics:         m.reconciler,
		Client:          mgr.GetClient(),
		APIReader:       mgr.GetAPIReader(),
		Directory:       dir,
		Recorder:        mgr.GetEventRecorder("partner-operator"),
		Clock:           cfg.Clock,
		Fence:           cfg.Fence,
		Options:         cfg.Controller,
		SignInReader:    signIns,
		SignIns:         signInStates,
	}
	if cfg.Tenants != nil {
		r.Tenants = newTenantConnections(cfg, m.graph, mgr.GetLogger())
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return nil, fmt.Errorf("set up PartnerInvitation controller: %w", err)
	}
	if cfg.Tenants != nil {
		for _, kind := range []string{b2bv1alpha1.KindGraphTenant, b2bv1alpha1.KindClusterGraphTenant} {
			tr := &graphtenant.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Kind: kind,
				Connections: r.Tenants, Options: cfg.Tenants.Options, Recorder: mgr.GetEventRecorder("partner-operator"),
				Clock: cfg.Clock, VerifyInterval: cfg.Tenants.VerifyInterval, Ownership: cfg.Controller.OwnerID != ""}
			if err := tr.SetupWithManager(mgr); err != nil {
				return nil, fmt.Errorf("set up %s controller: %w", kind, err)
			}
		}
	}
	if cfg.OwnershipSchema != nil && cfg.Controller.OwnerID != "" {
		if err := mgr.Add(&partnerinvitation.SchemaRegistration{Schema: cfg.OwnershipSchema, Gate: schemaGate, Log: mgr.GetLogger().WithName("ownership-schema")}); err != nil {
			return nil, fmt.Errorf("add ownership schema registration: %w", err)
		}
	}
	or := &partnerorganization.Reconciler{Client: mgr.GetClient(), Tenants: organizationTenants{r}, Recorder: mgr.GetEventRecorder("partner-operator"),
		Clock: cfg.Clock, SyncInterval: cfg.OrganizationSyncInterval}
	if err := or.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up PartnerOrganization controller: %w", err)
	}
	if err := (&partneraccesspolicy.Reconciler{Client: mgr.GetClient(), SignIns: signInStates}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up PartnerAccessPolicy controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("ready check: %w", err)
	}
	return mgr, nil
}

// newTenantConnections gives each tenant object the Graph stack the default tenant has: counted
// (under its own tenant label), paced for its own size (its own quota windows) and with its own
// lookup batcher.
func newTenantConnections(cfg Config, m *graph.Metrics, log logr.Logger) *partnerinvitation.TenantConnections {
	return &partnerinvitation.TenantConnections{
		Log: log.WithName("tenants"),
		Dial: func(ctx context.Context, ref tenant.Ref, creds *tenant.Credentials, size b2bv1alpha1.TenantSize) (*partnerinvitation.Dialed, error) {
			c, err := cfg.Tenants.Dial(ctx, creds)
			if err != nil {
				return nil, err
			}
			if size == "" {
				size = graph.TenantSmall
			}
			tm := m.ForTenant(ref.Label())
			dir := graph.Pace(graph.Instrument(c, tm), graph.BudgetFor(string(size)), tm)
			var signIns graph.SignInReader
			if s, ok := c.(graph.SignInReader); ok {
				signIns = graph.PaceSignIns(graph.InstrumentSignIns(s, tm), dir)
			}
			return &partnerinvitation.Dialed{Directory: graph.Coalesce(dir, cfg.LookupBatchWindow), Verifier: c, Schema: c, Partners: c, SignIns: signIns}, nil
		},
	}
}

// organizationTenants resolves a PartnerOrganization's tenantRef the way invitations' are
// resolved: one lookup for every kind.
type organizationTenants struct{ r *partnerinvitation.Reconciler }

func (o organizationTenants) CrossTenantAccess(ctx context.Context, ref tenant.Ref) (graph.CrossTenantAccess, string, error) {
	t, err := o.r.ResolveTenant(ctx, ref, "spec.tenantRef")
	if err != nil {
		return nil, "", err
	}
	return t.Partners, t.ID, nil
}

// metricsOptions serves /metrics as kubebuilder's v4 layout does: over HTTPS, and only to
// callers the API server authenticates and authorizes for GET /metrics (the metrics-reader
// ClusterRole). To ask it, the operator's own identity needs the metrics-auth-role.
func metricsOptions(cfg Config) (metricsserver.Options, error) {
	if cfg.MetricsInsecure {
		return metricsserver.Options{BindAddress: cfg.MetricsBindAddress}, nil
	}
	opts := metricsserver.Options{
		BindAddress:    cfg.MetricsBindAddress,
		SecureServing:  true,
		FilterProvider: metricsAuthFilter,
		// HTTP/1.1 only, as kubebuilder's scaffold defaults: HTTP/2 brought the Stream
		// Cancellation and Rapid Reset CVEs (GHSA-qppj-fm5r-hxr3, GHSA-4374-p667-p6c8).
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
	if cfg.MetricsCertDir != "" {
		// controller-runtime falls back to a self-signed certificate when the files are
		// missing; a directory named on purpose must not be ignored silently.
		for _, name := range []string{"tls.crt", "tls.key"} {
			if _, err := os.Stat(filepath.Join(cfg.MetricsCertDir, name)); err != nil {
				return opts, fmt.Errorf("metrics certificate: %w", err)
			}
		}
		opts.CertDir = cfg.MetricsCertDir
	}
	return opts, nil
}

// lastApplied is what kubectl apply (and Argo CD's client-side apply) leave on an object: a
// second copy of its spec, which the operator never reads.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// trimInvitation is the cache's transform of PartnerInvitations: without managedFields and the
// last-applied copy of the spec, so memory follows the objects, not how they were applied.
// Patches are computed between two cached copies, so what is dropped here is never written.
func trimInvitation(obj any) (any, error) {
	if p, ok := obj.(*b2bv1alpha1.PartnerInvitation); ok {
		p.ManagedFields = nil
		if _, ok := p.Annotations[lastApplied]; ok {
			delete(p.Annotations, lastApplied)
		}
	}
	return obj, nil
}

// trimNamespace keeps of a Namespace what policy selection reads: its name and labels. A
// cluster's namespaces are cached whole otherwise.
func trimNamespace(obj any) (any, error) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return obj, nil
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: ns.Name, UID: ns.UID, ResourceVersion: ns.ResourceVersion, Generation: ns.Generation,
		Labels: ns.Labels, DeletionTimestamp: ns.DeletionTimestamp,
	}}, nil
}

type operatorMetrics struct {
	graph      *graph.Metrics
	reconciler *partnerinvitation.Metrics
}

// registerMetrics registers every collector of the operator's own (partner_operator_*) with
// reg. It is the only place they are registered: the metrics reference test describes what it
// registers and compares it with MetricsReference.
func registerMetrics(reg prometheus.Registerer, inventory *partnerinvitation.InventoryCollector) (*operatorMetrics, error) {
	g, err := graph.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("register graph metrics: %w", err)
	}
	r, err := partnerinvitation.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("register reconciler metrics: %w", err)
	}
	if err := partnerinvitation.RegisterInventory(reg, inventory); err != nil {
		return nil, fmt.Errorf("register inventory metrics: %w", err)
	}
	return &operatorMetrics{graph: g, reconciler: r}, nil
}

func ptr[T any](v T) *T { return &v }

// nonZero is nil for zero, so controller-runtime applies its default.
func nonZero(d time.Duration) *time.Duration {
	if d == 0 {
		return nil
	}
	return &d
}
