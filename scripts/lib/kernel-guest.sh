#!/bin/bash
# The guest side of scripts/test-kernel.sh: PID 1 of the qemu guest, on the
# host's root (read-only, under a tmpfs overlay). Mounts what the tests need,
# runs the kernel tests and the e2e cases the plan names, writes logs and
# exit statuses to the results share ($1), and powers the guest off.
results=${1:?results directory}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
# What udev would add: bash's process substitution needs /dev/fd.
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# A fresh /run (the host's pids, sockets and netns files mean nothing here).
# /tmp stays the host's under the overlay: the checkout under test may live
# there, and what the tests write lands in the overlay's tmpfs anyway.
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
# Controllers the tests may use, as systemd enables them on a host.
echo "+memory +pids" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
hostname egressd-guest
ip link set lo up
ulimit -n 65536

poweroff() {
  dmesg > "$results/dmesg.log" 2>&1
  sync
  echo o > /proc/sysrq-trigger
  sleep 5
  busybox poweroff -f
}
trap poweroff EXIT

awk '{printf "%d\n", $1 * 1000}' /proc/uptime > "$results/boot_ms"
echo "guest: kernel $(uname -r), up $(cat "$results/boot_ms") ms"

# shellcheck source=/dev/null
. "$results/plan.sh"
export CI E2E_TIME_SCALE
cd "$REPO" || exit 1

args=()
[ -n "$FILTER" ] && args+=("--gtest_filter=$FILTER")
"$KTESTS" "${args[@]}" 2>&1 | tee "$results/kernel.log"
echo "${PIPESTATUS[0]}" > "$results/kernel.status"

if [ "$RUN_E2E" = 1 ]; then
  tests/e2e/run.sh "$BIN" "${CASES[@]}" 2>&1 | tee "$results/e2e.log"
  echo "${PIPESTATUS[0]}" > "$results/e2e.status"
fi
