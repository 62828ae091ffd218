# ferry's developer commands. `make demo` runs a refresh and a promotion locally; `make test` is what CI runs.
.PHONY: setup test lint unit invoke bench clean

VENV  := .venv
STAMP := $(VENV)/.installed-$(shell sha256sum infra/local/requirements.txt | cut -c1-12)

## setup: install the pinned local tools (local AWS endpoint, cargo-lambda, cfn-lint) into .venv
setup: $(STAMP)

$(STAMP): infra/local/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/local/requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

## lint: formatting, clippy, docs, the SAM template, the example CI workflows and the local AWS endpoint's patches
lint: setup
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
	$(VENV)/bin/cfn-lint template.yaml infra/accounts/*.yaml infra/glue/*.yaml
	$(VENV)/bin/actionlint infra/examples/ci/*.yml
	$(VENV)/bin/python infra/local/render_template.py
	$(VENV)/bin/python infra/local/check_moto_patches.py > /dev/null

## unit: Rust unit and integration tests (they start their own local AWS endpoint on 127.0.0.1), the Glue job's tests
unit: setup
	FERRY_PYTHON=$(CURDIR)/$(VENV)/bin/python cargo test --workspace --locked
	$(VENV)/bin/python -m pytest -q infra/glue/tests

## test: every gate CI runs
test: lint unit flow

## invoke: run one function locally, e.g. make invoke FUNCTION=preflight INPUT=infra/examples/refresh-local.json
invoke: setup
	infra/local/invoke.sh $(FUNCTION) $(INPUT)

BENCH_ENV := FERRY_PYTHON=$(CURDIR)/$(VENV)/bin/python PATH=$(CURDIR)/$(VENV)/bin:$$PATH

## bench: the data movers' benchmarks (release builds; peers installed from infra/local/requirements-bench.txt)
bench: setup
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/local/requirements-bench.txt
	cargo build --profile measure --locked -p ferry-bench
	$(BENCH_ENV) target/measure/masking
	$(BENCH_ENV) target/measure/copy_table
	$(BENCH_ENV) target/measure/sync_bucket
	$(BENCH_ENV) target/measure/sesam
	target/measure/compass

## bench-scale: the benchmarks at scale (sync at 20k/100k objects on two S3 servers, against rclone's best at 1M; copy-table
## on DynamoDB Local and moto at 100k items, the local refresh's profile, the cost model); hours
.PHONY: bench-scale
bench-scale: setup
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/local/requirements-bench.txt
	cd bench/s3rver && npm ci --no-audit --no-fund
	cd bench/dynamodb-local && npm ci --no-audit --no-fund
	$(MAKE) $(SFN_STAMP)
	cargo build --profile measure --locked -p ferry-bench
	$(BENCH_ENV) target/measure/sync_bucket --objects 20000 --server rclone,s3rver --repeats 1
	$(BENCH_ENV) target/measure/sync_bucket --objects 100000 --server rclone --concurrency 32 --repeats 1
	$(BENCH_ENV) target/measure/sync_bucket --objects 1000000 --server rclone --concurrency 32 --repeats 1 --cap aws=0,rclone-defaults=0
	$(BENCH_ENV) target/measure/copy_table --endpoint dynamodb-local,moto --items 100000 --segments 1,2,4,8,16
	$(BENCH_ENV) target/measure/refresh_profile 5
	target/measure/cost_model

## State machines: the local runner (infra/local/sfn, Node 22 from the npm package `node`), its flow tests, the demo
.PHONY: flow run-local demo
SFN       := infra/local/sfn
SFN_STAMP := $(SFN)/node_modules/.installed-$(shell sha256sum $(SFN)/package-lock.json | cut -c1-12)
MACHINE   ?= refresh
INPUT     ?= infra/examples/refresh-local.json

$(SFN_STAMP): $(SFN)/package.json $(SFN)/package-lock.json
	cd $(SFN) && npm ci --no-audit --no-fund
	touch $@

## flow: asl-validator on every state machine, then the flow tests (real functions under cargo lambda watch)
flow: setup $(SFN_STAMP)
	PATH=$(CURDIR)/$(SFN)/node_modules/.bin:$$PATH asl-validator $(addprefix --json-path ,$(wildcard infra/statemachines/*.asl.json))
	cd $(SFN) && PATH=$(CURDIR)/$(VENV)/bin:$$PATH FERRY_PYTHON=$(CURDIR)/$(VENV)/bin/python \
	  node_modules/.bin/node --test --test-concurrency=1 --test-reporter=spec test/*.test.mjs

## run-local: run a state machine locally, e.g. make run-local MACHINE=refresh INPUT=infra/examples/refresh-local.json
##   or MACHINE=promote INPUT=infra/examples/promote-local.json (against the Spark ImpEx simulator, started for it)
run-local: setup $(SFN_STAMP)
	infra/local/run_local.sh $(MACHINE) $(INPUT)

## demo: refresh a realistic local production account into a test account, then promote two Spark services
##   between two simulated tenants, then Sesam node configuration from a local git repository to a simulated
##   node (plan, then apply); summarise what each run left behind
demo: setup $(SFN_STAMP)
	infra/local/demo.sh

## The local stack: the state machines behind a local Step Functions API, left running for the ferry command
.PHONY: local-up local-down

## local-up: build and start, in the background on 127.0.0.1, the local AWS endpoint (demo world), every simulator,
##   the functions and the local Step Functions API; writes .local/stack/env (`source` it) and filled inputs
local-up: setup $(SFN_STAMP)
	infra/local/stack.sh up

## local-down: stop everything make local-up started
local-down:
	infra/local/stack.sh down

## The Lambda build that `sam build` runs (BuildMethod: makefile; samconfig.toml builds in the source
## folder): one release build of every function for arm64, so the dependency graph compiles once, then
## each function's bootstrap copied into the artifacts folder SAM gives (ARTIFACTS_DIR). The logical id
## names the binary: build-SyncBucketFunction copies target/lambda/sync-bucket/bootstrap.
.PHONY: lambda-release
LAMBDA_PACKAGES := $(notdir $(wildcard functions/*))

## lambda-release: build every function's bootstrap (release, arm64) into target/lambda/<name>/
lambda-release: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --arm64 --locked $(addprefix -p ,$(LAMBDA_PACKAGES))

build-%Function: lambda-release
	cp target/lambda/$(shell echo '$*' | sed -E 's/([a-z0-9])([A-Z])/\1-\2/g' | tr '[:upper:]' '[:lower:]')/bootstrap \
	  "$(ARTIFACTS_DIR)/bootstrap"

clean:
	cargo clean
	rm -rf $(VENV)
