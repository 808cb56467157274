# Tessera: the two commands of the README.
#   make demo  — set up the machine, build in release, run the main job (daemon + demo project + workflows)
#   make test  — set up the machine (and the anndata test venv), run every test
SWIFT ?= swift

.PHONY: setup demo test bench-import bench-train bench-embed bench-learn bench-api clean

setup:
	scripts/setup

demo: setup
	$(SWIFT) build -c release --product tessera
	$(SWIFT) build -c release --product tesserad
	scripts/demo

test:
	scripts/setup --test-venv
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# Needs the peer venv: bash ../shared/bench/install.sh .venv-bench
bench-import:
	$(SWIFT) build -c release
	.build/release/tessera-bench import

# CellLM against PyTorch CellPLM (needs .venv-bench for the peer; ours runs without it).
bench-train:
	$(SWIFT) build -c release --product tessera-bench
	.build/release/tessera-bench train

bench-embed:
	$(SWIFT) build -c release --product tessera-bench
	.build/release/tessera-bench embed

bench-learn:
	$(SWIFT) build -c release --product tessera-bench
	.build/release/tessera-bench learn

# The API under 20 concurrent clients on loopback: submit and list-10,000-jobs latency (p50, p99).
bench-api:
	$(SWIFT) build -c release --product tessera-bench
	.build/release/tessera-bench api

clean:
	rm -rf .build storage/demo
