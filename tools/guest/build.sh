#!/usr/bin/env bash
# Builds the hive86 Linux guest from Debian packages:
#
#   build/guest/bzImage            i386 kernel (486SX + FPU emulation, LZ4)
#   build/guest/initramfs.cpio.gz  busybox initramfs, /init = tools/guest/init
#   build/guest/linux.config       the kernel's final .config
#   build/guest/manifest.json      package versions, input hash, sha256s
#
# Usage: tools/guest/build.sh        (or: npm run guest)
#
# The outputs are cached under $HIVE86_GUEST_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/hive86/guest/<input hash>/), outside the
# checkout, so fresh clones on the same machine (CI) reuse them. The input hash
# covers this script, kernel.config, init and the versions of the Debian
# packages that end up in the outputs (linux-source-6.1, busybox-static:i386,
# gcc, binutils, lz4, gzip). A cache hit takes about a second.
#
# Environment:
#   HIVE86_GUEST_CACHE       cache root (see above)
#   HIVE86_GUEST_WORK        scratch dir for the kernel tree (default
#                            build/guest-work; removed after a good build)
#   HIVE86_GUEST_JOBS        make -j (default: nproc)
#   HIVE86_GUEST_APT_UPDATE  1 = run `apt-get update` even when nothing is
#                            missing, to pick up new package versions
#   HIVE86_GUEST_REBUILD     1 = ignore a cached build
#
# Needs Debian (apt) and root for the one-time package install; a machine
# with the packages already installed can build without root.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out_dir=$repo/build/guest
cache_root=${HIVE86_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hive86/guest}
work=${HIVE86_GUEST_WORK:-$repo/build/guest-work}
jobs=${HIVE86_GUEST_JOBS:-$(nproc)}

kernel_pkg=linux-source-6.1
kernel_tar=/usr/src/linux-source-6.1.tar.xz
busybox_pkg=busybox-static:i386
build_deps=(build-essential bc bison flex libelf-dev libssl-dev cpio xz-utils lz4 gzip)
# Packages whose version can change the outputs (besides the two above).
hashed_tools=(gcc-12 binutils lz4 gzip)
fragment=$here/kernel.config
init_script=$here/init
# System.map and vmlinux are for symbolizing guest addresses when debugging the emulator.
outputs=(bzImage initramfs.cpio.gz linux.config System.map vmlinux)

log() { printf 'guest: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		die "need root to run: $*"
	fi
}

installed_version() {
	dpkg-query -W -f='${db:Status-Status} ${Version}\n' "$1" 2>/dev/null |
		awk '$1 == "installed" { print $2; exit }'
}

candidate_version() {
	apt-cache policy "$1" 2>/dev/null | awk '/^ *Candidate:/ { if ($2 != "(none)") print $2; exit }'
}

json_str() {
	local s=${1//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$s"
}

sha256() { sha256sum "$1" | cut -d ' ' -f 1; }

# --- 1. packages -------------------------------------------------------------

command -v apt-get >/dev/null 2>&1 || die "apt-get not found; this script needs Debian 12"

need_update=${HIVE86_GUEST_APT_UPDATE:-0}
if ! dpkg --print-foreign-architectures | grep -qx i386; then
	log "adding the i386 architecture (for busybox-static:i386 only)"
	as_root dpkg --add-architecture i386
	need_update=1
fi

missing=()
for pkg in "$kernel_pkg" "${build_deps[@]}"; do
	[ -n "$(installed_version "$pkg")" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] || need_update=1
[ -n "$(candidate_version "$busybox_pkg")" ] || need_update=1

if [ "$need_update" = 1 ]; then
	log "apt-get update"
	# Partial failures (e.g. an i386 index caught mid mirror sync: "File has
	# unexpected size ... Mirror sync in progress?") are tolerated: the main
	# index is enough, and the checks below say if a package cannot be found.
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 ||
		log "apt-get update reported problems; continuing with the indexes it got"
fi
if [ ${#missing[@]} -gt 0 ]; then
	log "installing: ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install ${missing[*]} failed"
fi

kernel_version=$(installed_version "$kernel_pkg")
[ -n "$kernel_version" ] || die "$kernel_pkg is not installed"
[ -f "$kernel_tar" ] || die "$kernel_tar is missing (reinstall $kernel_pkg)"
busybox_version=$(candidate_version "$busybox_pkg")
[ -n "$busybox_version" ] || die "no candidate for $busybox_pkg (apt-get update with i386 enabled?)"

# --- 2. input hash and cache -------------------------------------------------

inputs="hive86-guest-inputs v1
build.sh $(sha256 "${BASH_SOURCE[0]}")
kernel.config $(sha256 "$fragment")
init $(sha256 "$init_script")
$kernel_pkg $kernel_version
$busybox_pkg $busybox_version"
for pkg in "${hashed_tools[@]}"; do
	inputs+=$'\n'"$pkg $(installed_version "$pkg")"
done
input_hash=$(printf '%s\n' "$inputs" | sha256sum | cut -d ' ' -f 1)
cache=$cache_root/$input_hash

mkdir -p "$cache_root" "$repo/build"
# Serialise concurrent builds (e.g. `npm start` and `npm test` together).
exec 9>"$cache_root/.lock"
flock 9

install_outputs() {
	(cd "$cache" && sha256sum --quiet -c SHA256SUMS) || return 1
	rm -rf "$out_dir.tmp"
	mkdir -p "$out_dir.tmp"
	cp "${outputs[@]/#/$cache/}" "$cache/manifest.json" "$out_dir.tmp/"
	rm -rf "$out_dir"
	mv "$out_dir.tmp" "$out_dir"
}

if [ "${HIVE86_GUEST_REBUILD:-0}" != 1 ] && [ -f "$cache/manifest.json" ]; then
	if install_outputs; then
		log "cached build ${input_hash:0:12} -> ${out_dir#"$repo"/}/ ($cache)"
		exit 0
	fi
	log "cached build $cache failed its checksums; rebuilding"
fi

log "building guest ${input_hash:0:12} (kernel $kernel_version, busybox $busybox_version)"
started=$(date +%s)
rm -rf "$work"
mkdir -p "$work"
ksrc=$work/linux-source-6.1
# Reproducible-ish kernel metadata: the source tarball's date, no user/host.
epoch=$(stat -c %Y "$kernel_tar")
export KBUILD_BUILD_TIMESTAMP
KBUILD_BUILD_TIMESTAMP=$(date -u -d "@$epoch" '+%Y-%m-%d %H:%M:%S UTC')
export KBUILD_BUILD_USER=hive86 KBUILD_BUILD_HOST=hive86 KBUILD_BUILD_VERSION=1
kmake() { make -C "$ksrc" ARCH=i386 "$@"; }

# --- 3. kernel ------------------------------------------------------------------

log "unpacking $kernel_tar"
tar -xf "$kernel_tar" -C "$work"
[ -f "$ksrc/Makefile" ] || die "unexpected layout in $kernel_tar"

log "configuring: tinyconfig + tools/guest/kernel.config"
kmake -s tinyconfig >&2
(cd "$ksrc" && ARCH=i386 scripts/kconfig/merge_config.sh -m .config "$fragment") >"$work/merge.log" 2>&1 ||
	{ cat "$work/merge.log" >&2; die "merge_config.sh failed"; }
kmake -s olddefconfig >&2

# Kconfig drops requested options whose dependencies are unmet, silently.
unmet=()
checked=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=*)
		sym=${line%%=*}
		;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }
		sym=${sym%% *}
		;;
	*) continue ;;
	esac
	checked=$((checked + 1))
	got=$(grep -E "^$sym=" "$ksrc/.config" || true)
	if [ "${line:0:1}" = "#" ]; then
		[ -z "$got" ] || [ "$got" = "$sym=n" ] || unmet+=("$line   (final: $got)")
	else
		[ "$got" = "$line" ] || unmet+=("$line   (final: ${got:-not set})")
	fi
done <"$fragment"
if [ ${#unmet[@]} -gt 0 ]; then
	log "kernel config: ${#unmet[@]} of $checked requested symbols did not stick:"
	printf '  %s\n' "${unmet[@]}" >&2
	die "fix tools/guest/kernel.config (missing dependencies?)"
fi
log "kernel config: all $checked requested symbols verified"

log "make -j$jobs ARCH=i386 bzImage"
kmake -j"$jobs" bzImage >"$work/kernel-build.log" 2>&1 ||
	{ tail -n 40 "$work/kernel-build.log" >&2; die "kernel build failed (log: $work/kernel-build.log)"; }
kernel_release=$(kmake -s kernelrelease)

# --- 4. busybox + initramfs -------------------------------------------------------

log "fetching $busybox_pkg=$busybox_version"
mkdir -p "$work/deb"
apt_opts=()
# As root apt downloads as _apt, which cannot write into this directory.
[ "$(id -u)" != 0 ] || apt_opts=(-o APT::Sandbox::User=root)
(cd "$work/deb" && apt-get "${apt_opts[@]}" download -q "$busybox_pkg=$busybox_version") >&2 ||
	die "apt-get download $busybox_pkg failed"
deb=$(echo "$work"/deb/busybox-static_*_i386.deb)
[ -f "$deb" ] || die "no busybox-static i386 .deb downloaded"
[ "$(dpkg-deb -f "$deb" Version)" = "$busybox_version" ] || die "downloaded busybox version mismatch"
dpkg -x "$deb" "$work/busybox"
busybox=$work/busybox/bin/busybox
[ -f "$busybox" ] || die "bin/busybox not found in $deb"

# The kernel's own cpio writer: no root needed for /dev/console, fixed mtimes.
gcc -O2 -o "$work/gen_init_cpio" "$ksrc/usr/gen_init_cpio.c"
cat >"$work/initramfs.list" <<EOF
dir /bin 0755 0 0
dir /sbin 0755 0 0
dir /usr 0755 0 0
dir /usr/bin 0755 0 0
dir /usr/sbin 0755 0 0
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
nod /dev/null 0666 0 0 c 1 3
dir /proc 0555 0 0
dir /sys 0555 0 0
dir /tmp 1777 0 0
dir /etc 0755 0 0
dir /root 0700 0 0
file /bin/busybox $busybox 0755 0 0
slink /bin/sh busybox 0777 0 0
file /init $init_script 0755 0 0
EOF
"$work/gen_init_cpio" -t "$epoch" "$work/initramfs.list" | gzip -9 -n >"$work/initramfs.cpio.gz"

# --- 5. store in the cache, install into build/guest ------------------------

stage=$cache_root/.tmp-$input_hash-$$
rm -rf "$stage"
mkdir -p "$stage"
cp "$ksrc/arch/x86/boot/bzImage" "$stage/bzImage"
cp "$work/initramfs.cpio.gz" "$stage/initramfs.cpio.gz"
cp "$ksrc/.config" "$stage/linux.config"
cp "$ksrc/System.map" "$stage/System.map"
cp "$ksrc/vmlinux" "$stage/vmlinux"
printf '%s\n' "$inputs" >"$stage/inputs.txt"
(cd "$stage" && sha256sum "${outputs[@]}" >SHA256SUMS)
seconds=$(($(date +%s) - started))

{
	printf '{\n'
	printf '  "inputHash": %s,\n' "$(json_str "$input_hash")"
	printf '  "builtAt": %s,\n' "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
	printf '  "buildSeconds": %s,\n' "$seconds"
	printf '  "kernel": {\n'
	printf '    "release": %s,\n' "$(json_str "$kernel_release")"
	printf '    "configFragmentSha256": %s,\n' "$(json_str "$(sha256 "$fragment")")"
	printf '    "initSha256": %s,\n' "$(json_str "$(sha256 "$init_script")")"
	printf '    "compression": "lz4",\n'
	printf '    "cmdline": "console=ttyS0"\n'
	printf '  },\n'
	printf '  "packages": {\n'
	printf '    %s: %s,\n' "$(json_str "$kernel_pkg")" "$(json_str "$kernel_version")"
	printf '    %s: %s' "$(json_str "$busybox_pkg")" "$(json_str "$busybox_version")"
	for pkg in "${hashed_tools[@]}"; do
		printf ',\n    %s: %s' "$(json_str "$pkg")" "$(json_str "$(installed_version "$pkg")")"
	done
	printf '\n  },\n'
	printf '  "outputs": {\n'
	sep=''
	for f in "${outputs[@]}"; do
		printf '%s    %s: { "sha256": %s, "bytes": %s }' "$sep" "$(json_str "$f")" \
			"$(json_str "$(sha256 "$stage/$f")")" "$(stat -c %s "$stage/$f")"
		sep=$',\n'
	done
	printf '\n  }\n}\n'
} >"$stage/manifest.json"

rm -rf "$cache"
mv "$stage" "$cache"
install_outputs || die "could not install $cache into $out_dir"
rm -rf "$work"
log "built in ${seconds}s: $(cd "$out_dir" && stat -c '%n %s bytes' bzImage initramfs.cpio.gz | paste -sd ',' | sed 's/,/, /g')"
log "cache: $cache"
