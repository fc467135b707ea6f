# A tiny lab on this machine, shared by the demo and the end-to-end tests:
#   netns <lab>-wl   the workloads' network namespace (the "pods")
#   netns <lab>-ext  the "internet": documentation addresses on
#                    its loopback, served by nginx (HTTP on 80 and 8080,
#                    HTTPS on 443)
# joined by a veth pair (10.99.0.0/24, fd00:99::/64). Nothing leaves the machine.
# Workloads are cgroups under <cgroup2 root>/<lab>; processes join one with
# lab_exec. Source this file; call lab_up NAME, then lab_down.

LAB_EXTERNAL_V4=(192.0.2.10 198.51.100.20 203.0.113.30)
LAB_EXTERNAL_V6=(2001:db8::10 2001:db8:1::20)
LAB_RESOLVER=10.99.0.1

lab_cgroup2_root() {
  awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo
}

lab_up() {
  LAB=$1
  LAB_DIR=$(mktemp -d "/tmp/${LAB}.XXXXXX")
  LAB_CGROUP=$(lab_cgroup2_root)/$LAB
  [ -n "$(lab_cgroup2_root)" ] || { echo "no cgroup2 mount in /proc/self/mountinfo" >&2; return 1; }
  mkdir -p "$LAB_CGROUP"

  ip netns add "$LAB-wl"
  ip netns add "$LAB-ext"
  ip link add "$LAB-h" type veth peer name "$LAB-p"
  ip link set "$LAB-h" netns "$LAB-ext"
  ip link set "$LAB-p" netns "$LAB-wl"
  ip -n "$LAB-ext" link set lo up
  ip -n "$LAB-wl" link set lo up
  ip -n "$LAB-ext" addr add 10.99.0.1/24 dev "$LAB-h"
  ip -n "$LAB-ext" -6 addr add fd00:99::1/64 dev "$LAB-h" nodad
  ip -n "$LAB-wl" addr add 10.99.0.2/24 dev "$LAB-p"
  ip -n "$LAB-wl" -6 addr add fd00:99::2/64 dev "$LAB-p" nodad
  ip -n "$LAB-ext" link set "$LAB-h" up
  ip -n "$LAB-wl" link set "$LAB-p" up
  ip -n "$LAB-wl" route add default via 10.99.0.1
  ip -n "$LAB-wl" -6 route add default via fd00:99::1
  # The external addresses live on ext's loopback (no dummy module needed).
  local a
  for a in "${LAB_EXTERNAL_V4[@]}"; do ip -n "$LAB-ext" addr add "$a/32" dev lo; done
  for a in "${LAB_EXTERNAL_V6[@]}"; do ip -n "$LAB-ext" -6 addr add "$a/128" dev lo nodad; done
  lab_start_nginx
}

lab_start_nginx() {
  mkdir -p "$LAB_DIR/nginx"
  # One self-signed certificate for every "external" host name.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj "/CN=external" -addext "subjectAltName=DNS:*.example.com,DNS:api.external-service.com" \
    -keyout "$LAB_DIR/nginx/tls.key" -out "$LAB_DIR/nginx/tls.crt" 2>/dev/null
  cat > "$LAB_DIR/nginx/nginx.conf" <<CONF
user root;
worker_processes 1;
pid $LAB_DIR/nginx/nginx.pid;
error_log $LAB_DIR/nginx/error.log;
events { worker_connections 256; }
http {
  access_log $LAB_DIR/nginx/access.log;
  client_body_temp_path $LAB_DIR/nginx;
  proxy_temp_path $LAB_DIR/nginx;
  fastcgi_temp_path $LAB_DIR/nginx;
  uwsgi_temp_path $LAB_DIR/nginx;
  scgi_temp_path $LAB_DIR/nginx;
  server {
    listen 80;
    listen [::]:80;
    listen 8080;
    listen [::]:8080;
    listen 443 ssl;
    listen [::]:443 ssl;
    ssl_certificate $LAB_DIR/nginx/tls.crt;
    ssl_certificate_key $LAB_DIR/nginx/tls.key;
    location / { return 200 "hello from \$server_addr:\$server_port\n"; }
  }
}
CONF
  ip netns exec "$LAB-ext" nginx -p "$LAB_DIR/nginx" -c "$LAB_DIR/nginx/nginx.conf"
}

# lab_start_dnsmasq [DNSMASQ_ARG...]: a resolver on $LAB_RESOLVER:53 (and
# fd00:99::1) in the "internet" namespace, answering only from its own
# records (--address, --host-record, --cname ... passed as arguments), and
# /etc/netns/<ns>/resolv.conf pointing the workloads at it, for <lab>-wl and
# the pods made so far (ip netns exec bind-mounts it over /etc/resolv.conf). --local-ttl sets the answers' TTL
# (dnsmasq's default for its own records is 0). Restarting replaces it.
lab_start_dnsmasq() {
  [ -f "$LAB_DIR/dnsmasq.pid" ] && kill "$(cat "$LAB_DIR/dnsmasq.pid")" 2>/dev/null && sleep 0.1
  local ns
  for ns in "$LAB-wl" $(ip netns list | awk -v p="^$LAB-pod" '$1 ~ p { print $1 }'); do
    mkdir -p "/etc/netns/$ns"
    printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$LAB_RESOLVER" > "/etc/netns/$ns/resolv.conf"
  done
  ip netns exec "$LAB-ext" dnsmasq --no-resolv --no-hosts --no-poll --bind-interfaces --user=root \
    --listen-address="$LAB_RESOLVER" --listen-address=fd00:99::1 --except-interface=lo \
    --pid-file="$LAB_DIR/dnsmasq.pid" --log-facility="$LAB_DIR/dnsmasq.log" --log-queries \
    --cache-size=0 "$@"
  local i
  for i in $(seq 1 50); do
    [ -s "$LAB_DIR/dnsmasq.pid" ] && return 0
    sleep 0.05
  done
  echo "dnsmasq did not start: $(tail -n 5 "$LAB_DIR/dnsmasq.log" 2>/dev/null)" >&2
  return 1
}

# lab_external_addr ADDR...: more "internet" addresses (nginx answers on all).
lab_external_addr() {
  local a
  for a in "$@"; do
    case "$a" in
      *:*) ip -n "$LAB-ext" -6 addr add "$a/128" dev lo nodad ;;
      *) ip -n "$LAB-ext" addr add "$a/32" dev lo ;;
    esac
  done
}

# lab_workload NAME: creates the workload's cgroup, prints its path.
lab_workload() {
  mkdir -p "$LAB_CGROUP/$1"
  echo "$LAB_CGROUP/$1"
}

# lab_pod NAME INDEX: a workload with a network namespace of its own, as a
# Kubernetes pod has: netns <lab>-podINDEX whose eth0 (10.99.INDEX.2,
# fd00:99:INDEX::2) is a veth to <lab>-vINDEX in <lab>-ext (10.99.INDEX.1),
# the pod's default route. lab_exec runs NAME's processes there. The agent
# attaches its TC backstop to <lab>-vINDEX. Prints the cgroup path.
lab_pod() {
  local name=$1 idx=$2 ns="$LAB-pod$2"
  mkdir -p "$LAB_CGROUP/$name"
  ip netns add "$ns"
  ip link add "$LAB-v$idx" type veth peer name "$LAB-e$idx"
  ip link set "$LAB-e$idx" netns "$ns"
  ip -n "$ns" link set "$LAB-e$idx" name eth0
  ip link set "$LAB-v$idx" netns "$LAB-ext"
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  ip -n "$LAB-ext" link set "$LAB-v$idx" up
  ip -n "$LAB-ext" addr add "10.99.$idx.1/24" dev "$LAB-v$idx"
  ip -n "$LAB-ext" -6 addr add "fd00:99:$idx::1/64" dev "$LAB-v$idx" nodad
  ip -n "$ns" addr add "10.99.$idx.2/24" dev eth0
  ip -n "$ns" -6 addr add "fd00:99:$idx::2/64" dev eth0 nodad
  ip -n "$ns" route add default via "10.99.$idx.1"
  ip -n "$ns" -6 route add default via "fd00:99:$idx::1"
  echo "$ns" > "$LAB_DIR/pod-netns.${name//\//_}"
  echo "$LAB_CGROUP/$name"
}

# lab_start_gateway ADDR: an egress gateway as the workload
# istio-system/egressgateway in <lab>-wl, listening on ADDR (added to its
# interface): nginx routing TLS by SNI (ssl_preread) and HTTP by Host to
# api.external-service.com (192.0.2.10), logging what it saw in
# $LAB_DIR/gw/{stream,http}.log, connecting upstream from ADDR.
lab_start_gateway() {
  local gw=$1
  ip -n "$LAB-wl" addr add "$gw/24" dev "$LAB-p"
  ip netns exec "$LAB-ext" sysctl -qw net.ipv4.ip_forward=1   # pods reach it through ext
  mkdir -p "$LAB_CGROUP/istio-system/egressgateway" "$LAB_DIR/gw"
  cat > "$LAB_DIR/gw/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
user root;
worker_processes 1;
pid $LAB_DIR/gw/nginx.pid;
error_log $LAB_DIR/gw/error.log;
events { worker_connections 64; }
stream {
  log_format sni '\$remote_addr sni=\$ssl_preread_server_name';
  access_log $LAB_DIR/gw/stream.log sni;
  map \$ssl_preread_server_name \$upstream { api.external-service.com 192.0.2.10:443; default 127.0.0.1:9; }
  server { listen $gw:443; ssl_preread on; proxy_bind $gw; proxy_pass \$upstream; }
}
http {
  log_format hostlog '\$remote_addr host=\$host';
  access_log $LAB_DIR/gw/http.log hostlog;
  client_body_temp_path $LAB_DIR/gw; proxy_temp_path $LAB_DIR/gw; fastcgi_temp_path $LAB_DIR/gw;
  uwsgi_temp_path $LAB_DIR/gw; scgi_temp_path $LAB_DIR/gw;
  map \$host \$upstream { api.external-service.com 192.0.2.10:80; default 127.0.0.1:9; }
  server { listen $gw:80; location / { proxy_bind $gw; proxy_set_header Host \$host; proxy_pass http://\$upstream; } }
}
CONF
  lab_exec istio-system/egressgateway nginx -p "$LAB_DIR/gw" -c "$LAB_DIR/gw/nginx.conf"
}

# The network namespace WORKLOAD's processes run in.
lab_netns_of() {
  local file="$LAB_DIR/pod-netns.${1//\//_}"
  if [ -f "$file" ]; then cat "$file"; else echo "$LAB-wl"; fi
}

# lab_exec WORKLOAD CMD...: runs CMD as a process of WORKLOAD (its cgroup)
# inside its network namespace (the shared <lab>-wl unless lab_pod made one).
# WORKLOAD "-" runs outside every workload, in <lab>-wl.
lab_exec() {
  local workload=$1
  shift
  if [ "$workload" = "-" ]; then
    ip netns exec "$LAB-wl" "$@"
  else
    local ns
    ns=$(lab_netns_of "$workload")
    # The subshell joins the cgroup, then becomes the command.
    (echo $BASHPID > "$LAB_CGROUP/$workload/cgroup.procs" && exec ip netns exec "$ns" "$@")
  fi
}

lab_down() {
  [ -n "${LAB:-}" ] || return 0
  [ -f "$LAB_DIR/nginx/nginx.pid" ] && kill "$(cat "$LAB_DIR/nginx/nginx.pid")" 2>/dev/null
  [ -f "$LAB_DIR/dnsmasq.pid" ] && kill "$(cat "$LAB_DIR/dnsmasq.pid")" 2>/dev/null
  [ -f "$LAB_DIR/gw/nginx.pid" ] && kill "$(cat "$LAB_DIR/gw/nginx.pid")" 2>/dev/null
  ip netns pids "$LAB-wl" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns pids "$LAB-ext" 2>/dev/null | xargs -r kill 2>/dev/null
  local pod
  for pod in $(ip netns list | awk -v p="^$LAB-pod" '$1 ~ p { print $1 }'); do
    ip netns pids "$pod" 2>/dev/null | xargs -r kill 2>/dev/null
    ip netns del "$pod" 2>/dev/null
  done
  ip netns del "$LAB-wl" 2>/dev/null
  ip netns del "$LAB-ext" 2>/dev/null
  rm -rf "/etc/netns/$LAB-wl" "/etc/netns/$LAB-pod"*
  # Children first: a cgroup can only go once it is empty of processes and children.
  if [ -d "$LAB_CGROUP" ]; then
    local d
    for _ in 1 2 3 4 5; do
      find "$LAB_CGROUP" -depth -type d -exec rmdir {} \; 2>/dev/null
      [ -d "$LAB_CGROUP" ] || break
      sleep 0.2
    done
  fi
  rm -rf "$LAB_DIR"
  LAB=
}
