# svcnet developer entry points. Scripts live in hack/.
.PHONY: build test walkthrough server bench peers conformance conformance-quick kubectl clean

build:
	go build -o bin/svcnet ./cmd/svcnet

# Static checks, then every test with -race inside a fresh network namespace,
# the quick subset of upstream's conformance specs (API-only ones and one
# data-plane spec on the two-node cluster; as root), then the seeds' story.
test:
	hack/test.sh
	hack/conformance-quick.sh
	hack/walkthrough.sh

# The quick subset of `make test` alone (root); `make conformance` runs all.
conformance-quick:
	hack/conformance-quick.sh

# The seeds' story (docs/walkthrough.md) alone, end to end, as root.
walkthrough: build
	hack/walkthrough.sh

# Runs svcnet server with its data in ./_output/data (embedded etcd).
server: build
	hack/run-server.sh

# Data-plane, control-plane and DNS figures, measured side by side in
# network namespaces of its own (root), with kube-proxy, CoreDNS and
# kube-apiserver as peers when they build; see bench/README.md.
bench: build
	go build -o bin/bench ./bench
	hack/build-e2e.sh peers || echo "bench: peers not built; their columns are skipped"
	SVCNET_BINARY=$(CURDIR)/bin/svcnet bin/bench -out bench/out/results.json

# Upstream kube-apiserver, kube-proxy, etcd and CoreDNS into _output/bin,
# the peers of the bench and of test/e2e/dropin_kubeapiserver_test.go.
peers:
	hack/build-e2e.sh peers

# Upstream Kubernetes' e2e suite against a two-node cluster in network
# namespaces (root); FOCUS/SKIP are Ginkgo regexps, PROXY_MODE nftables or
# iptables, PARALLEL the number of e2e.test processes, CONTAINER_RUNTIME remote
# (containerd per node, real images) or process. Results in
# _output/conformance/ and docs/conformance.md.
conformance:
	CONFORMANCE_FOCUS='$(FOCUS)' CONFORMANCE_SKIP='$(SKIP)' PROXY_MODE='$(PROXY_MODE)' CONTAINER_RUNTIME='$(CONTAINER_RUNTIME)' \
	  CONFORMANCE_PARALLEL='$(PARALLEL)' hack/conformance.sh

# Stock kubectl of the release pinned in hack/conformance/go.mod, built into
# _output/bin/kubectl (used by tests and scripts when none is on PATH).
kubectl:
	hack/build-e2e.sh kubectl

clean:
	rm -rf bin _output
