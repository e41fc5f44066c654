#!/usr/bin/env bash
# Optional sanity check of build/guest/ under QEMU (not part of npm test):
# boots the guest on an FPU-less Pentium II, waits for the shell and checks
# FPU emulation (awk floating point), PCI in sysfs, and Ctrl-C.
#
# Usage: tools/guest/check-qemu.sh        (after tools/guest/build.sh)
#
# Needs qemu-system-i386 (Debian: apt-get install qemu-system-x86); it is a
# tool for this check only, not a project dependency. Exits 0 on success.
# HIVE86_QEMU_TIMEOUT = seconds allowed per step (default 120).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
guest=$(cd "$here/../.." && pwd)/build/guest
timeout=${HIVE86_QEMU_TIMEOUT:-120}

command -v qemu-system-i386 >/dev/null 2>&1 ||
	{ echo "check-qemu: qemu-system-i386 not found (apt-get install qemu-system-x86)" >&2; exit 2; }
for f in bzImage initramfs.cpio.gz; do
	[ -f "$guest/$f" ] || { echo "check-qemu: $guest/$f missing; run tools/guest/build.sh" >&2; exit 2; }
done

tmp=$(mktemp -d)
qemu_pid=
cleanup() {
	[ -z "$qemu_pid" ] || kill "$qemu_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
mkfifo "$tmp/in"
out=$tmp/console.log

qemu-system-i386 -cpu pentium2,-fpu,-mmx,-fxsr -m 128 -nographic -no-reboot \
	-kernel "$guest/bzImage" -initrd "$guest/initramfs.cpio.gz" \
	-append "console=ttyS0" <"$tmp/in" >"$out" 2>&1 &
qemu_pid=$!
exec 3>"$tmp/in"
started=$(date +%s)

fail() {
	echo "check-qemu: FAIL: $*" >&2
	echo "----- console output -----" >&2
	tr -d '\r' <"$out" | tail -n 60 >&2
	exit 1
}

# wait_for REGEX: until the console output matches (grep -E).
wait_for() {
	local deadline=$(($(date +%s) + timeout))
	until tr -d '\r' <"$out" | grep -qE -- "$1"; do
		kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited while waiting for /$1/"
		[ "$(date +%s)" -lt "$deadline" ] || fail "timed out after ${timeout}s waiting for /$1/"
		sleep 0.2
	done
}
send() { printf '%s\r' "$1" >&3; }

# Each command ends with `echo DONE$((n+1))`-style markers whose expansion
# (not present in the echoed command line) proves the command finished.
wait_for 'hive86 guest: Linux'
wait_for 'hive86:/# '
echo "check-qemu: shell prompt after $(($(date +%s) - started))s"

send 'grep -E "^(fpu|model name)" /proc/cpuinfo; echo MARK$((100+1))'
wait_for '^MARK101'
tr -d '\r' <"$out" | grep -qE '^fpu[[:space:]]*: no' || fail "guest reports an FPU (expected fpu: no)"

send 'awk "BEGIN{print 355/113}"; echo MARK$((100+2))'
wait_for '^MARK102'
tr -d '\r' <"$out" | grep -qE '^3\.14159' || fail "awk 355/113 did not print 3.14159..."
echo "check-qemu: awk 355/113 = $(tr -d '\r' <"$out" | grep -E '^3\.14159' | head -n 1)"

send 'ls /sys/bus/pci/devices; echo MARK$((100+3))'
wait_for '^MARK103'
tr -d '\r' <"$out" | grep -qE '0000:00:00\.0' || fail "no PCI devices in /sys/bus/pci/devices"
echo "check-qemu: PCI devices: $(tr -d '\r' <"$out" | grep -oE '0000:00:[0-9a-f]{2}\.[0-9]' | sort -u | paste -sd ' ')"

# Ctrl-C must interrupt the foreground job (needs a controlling terminal).
send 'sleep 60; echo MARK$((100+4))'
sleep 2
printf '\003' >&3
send 'echo CTRLC$((100+5))'
wait_for '^CTRLC105'
tr -d '\r' <"$out" | grep -qE '^MARK104' && fail "sleep was not interrupted by Ctrl-C"
echo "check-qemu: Ctrl-C interrupts the foreground job"

echo "check-qemu: OK ($(($(date +%s) - started))s)"
