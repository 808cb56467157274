# Tessera: the two commands of the README.
#   make demo  — set up the machine, build in release, run the main job
#   make test  — set up the machine (and the anndata test venv), run every test
SWIFT ?= swift

.PHONY: setup demo test bench-import bench-train bench-embed bench-learn clean

setup:
	scripts/setup

demo: setup
	$(SWIFT) build -c release --product tessera
	.build/release/tessera demo --root storage

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

clean:
	rm -rf .build storage/demo
