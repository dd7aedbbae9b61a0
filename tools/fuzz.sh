#!/usr/bin/env bash
# Long fuzzing runs (not part of `make test`, which runs short property-based fuzz tests).
#   tools/fuzz.sh [SECONDS]      default 300 seconds per target
#
# 1. parse_fuzzer (libFuzzer + AddressSanitizer, C speed): the parser's C core, built with
#    clang -fsanitize=address,fuzzer-no-link in a copy of the tree, called through its
#    __pyx_capi__ pointer from tools/fuzz/parse_fuzzer.c.
# 2. fields_fuzzer (atheris): the Python field renderer over parsed packets.
# 3. capture_fuzzer (atheris): the capture readers, differentially against a reference reader.
# Seeds are frames of ../shared/captures when it is there; findings go to build/fuzz/findings.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-300}
ROOT=$PWD
VPY=$ROOT/.venv/bin/python
OUT=$ROOT/build/fuzz
SRC=$OUT/src
say() { printf 'fuzz: %s\n' "$*" >&2; }

CLANG=$(command -v clang-14 || command -v clang || true)
if [ -z "$CLANG" ] || [ ! -d /usr/lib/llvm-14/lib/clang ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing clang-14 and its sanitizer runtimes"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null
    CLANG=$(command -v clang-14)
  else
    say "clang is needed (apt-get install clang-14 libclang-rt-14-dev)"; exit 1
  fi
fi
"$VPY" -c "import atheris" 2>/dev/null || {
  say "installing atheris into .venv"
  "$VPY" -m pip install -q --disable-pip-version-check "atheris>=2.3" 2>&1 | grep -v 'is ignored' || true
}

say "building an instrumented copy of the tree in $SRC"
rm -rf "$SRC"; mkdir -p "$SRC" "$OUT/findings"
git ls-files -z | xargs -0 -I{} cp --parents {} "$SRC"/
( cd "$SRC" && CC="$CLANG" LDSHARED="$CLANG -shared" \
    CFLAGS="-fsanitize=address,fuzzer-no-link -g -O1" LDFLAGS="-fsanitize=address" \
    FASTPATH_FORCE=1 FASTPATH_BUILD_ONLY='fastpath.wire.*' "$VPY" setup.py -q build_ext --inplace -j 2 \
    >/dev/null 2>build.log ) || { cat "$SRC/build.log" >&2; exit 1; }

SEEDS=$OUT/seeds
if [ -d ../shared/captures ] && [ ! -d "$SEEDS" ]; then
  "$VPY" tools/fuzz/seeds.py ../shared/captures "$SEEDS"
fi
seeds=(); [ -d "$SEEDS" ] && seeds=("$SEEDS")

# The embedded interpreter is the venv's: its site-packages give numpy; PYTHONPATH puts the
# instrumented fastpath first.
PYINC=$("$VPY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
PYLIB=$("$VPY" -c "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))")
PYVER=$("$VPY" -c "import sysconfig; print(sysconfig.get_config_var('LDVERSION'))")
"$CLANG" -g -O1 -fsanitize=address,fuzzer -I"$PYINC" tools/fuzz/parse_fuzzer.c \
    -L"$PYLIB" -lpython"$PYVER" -Wl,-rpath,"$PYLIB" -o "$OUT/parse_fuzzer"
SITE=$("$VPY" -c "import site; print(site.getsitepackages()[0])")
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1"
export PYTHONMALLOC=malloc
mkdir -p "$OUT/corpus-parse"
say "parse_fuzzer for ${SECONDS_PER_TARGET}s"
PYTHONPATH="$SRC:$SITE" PYTHONHOME= "$OUT/parse_fuzzer" "$OUT/corpus-parse" "${seeds[@]}" \
    -max_total_time="$SECONDS_PER_TARGET" -artifact_prefix="$OUT/findings/parse-" \
    -print_final_stats=1 2>&1 | grep -vE '^#[0-9]+.*(NEW|REDUCE)' | tail -n 14

say "fields_fuzzer for ${SECONDS_PER_TARGET}s"
mkdir -p "$OUT/corpus-fields"
"$VPY" tools/fuzz/fields_fuzzer.py "$OUT/corpus-fields" "${seeds[@]}" \
    -max_total_time="$SECONDS_PER_TARGET" -artifact_prefix="$OUT/findings/fields-" \
    -print_final_stats=1 2>&1 | grep -vE '^#[0-9]+.*(NEW|REDUCE)' | tail -n 8
say "capture_fuzzer for ${SECONDS_PER_TARGET}s"
mkdir -p "$OUT/corpus-capture"
[ -d "$OUT/seeds-capture" ] || "$VPY" tools/fuzz/capture_fuzzer.py --make-seeds "$OUT/seeds-capture"
"$VPY" tools/fuzz/capture_fuzzer.py "$OUT/corpus-capture" "$OUT/seeds-capture" \
    -max_total_time="$SECONDS_PER_TARGET" -artifact_prefix="$OUT/findings/capture-" \
    -print_final_stats=1 2>&1 | grep -vE '^#[0-9]+.*(NEW|REDUCE)' | tail -n 8
say "done; crash inputs, if any, are in $OUT/findings/"
