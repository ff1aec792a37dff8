#!/usr/bin/env bash
# The README's main command: install, build, and run the agent with the bundled demo
# config (config/examples/demo.yaml): demo workloads under limits, metrics on
# http://127.0.0.1:9839/metrics. Ctrl-C stops the agent and its workloads.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$src/deploy/bootstrap.sh" "$src/build"
# The demo workloads run `cgwarden stress ...`: put the freshly built binary first in PATH.
export PATH="$src/build/agent:$PATH"
exec "$src/build/agent/cgwarden" run --config "${CGWARDEN_CONFIG:-$src/config/examples/demo.yaml}" "$@"
