#!/usr/bin/env bash
# The test suite against a debug build of the Cython core: bounds checking, wraparound and
# initialisation checks on, line tracing on, -O0 -g. Built in a copy of the tree
# (build/debug/src) so the optimised in-place build is not disturbed.
#   tools/test-debug.sh [pytest args and paths...]      default: the whole suite (tests)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VPY=$ROOT/.venv/bin/python
SRC=$ROOT/build/debug/src
rm -rf "$SRC"; mkdir -p "$SRC"
git ls-files -z | xargs -0 -I{} cp --parents {} "$SRC"/
( cd "$SRC" && "$VPY" setup.py -q build_ext --inplace --debug-build -j 2 ${FASTPATH_BUILD_ONLY:+--only="$FASTPATH_BUILD_ONLY"} >/dev/null 2>build.log ) \
  || { cat "$SRC/build.log" >&2; echo "test-debug: the debug build failed" >&2; exit 1; }
cd "$SRC"
# ../shared must be beside the tree the tests run from.
[ -e "$ROOT/build/debug/shared" ] || ln -s "$ROOT/../shared" "$ROOT/build/debug/shared"
[ $# -gt 0 ] || set -- tests
PYTHONPATH="$SRC" FASTPATH_DEBUG_BUILD=1 exec "$VPY" -m pytest -p no:cacheprovider "$@"
