#!/usr/bin/env bash
# Stops the test API server that tests/kube/start.sh DIR started.
dir=${1:?usage: stop.sh DIR}
[ -s "$dir/server.json" ] || exit 0
pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$dir/server.json")
kill "$pid" 2>/dev/null || exit 0
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.05; done
kill -9 "$pid" 2>/dev/null || true
