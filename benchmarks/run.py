"""The speed suite: gradiente against its NumPy backend, PyTorch and Keras, side by side.

    python benchmarks/run.py [--rounds 3] [--epochs 3] [--peer-python PATH] [--json OUT]

Each measurement runs in its own subprocess (benchmarks/_worker.py), so thread pools
never mix; rounds interleave the frameworks (A B C A B C ...), and each figure is the
median over rounds of the epochs after the first. Ratios are other / gradiente-native
on the same configuration, measured in this one run. Peers (torch, keras with each
backend) run under --peer-python (default: this interpreter) and are skipped, with a
note, when they cannot be imported there. Every subprocess runs with OPENBLAS_CORETYPE
and OPENBLAS_L2_SIZE removed from its environment, as on a user's machine.

Also measured: gradiente on 1 vs 2 threads, predict of the 10,000 test images, peak
resident memory, and (with --load) the seed model while another process keeps one core
busy.
"""
import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

from _machine import cpu_model  # the module beside this script


HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER = HERE / "_worker.py"
DEFAULT_MNIST = ROOT.parent / "shared" / "datasets" / "mnist.npz"
PEERS = ["torch", "keras-jax", "keras-torch", "keras-tensorflow"]


def clean_env(threads):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    env["OMP_NUM_THREADS"] = str(threads)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def probe(python, module, backend=None):
    env = clean_env(1)
    if backend:
        env["KERAS_BACKEND"] = backend
    r = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True,
                       env=env)
    return r.returncode == 0


def run_worker(python, framework, model, epochs, threads, mnist, timeout=1800):
    cmd = [python, str(WORKER), "--framework", framework, "--model", model,
           "--epochs", str(epochs), "--threads", str(threads), "--mnist", str(mnist)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(threads),
                       timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{framework}/{model} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


class Busy:
    """Keeps one core busy with a spinning process while active."""

    def __enter__(self):
        self.p = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        self.p.kill()
        self.p.wait()


def median_epoch(results):
    """Median over rounds of each round's median epoch time (epochs after the first)."""
    per_round = [statistics.median(r["epoch_s"][1:] or r["epoch_s"]) for r in results]
    return statistics.median(per_round)


def header():
    lines = [f"python {platform.python_version()} on {platform.machine()}"]
    lines.append("cpu: " + cpu_model())
    lines.append(f"cores available: {len(os.sched_getaffinity(0))}")
    try:
        import gradiente

        info = gradiente._config.config_info()
        lines.append("gradiente {gradiente}, {compiler}, openmp={openmp}, isa={isa}".format(
            **{**info, "isa": ",".join(f"{k}={v}" for k, v in info.get("isa", {}).items())}))
    except Exception as exc:  # pragma: no cover
        lines.append(f"gradiente config unavailable: {exc}")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="seed,big")
    ap.add_argument("--peer-python", default=sys.executable)
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--no-numpy", action="store_true", help="skip gradiente's numpy backend")
    ap.add_argument("--load", action="store_true", help="also measure with one core kept busy")
    ap.add_argument("--mnist", default=str(DEFAULT_MNIST))
    ap.add_argument("--json", help="write every measurement there")
    args = ap.parse_args()

    if not pathlib.Path(args.mnist).exists():
        raise SystemExit(f"MNIST not found at {args.mnist}; pass --mnist PATH")
    me = sys.executable
    notes = []
    frameworks = [("gradiente-native", me)]
    if not args.no_numpy:
        frameworks.append(("gradiente-numpy", me))
    for peer in [p for p in args.peers.split(",") if p]:
        module = "torch" if peer == "torch" else "keras"
        extra = {"keras-jax": "jax", "keras-torch": "torch", "keras-tensorflow": "tensorflow"}
        backend = peer.split("-", 1)[1] if peer.startswith("keras-") else None
        ok = probe(args.peer_python, module, backend) and (
            peer not in extra or probe(args.peer_python, extra[peer]))
        if ok:
            frameworks.append((peer, args.peer_python))
        else:
            notes.append(f"{peer}: not importable under {args.peer_python}, skipped")

    models = [m for m in args.models.split(",") if m]
    results = {}  # (framework, model, threads, load) -> [worker results]

    def measure(fw, py, model, threads, load=False):
        key = (fw, model, threads, load)
        try:
            if load:
                with Busy():
                    r = run_worker(py, fw, model, args.epochs, threads, args.mnist)
            else:
                r = run_worker(py, fw, model, args.epochs, threads, args.mnist)
        except Exception as exc:
            notes.append(f"{fw}/{model}/{threads}t: {exc}")
            return
        results.setdefault(key, []).append(r)
        print(f"  {fw:18s} {model:4s} {threads}t{' load' if load else ''}: "
              f"epochs {', '.join(f'{t:.3f}' for t in r['epoch_s'])} s, acc {r['accuracy']:.4f}",
              file=sys.stderr, flush=True)

    for rnd in range(args.rounds):
        print(f"round {rnd + 1}/{args.rounds}", file=sys.stderr, flush=True)
        for model in models:
            for fw, py in frameworks:
                measure(fw, py, model, args.threads)
            if args.threads != 1:
                measure("gradiente-native", me, model, 1)
        if args.load and "seed" in models:
            measure("gradiente-native", me, "seed", args.threads, load=True)

    # ---- the table
    out = []
    out.extend(header())
    out.append(f"threads={args.threads}, rounds={args.rounds}, epochs per run={args.epochs}; "
               "s/epoch = median over rounds of epochs >= 2; ratio = s/epoch ÷ gradiente-native's")
    out.append("")
    out.append("| model | framework | s/epoch | ratio | test acc | predict 10k (s) | "
               "predict ratio | fit: RSS growth (MiB) |")
    out.append("|---|---|---|---|---|---|---|---|")
    for model in models:
        base = results.get(("gradiente-native", model, args.threads, False))
        if not base:
            continue
        t_base = median_epoch(base)
        p_base = statistics.median(r["predict_s"] for r in base)
        rows = [(fw, args.threads, False) for fw, _ in frameworks]
        if args.threads != 1:
            rows.append(("gradiente-native", 1, False))
        if args.load and model == "seed":
            rows.append(("gradiente-native", args.threads, True))
        for fw, th, load in rows:
            rs = results.get((fw, model, th, load))
            if not rs:
                continue
            t = median_epoch(rs)
            p = statistics.median(r["predict_s"] for r in rs)
            acc = statistics.median(r["accuracy"] for r in rs)
            rss = max(r.get("fit_growth_mib", float("nan")) for r in rs)
            name = fw + (f" ({th} thread{'s' if th > 1 else ''})" if fw.startswith("gradiente-native") else "")
            name += " under load" if load else ""
            out.append(f"| {model} | {name} | {t:.4f} | {t / t_base:.2f}× | {acc:.4f} | "
                       f"{p:.4f} | {p / p_base:.2f}× | {rss:.0f} |")
    data = next(iter(results.values()))[0].get("data_mib") if results else None
    if data:
        out.append("")
        out.append(f"fit: RSS growth = peak resident memory during fit less the resident memory "
                   f"before it (the data set, float32 images + labels, is {data:.0f} MiB).")
    if notes:
        out.append("")
        out.extend(f"note: {n}" for n in notes)
    print("\n".join(out))
    if args.json:
        payload = {"header": header(), "notes": notes,
                   "results": [{"framework": k[0], "model": k[1], "threads": k[2],
                                "load": k[3], "runs": v} for k, v in results.items()]}
        pathlib.Path(args.json).write_text(json.dumps(payload, indent=1))


if __name__ == "__main__":
    main()
