#!/usr/bin/env bash
# Installs every Debian 12 package egressd needs to build, test and run the
# demo. Idempotent: does nothing when all are present.
set -euo pipefail

build_pkgs=(cmake make g++ clang llvm pkg-config libbpf-dev bpftool
  libyaml-cpp-dev libspdlog-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libcpp-httplib-dev nlohmann-json3-dev libcurl4-openssl-dev
  libclang-rt-14-dev python3-yaml)
run_pkgs=(iproute2 dnsmasq-base nginx-light libnginx-mod-stream openssl curl
  dnsutils iperf3 procps psmisc jq iputils-ping
  iptables ipset nftables squid)  # the alternatives scripts/bench.sh compares with
# scripts/test-kernel.sh: Debian's own kernel in a qemu guest.
kernel_test_pkgs=(qemu-system-x86 busybox-static kmod)

missing=()
for p in "${build_pkgs[@]}" "${run_pkgs[@]}" "${kernel_test_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# kubectl drives the Kubernetes tests (and python3 runs their API server): the
# machines ship kubectl 1.32; where it is missing, Debian's kubernetes-client.
command -v kubectl >/dev/null || missing+=(kubernetes-client)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# nginx's postinst tries to start the service; it is not wanted here.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
