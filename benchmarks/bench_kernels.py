"""Native kernels vs their NumPy twins at MLP training shapes (STYLE §11).

    python benchmarks/bench_kernels.py [--json PATH] [--runs 7] [--quick]

Each case times the C kernel (through ``gradiente._ckernels``, outputs preallocated)
and its NumPy twin (``gradiente._reference``; GEMM: ``numpy.matmul``) on the same
arrays, built from the same seed. The NumPy side runs in a worker subprocess whose
environment has OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed (set on some of our
machines, they slow OpenBLAS down); the two sides are interleaved run by run, and each
side reports the median over the runs after a warm-up. A run repeats a call until it
lasts about --run-ms; times are per call. The ratio is numpy_time / c_time (> 1: C is
faster). Compare ratios, never absolute times across machines.
"""
import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import zlib

import numpy as np

from _machine import cpu_model  # the module beside this script

HERE = os.path.dirname(os.path.abspath(__file__))
SCRUBBED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
NETS = {"784-128-10": (784, 128, 10), "784-1024-1024-10": (784, 1024, 1024, 10)}
DTYPE = np.float32
# Idle threads spin for a while after a call (OpenBLAS's up to ~2^28 cycles, libgomp's
# for GOMP_SPINCOUNT) and would take the cores from the other side's next run: with
# more than one thread, each run waits this long first.
SETTLE_SECONDS = 0.12


# ---------------------------------------------------------------- cases


class Case:
    """One benchmark: ``make(rng)`` returns the arrays; ``c(arrays, n_threads)`` and
    ``numpy(arrays)`` return a zero-argument callable that runs one call."""

    def __init__(self, name, shape, make, c, numpy):
        self.name, self.shape = name, shape
        self._make, self._c, self._numpy = make, c, numpy
        self._arrays = None

    def arrays(self):
        if self._arrays is None:
            self._arrays = self._make(np.random.default_rng(zlib.crc32((self.name + self.shape).encode())))
        return self._arrays

    def c_call(self, n_threads):
        return self._c(self.arrays(), n_threads)

    def numpy_call(self):
        return self._numpy(self.arrays())

    def release(self):
        self._arrays = None


def _r(rng, *shape, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(DTYPE)


def dense_fwd_case(m, k, n, act):
    from gradiente import _reference as ref

    def make(rng):
        return dict(x=_r(rng, m, k), w=_r(rng, k, n, scale=1 / math.sqrt(k)), b=_r(rng, n),
                    y=np.empty((m, n), DTYPE))

    def c(a, nt):
        from gradiente import _ckernels as ck
        aid = ref.ACTIVATIONS[act]
        return lambda: ck.dense_fwd(a["x"], a["w"], a["b"], a["y"], aid, nt)

    def numpy(a):
        return lambda: ref.dense_fwd(a["x"], a["w"], a["b"], act)

    return Case("dense_fwd", f"{m}x{k}->{n} {act}", make, c, numpy)


def dense_bwd_case(m, k, n, act, need_dx):
    from gradiente import _reference as ref

    def make(rng):
        x, w = _r(rng, m, k), _r(rng, k, n, scale=1 / math.sqrt(k))
        y = ref.dense_fwd(x, w, _r(rng, n), act)
        return dict(x=x, w=w, y=y, dy=_r(rng, m, n), dz=np.empty((m, n), DTYPE),
                    dx=np.empty((m, k), DTYPE), dw=np.empty((k, n), DTYPE),
                    db=np.empty(n, DTYPE))

    def c(a, nt):
        from gradiente import _ckernels as ck
        aid = ref.ACTIVATIONS[act]
        dx = a["dx"] if need_dx else None

        def run():
            np.copyto(a["dz"], a["dy"])  # the kernel writes dZ over dY
            ck.dense_bwd(a["x"], a["w"], a["y"], a["dz"], dx, a["dw"], a["db"], aid, nt)
        return run

    def numpy(a):
        return lambda: ref.dense_bwd(a["x"], a["w"], a["y"], a["dy"], act, need_dx=need_dx)

    return Case("dense_bwd", f"{m}x{k}->{n} {act}{'' if need_dx else ' no-dx'}", make, c,
                numpy)


def gemm_case(m, k, n):
    def make(rng):
        return dict(a=_r(rng, m, k), b=_r(rng, k, n), c=np.empty((m, n), DTYPE))

    def c(a, nt):
        from gradiente import _ckernels as ck
        return lambda: ck.gemm(a["a"], a["b"], a["c"], False, False, 1.0, 0.0, nt)

    def numpy(a):
        return lambda: np.matmul(a["a"], a["b"])

    return Case("gemm_nn", f"{m}x{k}x{n}", make, c, numpy)


def spmm_case(m, k, n, trans_a, density=0.19):
    """The products that skip X's zeros (gd_spmm_*): X has MNIST's fraction of nonzero
    pixels (0.19) by default, at random places; the twin is numpy.matmul (the GEMM case
    of the same shape gives our dense product's time)."""
    def make(rng):
        x = _r(rng, m, k) * (rng.random((m, k)) < density)
        b = _r(rng, m, n) if trans_a else _r(rng, k, n)
        return dict(x=x.astype(DTYPE), b=b, c=np.empty((k, n) if trans_a else (m, n), DTYPE))

    def c(a, nt):
        from gradiente import _ckernels as ck
        return lambda: ck.spmm(a["x"], a["b"], a["c"], trans_a, nt)

    def numpy(a):
        if trans_a:
            return lambda: np.matmul(a["x"].T, a["b"])
        return lambda: np.matmul(a["x"], a["b"])

    return Case("spmm_tn" if trans_a else "spmm_nn", f"{m}x{k}x{n} density {density}", make, c,
                numpy)


def softmax_xent_case(m, n):
    from gradiente import _reference as ref

    def make(rng):
        return dict(z=_r(rng, m, n, scale=3.0), labels=rng.integers(0, n, m).astype(np.int32),
                    dz=np.empty((m, n), DTYPE), rl=np.empty(m, DTYPE),
                    hit=np.empty(m, np.int32))

    def c(a, nt):
        from gradiente import _ckernels as ck
        return lambda: ck.softmax_xent(a["z"], a["labels"], None, None, True, 1.0 / m, a["dz"],
                                       a["rl"], a["hit"], nt)

    def numpy(a):
        return lambda: ref.softmax_xent(a["z"], labels=a["labels"])

    return Case("softmax_xent", f"{m}x{n} labels", make, c, numpy)


def loss_case(m, n, kind):
    from gradiente import _reference as ref

    def make(rng):
        p = rng.uniform(0, 1, (m, n)).astype(DTYPE)
        t = np.eye(n, dtype=DTYPE)[rng.integers(0, n, m)]
        return dict(p=p, t=t, dp=np.empty((m, n), DTYPE), rl=np.empty(m, DTYPE))

    def c(a, nt):
        from gradiente import _ckernels as ck
        lid = ref.LOSSES[kind]
        return lambda: ck.loss(a["p"], a["t"], None, lid, 1.0 / m, a["dp"], a["rl"], nt)

    def numpy(a):
        return lambda: ref.loss(a["p"], a["t"], kind)

    return Case("loss", f"{m}x{n} {kind}", make, c, numpy)


def sgd_case(size, net):
    from gradiente import _reference as ref

    def make(rng):
        return dict(w=_r(rng, size), g=_r(rng, size), v=_r(rng, size))

    def c(a, nt):
        from gradiente import _ckernels as ck
        return lambda: ck.sgd_step(a["w"], a["g"], a["v"], 1e-9, 0.9, False, nt)

    def numpy(a):
        return lambda: ref.sgd_step(a["w"], a["g"], a["v"], 1e-9, 0.9)

    return Case("sgd_step", f"{size} ({net}) momentum", make, c, numpy)


def adam_case(size, net):
    from gradiente import _reference as ref

    def make(rng):
        return dict(w=_r(rng, size), g=_r(rng, size), m=_r(rng, size),
                    v=np.abs(_r(rng, size)))

    def c(a, nt):
        from gradiente import _ckernels as ck
        return lambda: ck.adam_step(a["w"], a["g"], a["m"], a["v"], None, 1e-9, 0.9, 0.999,
                                    1e-7, nt)

    def numpy(a):
        return lambda: ref.adam_step(a["w"], a["g"], a["m"], a["v"], None, 1e-9)

    return Case("adam_step", f"{size} ({net})", make, c, numpy)


def n_params(sizes):
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def make_cases(args):
    cases, seen = [], set()

    def add(case):
        key = (case.name, case.shape)
        if key not in seen:
            seen.add(key)
            cases.append(case)

    batches = (32,) if args.quick else (32, 256)
    nets = {"784-128-10": NETS["784-128-10"]} if args.quick else NETS
    for m in batches:
        for net, sizes in nets.items():
            layers = list(zip(sizes[:-1], sizes[1:]))
            for i, (k, n) in enumerate(layers):
                act = "linear" if i == len(layers) - 1 else "relu"  # logits feed the fused CE
                add(gemm_case(m, k, n))
                if i == 0:  # the layer on pixels: its products skip the zeros
                    add(spmm_case(m, k, n, False))
                    add(spmm_case(m, k, n, True))
                elif n >= 64:  # a hidden ReLU output: 0.3-0.4 nonzero once trained
                    add(spmm_case(m, k, n, False, density=0.35))
                    add(spmm_case(m, k, n, True, density=0.35))
                add(dense_fwd_case(m, k, n, act))
                add(dense_bwd_case(m, k, n, act, need_dx=i > 0))
        n_out = 10
        add(softmax_xent_case(m, n_out))
        add(loss_case(m, n_out, "cce"))
        add(loss_case(m, n_out, "mse"))
    for net, sizes in nets.items():
        add(sgd_case(n_params(sizes), net))
        add(adam_case(n_params(sizes), net))
    if args.gemm_size:
        s = args.gemm_size
        add(gemm_case(s, s, s))
    return cases


# ---------------------------------------------------------------- timing


def time_run(fn, reps):
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def calibrate(fn, run_s, min_reps=10):
    """Warm up, then the repetitions that make one run last about run_s.

    The fastest of a few single calls sets the count, and a run has at least min_reps
    calls: on a loaded machine the first call after a pause pays for waking the
    thread team (up to a scheduler slice), which a run must amortise, not measure."""
    fn()  # warm-up: page in outputs, start the thread pools
    one = time_run(fn, 1)
    if one >= run_s:  # a long call: one per run
        return 1
    one = min([one] + [time_run(fn, 1) for _ in range(4)])
    reps = max(min_reps, int(run_s / max(one, 1e-9)))
    time_run(fn, min(reps, 5))
    return reps


def worker(args):
    """The NumPy side: answers one JSON command per line on stdin."""
    from threadpoolctl import threadpool_info, threadpool_limits

    if args.threads:
        threadpool_limits(args.threads)
    cases = make_cases(args)
    fns, reps = {}, {}
    print(json.dumps({"numpy": np.__version__, "threadpool": threadpool_info(),
                      "env": {k: os.environ.get(k) for k in SCRUBBED_ENV}}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        i = cmd["case"]
        if cmd["op"] == "calibrate":
            fns[i] = cases[i].numpy_call()
            reps[i] = calibrate(fns[i], args.run_ms / 1e3)
            out = {"reps": reps[i]}
        elif cmd["op"] == "run":
            out = {"t": time_run(fns[i], reps[i])}
        else:  # release
            fns.pop(i, None)
            cases[i].release()
            out = {}
        print(json.dumps(out), flush=True)


class NumpyWorker:
    def __init__(self, argv):
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--numpy-worker"]
                                     + argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env, text=True)
        self.info = json.loads(self.proc.stdout.readline())

    def ask(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)




def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # pragma: no cover - not on every platform
        return None


def fmt_time(t):
    return f"{t * 1e6:10.1f} us" if t < 1e-2 else f"{t * 1e3:10.2f} ms"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--runs", type=int, default=7, help="timed runs per side (>= 7)")
    p.add_argument("--run-ms", type=float, default=20.0, help="target length of one run")
    p.add_argument("--gemm-size", type=int, default=2048, help="square GEMM size (0: skip)")
    p.add_argument("--quick", action="store_true", help="batch 32, small net only")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for both sides (default: gradiente's setting for C, "
                        "OpenBLAS's default for NumPy)")
    p.add_argument("--only", metavar="TEXT", help="run the cases whose name contains TEXT")
    p.add_argument("--numpy-worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    sub_argv = [f"--run-ms={args.run_ms}", f"--gemm-size={args.gemm_size}"] + \
        (["--quick"] if args.quick else []) + \
        ([f"--threads={args.threads}"] if args.threads else [])
    if args.numpy_worker:
        return worker(args)
    args.runs = max(args.runs, 7)

    import gradiente
    from gradiente import _config
    from gradiente import _ckernels as ck  # noqa: F401 - fail early without the build

    info = _config.config_info()
    n_threads = _config.effective_n_threads(args.threads)
    wk = NumpyWorker(sub_argv)
    header = {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "gradiente": gradiente.__version__,
        "compiler": info.get("compiler"),
        "openmp": info.get("openmp"),
        "cpu_isa": info.get("cpu_isa"),
        "isa": info.get("isa"),
        "n_threads": n_threads,
        "numpy": wk.info["numpy"],
        "numpy_blas": [{k: d.get(k) for k in ("internal_api", "version", "architecture",
                                               "threading_layer", "num_threads")}
                       for d in wk.info["threadpool"]],
        "numpy_env_removed": list(SCRUBBED_ENV),
        "runs": args.runs,
        "run_ms": args.run_ms,
        "settle_s": SETTLE_SECONDS if n_threads > 1 else 0.0,
        "loadavg_start": _loadavg(),
        "dtype": np.dtype(DTYPE).name,
    }
    print("# gradiente bench_kernels")
    for k, v in header.items():
        print(f"#   {k}: {v}")
    print(f"# {'kernel':<13} {'shape':<34} {'C':>13} {'NumPy':>13} {'NumPy/C':>8}")

    results = []
    cases = make_cases(args)
    try:
        for i, case in enumerate(cases):
            if args.only and args.only not in f"{case.name} {case.shape}":
                continue
            c_fn = case.c_call(n_threads)
            c_reps = calibrate(c_fn, args.run_ms / 1e3)
            np_reps = wk.ask(op="calibrate", case=i)["reps"]
            c_times, np_times = [], []
            settle = SETTLE_SECONDS if n_threads > 1 else 0.0
            for _ in range(args.runs):  # interleaved: C run, NumPy run, ...
                time.sleep(settle)
                c_times.append(time_run(c_fn, c_reps))
                time.sleep(settle)
                np_times.append(wk.ask(op="run", case=i)["t"])
            wk.ask(op="release", case=i)
            case.release()
            c_med, np_med = statistics.median(c_times), statistics.median(np_times)
            ratio = np_med / c_med
            print(f"  {case.name:<13} {case.shape:<34} {fmt_time(c_med)} {fmt_time(np_med)} "
                  f"{ratio:8.2f}", flush=True)
            results.append({"kernel": case.name, "shape": case.shape, "c_s": c_med,
                            "numpy_s": np_med, "ratio": ratio, "c_reps": c_reps,
                            "numpy_reps": np_reps, "c_runs_s": c_times,
                            "numpy_runs_s": np_times})
    finally:
        wk.close()
    ratios = [r["ratio"] for r in results]
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    header["loadavg_end"] = _loadavg()
    print(f"# geometric mean of NumPy/C over {len(ratios)} cases: {geo:.2f}")
    print(f"# load average at the end: {header['loadavg_end']} (noisy when above the core count)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header, "results": results, "geomean_ratio": geo}, f,
                      indent=1)


if __name__ == "__main__":
    main()
