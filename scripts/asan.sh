#!/usr/bin/env bash
# Build gradiente with AddressSanitizer + UndefinedBehaviorSanitizer (GD_SANITIZE=ON) in
# a throwaway venv and run the kernel and API tests under it.
#
#   scripts/asan.sh                 # the default test selection below
#   scripts/asan.sh tests/test_saving.py -k round_trip    # any pytest arguments
#
# CPython itself is not instrumented, so libasan is preloaded (LD_PRELOAD) before the
# interpreter starts; leak detection is off because CPython keeps memory until exit on
# purpose. Any ASan report or UBSan finding aborts the run with a non-zero status.
# Environment: PYTHON (default python3), KEEP=1 keeps the venv and build folder.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gradiente-asan.XXXXXX")"
cleanup() { [ "${KEEP:-0}" = 1 ] && echo "kept $WORK" || rm -rf "$WORK"; }
trap cleanup EXIT

CC="${CC:-gcc}"
LIBASAN="$("$CC" -print-file-name=libasan.so)"
LIBUBSAN="$("$CC" -print-file-name=libubsan.so)"
if [ ! -e "$LIBASAN" ]; then
    echo "asan.sh: libasan not found (install the compiler's libasan package)" >&2
    exit 2
fi

echo "== venv and build in $WORK"
"$PYTHON" -m venv "$WORK/venv"
# shellcheck disable=SC1091
. "$WORK/venv/bin/activate"
pip install -q scikit-build-core cython cython-cmake "numpy>=2" pytest hypothesis threadpoolctl
# -O1 keeps stack traces readable; Cython's own checks are on too
GD_SANITIZE=ON GD_CYTHON_CHECKS=ON CFLAGS="-O1 -g" \
    pip install -q --no-build-isolation -Cbuild-dir="$WORK/build" -Ccmake.build-type=RelWithDebInfo "$ROOT"

if [ "$#" -eq 0 ]; then
    set -- tests/test_kernels_vs_reference.py tests/test_gemm_vs_reference.py \
        tests/test_engine_native.py tests/test_engine_vs_layers.py \
        tests/test_threads_determinism.py tests/test_api_fit.py tests/test_api_model.py \
        tests/test_api_training.py tests/test_validation_battery.py tests/test_saving.py \
        tests/test_divergence.py tests/test_pythreads.py tests/test_spmm.py tests/test_pack.py \
        tests/test_softmax_xent_paths.py tests/test_metrics_weighted.py \
        tests/test_optim_subnormal.py tests/test_aligned_buffers.py -q -x \
        -p no:cacheprovider
fi

echo "== pytest under ASan+UBSan: $*"
cd "$ROOT"
# run against the installed (instrumented) package, not the source tree
export LD_PRELOAD="$LIBASAN${LIBUBSAN:+:$LIBUBSAN}"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=0:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
python - <<'PY'
import gradiente, gradiente._ckernels as ck
print("gradiente from", gradiente.__file__)
maps = open("/proc/self/maps").read()
assert "libasan" in maps, "libasan is not loaded: the preload did not take"
PY
if ! ldd "$(python -c 'import gradiente._ckernels as c; print(c.__file__)')" | grep -q libasan; then
    echo "asan.sh: the extension is not linked with libasan (GD_SANITIZE ignored?)" >&2
    exit 2
fi
python -m pytest "$@"
