package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

// operatorProcess is the operator binary running against envtest and the emulator.
type operatorProcess struct {
	cmd     *exec.Cmd
	metrics string
	done    chan struct{}
}

// startOperator builds the operator and starts it the way a cluster would: flags, AZURE_*
// variables for azidentity's client-secret credential, a kubeconfig.
func startOperator(b *testing.B, ctx context.Context, env *envtest.Environment, dir string, emu *emulator.Emulator, watch time.Duration) *operatorProcess {
	bin := filepath.Join(dir, "partner-operator")
	build := exec.Command("go", "build", "-o", bin, "../..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		b.Fatalf("build operator: %v", err)
	}
	user, err := env.AddUser(envtest.User{Name: "partner-operator", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		b.Fatal(err)
	}
	kcPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		b.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "operator.log"))
	if err != nil {
		b.Fatal(err)
	}
	metrics := freePort(b)
	cmd := exec.CommandContext(ctx, bin, "run",
		"--graph-endpoint", emu.URL(),
		"--azure-authority-host", emu.AuthorityURL(),
		"--azure-authority-ca-file", filepath.Join(dir, "ca.pem"),
		"--metrics-bind-address", metrics,
		"--health-probe-bind-address", "0",
		"--redemption-watch-interval", watch.String(),
		"--max-concurrent-reconciles", strconv.Itoa(envInt("BENCH_WORKERS", 16)),
	)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kcPath,
		"AZURE_TENANT_ID="+emu.TenantID(), "AZURE_CLIENT_ID=partner-operator-bench", "AZURE_CLIENT_SECRET=bench-secret")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &operatorProcess{cmd: cmd, metrics: metrics, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p
}

func (p *operatorProcess) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

// peakRSS is the process's high-water mark of resident memory (VmHWM).
func (p *operatorProcess) peakRSS() uint64 {
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

// sampleHeap scrapes go_memstats_heap_inuse_bytes every second and returns a func giving the
// largest value seen.
func (p *operatorProcess) sampleHeap(ctx context.Context) func() uint64 {
	var mu sync.Mutex
	var peak uint64
	go func() {
		for ctx.Err() == nil {
			if v := p.scrape("go_memstats_heap_inuse_bytes"); v > 0 {
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

func (p *operatorProcess) scrape(name string) float64 {
	resp, err := http.Get("http://" + p.metrics + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") {
			v, _ := strconv.ParseFloat(strings.TrimPrefix(line, name+" "), 64)
			return v
		}
	}
	return 0
}
