#!/bin/sh
# Installs the system tools the project's scripts need, when missing.
#
#   sh tools/setup/ensure-tools.sh               nasm and chromium
#   sh tools/setup/ensure-tools.sh nasm          only nasm (tests)
#   sh tools/setup/ensure-tools.sh chromium      only chromium (bench, e2e)
#   sh tools/setup/ensure-tools.sh seabios       SeaBIOS images (v86 in the boot bench)
#
# Debian: runs `apt-get update` once and `apt-get install -y` for what is
# missing, as root. Exits non-zero, saying what to install, when it cannot.
set -u

tools="${*:-nasm chromium}"
missing=""

for tool in $tools; do
  case "$tool" in
    nasm)
      command -v nasm >/dev/null 2>&1 || missing="$missing nasm"
      ;;
    chromium)
      [ -x /usr/bin/chromium ] || missing="$missing chromium"
      ;;
    seabios)
      [ -f /usr/share/seabios/bios.bin ] || missing="$missing seabios"
      ;;
    *)
      echo "ensure-tools: unknown tool '$tool' (known: nasm chromium seabios)" >&2
      exit 2
      ;;
  esac
done

[ -z "$missing" ] && exit 0

echo "ensure-tools: installing:$missing" >&2
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-tools: missing:$missing; install them (Debian: sudo apt-get install$missing)" >&2
  exit 1
fi

# Warnings from unreachable or unsigned mirrors are not fatal: the install
# below says whether the packages could be found.
DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || echo "ensure-tools: apt-get update reported problems; trying the install anyway" >&2
# shellcheck disable=SC2086 # one word per package
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2; then
  echo "ensure-tools: apt-get install$missing failed" >&2
  exit 1
fi

for tool in $missing; do
  case "$tool" in
    nasm) command -v nasm >/dev/null 2>&1 || { echo "ensure-tools: nasm still missing" >&2; exit 1; } ;;
    chromium) [ -x /usr/bin/chromium ] || { echo "ensure-tools: /usr/bin/chromium still missing" >&2; exit 1; } ;;
    seabios) [ -f /usr/share/seabios/bios.bin ] || { echo "ensure-tools: /usr/share/seabios/bios.bin still missing" >&2; exit 1; } ;;
  esac
done
echo "ensure-tools: installed:$missing" >&2
