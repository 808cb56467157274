# Tessera: the two commands of the README.
#   make demo  — set up the machine, build in release, run the main job (daemon + demo project + workflows)
#   make test  — set up the machine (and the anndata test venv), run every test
SWIFT ?= swift

.PHONY: setup demo test bench-import bench-train bench-embed bench-learn bench-api bench-slurm clean

setup:
	scripts/setup

demo: setup
	$(SWIFT) build -c release --product tessera
	$(SWIFT) build -c release --product tesserad
	scripts/demo

# The Slurm executor's tests run against a real two-node Slurm on this machine (scripts/slurm-test-cluster):
# started here when it is not already up, and stopped after the tests only if this target started it. Where
# Slurm cannot be installed the start fails and those tests skip with the reason.
test:
	scripts/setup --test-venv
	$(SWIFT) build --build-tests
	@if scripts/slurm-test-cluster status >/dev/null 2>&1; then started=0; \
	  elif scripts/slurm-test-cluster start; then started=1; \
	  else started=0; echo "make test: the Slurm test cluster could not start; the Slurm tests will skip"; fi; \
	$(SWIFT) test --skip-build; rc=$$?; \
	if [ $$started = 1 ]; then scripts/slurm-test-cluster stop; fi; \
	exit $$rc

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

# The Slurm executor beside the local one on the test cluster: per-job overhead, 100 short jobs at once.
bench-slurm:
	$(SWIFT) build -c release --product tessera-bench
	scripts/slurm-test-cluster start
	.build/release/tessera-bench slurm
	$(SWIFT) build -c release --product tesserad
	.build/release/tessera-bench slurm-embed

clean:
	rm -rf .build storage/demo
