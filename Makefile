# facelite — the two Quickstart entry points are `make demo` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
DATA   ?= $(if $(FACELITE_DATA),$(FACELITE_DATA),../shared/data)
PHOTO  ?= $(DATA)/acne04/level0/level0_1.jpg
OUT    ?= out

.PHONY: setup system-deps demo test fixture-bundles measure-bundles clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[all]"
	touch $@

setup: $(VENV)/.installed

system-deps:
	bash scripts/install_system_deps.sh

## demo: verify every shipped bundle, analyse a real photo, evaluate expression on FER2013 val.
demo: setup
	@mkdir -p $(OUT)
	@for b in models/*/*.flb; do $(VENV)/bin/facelite verify $$b --json > $(OUT)/verify-$$(basename $$b .flb).json && echo "verified $$b"; done
	$(VENV)/bin/facelite analyze $(PHOTO) --skin --annotate $(OUT)/analyze.jpg --json | tee $(OUT)/analyze.json
	$(VENV)/bin/facelite skin-report $(PHOTO) --out $(OUT)/skin_report.png
	$(VENV)/bin/facelite evaluate models/expression/expression.flb --data $(DATA)/fer2013/val --variant all --json | tee $(OUT)/evaluate-expression.json
	@echo "demo outputs in $(OUT)/ (annotated photo: $(OUT)/analyze.jpg, skin report: $(OUT)/skin_report.png)"

## test: the whole suite, as CI runs it (about 8 minutes on 2 busy cores; must stay under 20).
test: setup system-deps
	$(PY) -m pytest -q

## fixture-bundles: rewrite the tiny test bundles committed under tests/fixtures/bundles/.
fixture-bundles: setup
	$(PY) scripts/make_fixture_bundles.py

## measure-bundles: record each shipped variant's latency on this host and agreement with fp32
## (what variant="auto" picks from; docs/bundle.md "Variant choice"), re-signed with the development key.
measure-bundles: setup
	@for b in models/*/*.flb; do $(VENV)/bin/facelite-build measure $$b || exit 1; done

clean:
	rm -rf $(OUT) build .pytest_cache
