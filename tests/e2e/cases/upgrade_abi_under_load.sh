# An upgrade whose ABI changed, under a steady mixed load (the kinds of
# tests/e2e/tools/mixed_load.sh): no verdict is wrong at any moment, a hung
# connect included, and names learned before the upgrade stay learned.
#
# What it simulates, without an old binary: the agent runs and is stopped;
# its pins are then made to look like another ABI's: abi_info says version 1,
# and the pins of `workloads` and `dest_ports` are replaced by maps of
# another capacity, as if their definition had changed (the running programs
# keep the originals, as an old agent's programs would). The same agent
# started again takes the real upgrade path: staged maps, filled by its first
# sync, then every link swapped, then the staged pins published. The first
# attempt is killed (-9) part-way; the next start recovers from what it left
# (rolls the staged maps back or forward) and upgrades.
source "$(dirname "${BASH_SOURCE[0]}")/../tools/mixed_load.sh"
mixed_load_setup || { e2e_fail "lab setup"; return; }
e2e_start_agent || return
mixed_load_start
sleep 1
e2e_stop_agent

bpftool map update pinned "$E2E_BPFFS/abi_info" key 0 0 0 0 value 1 0 0 0 0 0 0 0 ||
  e2e_fail "rewrite abi_info"
old_workloads_entries=$(bpftool -j map show pinned "$E2E_BPFFS/workloads" | jq .max_entries)
for map in workloads dest_ports; do
  info=$(bpftool -j map show pinned "$E2E_BPFFS/$map")
  rm "$E2E_BPFFS/$map"
  bpftool map create "$E2E_BPFFS/$map" type "$(jq -r .type <<<"$info")" key "$(jq .bytes_key <<<"$info")" \
    value "$(jq .bytes_value <<<"$info")" entries $(( $(jq .max_entries <<<"$info") - 1 )) name "$map" \
    flags "$(jq .flags <<<"$info")" || e2e_fail "replace the pin of $map"
done
sleep 0.5   # no agent: the old programs keep enforcing on the old maps
"$EGRESSD_BIN/egressd" --policy-dir "$E2E_POLICY" --cgroup-root "$LAB_CGROUP" --bpffs "$E2E_BPFFS" \
  --admin-addr "$E2E_ADMIN" --dns-server "$LAB_RESOLVER" --tc-mode off >>"$E2E_LOG" 2>&1 &
crashing=$!
wait_until 10000 test -d "$E2E_BPFFS/upgrade" >/dev/null || e2e_fail "the upgrade never staged its maps"
sleep 0.2
kill -9 "$crashing"; wait "$crashing" 2>/dev/null
left_staged=
if [ -d "$E2E_BPFFS/upgrade" ]; then left_staged=1; e2e_ok "killed mid-upgrade: staged maps left behind"; else e2e_ok "killed after the upgrade finished"; fi
sleep 0.5
upgrade_started=$(date +%s%N)
e2e_start_agent || { mixed_load_stop; return; }
echo "  upgrade: agent ready $(( ($(date +%s%N) - upgrade_started) / 1000000 )) ms after start"
sleep 1.5
mixed_load_stop
mixed_load_check 10

expect_log 'upgrading the pinned datapath .* ABI version 1'
expect_log 'upgrade done'
[ -z "$left_staged" ] || expect_log 'an earlier upgrade in .* stopped (before|after) its links moved'
[ -e "$E2E_BPFFS/upgrade" ] && e2e_fail "staging dir left behind" || e2e_ok "no staging dir left"
entries=$(bpftool -j map show pinned "$E2E_BPFFS/workloads" | jq .max_entries)
[ "$entries" = "$old_workloads_entries" ] && e2e_ok "workloads is the new map" ||
  e2e_fail "workloads pin is still the replaced map ($entries entries)"
version=$(bpftool -j map lookup pinned "$E2E_BPFFS/abi_info" key 0 0 0 0 | jq -r .formatted.value.version)
[ -n "$version" ] && [ "$version" != 1 ] && [ "$version" != null ] && e2e_ok "abi_info has this build's version ($version)" ||
  e2e_fail "abi_info says $version"
