"""GEMM benchmark: gradiente's GEMM against numpy.matmul (OpenBLAS), per ISA and thread count.

    python benchmarks/bench_gemm.py [--json PATH] [--reps 7] [--isa avx512 ...]
                                    [--threads 1 2] [--quick]

NumPy runs in a subprocess whose environment has OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
removed (they are set on some machines and slow OpenBLAS down); its BLAS threads are set
with threadpoolctl. Each figure is the median of --reps measurements taken alternately
(ours, numpy, ours, numpy, ...); a measurement is the median call time of a loop of
calls about 10 ms long. The ratio is numpy_time / our_time (> 1: gradiente is faster).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

from _machine import cpu_model  # the module beside this script

# (name, layout, m, k, n): C[m, n] = op(A)[m, k] · op(B)[k, n]
SHAPES = [
    ("2048^3", "nn", 2048, 2048, 2048),
    ("mnist b32 fwd", "nn", 32, 784, 128),
    ("mnist b32 dW", "tn", 784, 32, 128),
    ("mnist b32 dX", "nt", 32, 128, 784),
    ("mnist b256 fwd", "nn", 256, 784, 128),
    ("mnist b256 dW", "tn", 784, 256, 128),
    ("mnist b256 dX", "nt", 256, 128, 784),
    ("mlp1024 b32 fwd1", "nn", 32, 784, 1024),
    ("mlp1024 b32 fwd2", "nn", 32, 1024, 1024),
    ("mlp1024 b32 fwd3", "nn", 32, 1024, 10),
    ("mlp1024 b32 dW1", "tn", 784, 32, 1024),
    ("mlp1024 b32 dW2", "tn", 1024, 32, 1024),
    ("mlp1024 b32 dW3", "tn", 1024, 32, 10),
    ("mlp1024 b32 dX2", "nt", 32, 1024, 1024),
    ("mlp1024 b32 dX3", "nt", 32, 10, 1024),
    ("mlp1024 b256 fwd2", "nn", 256, 1024, 1024),
    ("mlp1024 b256 dW2", "tn", 1024, 256, 1024),
    ("mlp1024 b256 dX2", "nt", 256, 1024, 1024),
]
QUICK = {"2048^3", "mnist b32 fwd", "mnist b32 dW", "mnist b32 dX"}

TARGET_SECONDS = 0.01  # one measurement loops calls for about this long
# Idle threads of either library spin for a while after a call (OpenBLAS's for up to
# ~2^28 cycles, libgomp's for GOMP_SPINCOUNT) and would steal the cores from the other
# side's next measurement: with several threads, each side waits until the other's
# process has used no CPU for IDLE_SECONDS (at least SETTLE_SECONDS, at most
# SETTLE_LIMIT). A fixed pause of 0.12 s was not enough: OpenBLAS's threads still spun
# through our 2-thread measurement, which then took longer than on 1 thread.
SETTLE_SECONDS = 0.12
IDLE_SECONDS = 0.05
SETTLE_LIMIT = 2.0


def _cpu_seconds(pid):
    """CPU time of all of the process's threads (Linux /proc; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(pid):
    """Wait until process pid's threads have stopped spinning (see SETTLE_SECONDS)."""
    time.sleep(SETTLE_SECONDS)
    last = _cpu_seconds(pid)
    if last is None:
        return
    deadline = time.monotonic() + SETTLE_LIMIT
    while time.monotonic() < deadline:
        time.sleep(IDLE_SECONDS)
        now = _cpu_seconds(pid)
        if now == last:
            return
        last = now


def operands(layout, m, k, n, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if layout == "tn" else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if layout == "nt" else (k, n)).astype(dtype)
    c = np.empty((m, n), dtype)
    return a, b, c


def loop_timer(fn):
    """A function measuring fn once: the median time of the calls in a loop about
    TARGET_SECONDS long (the median keeps a call preempted by another process on a
    shared machine from dominating the figure)."""
    one = 1.0
    for _ in range(5):  # the fastest of a few calls: a single one may wait for a core
        t0 = time.perf_counter()
        fn()
        one = min(one, time.perf_counter() - t0)
    inner = max(5, min(10000, int(TARGET_SECONDS / max(one, 1e-7))))

    def measure():
        fn()  # after a pause the threads sleep: the first call wakes them, untimed
        times = []
        for _ in range(inner):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        times.sort()
        return times[len(times) // 2]

    return measure


# ---------------------------------------------------------------- the NumPy worker

WORKER = r"""
import json, sys, time
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
sys.path.insert(0, sys.argv[1])
from bench_gemm import operands, loop_timer
print(json.dumps(threadpool_info()), flush=True)
timers = {}
for line in sys.stdin:
    key = tuple(json.loads(line))
    if key not in timers:
        layout, m, k, n, nthreads = key
        a, b, c = operands(layout, m, k, n)
        lhs = a.T if layout == "tn" else a
        rhs = b.T if layout == "nt" else b
        limit = threadpool_limits(nthreads)
        timers.clear()
        timers[key] = (loop_timer(lambda: np.matmul(lhs, rhs, out=c)), limit)
    with threadpool_limits(key[4]):
        print(json.dumps(timers[key][0]()), flush=True)
"""


class NumpyWorker:
    def __init__(self):
        env = dict(os.environ)
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
        here = os.path.dirname(os.path.abspath(__file__))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, here], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, env=env)
        self.info = json.loads(self.proc.stdout.readline())

    def measure(self, key):
        self.proc.stdin.write(json.dumps(list(key)) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


# ---------------------------------------------------------------- main


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--isa", nargs="*", help="ISAs to run (default: all available)")
    ap.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    ap.add_argument("--quick", action="store_true", help="2048^3 and the batch-32 MNIST shapes")
    ap.add_argument("--shape", nargs="*", help="only these shape names")
    args = ap.parse_args(argv)

    import gradiente  # noqa: F401
    from gradiente import _config

    ck = _config._native()
    isas = args.isa or _config.available_isas()
    shapes = [s for s in SHAPES if (not args.quick or s[0] in QUICK)
              and (not args.shape or s[0] in args.shape)]

    worker = NumpyWorker()
    blas = [{k: d.get(k) for k in ("internal_api", "version", "architecture",
                                   "threading_layer", "num_threads")}
            for d in worker.info if d.get("user_api") == "blas"]
    info = _config.config_info()
    header = {
        "cpu": cpu_model(), "machine": platform.machine(), "compiler": info.get("compiler"),
        "numpy": np.__version__, "numpy_blas": blas, "openmp": info.get("openmp"),
        "reps": args.reps,
    }
    print(f"# CPU {header['cpu']} | compiler {header['compiler']} | numpy {np.__version__}")
    print(f"# numpy BLAS (subprocess, OPENBLAS_CORETYPE/L2_SIZE removed): {blas}")
    print(f"# median of {args.reps} alternating runs; ratio = numpy_time / our_time")
    print(f"{'isa':7} {'thr':>3} {'shape':18} {'lay':3} {'m':>5} {'k':>5} {'n':>5} "
          f"{'ours us':>9} {'GF/s':>6} {'numpy us':>9} {'GF/s':>6} {'ratio':>6}")
    rows = []
    try:
        for isa in isas:
            got = _config.set_isa(isa)
            slots = {s: _config._ISA_NAMES[ck.dispatch_isa(s)] for s in ck.dispatch_slots()}
            for nthreads in args.threads:
                for name, layout, m, k, n in shapes:
                    a, b, c = operands(layout, m, k, n)
                    ta, tb = layout == "tn", layout == "nt"
                    ours = loop_timer(lambda: ck.gemm(a, b, c, ta, tb, 1.0, 0.0, nthreads))
                    key = (layout, m, k, n, nthreads)
                    t_ours, t_np = [], []
                    for _ in range(args.reps):
                        if nthreads > 1:
                            settle(worker.proc.pid)
                        t_ours.append(ours())
                        if nthreads > 1:
                            settle(os.getpid())
                        t_np.append(worker.measure(key))
                    mo, mn = float(np.median(t_ours)), float(np.median(t_np))
                    flops = 2.0 * m * n * k
                    row = dict(isa=got, slots=slots, threads=nthreads, shape=name,
                               layout=layout, m=m, k=k, n=n, ours_s=mo, numpy_s=mn,
                               ratio=mn / mo, ours_gflops=flops / mo / 1e9,
                               numpy_gflops=flops / mn / 1e9)
                    rows.append(row)
                    print(f"{got:7} {nthreads:3d} {name:18} {layout:3} {m:5d} {k:5d} {n:5d} "
                          f"{mo * 1e6:9.1f} {row['ours_gflops']:6.1f} {mn * 1e6:9.1f} "
                          f"{row['numpy_gflops']:6.1f} {row['ratio']:6.2f}", flush=True)
    finally:
        worker.close()
        _config.set_isa(_config.available_isas()[-1])
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header, "results": rows}, f, indent=1)
    return rows




if __name__ == "__main__":
    main()
