#!/usr/bin/env bash
# Prepare this machine for fastpath, idempotently, and say what was done:
#   1. Debian packages (when root and apt-get exists): compilers, python3-venv/-dev, bcc
#      (python3-bpfcc -- never PyPI's unrelated "bcc"), kernel headers, iproute2, tshark, tcpdump.
#   2. Kernel headers where bcc looks for them (/lib/modules/$(uname -r)/build and source).
#   3. The virtual environment .venv, made from Debian's /usr/bin/python3 with
#      --system-site-packages so that it sees bcc, plus the Python packages fastpath needs.
#   4. The Cython build, in place (editable install: `fastpath` is on the venv's PATH).
# Without root, steps 1-2 only report what is missing; the core still builds and runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$(pwd)
VENV="$ROOT_DIR/.venv"
QUIET=${FASTPATH_SETUP_QUIET:-0}

say() { printf 'setup: %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }

# ---------------------------------------------------------------- 1. system packages
APT_PKGS=(gcc make python3-venv python3-dev python3-bpfcc iproute2 tshark tcpdump)
KVER=$(uname -r)
ARCH=$(dpkg --print-architecture 2>/dev/null || echo unknown)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi

if [ ${#missing[@]} -gt 0 ]; then
  if is_root && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || say "apt-get update failed; trying the install anyway"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing Debian packages: ${missing[*]}"
    say "  install them with: sudo apt-get install -y ${missing[*]}"
    say "  (without python3-bpfcc the XDP features are unavailable; the rest works)"
  fi
fi

# ---------------------------------------------------------------- 2. kernel headers for bcc
# bcc compiles its C at load time against /lib/modules/$KVER/build. A distribution kernel has a
# matching linux-headers-$KVER package; a custom kernel (as on these VMs) has none, and Debian's
# generic headers work for XDP/tc programs because those use only stable UAPI structures.
KBUILD="/lib/modules/$KVER/build"
if [ ! -e "$KBUILD/include" ]; then
  if is_root && command -v apt-get >/dev/null 2>&1; then
    if apt-cache show "linux-headers-$KVER" >/dev/null 2>&1; then
      say "installing linux-headers-$KVER (matches the running kernel)"
      apt-get install -y -qq "linux-headers-$KVER" >/dev/null
    else
      hdr=$(ls -d /usr/src/linux-headers-*-"$ARCH" 2>/dev/null | sort -V | tail -n 1 || true)
      if [ -z "$hdr" ]; then
        say "no headers for kernel $KVER in the archive; installing linux-headers-$ARCH"
        apt-get install -y -qq "linux-headers-$ARCH" >/dev/null
        hdr=$(ls -d /usr/src/linux-headers-*-"$ARCH" 2>/dev/null | sort -V | tail -n 1 || true)
      fi
      if [ -n "$hdr" ]; then
        common="${hdr%-"$ARCH"}-common"
        mkdir -p "/lib/modules/$KVER"
        ln -sfn "$hdr" "/lib/modules/$KVER/build"
        [ -d "$common" ] && ln -sfn "$common" "/lib/modules/$KVER/source"
        say "kernel $KVER has no header package: linked $KBUILD -> $hdr"
        say "  (and source -> $common); bcc's XDP/tc programs need only UAPI headers from them"
      else
        say "could not find kernel headers; XDP programs will not compile (fastpath doctor explains)"
      fi
    fi
  else
    say "no kernel headers at $KBUILD: XDP programs will not compile until they are installed"
    say "  (as root, rerun this script; or install linux-headers-$KVER)"
  fi
fi

# ---------------------------------------------------------------- 3. virtual environment
# Debian's interpreter, because bcc's Python module is packaged for it (dist-packages).
PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
  PY=$(command -v python3)
  say "no /usr/bin/python3; using $PY (bcc will only be visible if it was installed for it)"
fi
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV from $PY (--system-site-packages, so Debian's bcc is importable)"
  "$PY" -m venv --system-site-packages "$VENV"
fi
VPY="$VENV/bin/python"

# Reinstall Python packages only when the requirements change.
req_hash=$(cat pyproject.toml setup.py | sha256sum | cut -c1-16)
stamp="$VENV/.fastpath-deps-$req_hash"
if [ ! -f "$stamp" ]; then
  say "installing Python packages into $VENV"
  pipq() { "$VPY" -m pip install -q --disable-pip-version-check "$@" 2>&1 | grep -v 'is ignored: it is neither' >&2 || true; }
  pipq --upgrade pip setuptools wheel
  # Build tools, the test runner, property tests, and the benchmark peers (see pyproject.toml).
  pipq "Cython>=3.0.8,<3.4" "numpy>=1.25" "pytest>=7.4" "hypothesis>=6.90" \
      "pytest-benchmark>=4.0" "dpkt==1.9.8" "scapy==2.8.0"
  "$VPY" -c "import Cython, numpy, pytest" || { say "the Python packages did not install"; exit 1; }
  # Editable install: puts the `fastpath` command in the venv and builds the extensions in place.
  "$VPY" -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e . >"$VENV/.install.log" 2>&1 \
    || { cat "$VENV/.install.log" >&2; say "pip install -e . failed"; exit 1; }
  rm -f "$VENV"/.fastpath-deps-*
  touch "$stamp"
fi

# ---------------------------------------------------------------- 4. Cython build (incremental)
if [ "$QUIET" != 1 ]; then say "building the Cython core (in place)"; fi
"$VPY" setup.py -q build_ext --inplace -j 2 >/dev/null 2>"$VENV/.build.log" || {
  cat "$VENV/.build.log" >&2
  say "the Cython build failed (log above)"
  exit 1
}
if [ "$QUIET" != 1 ]; then say "ready: $VENV/bin/fastpath"; fi
