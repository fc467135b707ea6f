#!/usr/bin/env bash
# Runs the kernel tests and the end-to-end tests on another kernel: Debian's
# own kernel package, booted in a qemu/KVM guest, against the binaries built
# on this machine.
#
#   scripts/test-kernel.sh VERSION [--build DIR] [--ci] [--kernel-tests-only] [--filter GTEST_FILTER] [CASE...]
#   scripts/test-kernel.sh 6.1                      # every kernel test and every e2e case
#   scripts/test-kernel.sh 6.1 tc_backstop_clsact   # every kernel test, one e2e case
#   scripts/test-kernel.sh 6.1 --ci                 # what CI runs (ci_filter, ci_cases below)
#
# VERSION is a Debian kernel series (6.1 is Debian 12's). The guest has no
# disk and no network device: it sees this machine's root read-only over
# virtio-9p (the same Debian userland, build tree, nginx, dnsmasq...) under a
# tmpfs overlay, so whatever it writes is gone at power-off. The kernel's
# modules come from the package: the few needed to mount the root are loaded
# from a small busybox initramfs, the rest on demand by modprobe.
#
# The package is kept in EGRESSD_KERNEL_CACHE (default ~/.cache/egressd/kernels).
# Needs root, /dev/kvm, qemu-system-x86, busybox-static and kmod (installed by
# scripts/install-deps.sh). Under CI=true a missing piece fails instead of
# skipping (exit 77). Exit status: 0 when every test passed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() { sed -n '5,8p' "$0" | sed 's/^# *//' >&2; exit 2; }
[ $# -ge 1 ] || usage
series=$1; shift
build=$root/build
run_e2e=1
filter=""
cases=()
# What CI runs: what differs by kernel, within a few minutes even emulated
# (docs/KERNELS.md): the feature probes; every program loaded, verified and
# attached, with the verifier budget (DatapathTest); the DNS parser on every
# fixture and the DNS punt path (the helper lengths 6.1 refused); the TC
# backstop's frames, tcx or its absence, a restart; end to end, the backstop
# in whatever mode the kernel gives (clsact on 6.1) and DNS learning.
ci_filter='KernelFeaturesTest.*:DatapathTest.*:*DnsParseKernel*:DnsLearnKernelFlowTest.*:TcBackstopTest.*:RestartTest.UpgradeMovesPinnedTcxLinks:RestartTest.EnforcementSurvivesTheAgentAndIsAdopted:EnforcementTest.RegistryOnlyScope'
ci_cases=(tc_backstop_and_bytes dns_hosts)
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --ci) filter=$ci_filter; cases=("${ci_cases[@]}"); shift ;;
    --kernel-tests-only) run_e2e=0; shift ;;
    --filter) filter=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "test-kernel: unknown option $1" >&2; usage ;;
    *) cases+=("$1"); shift ;;
  esac
done
[[ $series =~ ^[0-9]+\.[0-9]+$ ]] || { echo "test-kernel: VERSION is a kernel series like 6.1, not '$series'" >&2; exit 2; }

cannot_run() {
  if [ -n "${CI:-}" ]; then echo "FAIL: test-kernel $series: $*" >&2; exit 1; fi
  echo "SKIP: test-kernel $series: $*" >&2
  exit 77
}
[ "$(id -u)" -eq 0 ] || cannot_run "needs root (the guest runs the tests as root over this machine's files)"
for tool in qemu-system-x86_64 busybox depmod modprobe apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || cannot_run "$tool is missing (scripts/install-deps.sh installs it)"
done
bin=$build/bin
ktests=$(find "$build" -name egressd_kernel_tests -type f -perm -u+x | head -n1)
[ -x "$bin/egressd" ] && [ -n "$ktests" ] || { echo "test-kernel: no build in $build (scripts/build.sh makes one)" >&2; exit 2; }

# --- The kernel package: Debian's current one of the series. -------------
arch=amd64
find_package() {
  # The metapackage's choice when it is of this series (Debian 12's 6.1),
  # else the newest of the series the archive lists.
  local meta
  meta=$(apt-cache depends "linux-image-$arch" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
  if [[ $meta =~ ^linux-image-${series//./\\.}\.[0-9]+-[0-9]+-$arch$ ]]; then echo "$meta"; return; fi
  apt-cache search --names-only "^linux-image-${series//./\\.}\.[0-9]+-[0-9]+-$arch\$" 2>/dev/null |
    awk '{print $1}' | sort -V | tail -n1
}
cache=${EGRESSD_KERNEL_CACHE:-${HOME:-/root}/.cache/egressd/kernels}
mkdir -p "$cache"
pkg=$(find_package)
if [ -z "$pkg" ]; then
  apt-get update -qq >/dev/null 2>&1 || true
  pkg=$(find_package)
fi
if [ -z "$pkg" ]; then
  # Offline with an empty package list: whatever of the series is cached.
  pkg=$(cd "$cache" && ls -d linux-image-"$series".*-"$arch" 2>/dev/null | sort -V | tail -n1 || true)
fi
[ -n "$pkg" ] || cannot_run "no Debian package linux-image-$series.*-$arch found (apt-get update?)"
kdir=$cache/$pkg
kver=${pkg#linux-image-}
if [ ! -f "$kdir/.complete" ]; then
  echo "test-kernel: fetching $pkg into $kdir"
  rm -rf "$kdir" && mkdir -p "$kdir/deb"
  (cd "$kdir/deb" && apt-get download -q "$pkg" 2>&1 | grep -v 'unsandboxed as root' || true)
  deb=$(ls "$kdir"/deb/*.deb 2>/dev/null | head -n1)
  [ -n "$deb" ] || cannot_run "apt-get download $pkg failed"
  dpkg-deb -x "$deb" "$kdir/root"
  depmod -b "$kdir/root" "$kver"
  rm -rf "$kdir/deb"
  touch "$kdir/.complete"
fi
vmlinuz=$kdir/root/boot/vmlinuz-$kver
moddir=$kdir/root/lib/modules/$kver
[ -f "$vmlinuz" ] && [ -f "$moddir/modules.dep" ] || { echo "test-kernel: $kdir is incomplete; remove it" >&2; exit 1; }

# --- The initramfs: busybox, the root's modules, an init that mounts it. ---
work=$(mktemp -d /tmp/egressd-kernel-XXXXXX)
qemu_pid=""
tail_pid=""
cleanup() {
  [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
  [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
initrd=$work/initrd
mkdir -p "$initrd"/{bin,dev,proc,sys,lower,rw,newroot,modules}
cp "$(command -v busybox)" "$initrd/bin/busybox"
ln -s busybox "$initrd/bin/sh"
# The modules the root needs, in load order (modprobe resolves dependencies).
modprobe -d "$kdir/root" -S "$kver" -a --show-depends virtio_pci 9pnet_virtio 9p overlay |
  awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++' > "$work/modules.list"
n=0
while read -r ko; do
  n=$((n + 1))
  cp "$ko" "$initrd/modules/$(printf '%02d' $n)-$(basename "$ko")"
done < "$work/modules.list"
# The guest's second stage runs from the shared root (this checkout).
cat > "$initrd/init" <<EOF
#!/bin/sh
export PATH=/bin
busybox mount -t proc proc /proc
busybox mount -t sysfs sysfs /sys
busybox mount -t devtmpfs devtmpfs /dev
for m in /modules/*.ko; do busybox insmod "\$m" || echo "initramfs: insmod \$m failed"; done
fail() { echo "initramfs: \$*"; busybox poweroff -f; }
# The 9p channels appear once PCI probing is done.
i=0
while [ ! -e /sys/bus/virtio/drivers/9pnet_virtio/virtio1 ] && [ \$i -lt 100 ]; do busybox usleep 100000; i=\$((i + 1)); done
busybox mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro hostroot /lower || fail "mount hostroot"
busybox mount -t tmpfs -o mode=0755 rw /rw
busybox mkdir -p /rw/upper /rw/work
busybox mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot || fail "mount overlay"
busybox mkdir -p /newroot/lib/modules/$kver /newroot/egressd-guest
busybox mount --bind /newroot$moddir /newroot/lib/modules/$kver || fail "bind modules"
busybox mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none results /newroot/egressd-guest || fail "mount results"
busybox umount /proc /sys /dev
exec busybox switch_root /newroot /bin/bash $root/scripts/lib/kernel-guest.sh /egressd-guest
EOF
chmod +x "$initrd/init"
(cd "$initrd" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$work/initrd.gz"

# KVM where it can run a stock kernel. A PVM host (KVM without hardware
# virtualization, as nested cloud VMs offer it) runs only guest kernels built
# for PVM, and Debian's are not: the guest hangs before its first message.
# There, and without /dev/kvm, qemu emulates the CPU (TCG): slower, same kernel.
accel=${EGRESSD_KERNEL_ACCEL:-auto}
if [ "$accel" = auto ]; then
  if [ -c /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then accel=kvm; else accel=tcg; fi
fi
case $accel in
  # Without arch-capabilities: a nested KVM can refuse the MSR that carries
  # it, and qemu aborts.
  kvm) accel_args=(-accel kvm -cpu "${EGRESSD_KERNEL_CPU:-host,-arch-capabilities}") ;;
  tcg) accel_args=(-accel tcg,thread=multi,tb-size=1024 -cpu "${EGRESSD_KERNEL_CPU:-max}") ;;
  *) echo "test-kernel: EGRESSD_KERNEL_ACCEL is auto, kvm or tcg" >&2; exit 2 ;;
esac

# --- What the guest runs, and where it writes its results. ----------------
results=$work/results
mkdir -p "$results"
{
  printf 'REPO=%q\nBIN=%q\nKTESTS=%q\nFILTER=%q\nRUN_E2E=%q\n' "$root" "$bin" "$ktests" "$filter" "$run_e2e"
  if [ ${#cases[@]} -gt 0 ]; then printf 'CASES=(%s)\n' "$(printf '%q ' "${cases[@]}")"; else echo 'CASES=()'; fi
  printf 'CI=%q\n' "${CI:-}"
  # Timeouts of the e2e cases, stretched for an emulated CPU.
  printf 'E2E_TIME_SCALE=%q\n' "${E2E_TIME_SCALE:-$([ "$accel" = tcg ] && echo 8 || echo 1)}"
} > "$results/plan.sh"

mem=${EGRESSD_KERNEL_MEM:-3G}
cpus=${EGRESSD_KERNEL_CPUS:-$(nproc)}
timeout=${EGRESSD_KERNEL_TIMEOUT:-2400}
echo "test-kernel: booting $pkg ($cpus CPUs, $mem) with $accel; guest console follows"
start=$(date +%s%N)
: > "$results/console.log"
qemu-system-x86_64 "${accel_args[@]}" -machine q35 -smp "$cpus" -m "$mem" \
  -kernel "$vmlinuz" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 panic=-1 ${EGRESSD_KERNEL_APPEND:-quiet loglevel=3} rdinit=/init" \
  -fsdev local,id=hostroot,path=/,security_model=passthrough,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
  -fsdev local,id=results,path="$results",security_model=passthrough \
  -device virtio-9p-pci,fsdev=results,mount_tag=results \
  -nic none -display none -monitor none -serial file:"$results/console.log" \
  -no-reboot </dev/null > "$work/qemu.log" 2>&1 &
qemu_pid=$!
tail -n +1 -f "$results/console.log" &
tail_pid=$!
waited=0
while kill -0 "$qemu_pid" 2>/dev/null; do
  sleep 1
  waited=$((waited + 1))
  if [ "$waited" -ge "$timeout" ]; then
    echo "test-kernel: guest still running after ${timeout}s: stopped" >&2
    kill "$qemu_pid"
    break
  fi
done
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=""
sleep 0.3
kill "$tail_pid" 2>/dev/null || true
tail_pid=""
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
if [ -s "$work/qemu.log" ]; then sed 's/^/qemu: /' "$work/qemu.log" >&2; fi

# --- Summary. --------------------------------------------------------------
echo
echo "=== test-kernel $series: $pkg, guest ran ${elapsed} ms"
[ -f "$results/boot_ms" ] && echo "boot to first test: $(cat "$results/boot_ms") ms (guest uptime)"
status=0
if [ -f "$results/kernel.status" ]; then
  # gtest's closing block: the counts and the names of what failed or skipped.
  echo "kernel tests: exit $(cat "$results/kernel.status")"
  awk '/^\[==========\] .* ran\./ {tail = 1} tail && /^\[  (PASSED|SKIPPED|FAILED) / {sub(/, where GetParam.*/, ""); print "  " $0}' \
    "$results/kernel.log" | head -n 60
  [ "$(cat "$results/kernel.status")" -eq 0 ] || status=1
else
  echo "kernel tests: did not run (guest failed before them)"; status=1
fi
if [ "$run_e2e" -eq 1 ]; then
  if [ -f "$results/e2e.status" ]; then
    echo "e2e: exit $(cat "$results/e2e.status"); $(grep -E '^e2e: ' "$results/e2e.log" | tail -n1)"
    grep -E '^FAIL ' "$results/e2e.log" || true
    [ "$(cat "$results/e2e.status")" -eq 0 ] || status=1
  else
    echo "e2e: did not run (guest failed before them)"; status=1
  fi
fi
if [ -n "${EGRESSD_KERNEL_KEEP:-}" ]; then
  mkdir -p "$EGRESSD_KERNEL_KEEP" && cp -r "$results"/. "$EGRESSD_KERNEL_KEEP"/
  echo "guest logs kept in $EGRESSD_KERNEL_KEEP"
fi
if [ "$status" -eq 0 ]; then echo "test-kernel $series: all passed"; else echo "test-kernel $series: FAILED" >&2; fi
exit "$status"
