package controllers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	uzap "go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/controllers/partnerinvitation"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/graph/msgraph"
	"github.com/partnerops/partner-operator/internal/logging"
	"github.com/partnerops/partner-operator/internal/operator"
	"github.com/partnerops/partner-operator/internal/tenant"
	"github.com/partnerops/partner-operator/internal/testbed"
)

// The integration suite: a real kube-apiserver and etcd (envtest), the real manager, and the
// real msgraph-sdk-go client talking HTTP to the Graph emulator.
var (
	testEnv     *envtest.Environment
	restCfg     *rest.Config // cluster admin: the suite's setup and assertions
	operatorCfg *rest.Config // the operator's ServiceAccount, as config/default installs it
	kubectlPath string
	k8s         client.Client // cluster admin
	emu         *emulator.Emulator
	crash       *crashingDirectory
	suiteCtx    context.Context
	stopSuite   context.CancelFunc
	// operatorClock is the reconciler's clock; expiry tests step it instead of sleeping.
	operatorClock = &steppingClock{}
	// tenantEmus are three more tenants, each its own emulator (directory, quotas, token
	// issuer), for the GraphTenant and ClusterGraphTenant specs; the suite's operator knows
	// their clouds as emulator-a, -b and -c.
	tenantEmus = map[string]*suiteTenant{}
)

// suiteTenant is one of the tenant specs' emulated tenants and its app registration.
type suiteTenant struct {
	emu              *emulator.Emulator
	clientID, secret string
}

// tenantNames are the suite's extra tenants.
var tenantNames = []string{"a", "b", "c"}

// startTenantEmulators starts one emulator per extra tenant, each with one registered app, and
// returns the clouds the operator reaches them by.
func startTenantEmulators(dir string) tenant.Clouds {
	extra := map[b2bv1alpha1.Cloud]tenant.Endpoints{}
	for i, name := range tenantNames {
		id := fmt.Sprintf("%08d-0000-4000-8000-0000000000%02d", i+1, i+1)
		e := emulator.New(emulator.Options{RequireAuth: true, GraphTLS: true, TenantID: id,
			TenantDomain: name + ".tenants.example", DisplayName: "Tenant " + strings.ToUpper(name)})
		Expect(e.Start()).To(Succeed())
		t := &suiteTenant{emu: e, clientID: fmt.Sprintf("%08d-aaaa-4000-8000-0000000000%02d", i+1, i+1), secret: "secret-of-" + name}
		e.RegisterApp(t.clientID, t.secret)
		tenantEmus[name] = t
		ca := filepath.Join(dir, name+".pem")
		Expect(os.WriteFile(ca, e.CACertPEM(), 0o600)).To(Succeed())
		extra[b2bv1alpha1.Cloud("emulator-"+name)] = tenant.Endpoints{AuthorityHost: e.AuthorityURL(), GraphEndpoint: e.URL(), CAFile: ca}
	}
	clouds, err := tenant.NewClouds(extra)
	Expect(err).NotTo(HaveOccurred())
	return clouds
}

// steppingClock is real time plus an offset that tests move forward, so that time-driven
// behaviour (expiry, warnings, timeouts) is reached in an instant and the rest of the operator
// (grace periods, the Graph emulator's own clock) keeps running as it does in production.
type steppingClock struct{ offset atomic.Int64 }

func (c *steppingClock) Now() time.Time                  { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *steppingClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Step moves the clock forward and puts it back when the spec ends.
func (c *steppingClock) Step(d time.Duration) {
	if c.offset.Add(int64(d)) == int64(d) {
		DeferCleanup(func() { c.offset.Store(0) })
	}
}

const createGrace = 3 * time.Second

// The suite's installation: its application holds the ownership records, which name it.
const (
	suiteClientID = "partner-operator-test"
	suiteOwner    = "integration-suite"
)

// repoRoot holds config/ (the tests run in controllers/).
var repoRoot = ".."

func TestIntegration(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "PartnerInvitation integration suite")
}

var _ = BeforeSuite(func() {
	// The operator's log goes to GinkgoWriter as before, and, every level of it, to the
	// personal-data scanner that AfterSuite reads.
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true), zap.RawZapOpts(uzap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewTee(c, zapcore.NewCore(zapcore.NewJSONEncoder(uzap.NewProductionEncoderConfig()), zapcore.AddSync(logScan), zapcore.Level(-10)))
	}))))
	// Never skip: without the binaries this suite fails and says how to get them.
	Expect(os.Getenv("KUBEBUILDER_ASSETS")).NotTo(BeEmpty(),
		"KUBEBUILDER_ASSETS is not set: run 'make test', which provides kube-apiserver and etcd via hack/envtest.sh")

	suiteCtx, stopSuite = context.WithCancel(context.Background())
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	restCfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	version, err := discovery.NewDiscoveryClientForConfigOrDie(restCfg).ServerVersion()
	Expect(err).NotTo(HaveOccurred())
	fmt.Fprintf(os.Stdout, "kube-apiserver %s (envtest, real etcd)\n", version.GitVersion)

	// Graph over TLS, as in production: the client trusts the emulator's CA only.
	emu = emulator.New(emulator.Options{RequireAuth: true, GraphTLS: true})
	Expect(emu.Start()).To(Succeed())
	cred, err := msgraph.NewClientSecretCredential(emu.TenantID(), suiteClientID, "test-secret", emu.AuthorityURL(), emu.TLSClient())
	Expect(err).NotTo(HaveOccurred())
	dir, err := msgraph.NewClient(msgraph.Config{
		Endpoint: emu.URL(), Credential: cred, HTTPClient: emu.TLSClient(),
		Retry:          msgraph.RetryOptions{MaxRetries: 3, MaxInlineWait: 2 * time.Second},
		ExtensionAppID: suiteClientID,
	})
	Expect(err).NotTo(HaveOccurred())
	crash = &crashingDirectory{Directory: dir}

	// The operator runs as the ServiceAccount of the shipped install (config/default), with
	// exactly its RBAC; restCfg (cluster admin) is only for the suite's own setup and assertions.
	scheme, err := operator.NewScheme()
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(restCfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	kubectlPath, err = testbed.Kubectl()
	Expect(err).NotTo(HaveOccurred())
	identity, err := testbed.InstallOperatorIdentity(suiteCtx, testEnv, k8s, kubectlPath, repoRoot)
	Expect(err).NotTo(HaveOccurred())
	operatorCfg = identity.Config()

	caDir, err := os.MkdirTemp("", "tenant-cas")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = os.RemoveAll(caDir) })
	clouds := startTenantEmulators(caDir)

	budget := graph.BudgetFor(graph.TenantSmall)
	mgr, err := operator.NewManager(suiteCtx, operatorCfg, operator.Config{
		Directory: crash,
		Partners:  dir,
		SignIns:   dir,
		// PartnerOrganizations are read back every second, so drift shows at once.
		OrganizationSyncInterval: time.Second,
		MetricsBindAddress:       "0",
		HealthProbeBindAddress:   "0",
		// The production shape: redemption and out-of-band deletion come from the users delta
		// watcher; per-object polls are left at their (weekly) safety-net default.
		Controller: partnerinvitation.Options{
			DeltaInterval: 300 * time.Millisecond,
			// Sign-ins are read twice a second (production: every 6 hours), on the suite's
			// stepped clock, so inactivity specs see a read after each step.
			SignInInterval:    500 * time.Millisecond,
			CreateGracePeriod: createGrace,
			ClaimNamespace:    testbed.OperatorNamespace,
			OwnerID:           suiteOwner,
			// The specs delete far more guests an hour than the brake admits; test/ownership
			// covers the brake.
			DeletionThreshold: -1,
		},
		OwnershipSchema: dir,
		Budget:          &budget,
		// Short, so specs do not wait on it, yet concurrent lookups of a spec still share.
		LookupBatchWindow: 50 * time.Millisecond,
		Clock:             operatorClock,
		// The production wiring of tenant objects (msgraph.DialTenant), with the suite's
		// retry bound; tenants are signed in to again every second, so a revoked credential
		// shows at once.
		Tenants: &operator.Tenants{
			Dial: func(_ context.Context, creds *tenant.Credentials) (operator.TenantClient, error) {
				return msgraph.DialTenant(creds, msgraph.Config{Retry: msgraph.RetryOptions{MaxRetries: 3, MaxInlineWait: 2 * time.Second}})
			},
			Options:        tenant.Options{Clouds: clouds, OperatorNamespace: testbed.OperatorNamespace},
			VerifyInterval: time.Second,
		},
	})
	Expect(err).NotTo(HaveOccurred())
	// Assertions (k8s, admin) read straight from the API server, not from the manager's cache.
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(suiteCtx)).To(Succeed())
	}()
	// The admission policy users install with the operator (config/policy).
	applyManifests(filepath.Join("..", "config", "policy", "admission_policy.yaml"))
})

// applyManifests creates every object of a multi-document YAML file.
func applyManifests(path string) {
	raw, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		obj := &unstructured.Unstructured{}
		Expect(yaml.Unmarshal([]byte(doc), &obj.Object)).To(Succeed())
		if len(obj.Object) == 0 {
			continue
		}
		Expect(k8s.Create(suiteCtx, obj)).To(Succeed(), "create %s %s", obj.GetKind(), obj.GetName())
	}
}

var _ = AfterSuite(func() {
	if stopSuite != nil {
		stopSuite()
	}
	if emu != nil {
		emu.Close()
	}
	for _, t := range tenantEmus {
		t.emu.Close()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
	// Guests' addresses are personal data (GDPR): none in the log at info level or above
	// (--log-personal-data off, as here), and no redemption URL at any level.
	lines, offending := logScan.result()
	fmt.Fprintf(os.Stdout, "log scan: %d lines of the operator's log (all levels), %d with a mail address at info or above or a redemption URL\n", lines, len(offending))
	Expect(lines).To(BeNumerically(">", 10), "the scanner saw no log: is the tee in BeforeSuite gone?")
	Expect(offending).To(BeEmpty(), "log lines with personal data or a redemption URL:\n%s", strings.Join(offending, "\n"))
})

// logScan reads every line the operator logs during the suite (JSON, one entry per Write).
var logScan = &logScanner{}

// allowedAddresses may appear: the example the validation messages give.
var allowedAddresses = map[string]bool{"name@example.com": true}

type logScanner struct {
	mu        sync.Mutex
	lines     int
	offending []string
}

func (s *logScanner) Write(p []byte) (int, error) {
	var entry struct {
		Level string `json:"level"`
	}
	_ = json.Unmarshal(p, &entry)
	line := strings.TrimSpace(string(p))
	var bad bool
	if logging.RedemptionURL.MatchString(line) {
		bad = true
	}
	// zap's levels at info and above; debug and the V(2)+ "Level(-n)" are not.
	if entry.Level != "debug" && !strings.HasPrefix(entry.Level, "Level(") {
		for _, a := range logging.MailAddress.FindAllString(line, -1) {
			bad = bad || !allowedAddresses[strings.ToLower(a)]
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines++
	if bad && len(s.offending) < 50 {
		s.offending = append(s.offending, line)
	}
	return len(p), nil
}

func (s *logScanner) result() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines, slices.Clone(s.offending)
}

// crashingDirectory loses Graph's answer to an invitation, as a connection reset after the
// request was sent would: Graph creates the guest, the operator never learns its ID. The
// SIGKILL version of this, with a restarted process, is in test/e2e.
type crashingDirectory struct {
	graph.Directory
	loseNextInviteAnswer atomic.Bool
}

func (c *crashingDirectory) Invite(ctx context.Context, req graph.InvitationRequest) (*graph.Invitation, error) {
	inv, err := c.Directory.Invite(ctx, req)
	if err == nil && c.loseNextInviteAnswer.CompareAndSwap(true, false) {
		return nil, &graph.Error{Kind: graph.KindTransient, Op: "invite", Err: errors.New("connection reset after the request was sent")}
	}
	return inv, err
}
