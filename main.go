// Command partner-operator manages Microsoft Entra ID B2B guests from PartnerInvitation objects.
//
//	partner-operator [run] [flags]   run the operator against a cluster and Microsoft Graph
//	partner-operator --version       print the version, VCS revision and platform
//
// It is what the image ships, so it links neither the Graph emulator nor a test bed: the demo
// and the emulator are commands of cmd/partner-dev.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/partnerops/partner-operator/controllers/graphtenant"
	"github.com/partnerops/partner-operator/controllers/partnerinvitation"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/msgraph"
	"github.com/partnerops/partner-operator/internal/logging"
	"github.com/partnerops/partner-operator/internal/operator"
	"github.com/partnerops/partner-operator/internal/policy"
	"github.com/partnerops/partner-operator/internal/tenant"
	"github.com/partnerops/partner-operator/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "partner-operator:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) > 0 && (args[0] == "version" || args[0] == "--version" || args[0] == "-version") {
		fmt.Println("partner-operator", version.Get())
		return nil
	}
	cmd := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runOperator(ctx, args)
	case "demo", "emulator":
		// Moved out so that the image links neither envtest nor the emulator.
		return fmt.Errorf("%s is not part of the operator binary: use 'go run ./cmd/partner-dev %s'", cmd, cmd)
	default:
		return fmt.Errorf("unknown command %q: partner-operator only runs the operator (run, the default)", cmd)
	}
}

func runOperator(ctx context.Context, args []string) error {
	tuneMemory()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var (
		cfg          operator.Config
		endpoint     string
		authority    string
		authorityCA  string
		graphCA      string
		zapOpts      zap.Options
		pendingPoll  time.Duration
		resync       time.Duration
		workers      int
		posture      string
		tenantSize   string
		deltaEvery   time.Duration
		createGrace  time.Duration
		claimNS      string
		expiryWarn   time.Duration
		signInEvery  time.Duration
		personal     bool
		sendInterval time.Duration
		sendsPerDay  int
		ownerID      string
		extensionApp string
		brakeCount   int
		brakePercent int
		brakeWindow  time.Duration
		clouds       cloudFlags
		ambient      bool
		verifyEvery  time.Duration
		noDefault    bool
	)
	fs.StringVar(&cfg.MetricsBindAddress, "metrics-bind-address", ":8443", "address of the Prometheus metrics endpoint (0 disables it)")
	metricsSecure := fs.Bool("metrics-secure", true, "serve metrics over HTTPS to tokens the API server authorizes for GET /metrics; false serves plain HTTP to anyone (local use only)")
	fs.StringVar(&cfg.MetricsCertDir, "metrics-cert-dir", "", "directory with tls.crt and tls.key for the metrics endpoint (empty: a self-signed certificate)")
	fs.StringVar(&cfg.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "address of the health and readiness probes")
	fs.StringVar(&cfg.PprofBindAddress, "pprof-bind-address", "0", "address of Go's /debug/pprof endpoints, unauthenticated (0, the default, disables them; bind to localhost when profiling)")
	fs.BoolVar(&cfg.LeaderElection, "leader-elect", false, "elect a leader so that only one replica reconciles")
	fs.DurationVar(&cfg.LeaseDuration, "leader-election-lease-duration", 0, "how long a standby waits before taking over a leader that stopped renewing (default 15s)")
	fs.DurationVar(&cfg.RenewDeadline, "leader-election-renew-deadline", 0, "how long the leader tries to renew before it gives up leadership and exits (default 10s)")
	fs.DurationVar(&cfg.RetryPeriod, "leader-election-retry-period", 0, "how often replicas try to acquire or renew the lease (default 2s)")
	fs.StringVar(&cfg.LeaderElectionNamespace, "leader-election-namespace", os.Getenv("POD_NAMESPACE"), "namespace of the leader-election Lease (default: the pod's namespace; needed outside a cluster)")
	fs.StringVar(&claimNS, "claim-namespace", envOr("POD_NAMESPACE", partnerinvitation.DefaultClaimNamespace), "namespace of the Leases that give one PartnerInvitation the claim on one address (the operator's own)")
	fs.StringVar(&endpoint, "graph-endpoint", msgraph.DefaultEndpoint, "Microsoft Graph base URL without /v1.0 (point it at the emulator for local work)")
	fs.StringVar(&authority, "azure-authority-host", os.Getenv("AZURE_AUTHORITY_HOST"), "Entra ID authority host; empty means Azure's public cloud")
	fs.StringVar(&authorityCA, "azure-authority-ca-file", "", "PEM CA to trust for the authority host (the emulator's)")
	fs.StringVar(&graphCA, "graph-ca-file", "", "PEM CA to trust for the Graph endpoint, besides the system's (the emulator's, with --graph-tls)")
	fs.DurationVar(&deltaEvery, "redemption-watch-interval", 30*time.Second, "how often the tenant-wide users delta is read to learn of redemptions (0: poll each object instead)")
	fs.DurationVar(&pendingPoll, "pending-poll-interval", 0, "how often each unredeemed invitation is read (default 5m without the watcher, 168h with it)")
	fs.DurationVar(&resync, "resync-interval", 0, "how often each settled guest is read for drift or deletion (default 1h without the watcher, 168h with it)")
	fs.DurationVar(&signInEvery, "sign-in-interval", partnerinvitation.DefaultSignInInterval, "how often each tenant's guests' sign-in activity is read for PartnerAccessPolicy inactivity (one paged read, 500 guests a request; needs AuditLog.Read.All and an Entra ID P1 licence; 0: never)")
	fs.DurationVar(&expiryWarn, "expiry-warning", 7*24*time.Hour, "how long before a guest's access ends to warn with an ExpiringSoon event, condition and metric")
	fs.DurationVar(&createGrace, "create-grace-period", 5*time.Minute, "how long after an invitation attempt a guest Graph does not list yet is waited for before inviting again")
	// A first invitation spends about a second in round trips (two Graph calls, five API
	// writes), so reaching Graph's 30 invitations/s takes about 30 in flight.
	fs.IntVar(&workers, "max-concurrent-reconciles", 32, "parallel reconciles; a shared budget keeps them under Graph's quotas")
	fs.DurationVar(&cfg.LookupBatchWindow, "lookup-batch-window", operator.DefaultLookupBatchWindow, "how long a lookup by address waits for others to share one Graph request of up to 15 addresses (0: one request per address)")
	fs.StringVar(&tenantSize, "tenant-size", graph.TenantSmall, "Graph throttling tier for the request budget: small, medium or large")
	fs.StringVar(&posture, "policy-posture", string(policy.DenyUnselected), "for namespaces no PartnerAccessPolicy selects: Deny invitations (the default), or Allow them (local use)")
	fs.DurationVar(&sendInterval, "send-min-interval", partnerinvitation.DefaultSendMinInterval, "the least time between two invitation mails for one PartnerInvitation (resends and resets), where no PartnerAccessPolicy sets sendLimits.minInterval")
	fs.IntVar(&sendsPerDay, "sends-per-namespace-per-day", partnerinvitation.DefaultSendsPerNamespacePerDay, "resends and resets one namespace may ask for in 24 hours, where no PartnerAccessPolicy sets sendLimits.perNamespacePerDay")
	fs.BoolVar(&personal, "log-personal-data", false, "log guests' mail addresses, at debug level (--zap-log-level=debug) only; off, every address is redacted from the log (redemption URLs always are)")
	fs.StringVar(&ownerID, "owner-id", "", "names this installation in the ownership record each guest carries in the directory; set it (in Git) so a cluster rebuilt from Git recognises its guests, and give every cluster sharing a tenant its own (default: the operator's namespace and the kube-system namespace's UID)")
	fs.StringVar(&extensionApp, "directory-extension-app-id", os.Getenv("AZURE_CLIENT_ID"), "application (client) ID that holds the ownership record's directory extension properties (default: the operator's own, $AZURE_CLIENT_ID)")
	fs.IntVar(&brakeCount, "deletion-threshold", partnerinvitation.DefaultDeletionThreshold, "accidental-deletion brake: at most this many guest deletions per --deletion-window; more are held until an admin approves (-1 turns the brake off)")
	fs.IntVar(&brakePercent, "deletion-threshold-percent", partnerinvitation.DefaultDeletionThresholdPercent, "accidental-deletion brake: and at most this share of the managed guests (never fewer than 10) per window (-1: no share limit)")
	fs.DurationVar(&brakeWindow, "deletion-window", partnerinvitation.DefaultDeletionWindow, "accidental-deletion brake: the window the thresholds count in")
	fs.Var(&clouds, "cloud", "a cloud tenant objects may name in spec.cloud besides AzurePublic, AzureUSGovernment and AzureChina: NAME=AUTHORITY_HOST,GRAPH_ENDPOINT[,CA_FILE] (a private endpoint, the emulator); repeatable")
	fs.BoolVar(&ambient, "namespaced-tenant-ambient-credentials", false, "let GraphTenants (namespaced) sign in with the operator's own workload or managed identity; off, only ClusterGraphTenants may")
	fs.DurationVar(&verifyEvery, "tenant-verify-interval", graphtenant.DefaultVerifyInterval, "how often each tenant object is signed in to again (revoked credentials, rotated Secrets, new permissions)")
	fs.BoolVar(&noDefault, "no-default-tenant", false, "serve tenant objects only: invitations must name one in spec.tenantRef, and no AZURE_* credential is read")
	// Without --zap-devel or --zap-encoder, zap.Options logs JSON (one object per line, the
	// time as RFC 3339) at info level: what the chart's logFormat json asks for explicitly.
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.MetricsInsecure = !*metricsSecure
	if posture != string(policy.AllowUnselected) && posture != string(policy.DenyUnselected) {
		return fmt.Errorf("--policy-posture must be Allow or Deny, not %q", posture)
	}
	// Every line, the libraries' too, is scrubbed of redemption URLs and, unless
	// --log-personal-data, of mail addresses (Graph's error messages may quote one).
	ctrl.SetLogger(logging.Redact(zap.New(zap.UseFlagOptions(&zapOpts)), personal))

	// One fence for the Graph clients and the manager: no write leaves a replica that is not
	// sure it still leads (internal/leader).
	cfg.Fence = operator.NewFence(cfg)
	cfg.ReplicaName = replicaName()
	base := msgraph.Config{Retry: msgraph.DefaultRetryOptions, UserAgent: "partner-operator (" + cfg.ReplicaName + ")", WrapTransport: cfg.Fence.Transport}
	if !noDefault {
		cred, err := msgraph.NewCredential(msgraph.CredentialOptions{AuthorityHost: authority, AuthorityCAFile: authorityCA})
		if err != nil {
			return err
		}
		var graphHTTP *http.Client
		if graphCA != "" {
			if graphHTTP, err = msgraph.NewHTTPClientTrusting(graphCA); err != nil {
				return err
			}
		}
		if extensionApp == "" {
			return errors.New("--directory-extension-app-id (or AZURE_CLIENT_ID) must name the application that holds the ownership record's properties")
		}
		def := base
		def.Endpoint, def.Credential, def.HTTPClient, def.ExtensionAppID = endpoint, cred, graphHTTP, extensionApp
		dir, err := msgraph.NewClient(def)
		if err != nil {
			return err
		}
		cfg.Directory, cfg.OwnershipSchema = dir, dir
	}
	known, err := tenant.ParseClouds(clouds)
	if err != nil {
		return err
	}
	cfg.Tenants = &operator.Tenants{
		Dial: func(_ context.Context, creds *tenant.Credentials) (operator.TenantClient, error) {
			return msgraph.DialTenant(creds, base)
		},
		Options:        tenant.Options{Clouds: known, OperatorNamespace: claimNS, NamespacedAmbient: ambient},
		VerifyInterval: verifyEvery,
	}
	switch tenantSize {
	case graph.TenantSmall, graph.TenantMedium, graph.TenantLarge:
	default:
		return fmt.Errorf("--tenant-size must be small, medium or large, not %q", tenantSize)
	}
	budget := graph.BudgetFor(tenantSize)
	cfg.Budget = &budget
	cfg.Controller = partnerinvitation.Options{PendingPollInterval: pendingPoll, ResyncInterval: resync,
		MaxConcurrentReconciles: workers, PolicyPosture: policy.Posture(posture), DeltaInterval: deltaEvery,
		CreateGracePeriod: createGrace, ClaimNamespace: claimNS, ExpiryWarning: expiryWarn, LogPersonalData: personal, SignInInterval: signInInterval(signInEvery),
		SendMinInterval: sendInterval, SendsPerNamespacePerDay: sendsPerDay, DefaultTenantID: os.Getenv("AZURE_TENANT_ID")}
	restCfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubernetes config: %w", err)
	}
	if ownerID == "" {
		if ownerID, err = operator.DefaultOwnerID(ctx, restCfg, claimNS); err != nil {
			return err
		}
	}
	if len(ownerID) > graph.MaxExtensionValue {
		return fmt.Errorf("--owner-id is %d characters long; Graph keeps at most %d", len(ownerID), graph.MaxExtensionValue)
	}
	ctrl.Log.WithName("setup").Info("ownership records name this installation", "ownerID", ownerID)
	cfg.Controller.OwnerID = ownerID
	cfg.Controller.DeletionThreshold, cfg.Controller.DeletionThresholdPercent, cfg.Controller.DeletionWindow = brakeCount, brakePercent, brakeWindow
	mgr, err := operator.NewManager(ctx, restCfg, cfg)
	if err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// cloudFlags collects --cloud, each checked as it is parsed.
type cloudFlags []string

func (c *cloudFlags) String() string { return strings.Join(*c, " ") }

func (c *cloudFlags) Set(v string) error {
	if _, _, err := tenant.ParseCloud(v); err != nil {
		return err
	}
	*c = append(*c, v)
	return nil
}

// replicaName names this process in Graph's logs: the pod (POD_NAME from the downward API),
// else the host.
func replicaName() string {
	if name := os.Getenv("POD_NAME"); name != "" {
		return name
	}
	host, _ := os.Hostname()
	return host
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// signInInterval turns the flag's 0 (never) into the option's negative: the option's 0 is its
// default.
func signInInterval(flag time.Duration) time.Duration {
	if flag <= 0 {
		return -1
	}
	return flag
}
