# partner-operator: kubebuilder-style targets. `make help` lists them.
# The release being built: stamped into both binaries, the image's labels, the chart's
# version and appVersion, and the krew manifest.
VERSION ?= v0.2.0
IMG ?= ghcr.io/partnerops/partner-operator:$(VERSION)
ENVTEST_K8S_VERSION ?= 1.37.2
CONTROLLER_TOOLS_VERSION ?= v0.23.0
LOCALBIN ?= $(CURDIR)/bin
CHART_FILES ?= charts/partner-operator/files
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
KUBECTL ?= kubectl
BENCH_N ?= 1000
# BENCH_TENANTS tenants side by side (ClusterGraphTenants, each its own emulator), BENCH_N/BENCH_TENANTS objects each.
BENCH_TENANTS ?= 1
SOAK_OBJECTS ?= 1000
SOAK_DURATION ?= 10m
PAUSE_OBJECTS ?= 200

export ENVTEST_K8S_VERSION

.PHONY: all
all: build

##@ General
.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-16s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development
.PHONY: manifests
manifests: controller-gen ## Generate the CRD and RBAC manifests under config/ (hack/crdbounds bounds the policy's selector); copy the CRDs (files/crds/, which templates/crds.yaml renders), the dashboard and the alerts into the Helm chart.
	$(CONTROLLER_GEN) rbac:roleName=partner-operator crd paths="./..." output:crd:artifacts:config=config/crd/bases
	go run ./hack/crdbounds config/crd/bases/b2b.partnerops.io_partneraccesspolicies.yaml
	mkdir -p $(CHART_FILES)/crds && rm -f $(CHART_FILES)/crds/*.yaml && cp config/crd/bases/*.yaml $(CHART_FILES)/crds/
	cp config/grafana/partner-operator.json config/prometheus/alerts.yaml $(CHART_FILES)/

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify-generated
verify-generated: controller-gen ## Regenerate CRDs, RBAC and DeepCopy; fail if that changed anything (CI runs it on a clean clone).
	@state() { git status --porcelain -- config api $(CHART_FILES); git diff -- config api $(CHART_FILES) | sha256sum; }; \
	before="$$(state)"; \
	$(MAKE) -s manifests generate; \
	if [ "$$before" != "$$(state)" ]; then \
		git --no-pager diff --stat -- config api $(CHART_FILES); \
		echo "ERROR: the generated files under config/, api/ or $(CHART_FILES)/ were out of date."; \
		echo "       They are regenerated now: review and commit them."; \
		exit 1; \
	fi

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: test
test: verify-generated vet ## Everything CI runs: generated files in sync, vet, unit tests, the chart, image, release and docs tests, the envtest suite, e2e, ownership, a short soak and the benchmark at N=60.
	@assets="$$(hack/envtest.sh)" && echo "envtest binaries: $$assets" && \
	helm="$$(hack/helm.sh)" && echo "helm: $$helm" && \
	KUBEBUILDER_ASSETS="$$assets" HELM="$$helm" OWNERSHIP_BRAKE_OBJECTS=120 go test -count=1 -timeout 25m $$(go list ./... | grep -v -e '/controllers$$' -e '/test/soak$$') && \
	KUBEBUILDER_ASSETS="$$assets" go test -count=1 -v ./controllers/ -ginkgo.v && \
	echo "short soak: 100 objects, 2 minutes, two replicas, faults, leader kills and pauses; pause rounds at 60 objects (make soak runs the full ones):" && \
	KUBEBUILDER_ASSETS="$$assets" go test -count=1 -v -run 'TestSoak|TestPause' -timeout 15m ./test/soak/ && \
	echo "benchmark at small N (figures in README come from 'make bench'):" && \
	KUBEBUILDER_ASSETS="$$assets" BENCH_N=60 BENCH_TENANTS=2 BENCH_STEADY_WINDOW=5s BENCH_WATCH_INTERVAL=2s \
	go test -count=1 -run '^$$' -bench . -benchtime 1x ./test/bench/

.PHONY: demo
demo: ## Run the whole lifecycle locally: control plane, Graph emulator, operator (no Azure account).
	@assets="$$(hack/envtest.sh)" && go run ./cmd/partner-dev demo --assets "$$assets"

.PHONY: sandbox
sandbox: ## Start the control plane, the Graph emulator and the operator, and keep them running to try with kubectl (Ctrl-C stops).
	@assets="$$(hack/envtest.sh)" && go run ./cmd/partner-dev sandbox --assets "$$assets"

.PHONY: soak
soak: ## Fault soak: two leader-elected replicas, Graph faults and quotas, leader kills and pauses; then the pause rounds and the ownership tests at full size; SOAK_OBJECTS, SOAK_DURATION, PAUSE_OBJECTS.
	@assets="$$(hack/envtest.sh)" && KUBEBUILDER_ASSETS="$$assets" SOAK_OBJECTS=$(SOAK_OBJECTS) SOAK_DURATION=$(SOAK_DURATION) PAUSE_OBJECTS=$(PAUSE_OBJECTS) \
	go test -count=1 -v -run 'TestSoak|TestPause' -timeout 90m ./test/soak/ && \
	echo "ownership at full size: rebuild 200, two clusters 50, the deletion brake under 300 (make test runs the brake at 120):" && \
	KUBEBUILDER_ASSETS="$$assets" go test -count=1 -v -timeout 30m ./test/ownership/

.PHONY: bench
bench: ## Benchmarks: Graph requests per invitation, convergence time, memory (BENCH_N objects).
	@assets="$$(hack/envtest.sh)" && KUBEBUILDER_ASSETS="$$assets" BENCH_N=$(BENCH_N) BENCH_TENANTS=$(BENCH_TENANTS) \
	go test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 60m ./test/bench/

##@ Build
.PHONY: build
build: ## Build bin/partner-operator and bin/kubectl-partner for this machine, VERSION stamped.
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/partnerops/partner-operator/internal/version.Version=$(VERSION)" -o $(LOCALBIN)/partner-operator .
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/partnerops/partner-operator/internal/version.Version=$(VERSION)" -o $(LOCALBIN)/kubectl-partner ./cmd/kubectl-partner

.PHONY: run
run: manifests ## Run the operator against the current kubeconfig (needs Graph credentials).
	go run . run

.PHONY: image
image: ## Build the multi-arch OCI image into dist/image without a Docker daemon (reproducible: same digest twice).
	go run ./hack/release image --version $(VERSION)

.PHONY: image-push
image-push: ## Push dist/image to IMG (credentials from ~/.docker/config.json).
	go run ./hack/release push --version $(VERSION) --to $(IMG)

.PHONY: release
release: ## Build every release artifact into dist/: image, SBOM, chart, plugin archives, checksums, krew manifest.
	@helm="$$(hack/helm.sh)" && go run ./hack/release all --version $(VERSION) --helm "$$helm"

.PHONY: docker-build
docker-build: ## Build the image with a Docker daemon instead (the Dockerfile; make image needs none).
	docker build --build-arg VERSION=$(VERSION) -t $(IMG) .

##@ Deployment
.PHONY: install
install: manifests ## Install the CRDs into the current cluster.
	$(KUBECTL) apply --server-side -k config/crd

.PHONY: uninstall
uninstall: ## Remove the CRDs and so every PartnerInvitation: a running operator deletes their guests per deletionPolicy (see docs/operations/upgrade-and-uninstall.md).
	$(KUBECTL) delete -k config/crd

.PHONY: deploy
deploy: manifests ## Deploy the operator to the current cluster with kustomize (image IMG).
	$(KUBECTL) kustomize config/default | sed 's|image: partner-operator:latest|image: $(IMG)|' | $(KUBECTL) apply --server-side -f -
	$(KUBECTL) apply --server-side -k config/policy

.PHONY: undeploy
undeploy: ## Remove the operator from the current cluster.
	$(KUBECTL) delete -k config/policy --ignore-not-found
	$(KUBECTL) delete -k config/default

##@ Tools
.PHONY: envtest
envtest: ## Provide kube-apiserver, etcd and kubectl for envtest (built once, then cached).
	@hack/envtest.sh

.PHONY: helm
helm: ## Provide helm for the chart's tests (built once from the Go module proxy, then cached).
	@hack/helm.sh

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Provide controller-gen in bin/ (make manifests and make generate run it).
$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
