#!/usr/bin/env bash
# Set-up for a fresh machine, then the main job.
#   bash scripts/setup.sh            install what is missing, then `deno task train`
#   bash scripts/setup.sh --no-train install only (used by CI)
# Installs: Deno from npm (package `deno`) when `deno` is missing; on Linux with no WebGPU adapter,
# Mesa's software Vulkan driver (`mesa-vulkan-drivers`, the lavapipe adapter) from apt.
set -euo pipefail
cd "$(dirname "$0")/.."
train=1
[ "${1:-}" = "--no-train" ] && train=0

if ! command -v deno >/dev/null 2>&1; then
  echo "setup: installing Deno from npm" >&2
  npm install -g deno@2.9.6 >/dev/null
fi
deno --version | head -1 >&2

probe='const a = await navigator.gpu?.requestAdapter(); Deno.exit(a ? 0 : 1);'
if ! deno eval "$probe" >/dev/null 2>&1; then
  if [ "$(uname -s)" = Linux ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: no WebGPU adapter; installing mesa-vulkan-drivers (software Vulkan)" >&2
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get install -y -q mesa-vulkan-drivers >/dev/null 2>&1 ||
      { $sudo_cmd apt-get update -q >/dev/null && $sudo_cmd apt-get install -y -q mesa-vulkan-drivers >/dev/null; }
  fi
  deno eval "$probe" >/dev/null 2>&1 || {
    echo "setup: still no WebGPU adapter: install a Vulkan driver for your GPU (or Mesa's lavapipe)" >&2
    exit 1
  }
fi
deno install >/dev/null
echo "setup: ready" >&2
if [ "$train" = 1 ]; then
  exec deno task train
fi
