"""The optimizer kernels per ISA: median µs over 101,770 float32 parameters (the MNIST
MLP), one thread, the ISAs interleaved call by call in one process (the machine is
noisy). Usage: python benchmarks/bench_optim.py [reps=301]"""
import sys
import time

import numpy as np

from gradiente import _ckernels as ck
from gradiente import _config

n = 101770
rng = np.random.default_rng(0)
w, g = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
s = [rng.uniform(0, 1, n).astype(np.float32) for _ in range(3)]
blocks = np.array([(lo, min(lo + 4096, n), 0) for lo in range(0, n, 4096)], np.int64)
scratch = np.zeros(len(blocks))
K = {
 "sgd_momentum": lambda: ck.sgd_step(w, g, s[0], 1e-9, 0.9, False, 1),
 "adam": lambda: ck.adam_step(w, g, s[0], s[1], None, 1e-9, 0.9, 0.999, 1e-7, 1),
 "rmsprop": lambda: ck.rmsprop_step(w, g, s[0], None, None, 1e-9, 0.9, 0.0, 1e-7, 1),
 "adagrad": lambda: ck.adagrad_step(w, g, s[0], 1e-9, 1e-7, 1),
 "nadam": lambda: ck.nadam_step(w, g, s[0], s[1], 1e-9, 1.0, 0.1, 0.5, 0.9, 0.999, 1e-7, 1),
 "adamax": lambda: ck.adamax_step(w, g, s[0], s[1], 1e-9, 0.1, 0.9, 0.999, 1e-7, 1),
 "adadelta": lambda: ck.adadelta_step(w, g, s[0], s[1], 1e-9, 0.95, 1e-7, 1),
 "clipnorm": lambda: ck.clip_grads(g, blocks, 2, 1e9, scratch, 1),
 "weight_decay": lambda: ck.scale(w, 1.0, 1),
}
ISAS = _config.available_isas()
res = {}
for rep in range(int(sys.argv[1]) if len(sys.argv) > 1 else 301):
    for k, f in K.items():
        for isa in ISAS:
            _config.set_isa(isa)
            t0 = time.perf_counter(); f(); res.setdefault((k, isa), []).append(time.perf_counter() - t0)
print("kernel        " + "  ".join(f"{i:>8}" for i in ISAS))
for k in K:
    print(f"{k:13s} " + "  ".join(f"{np.median(res[(k, i)])*1e6:7.1f}u" for i in ISAS))
