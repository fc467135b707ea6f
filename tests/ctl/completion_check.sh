#!/usr/bin/env bash
# The bash completion (deploy/completion/egressctl.bash) offers exactly the
# subcommands `egressctl --help` lists, and each subcommand's flags as its
# --help lists them; completing works in a real bash. Every subcommand's
# --help ends with an example that names it.   completion_check.sh BIN_DIR
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:?usage: completion_check.sh BIN_DIR}
script=$root/deploy/completion/egressctl.bash
failures=0
fail() { echo "  FAIL: $*"; failures=$((failures + 1)); }

# complete WORDS...: what the completion offers for the last word.
complete_words() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _egressctl; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$script" "$@" | sort | tr '\n' ' '
}

helped=$("$bin/egressctl" --help | awk '/^Subcommands:/ { on = 1; next } on && !NF { exit } on { print $1 }' | sort | tr '\n' ' ')
offered=$(complete_words egressctl "" | tr ' ' '\n' | grep -v '^-' | grep . | sort | tr '\n' ' ')
[ "$helped" = "$offered" ] && echo "  ok: subcommands: $offered" || fail "subcommands: --help lists '$helped', completion offers '$offered'"

for sub in $helped; do
  "$bin/egressctl" "$sub" --help | grep -A3 '^Example' | grep -q "egressctl .*$sub" &&
    echo "  ok: $sub --help has an example" || fail "$sub --help has no example"
  flags=$("$bin/egressctl" "$sub" --help | grep -oE '^ +(-[a-z],)?--[a-z-]+' | sed 's/.*,//; s/ //g' | grep -v -- '--help' | sort | tr '\n' ' ')
  got=$(complete_words egressctl "$sub" "-" | tr ' ' '\n' | grep -- '^--' | grep -v -- '--help' | sort | tr '\n' ' ')
  [ "$sub" = validate ] && continue   # positional paths only
  [ "$flags" = "$got" ] && echo "  ok: $sub: ${got:-no flags}" || fail "$sub: --help has '$flags', completion offers '$got'"
done
[ "$(complete_words egressctl flows --verdict "")" = "allowed audit denied redirected " ] && echo "  ok: --verdict values" ||
  fail "--verdict values: $(complete_words egressctl flows --verdict "")"
[ "$(complete_words egressctl -o "")" = "json table " ] && echo "  ok: -o values" || fail "-o values"
[ "$failures" -eq 0 ]
