# ferry's developer commands. `make test` is what CI runs; `make invoke` runs one function locally.
.PHONY: setup test lint unit invoke clean

VENV  := .venv
STAMP := $(VENV)/.installed-$(shell sha256sum infra/local/requirements.txt | cut -c1-12)

## setup: install the pinned local tools (local AWS endpoint, cargo-lambda, cfn-lint) into .venv
setup: $(STAMP)

$(STAMP): infra/local/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/local/requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

## lint: formatting, clippy, docs, the SAM template and the local AWS endpoint's patches
lint: setup
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/python infra/local/check_moto_patches.py > /dev/null

## unit: unit and integration tests (the tests start their own local AWS endpoint on 127.0.0.1)
unit: setup
	FERRY_PYTHON=$(CURDIR)/$(VENV)/bin/python cargo test --workspace --locked

## test: every gate CI runs
test: lint unit

## invoke: run one function locally, e.g. make invoke FUNCTION=preflight INPUT=infra/examples/refresh-local.json
invoke: setup
	infra/local/invoke.sh $(FUNCTION) $(INPUT)

clean:
	cargo clean
	rm -rf $(VENV)
