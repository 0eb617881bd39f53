#!/usr/bin/env bash
# Install the Debian packages Citywatch needs (idempotent, non-interactive).
#
# Usage: sudo scripts/install-system-deps.sh   (or as root)
#
# Add packages to SYSTEM_PACKAGES below; each group says who needs it. Packages already
# installed are skipped, and `apt-get update` runs at most once per invocation (only when
# something is missing).
set -euo pipefail

SYSTEM_PACKAGES=(
  # --- ingest tests and bench (tests/rtsp/server.py runs under Debian's /usr/bin/python3) ---
  ffmpeg                               # makes H.264 test clips from footage at test time
  python3-gi                           # GObject bindings for /usr/bin/python3
  gir1.2-gstreamer-1.0
  gir1.2-gst-rtsp-server-1.0           # GStreamer RTSP server
  gstreamer1.0-tools
  gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good            # rtph264pay, multifilesrc
  gstreamer1.0-plugins-bad             # h264parse
  gstreamer1.0-plugins-ugly            # x264enc
  gstreamer1.0-libav
  # --- console browser tests (tests/browser, Playwright drives Debian's Chromium) ---
  chromium
  fonts-wqy-microhei                   # CJK glyphs for the zh-CN console and its screenshots
  # --- plate province classifier training (vision/plates/province_training.py TRAINING_FONTS) ---
  fonts-noto-cjk
  fonts-wqy-zenhei
  fonts-arphic-uming
  fonts-arphic-ukai
  # --- benchmarks (bench/api --driver wrk) ---
  wrk
  # --- add other groups below ---
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-system-deps: all ${#SYSTEM_PACKAGES[@]} packages already installed"
  exit 0
fi

echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-system-deps: done"
