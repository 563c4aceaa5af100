#!/usr/bin/env bash
# System packages the project needs: a Mosquitto broker for the demo and tests, fonts for the
# synthetic plate renderer, and Python's venv module. Uses sudo when not run as root.
set -euo pipefail
PACKAGES=(mosquitto python3-venv fonts-dejavu-core fonts-liberation fonts-freefont-ttf)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the broker as a system service; the project runs its own on a free port instead.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mosquitto 2>/dev/null; then
  $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi
