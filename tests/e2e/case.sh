#!/usr/bin/env bash
# Runs one e2e case file in a fresh lab and a fresh agent, and always cleans up.
#   case.sh CASE_FILE     (EGRESSD_BIN: directory with egressd, egressctl, egressd_probe)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib/netlab.sh"
source "$here/lib.sh"
trap e2e_teardown EXIT
trap 'exit 130' INT TERM
e2e_setup "$(basename "$1" .sh)" || exit 1
source "$1"
