#!/usr/bin/env bash
# System packages the project needs: a Mosquitto broker for the demo and tests, fonts for the
# synthetic plate renderer, and Python's venv module. Uses sudo when not run as root.
set -euo pipefail
# The fonts define the synthetic training data: rebuilding the shipped models needs this same set.
FONTS=(fonts-dejavu-core fonts-dejavu-extra fonts-liberation fonts-freefont-ttf fonts-urw-base35
       fonts-roboto-unhinted fonts-b612 fonts-bebas-neue fonts-opendin fonts-roadgeek)
PACKAGES=(mosquitto openssl python3-venv "${FONTS[@]}")
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
