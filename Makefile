# partner-operator: kubebuilder-style targets. `make help` lists them.
IMG ?= partner-operator:latest
ENVTEST_K8S_VERSION ?= 1.37.2
CONTROLLER_TOOLS_VERSION ?= v0.23.0
LOCALBIN ?= $(CURDIR)/bin
CHART_CRDS ?= charts/partner-operator/crds
CHART_FILES ?= charts/partner-operator/files
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
KUBECTL ?= kubectl
BENCH_N ?= 1000
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
manifests: controller-gen ## Generate the CRD and RBAC manifests under config/ (hack/crdbounds bounds the policy's selector); copy the CRDs, the dashboard and the alerts into the Helm chart.
	$(CONTROLLER_GEN) rbac:roleName=partner-operator crd paths="./..." output:crd:artifacts:config=config/crd/bases
	go run ./hack/crdbounds config/crd/bases/b2b.partnerops.io_partneraccesspolicies.yaml
	rm -f $(CHART_CRDS)/*.yaml && cp config/crd/bases/*.yaml $(CHART_CRDS)/
	cp config/grafana/partner-operator.json config/prometheus/alerts.yaml $(CHART_FILES)/

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify-generated
verify-generated: controller-gen ## Regenerate CRDs, RBAC and DeepCopy; fail if that changed anything (CI runs it on a clean clone).
	@state() { git status --porcelain -- config api $(CHART_CRDS) $(CHART_FILES); git diff -- config api $(CHART_CRDS) $(CHART_FILES) | sha256sum; }; \
	before="$$(state)"; \
	$(MAKE) -s manifests generate; \
	if [ "$$before" != "$$(state)" ]; then \
		git --no-pager diff --stat -- config api $(CHART_CRDS) $(CHART_FILES); \
		echo "ERROR: the generated files under config/, api/, $(CHART_CRDS)/ or $(CHART_FILES)/ were out of date."; \
		echo "       They are regenerated now: review and commit them."; \
		exit 1; \
	fi

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: envtest
envtest: ## Provide kube-apiserver, etcd and kubectl for envtest (built once, then cached).
	@hack/envtest.sh

.PHONY: helm
helm: ## Provide helm for the chart's tests (built once from the Go module proxy, then cached).
	@hack/helm.sh

.PHONY: test
test: verify-generated vet ## Unit tests, the Helm chart's tests and the envtest integration suite (real kube-apiserver and etcd, Graph emulator).
	@assets="$$(hack/envtest.sh)" && echo "envtest binaries: $$assets" && \
	helm="$$(hack/helm.sh)" && echo "helm: $$helm" && \
	KUBEBUILDER_ASSETS="$$assets" HELM="$$helm" OWNERSHIP_BRAKE_OBJECTS=120 go test -count=1 $$(go list ./... | grep -v -e '/controllers$$' -e '/test/soak$$') && \
	KUBEBUILDER_ASSETS="$$assets" go test -count=1 -v ./controllers/ -ginkgo.v && \
	echo "short soak: 100 objects, 2 minutes, two replicas, faults, leader kills and pauses; pause rounds at 60 objects (make soak runs the full ones):" && \
	KUBEBUILDER_ASSETS="$$assets" go test -count=1 -v -run 'TestSoak|TestPause' -timeout 15m ./test/soak/ && \
	echo "benchmark at small N (figures in README come from 'make bench'):" && \
	KUBEBUILDER_ASSETS="$$assets" BENCH_N=60 BENCH_STEADY_WINDOW=5s BENCH_WATCH_INTERVAL=2s \
	go test -count=1 -run '^$$' -bench . -benchtime 1x ./test/bench/

.PHONY: demo
demo: ## Run the whole lifecycle locally: control plane, Graph emulator, operator (no Azure account).
	@assets="$$(hack/envtest.sh)" && go run ./cmd/partner-dev demo --assets "$$assets"

.PHONY: soak
soak: ## Fault soak: two leader-elected replicas, Graph faults and quotas, leader kills and pauses; then the pause rounds and the ownership tests at full size; SOAK_OBJECTS, SOAK_DURATION, PAUSE_OBJECTS.
	@assets="$$(hack/envtest.sh)" && KUBEBUILDER_ASSETS="$$assets" SOAK_OBJECTS=$(SOAK_OBJECTS) SOAK_DURATION=$(SOAK_DURATION) PAUSE_OBJECTS=$(PAUSE_OBJECTS) \
	go test -count=1 -v -run 'TestSoak|TestPause' -timeout 90m ./test/soak/ && \
	echo "ownership at full size: rebuild 200, two clusters 50, the deletion brake under 300 (make test runs the brake at 120):" && \
	KUBEBUILDER_ASSETS="$$assets" go test -count=1 -v -timeout 30m ./test/ownership/

.PHONY: bench
bench: ## Benchmarks: Graph requests per invitation, convergence time, memory (BENCH_N objects).
	@assets="$$(hack/envtest.sh)" && KUBEBUILDER_ASSETS="$$assets" BENCH_N=$(BENCH_N) \
	go test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 60m ./test/bench/

##@ Build
.PHONY: build
build: ## Build bin/partner-operator.
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o $(LOCALBIN)/partner-operator .

.PHONY: run
run: manifests ## Run the operator against the current kubeconfig (needs Graph credentials).
	go run . run

.PHONY: docker-build
docker-build: ## Build the container image.
	docker build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the container image.
	docker push $(IMG)

##@ Deployment
.PHONY: install
install: manifests ## Install the CRDs into the current cluster.
	$(KUBECTL) apply --server-side -k config/crd

.PHONY: uninstall
uninstall: ## Remove the CRDs (and every PartnerInvitation) from the current cluster.
	$(KUBECTL) delete -k config/crd

.PHONY: deploy
deploy: manifests ## Deploy the operator to the current cluster (image $(IMG)).
	$(KUBECTL) kustomize config/default | sed 's|image: partner-operator:latest|image: $(IMG)|' | $(KUBECTL) apply --server-side -f -
	$(KUBECTL) apply --server-side -k config/policy

.PHONY: undeploy
undeploy: ## Remove the operator from the current cluster.
	$(KUBECTL) delete -k config/policy --ignore-not-found
	$(KUBECTL) delete -k config/default

##@ Tools
.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
