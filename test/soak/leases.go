package soak

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/operator"
	"github.com/partnerops/partner-operator/internal/testbed"
)

// acquisition is one replica taking the leader-election Lease, at the acquireTime it wrote.
type acquisition struct {
	replica string
	at      time.Time
}

// leaseHistory records every change of the Lease's holder. The time is the one the acquiring
// replica wrote into the Lease, not when the test saw it, so polling loses no precision.
type leaseHistory struct {
	mu  sync.Mutex
	acq []acquisition
}

func watchLeaderLease(ctx context.Context, k8s client.Client) *leaseHistory {
	h := &leaseHistory{}
	key := client.ObjectKey{Namespace: testbed.OperatorNamespace, Name: operator.LeaderElectionID}
	last := ""
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		lease := &coordinationv1.Lease{}
		if err := k8s.Get(ctx, key, lease); err != nil {
			return
		}
		holder := ptr.Deref(lease.Spec.HolderIdentity, "")
		if holder != "" && holder != last && lease.Spec.AcquireTime != nil {
			last = holder
			h.mu.Lock()
			h.acq = append(h.acq, acquisition{replica: replicaOfIdentity(holder), at: lease.Spec.AcquireTime.Time})
			h.mu.Unlock()
		}
	}, 50*time.Millisecond)
	return h
}

// replicaOfIdentity is the pod name in a leader-election identity "<pod>_<uuid>".
func replicaOfIdentity(id string) string {
	if i := strings.LastIndex(id, "_"); i > 0 {
		return id[:i]
	}
	return id
}

func (h *leaseHistory) acquisitions() []acquisition {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]acquisition(nil), h.acq...)
}

// deposedWrites finds every Graph write (anything but a read) that reached Graph from a
// replica after another replica had acquired the Lease since this one did, or from a replica
// that never led. This is what fencing rules out; reads of a deposed replica are harmless.
func deposedWrites(reqs []emulator.Request, acqs []acquisition) []string {
	acquired := map[string]time.Time{}
	for _, a := range acqs {
		if _, ok := acquired[a.replica]; !ok {
			acquired[a.replica] = a.at
		}
	}
	var out []string
	for _, q := range reqs {
		if q.Method == "GET" || q.Method == "HEAD" {
			continue
		}
		m := replicaInUA.FindStringSubmatch(q.Header.Get("User-Agent"))
		if m == nil {
			continue
		}
		self := m[1]
		since, led := acquired[self]
		if !led {
			out = append(out, fmt.Sprintf("%s never held the lease but wrote: %s", self, describe(q)))
			continue
		}
		for _, a := range acqs {
			if a.replica != self && a.at.After(since) && !a.at.After(q.Time) {
				out = append(out, fmt.Sprintf("%s wrote %s after %s had acquired the lease at %s: %s",
					self, q.Time.Sub(a.at).Round(time.Millisecond), a.replica, a.at.Format(time.StampMilli), describe(q)))
				break
			}
		}
	}
	return out
}
