# The two commands the README leads with:
#   make local   the whole flow on this machine: moto, the Vonage emulator, the functions under
#                cargo lambda watch, an alert call and its signed events, then forged ones refused
#   make test    every test: formatting, lints, unit, integration, contract, end-to-end, SAM
# Both install what they need (idempotently) and stop what they start.

.PHONY: local test install bench

install:
	@bash scripts/install.sh

test: install
	@bash scripts/test.sh

local: install
	@bash scripts/local.sh

bench: install
	@bash scripts/bench.sh
