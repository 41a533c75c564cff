# The two commands the README leads with:
#   make local   the whole flow on this machine: moto, the Vonage emulator, the functions under
#                cargo lambda watch, an alert call and its signed events, then forged ones refused
#   make test    every test: formatting, lints, unit, integration, contract, end-to-end, SAM
#                (and a one-minute fuzz run per target)
# Both install what they need (idempotently) and stop what they start.
# Also: make bench  every benchmark, all in bench/ (scripts/bench.sh): writes BENCHMARKS.md;
#                   BENCH_MODE=short bash scripts/bench.sh checks it cheaply, as make test does.
# Also: make fuzz   runs each fuzz target in fuzz/ for FUZZ_SECONDS (default 600) from the seed
#                   corpus, e.g. `make fuzz FUZZ_SECONDS=1800`; fails on any crash.

.PHONY: local test install bench fuzz

FUZZ_SECONDS ?= 600

install:
	@bash scripts/install.sh

test: install
	@bash scripts/test.sh

local: install
	@bash scripts/local.sh

bench: install
	@bash scripts/bench.sh

fuzz: install
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh
