# Every command a user or CI needs. `make run` and `make test` work on a fresh machine of ours
# (Debian, Node 20, Java 17, Maven): they install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NODE_MODULES_STAMP := node_modules/.package-lock.json
# How the gateway is started everywhere (also package.json `start`, the Dockerfile, the bench):
# a 16 MiB young generation keeps each scavenge short (per-call gRPC garbage is copied less); one V8 worker thread keeps
# the garbage collector's helpers to one core, so on a small (2-core) node they do not take the
# CPU that Redis, the broker and the node's own I/O need at the moment of a full GC (the p99).
NODE_FLAGS := --max-semi-space-size=16 --v8-pool-size=1

.PHONY: help setup deps deps_stop build run demo run_balancer test ut it e2e chaos fuzz fmt lint bench e2e_up e2e_down run_gateway run_gateway_only run_backend token clean

help: ## list the targets
	@grep -E '^[a-z_]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@
	@node -e "const ok=(()=>{try{require('node-gyp-build')(require('path').dirname(require.resolve('bufferutil')));return true}catch{return false}})(); console.log('bufferutil native addon:', ok ? 'loaded' : 'NOT loaded (ws falls back to JS)')"

setup: $(NODE_MODULES_STAMP) ## npm dependencies plus the test tools (prometheus + promtool, alertmanager + amtool, redis, etcd, chromium for the UI and browser tests) from Debian
	@missing=""; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v prometheus-alertmanager >/dev/null || missing="$$missing prometheus-alertmanager"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v etcd >/dev/null || missing="$$missing etcd-server etcd-client"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

deps: setup ## start Redis, etcd and Kafka natively (scripts/deps.sh)
	bash scripts/deps.sh start

deps_stop: ## stop what scripts/deps.sh started
	bash scripts/deps.sh stop

build: $(NODE_MODULES_STAMP) ## compile to dist/
	npm run build

run: build ## one node in embedded mode (no external service); prints the URL and a dev token
	@echo "gateway:    ws://127.0.0.1:$${GATEWAY_PORT:-9002}/ws?token=<token>"
	@echo "governance: http://127.0.0.1:$${GATEWAY_GOVERNANCE_PORT:-9003}  (/health /metrics /api/* with Bearer dev-only-admin-token)"
	@echo "dev token:  make token user=alice biz=demo   (or: node scripts/dev-token.js --user alice --biz demo)"
	@echo "            e.g. $$(node scripts/dev-token.js --user alice --biz demo --quiet)"
	GATEWAY_MODE=embedded node $(NODE_FLAGS) dist/src/main.js

token: ## print a development token: make token user=alice biz=demo
	@node scripts/dev-token.js --user $(or $(user),alice) --biz $(or $(biz),demo)

test: setup ## every test: unit, integration and e2e against real Redis, etcd and Kafka, then `make chaos`'s fuzz and faults
	bash scripts/deps.sh start
	@status=0; node scripts/run-tests.js all || status=$$?; \
	node scripts/chaos.js || status=1; \
	exit $$status

ut: $(NODE_MODULES_STAMP) ## unit specs only (no service needed)
	node scripts/run-tests.js unit

it: deps ## integration tests only
	node scripts/run-tests.js integration

e2e: deps ## e2e tests only
	node scripts/run-tests.js e2e

chaos: deps ## fuzz one node, then 6 faults under 3 nodes (private Redis/etcd/Kafka); figures, exit 1 on a FAIL (~3 min)
	node scripts/chaos.js

fuzz: deps ## only the fuzz tier of `make chaos` (one node, thousands of random inputs, ~1 min)
	CHAOS_ONLY=fuzz node scripts/chaos.js

fmt: $(NODE_MODULES_STAMP) ## format the sources (npm run fmt is the same)
	npm run fmt

lint: $(NODE_MODULES_STAMP) ## type-check, formatting, and no import cycle in the built code (npm run lint is the same)
	npm run lint

bench: build ## load test: gateway vs raw ws, a table (no pass/fail)
	node bench/run.js

e2e_up: ## docker compose: Redis, Kafka (KRaft), etcd, Prometheus, Alertmanager, Grafana (provisioned from deploy/)
	docker compose up -d redis kafka etcd prometheus alertmanager grafana

e2e_down: ## stop the compose stack
	docker compose down -v

run_gateway: build ## dependencies (compose, or native without a Docker engine), then a cluster-mode node
	@if docker info >/dev/null 2>&1; then $(MAKE) e2e_up; else echo "no Docker engine: starting native dependencies"; $(MAKE) deps; fi
	$(MAKE) run_gateway_only

run_gateway_only: build ## a cluster-mode node against already running Redis, Kafka and etcd
	GATEWAY_MODE=cluster GATEWAY_JWT_SECRET=$${GATEWAY_JWT_SECRET:-dev-cluster-secret-0123456789} \
	GATEWAY_ADMIN_TOKEN=$${GATEWAY_ADMIN_TOKEN:-dev-cluster-admin-token-0123} node $(NODE_FLAGS) dist/src/main.js

demo: deps build ## the whole system: Redis/etcd/Kafka, three nodes, the :8080 balancer + UI, the example backend, named clients (Ctrl-C stops)
	node scripts/demo.js

run_balancer: build ## the :8080 balancer in front of the cluster-mode nodes in etcd (same secrets as run_gateway_only)
	GATEWAY_ROLE=balancer GATEWAY_MODE=cluster GATEWAY_JWT_SECRET=$${GATEWAY_JWT_SECRET:-dev-cluster-secret-0123456789} \
	GATEWAY_ADMIN_TOKEN=$${GATEWAY_ADMIN_TOKEN:-dev-cluster-admin-token-0123} node $(NODE_FLAGS) dist/src/main.js

run_backend: build ## the example gRPC backend against the running etcd and Kafka (biz demo)
	node dist/examples/backend/backend.js --biz $${BIZ:-demo}

clean: ## remove build output
	rm -rf dist src/codec/generated
