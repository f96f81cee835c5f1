// Package operatorproc runs the operator binary as its own process against an envtest control
// plane and the Graph emulator, the way a cluster runs it: flags, AZURE_* variables for
// azidentity's client-secret credential, a kubeconfig. The benchmark measures that process's
// memory; the end-to-end tests kill it.
package operatorproc

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/operator"
	"github.com/partnerops/partner-operator/internal/testbed"
)

// ControlPlane is a real kube-apiserver and etcd (envtest) with the operator's CRDs installed.
type ControlPlane struct {
	Env    *envtest.Environment
	Config *rest.Config
	Client client.Client // reads straight from the API server, generous client-side limits
}

// StartControlPlane starts envtest with the CRDs of the module at moduleRoot and stops it when
// the test ends. It fails, never skips, when the binaries are missing.
func StartControlPlane(tb testing.TB, moduleRoot string) *ControlPlane {
	tb.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		tb.Fatal("KUBEBUILDER_ASSETS is not set: run 'make test' or 'make bench', which provide kube-apiserver and etcd via hack/envtest.sh")
	}
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join(moduleRoot, "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = env.Stop() })
	// The tests create objects as fast as a GitOps sync would.
	cfg.QPS, cfg.Burst = 500, 1000
	scheme, err := operator.NewScheme()
	if err != nil {
		tb.Fatal(err)
	}
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		tb.Fatal(err)
	}
	return &ControlPlane{Env: env, Config: cfg, Client: k8s}
}

// Build compiles the operator (the module at moduleRoot) into dir and returns the binary's path.
func Build(tb testing.TB, moduleRoot, dir string) string {
	tb.Helper()
	return BuildCommand(tb, moduleRoot, dir, ".", "partner-operator")
}

// BuildCommand compiles the module's package pkg (such as "./cmd/kubectl-partner") into
// dir/name, as "go install" would, and returns the binary's path.
func BuildCommand(tb testing.TB, moduleRoot, dir, pkg, name string) string {
	tb.Helper()
	bin := filepath.Join(dir, name)
	build := exec.Command("go", "build", "-o", bin, pkg)
	build.Dir = moduleRoot
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		tb.Fatalf("build %s: %v", pkg, err)
	}
	return bin
}

// Environment is what every run of the binary shares: the control plane's credentials and the
// emulator's CA, written once into Dir.
type Environment struct {
	Binary     string
	Dir        string
	Kubeconfig string
	Emulator   *emulator.Emulator
	// metricsToken is the bearer token Scrape sends (AuthorizeScrapes); without one the
	// operator serves its metrics over plain HTTP.
	metricsToken string
}

// NewEnvironment gives the operator the identity the shipped install gives it: it creates the
// ServiceAccount and RBAC of config/default (testbed.InstallOperatorIdentity, with the
// control plane's admin credentials), writes a kubeconfig that authenticates as that
// ServiceAccount, never as cluster admin, and the emulator's CA certificate into dir.
func NewEnvironment(tb testing.TB, bin, dir string, env *envtest.Environment, emu *emulator.Emulator) *Environment {
	tb.Helper()
	kubectl, err := testbed.Kubectl()
	if err != nil {
		tb.Fatal(err)
	}
	root, err := testbed.FindRepoRoot(".")
	if err != nil {
		tb.Fatal(err)
	}
	admin, err := client.New(env.Config, client.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	identity, err := testbed.InstallOperatorIdentity(ctx, env, admin, kubectl, root)
	if err != nil {
		tb.Fatal(err)
	}
	kubeconfig, err := identity.KubeConfig()
	if err != nil {
		tb.Fatal(err)
	}
	kcPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), emu.CACertPEM(), 0o600); err != nil {
		tb.Fatal(err)
	}
	return &Environment{Binary: bin, Dir: dir, Kubeconfig: kcPath, Emulator: emu}
}

// Process is one running operator.
type Process struct {
	cmd     *exec.Cmd
	LogPath string // its stdout and stderr
	Metrics string // host:port of its metrics endpoint
	done    chan struct{}
	// metricsToken authenticates Scrape over HTTPS; empty: the endpoint is plain HTTP.
	metricsToken string
}

// Start runs the operator with extra flags appended to the ones that connect it. Its output
// goes to Dir/<logName>.
func (e *Environment) Start(tb testing.TB, ctx context.Context, logName string, flags ...string) *Process {
	tb.Helper()
	return e.start(tb, ctx, logName, nil, flags...)
}

// StartReplica runs one replica of a leader-elected deployment: name is its pod name, which
// it puts in the User-Agent of its Graph requests, so the emulator's log tells replicas apart.
func (e *Environment) StartReplica(tb testing.TB, ctx context.Context, name string, flags ...string) *Process {
	tb.Helper()
	return e.start(tb, ctx, name+".log", []string{"POD_NAME=" + name}, append([]string{"--leader-elect"}, flags...)...)
}

func (e *Environment) start(tb testing.TB, ctx context.Context, logName string, env []string, flags ...string) *Process {
	tb.Helper()
	logFile, err := os.Create(filepath.Join(e.Dir, logName))
	if err != nil {
		tb.Fatal(err)
	}
	metrics := FreePort(tb)
	args := append([]string{"run",
		"--graph-endpoint", e.Emulator.URL(),
		"--azure-authority-host", e.Emulator.AuthorityURL(),
		"--azure-authority-ca-file", filepath.Join(e.Dir, "ca.pem"),
		"--metrics-bind-address", metrics,
		// As shipped (HTTPS, authenticated and authorized) once AuthorizeScrapes has given
		// Scrape a token; plain HTTP otherwise, since Scrape would have none to send.
		"--metrics-secure=" + strconv.FormatBool(e.metricsToken != ""),
		"--health-probe-bind-address", "0",
		// Its Leases (address claims, leader election) live where its Role lets it write them.
		"--claim-namespace", testbed.OperatorNamespace,
		"--leader-election-namespace", testbed.OperatorNamespace,
	}, flags...)
	cmd := exec.CommandContext(ctx, e.Binary, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.Kubeconfig,
		"AZURE_TENANT_ID="+e.Emulator.TenantID(), "AZURE_CLIENT_ID=partner-operator-test", "AZURE_CLIENT_SECRET=test-secret")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &Process{cmd: cmd, Metrics: metrics, metricsToken: e.metricsToken, done: make(chan struct{}), LogPath: logFile.Name()}
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p
}

// Stop asks the operator to shut down and kills it if it has not within 15 s.
func (p *Process) Stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.Kill()
	}
}

// Terminate sends SIGTERM, as the kubelet does when a pod is deleted or a node drained, and
// returns at once.
func (p *Process) Terminate() { _ = p.cmd.Process.Signal(syscall.SIGTERM) }

// Pause stops the process with SIGSTOP, as a long GC stall, CPU throttling, a VM live
// migration or a frozen container would: it neither runs nor renews its lease until Resume.
func (p *Process) Pause() { _ = p.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (p *Process) Resume() { _ = p.cmd.Process.Signal(syscall.SIGCONT) }

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Kill ends the process with SIGKILL, as an OOM kill or a node failure would, and returns once
// it is gone: nothing it held in memory reaches the API server afterwards.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// PeakRSS is the process's high-water mark of resident memory (VmHWM).
func (p *Process) PeakRSS() uint64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// RSSSplit is the process's resident memory now, split into anonymous memory (Go's heap,
// stacks and runtime) and file-backed pages (mostly the binary's own code and read-only data,
// which the kernel can drop and read again), from /proc/<pid>/smaps_rollup.
func (p *Process) RSSSplit() (anon, file uint64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	var rss uint64
	for _, line := range strings.Split(string(raw), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "Rss":
			rss = kb * 1024
		case "Anonymous":
			anon = kb * 1024
		}
	}
	return anon, rss - min(anon, rss)
}

// SampleHeap scrapes go_memstats_heap_inuse_bytes every second and returns a func giving the
// largest value seen.
func (p *Process) SampleHeap(ctx context.Context) func() uint64 {
	var mu sync.Mutex
	var peak uint64
	go func() {
		for ctx.Err() == nil {
			if v := p.Scrape("go_memstats_heap_inuse_bytes"); v > 0 {
				mu.Lock()
				peak = max(peak, uint64(v))
				mu.Unlock()
			}
			time.Sleep(time.Second)
		}
	}()
	return func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// Scrape returns the value of an unlabelled metric, or 0 when it is absent or the endpoint
// refuses the scrape.
func (p *Process) Scrape(name string) float64 {
	url, client := "http://"+p.Metrics+"/metrics", http.DefaultClient
	if p.metricsToken != "" {
		url, client = "https://"+p.Metrics+"/metrics", scrapeClient
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	if p.metricsToken != "" {
		req.Header.Set("Authorization", "Bearer "+p.metricsToken)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			v, _ := strconv.ParseFloat(rest, 64)
			return v
		}
	}
	return 0
}

// scrapeClient scrapes as the shipped ServiceMonitor does (config/prometheus): HTTPS without
// verifying the operator's self-signed certificate.
var scrapeClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // self-signed, as shipped
}}

// metricsReaderRole is config/rbac's metrics-reader ClusterRole as config/default names it.
const metricsReaderRole = "partner-operator-metrics-reader"

// AuthorizeScrapes makes the operators Start runs afterwards serve their metrics as shipped,
// over HTTPS to tokens the API server authenticates and authorizes, and has Scrape read them as
// Prometheus does: with the token of a ServiceAccount (monitoring/prometheus) bound to the
// shipped metrics-reader ClusterRole, which NewEnvironment installs. admin creates the
// ServiceAccount, its binding and its token.
func (e *Environment) AuthorizeScrapes(tb testing.TB, admin *rest.Config) {
	tb.Helper()
	const ns, sa = "monitoring", "prometheus"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := kubernetes.NewForConfig(admin)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoles().Get(ctx, metricsReaderRole, metav1.GetOptions{}); err != nil {
		tb.Fatalf("the shipped metrics-reader ClusterRole: %v", err)
	}
	created := func(_ any, err error) {
		tb.Helper()
		if err != nil && !apierrors.IsAlreadyExists(err) {
			tb.Fatal(err)
		}
	}
	created(cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}))
	created(cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}))
	created(cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "operatorproc-metrics-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: metricsReaderRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}},
	}, metav1.CreateOptions{}))
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(24 * 60 * 60))},
	}, metav1.CreateOptions{})
	if err != nil {
		tb.Fatalf("token for %s/%s: %v", ns, sa, err)
	}
	// The API server's RBAC authorizer learns of the binding through a watch, and the
	// operator caches a denial for 30 s: scrape only once the binding is in effect.
	user := "system:serviceaccount:" + ns + ":" + sa
	for {
		sar, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User: user, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"},
			}}, metav1.CreateOptions{})
		if err != nil {
			tb.Fatal(err)
		}
		if sar.Status.Allowed {
			break
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("%s may not GET /metrics: %s", user, sar.Status.Reason)
		case <-time.After(100 * time.Millisecond):
		}
	}
	e.metricsToken = tr.Status.Token
}

// FreePort returns a loopback address nothing listens on right now.
func FreePort(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Pid is the operator process's.
func (p *Process) Pid() int { return p.cmd.Process.Pid }
