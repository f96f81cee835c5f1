package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/graph/msgraph"
	"github.com/partnerops/partner-operator/internal/testbed"
)

// tenantFleet is the benchmark's tenants: with BENCH_TENANTS=1 the default tenant alone (the
// flags'), with more each its own emulator (its own quotas and token issuer) behind a
// ClusterGraphTenant, and the default tenant idle.
type tenantFleet struct {
	emus []*emulator.Emulator
	// objects names the ClusterGraphTenants, in the order of emus; empty for the default tenant.
	objects   []string
	clientIDs []string
	byTenant  map[string]*emulator.Emulator // tenant ID -> its emulator
}

// newTenantFleet starts the tenants' emulators and returns the operator flags that name
// their clouds.
func newTenantFleet(b *testing.B, dir string, defaultEmu *emulator.Emulator, tenants int) (*tenantFleet, []string) {
	f := &tenantFleet{byTenant: map[string]*emulator.Emulator{}}
	if tenants <= 1 {
		f.emus, f.objects, f.clientIDs = []*emulator.Emulator{defaultEmu}, []string{""}, []string{"partner-operator-test"}
		f.byTenant[defaultEmu.TenantID()] = defaultEmu
		return f, nil
	}
	var flags []string
	for i := range tenants {
		e := emulator.New(emulator.Options{RequireAuth: true, Quotas: emulator.DefaultQuotas(),
			Latency: 50 * time.Millisecond, LatencyJitter: 100 * time.Millisecond,
			TenantID: fmt.Sprintf("%08d-0000-4000-8000-00000000b%03d", i+1, i+1), TenantDomain: fmt.Sprintf("tenant%d.bench.example", i+1)})
		if err := e.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(e.Close)
		clientID := fmt.Sprintf("%08d-aaaa-4000-8000-00000000b%03d", i+1, i+1)
		e.RegisterApp(clientID, "bench-secret")
		ca := filepath.Join(dir, fmt.Sprintf("tenant-%d.pem", i+1))
		if err := os.WriteFile(ca, e.CACertPEM(), 0o600); err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("bench-%d", i+1)
		flags = append(flags, "--cloud", fmt.Sprintf("%s=%s,%s,%s", name, e.AuthorityURL(), e.URL(), ca))
		f.emus, f.objects, f.clientIDs = append(f.emus, e), append(f.objects, name), append(f.clientIDs, clientID)
		f.byTenant[e.TenantID()] = e
	}
	return f, flags
}

// createTenantObjects makes one ClusterGraphTenant per tenant, its Secret in the operator's
// namespace, and waits until each is Ready.
func (f *tenantFleet) createTenantObjects(b *testing.B, ctx context.Context, k8s client.Client) {
	for i, name := range f.objects {
		if name == "" {
			continue
		}
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testbed.OperatorNamespace, Name: name},
			StringData: map[string]string{"client-secret": "bench-secret"}}
		if err := k8s.Create(ctx, secret); err != nil {
			b.Fatal(err)
		}
		t := &b2bv1alpha1.ClusterGraphTenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: b2bv1alpha1.GraphTenantSpec{
			TenantID: f.emus[i].TenantID(), ClientID: f.clientIDs[i], Cloud: b2bv1alpha1.Cloud(name),
			Credentials: b2bv1alpha1.TenantCredentials{ClientSecret: &b2bv1alpha1.SecretKeyReference{Name: name}}}}
		if err := k8s.Create(ctx, t); err != nil {
			b.Fatal(err)
		}
	}
	for _, name := range f.objects {
		if name == "" {
			continue
		}
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			t := &b2bv1alpha1.ClusterGraphTenant{}
			if err := k8s.Get(ctx, client.ObjectKey{Name: name}, t); err != nil {
				return false, err
			}
			return meta.IsStatusConditionTrue(t.Status.Conditions, b2bv1alpha1.ConditionReady), nil
		})
		if err != nil {
			b.Fatalf("ClusterGraphTenant %s is not Ready: %v", name, err)
		}
	}
}

// refFor is the tenant of the i-th object: round robin.
func (f *tenantFleet) refFor(i int) *b2bv1alpha1.TenantReference {
	if name := f.objects[i%len(f.objects)]; name != "" {
		return &b2bv1alpha1.TenantReference{Kind: b2bv1alpha1.KindClusterGraphTenant, Name: name}
	}
	return nil
}

func (f *tenantFleet) requests() []emulator.Request {
	var out []emulator.Request
	for _, e := range f.emus {
		out = append(out, e.Requests()...)
	}
	return out
}

func (f *tenantFleet) count(method, path string) int {
	n := 0
	for _, e := range f.emus {
		n += e.Count(method, path)
	}
	return n
}

func (f *tenantFleet) resetRequests() {
	for _, e := range f.emus {
		e.ResetRequests()
	}
}

func (f *tenantFleet) throttled() int {
	n := 0
	for _, e := range f.emus {
		n += int(e.ThrottledCount())
	}
	return n
}

// peaks is the fullest window of each quota across the tenants.
func (f *tenantFleet) peaks() map[string]emulator.QuotaPeak {
	out := map[string]emulator.QuotaPeak{}
	for _, e := range f.emus {
		for k, p := range e.QuotaPeaks() {
			if p.Used > out[k].Used || out[k].Limit == 0 {
				out[k] = p
			}
		}
	}
	return out
}

// recorded counts the guests that carry an ownership record, each tenant's under its own
// application's property.
func (f *tenantFleet) recorded() int {
	n := 0
	for i, e := range f.emus {
		prop := msgraph.ExtensionName(f.clientIDs[i], "partnerOwner")
		for _, u := range e.Users() {
			if u.Extensions[prop] != "" {
				n++
			}
		}
	}
	return n
}

// emulatorOf is the directory an object's guest lives in.
func (f *tenantFleet) emulatorOf(p *b2bv1alpha1.PartnerInvitation) *emulator.Emulator {
	if e := f.byTenant[p.Status.TenantID]; e != nil {
		return e
	}
	return f.emus[0]
}

// cpuSeconds is a process's user and system CPU time so far, from /proc.
func cpuSeconds(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command may hold spaces; the fields after its closing parenthesis are fixed.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// pidsNamed finds running processes by their command name (the control plane's, which envtest
// starts).
func pidsNamed(name string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.TrimSpace(string(comm)) == name {
			out = append(out, pid)
		}
	}
	return out
}

// cpuMeter measures the CPU each process of the run uses over a phase, in cores.
type cpuMeter struct {
	pids  map[string][]int
	start map[string]float64
	at    time.Time
}

func startCPU(operatorPids ...int) *cpuMeter {
	m := &cpuMeter{pids: map[string][]int{
		"operator (both replicas)": operatorPids, "kube-apiserver": pidsNamed("kube-apiserver"), "etcd": pidsNamed("etcd"),
		"emulators and load (this process)": {os.Getpid()},
	}, start: map[string]float64{}, at: time.Now()}
	for k, pids := range m.pids {
		for _, p := range pids {
			m.start[k] += cpuSeconds(p)
		}
	}
	return m
}

// cores is each process's average CPU use since startCPU, in cores.
func (m *cpuMeter) cores() map[string]float64 {
	out := map[string]float64{}
	elapsed := time.Since(m.at).Seconds()
	for k, pids := range m.pids {
		used := -m.start[k]
		for _, p := range pids {
			used += cpuSeconds(p)
		}
		out[k] = used / elapsed
	}
	return out
}
