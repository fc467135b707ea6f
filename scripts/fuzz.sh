#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, EGRESSD_FUZZ=ON: every library
# instrumented, ASan/UBSan) and runs each for SECONDS.
# Usage: scripts/fuzz.sh [SECONDS=30] [BUILD_DIR=build-fuzz] [TARGET...]
# Targets: dns_parse (the kernel DNS parser's user-space twin), policy_parse
# (parseYaml, the store, the compiler), punt_learner (the agent's DNS punt
# and DNS-over-TCP learner), kube_decode (the Kubernetes list and watch JSON
# through the reflector, then each object as the policy source reads it); all
# by default. Seeds: the DNS fixtures, the YAML under tests/ and
# deploy/examples, and the objects of tests/kube/testdata as list pages and
# watch events. Each run's corpus grows in
# BUILD_DIR/fuzz-corpus/TARGET; crashes land in BUILD_DIR/fuzz-artifacts.
# Fails (non-zero) on the first target that crashes or breaks an invariant.
set -euo pipefail
seconds=${1:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${2:-$root/build-fuzz}
shift $(( $# < 2 ? $# : 2 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(dns_parse policy_parse punt_learner kube_decode)

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DEGRESSD_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_seeds "${targets[@]/%/_fuzz}" >/dev/null

corpus=$build/fuzz-corpus
mkdir -p "$corpus"/{dns_parse,policy_parse,punt_learner,kube_decode} "$build/fuzz-artifacts"
"$build/bin/fuzz_seeds" "$corpus/dns_parse" "$corpus/punt_learner"
# Policy seeds: every YAML file whole, and each of its documents alone (small
# seeds mutate faster).
n=0
while IFS= read -r -d '' f; do
  n=$((n + 1))
  cp "$f" "$corpus/policy_parse/file-$n.yaml"
  awk -v out="$corpus/policy_parse/file-$n-doc-" '/^---/ { d++ } { print > (out d ".yaml") }' "$f"
done < <(find "$root/tests" "$root/deploy/examples" \( -name '*.yaml' -o -name '*.yml' \) -print0 2>/dev/null | sort -z)

# Kubernetes seeds: each object of tests/kube/testdata as a one-item list page,
# a NUL, then its watch events (ADDED, MODIFIED, DELETED, a BOOKMARK).
python3 - "$root/tests/kube/testdata" "$corpus/kube_decode" <<'PY'
import json, pathlib, sys, yaml
out = pathlib.Path(sys.argv[2])
n = 0
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.yaml")):
    for doc in yaml.safe_load_all(path.read_text()):
        if not isinstance(doc, dict):
            continue
        n += 1
        doc.setdefault("metadata", {})["resourceVersion"] = str(n)
        page = {"kind": "List", "metadata": {"resourceVersion": str(n)}, "items": [doc]}
        events = [{"type": t, "object": doc} for t in ("ADDED", "MODIFIED", "DELETED")]
        events.append({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": str(n + 1)}}})
        body = json.dumps(page, default=str) + "\0" + "\n".join(json.dumps(e, default=str) for e in events) + "\n"
        (out / ("object-%d.json" % n)).write_bytes(body.encode())
PY
declare -A max_len=([dns_parse]=1400 [policy_parse]=16384 [punt_learner]=16384 [kube_decode]=16384)
for t in "${targets[@]}"; do
  echo "fuzz.sh: $t for ${seconds}s"
  # -timeout: one input slower than that is a finding; `timeout`: a run that
  # cannot end (e.g. stuck reporting) fails instead of hanging CI.
  if ! timeout -k 10 $((seconds + 120)) "$build/bin/${t}_fuzz" -max_total_time="$seconds" -max_len="${max_len[$t]}" \
    -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 -print_funcs=0 \
    -artifact_prefix="$build/fuzz-artifacts/$t-" "$corpus/$t" 2>&1 | sed -u "s/^/$t: /"; then
    echo "fuzz.sh: $t failed (artifacts: $build/fuzz-artifacts)" >&2
    exit 1
  fi
done
