# Shared by tests/deploy: the install rendered as JSON.
#   . tests/deploy/lib.sh
#   deploy_render DIR      one JSON object per line, from kubectl kustomize DIR

# YAML documents on stdin to one JSON object per line, through kubectl itself
# (no yq): a local (offline) annotate with -o json, the annotation removed.
deploy_to_json() {
  kubectl annotate --local -f - -o json egressd.io/rendered=1 |
    jq -c 'if .kind == "List" then .items[] else . end | del(.metadata.annotations["egressd.io/rendered"]) |
      if .metadata.annotations == {} then del(.metadata.annotations) else . end'
}

deploy_render() {
  local yaml
  yaml=$(kubectl kustomize "$1") || return 1
  deploy_to_json <<<"$yaml"
}
