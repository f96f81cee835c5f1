package operator

import (
	"context"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"

	"github.com/partnerops/partner-operator/internal/leader"
)

// LeaderElectionID names the leader-election Lease, in the leader-election namespace.
const LeaderElectionID = "partner-operator.b2b.partnerops.io"

// The lease timings when the Config leaves them zero (controller-runtime's defaults).
const (
	defaultLeaseDuration = 15 * time.Second
	defaultRenewDeadline = 10 * time.Second
)

// minFenceMargin is the least time between the fence closing (renew deadline) and a standby
// taking over (lease duration): a write sent just before the fence closed must reach Graph in it.
const minFenceMargin = time.Second

// checkLeaseTimings refuses lease timings that leave a fenced write no time on the wire.
func checkLeaseTimings(cfg Config) error {
	lease := cfg.LeaseDuration
	if lease <= 0 {
		lease = defaultLeaseDuration
	}
	if margin := lease - RenewDeadline(cfg); margin < minFenceMargin {
		return fmt.Errorf("--leader-election-lease-duration (%s) must exceed --leader-election-renew-deadline (%s) by at least %s: "+
			"a replica writes until its renew deadline, and a standby takes over after the lease duration", lease, RenewDeadline(cfg), minFenceMargin)
	}
	return nil
}

// RenewDeadline is the renew deadline cfg elects with: how long the fence stays open after a
// renewal (leader.New).
func RenewDeadline(cfg Config) time.Duration {
	if cfg.RenewDeadline > 0 {
		return cfg.RenewDeadline
	}
	return defaultRenewDeadline
}

// fencedLeaseLock is the Lease lock controller-runtime would build (same name, identity shape,
// client timeout and events), with each renewal reported to the fence.
func fencedLeaseLock(ctx context.Context, restCfg *rest.Config, cfg Config, fence *leader.Fence) (resourcelock.Interface, error) {
	if err := checkLeaseTimings(cfg); err != nil {
		return nil, err
	}
	if cfg.LeaderElectionNamespace == "" {
		return nil, fmt.Errorf("leader election needs a namespace for its Lease (--leader-election-namespace)")
	}
	name := cfg.ReplicaName
	if name == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("leader election identity: %w", err)
		}
		name = host
	}
	// The replica's name first, as in the User-Agent of its Graph requests, so the Lease's
	// holder and Graph's audit log name the same pod.
	id := name + "_" + string(uuid.NewUUID())
	c := rest.AddUserAgent(rest.CopyConfig(restCfg), "leader-election")
	// One hung request must not cost the lease (controller-runtime's heuristic).
	c.Timeout = max(RenewDeadline(cfg)/2, time.Second)
	clients, err := kubernetes.NewForConfig(c)
	if err != nil {
		return nil, fmt.Errorf("leader election client: %w", err)
	}
	events := record.NewBroadcaster(record.WithContext(ctx))
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: clients.CoreV1().Events(cfg.LeaderElectionNamespace)})
	go func() { <-ctx.Done(); events.Shutdown() }()
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, cfg.LeaderElectionNamespace, LeaderElectionID,
		clients.CoreV1(), clients.CoordinationV1(), resourcelock.ResourceLockConfig{
			Identity:      id,
			EventRecorder: events.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: id}),
		})
	if err != nil {
		return nil, fmt.Errorf("leader election lock: %w", err)
	}
	return fence.Lock(lock), nil
}

// NewFence is the fence for cfg: open for the renew deadline after each renewal when electing a
// leader, always open otherwise.
func NewFence(cfg Config) *leader.Fence {
	if !cfg.LeaderElection {
		return leader.Unfenced()
	}
	return leader.New(RenewDeadline(cfg))
}
