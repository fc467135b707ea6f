# bash completion for egressctl. Install: copy to
# /usr/share/bash-completion/completions/egressctl (or source it).
# Subcommands and flags as `egressctl --help` lists them (tests/ctl keeps
# the two in step); --workload completes from the running agent's workloads.
_egressctl_workloads() {
  egressctl -o json workloads 2>/dev/null | sed -n 's/^ *"workload": "\([^"]*\)".*/\1/p' | sort -u
}

_egressctl() {
  local cur prev sub i
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  local subcommands="status workloads policy explain dns flows suggest observe validate"
  sub=
  for ((i = 1; i < COMP_CWORD; i++)); do
    case " $subcommands " in *" ${COMP_WORDS[i]} "*) sub=${COMP_WORDS[i]}; break ;; esac
  done
  case "$prev" in
    -o|--output) COMPREPLY=($(compgen -W "table json" -- "$cur")); return ;;
    --verdict) COMPREPLY=($(compgen -W "allowed denied redirected audit" -- "$cur")); return ;;
    --protocol) COMPREPLY=($(compgen -W "tcp udp" -- "$cur")); return ;;
    --workload) COMPREPLY=($(compgen -W "$(_egressctl_workloads)" -- "$cur")); return ;;
    --since) COMPREPLY=($(compgen -W "30s 5m 1h" -- "$cur")); return ;;
    --admin-addr|--to|--sni|--host|--limit) return ;;
  esac
  local flags
  case "$sub" in
    "") COMPREPLY=($(compgen -W "$subcommands --admin-addr -o --output -h --help" -- "$cur")); return ;;
    policy) flags="--workload" ;;
    explain) flags="--workload --to --protocol --sni" ;;
    dns) flags="--all" ;;
    flows) flags="--workload --verdict --limit" ;;
    observe) flags="--namespace --workload --verdict --host --since" ;;
    validate) COMPREPLY=($(compgen -f -- "$cur")); [ "$cur" = - ] && COMPREPLY=(-); return ;;
    *) flags="" ;;
  esac
  COMPREPLY=($(compgen -W "$flags -h --help" -- "$cur"))
}
complete -F _egressctl egressctl
