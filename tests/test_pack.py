"""Packed rows (gd_pack_rows_* / gd_unpack_rows_*): the same bytes as the NumPy
reference for any ISA and thread count, rows back bit for bit (-0.0, NaN payloads and
infinities included), the nonzero counts, bad arguments refused; and fit gathering its
batches from the packed copy trains the same bits as from x."""
import numpy as np
import pytest

import gradiente as gd
from gradiente import _config, _engine_native, _reference
from conftest import THREADS, isas

DTYPES = [np.float32, np.float64]
# widths: one column, register widths ±1, one bit word ±1, the split at 128, MNIST
WIDTHS = [1, 7, 15, 16, 17, 63, 64, 65, 127, 128, 129, 200, 784]


def _ck():
    return _config._native()


def _matrix(rng, n, f, density, dtype):
    x = np.where(rng.random((n, f)) < density, rng.standard_normal((n, f)), 0.0).astype(dtype)
    if n > 3 and f > 5:
        x[0, :3] = -0.0
        x[1, 4] = np.nan
        x[2, 5] = -np.inf
        bits = x.view(np.uint32 if dtype == np.float32 else np.uint64)
        bits[3, 1] = bits.dtype.type(0x7FC00123 if dtype == np.float32 else 0x7FF8000000000123)
        x[3, f - 1] = np.finfo(dtype).tiny / 4  # a subnormal
    return x


def _pack(x, n_threads):
    off = np.empty(x.shape[0] + 1, np.int64)
    total = _ck().pack_rows_size(x, off, n_threads)
    buf = np.full(total, 0xAB, np.uint8)  # every byte must be written
    _ck().pack_rows(x, off, buf, n_threads)
    return buf, off


@pytest.mark.parametrize("dtype", DTYPES)
def test_bytes_match_reference_every_thread_count(isa, dtype):
    rng = np.random.default_rng(3)
    for f in WIDTHS:
        for density in (0.0, 0.2, 1.0):
            x = _matrix(rng, 40, f, density, dtype)
            ref_buf, ref_off = _reference.pack_rows(x)
            for t in THREADS:
                buf, off = _pack(x, t)
                assert np.array_equal(off, ref_off), (isa, f, density, t)
                assert buf.tobytes() == ref_buf.tobytes(), (isa, f, density, t)


@pytest.mark.parametrize("dtype", DTYPES)
def test_unpack_gives_rows_back_bitwise(isa, dtype):
    rng = np.random.default_rng(4)
    for f in WIDTHS:
        x = _matrix(rng, 50, f, 0.3, dtype)
        buf, off = _reference.pack_rows(x)
        rows = rng.integers(0, 50, 70).astype(np.int64)
        ref, ref_count = _reference.unpack_rows(buf, off, rows, f, dtype)
        for t in THREADS:
            dst = np.full((70, f), np.nan, dtype)
            count = _ck().unpack_rows(buf, off, rows, dst, t)
            assert dst.tobytes() == x[rows].tobytes() == ref.tobytes(), (isa, f, t)
            assert count == np.count_nonzero(x[rows]) == ref_count


def test_empty_and_bad_arguments():
    ck = _ck()
    x = np.ones((4, 20), np.float32)
    off = np.empty(5, np.int64)
    assert ck.pack_rows_size(np.ones((0, 20), np.float32), np.empty(1, np.int64), 1) == 0
    with pytest.raises(ValueError, match="off must hold 5"):
        ck.pack_rows_size(x, np.empty(4, np.int64), 1)
    total = ck.pack_rows_size(x, off, 1)
    buf = np.empty(total + 8, np.uint8)
    with pytest.raises(ValueError, match="does not fit"):
        ck.pack_rows(x, off, buf[:total - 1], 1)
    with pytest.raises(ValueError, match="aligned"):
        ck.pack_rows(x, off, buf[1:total + 1], 1)
    ck.pack_rows(x, off, buf[:total], 1)
    dst = np.empty((2, 20), np.float32)
    with pytest.raises(IndexError, match="rows\\[1\\] = 4"):
        ck.unpack_rows(buf[:total], off, np.array([0, 4], np.int64), dst, 1)
    with pytest.raises(ValueError, match="does not hold 90 columns"):
        ck.unpack_rows(buf[:total], off, np.array([0, 1], np.int64),
                       np.empty((2, 90), np.float32), 1)
    with pytest.raises(ValueError, match="does not hold"):  # float64 records are longer
        ck.unpack_rows(buf[:total], off, np.array([0, 1], np.int64),
                       np.empty((2, 20), np.float64), 1)
    with pytest.raises(ValueError, match="2 entries for 3 rows"):
        ck.unpack_rows(buf[:total], off, np.array([0, 1], np.int64),
                       np.empty((3, 20), np.float32), 1)


def _fit(x, y, packed, monkeypatch, n_threads, dtype="float32", **kw):
    monkeypatch.setattr(_engine_native, "PACK_MIN_BYTES", 0 if packed else 1 << 62)
    monkeypatch.setattr(_engine_native._ThreadChooser, "pick", lambda self, key, n: n_threads)
    monkeypatch.setattr(_config, "effective_n_threads", lambda n=None: n_threads)
    gd.utils.set_random_seed(7)
    model = gd.Sequential([gd.layers.Input((x.shape[1],)),
                           gd.layers.Dense(24, activation="relu", dtype=dtype),
                           gd.layers.Dense(5, activation="softmax", dtype=dtype)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    seen = []
    pack = _engine_native.pack_rows
    monkeypatch.setattr(_engine_native, "pack_rows",
                        lambda rows, *args: seen.append(pack(rows, *args)) or seen[-1])
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, **kw)
    assert (seen[-1] is not None) == (packed and "avx512" in isas())  # see pack_rows
    return model.get_weights(), history.history


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_threads", THREADS)
def test_fit_from_packed_rows_trains_the_same_bits(monkeypatch, n_threads, dtype):
    rng = np.random.default_rng(5)
    x = _matrix(rng, 300, 150, 0.2, np.float32)
    x[1, 4] = x[2, 5] = x[3, 1] = 0.5  # finite data; the -0.0 and the subnormal stay
    y = rng.integers(0, 5, 300)
    w0, h0 = _fit(x, y, False, monkeypatch, n_threads, dtype, validation_split=0.2)
    w1, h1 = _fit(x, y, True, monkeypatch, n_threads, dtype, validation_split=0.2)
    assert h0 == h1
    for a, b in zip(w0, w1):
        assert a.tobytes() == b.tobytes()


@pytest.mark.skipif("avx512" not in isas(), reason="fit packs its data with AVX-512 only")
def test_dense_data_is_not_packed():
    x = np.ones((20000, 300), np.float32)  # 24 MB, no zeros
    assert _engine_native.pack_rows(x, 2) is None
    x[:, :250] = 0  # a sixth of the elements nonzero: a packed copy of 0.21 of the bytes
    buf, off = _engine_native.pack_rows(x, 2)
    assert off[-1] == buf.nbytes < x.nbytes / 4
    assert _engine_native.pack_rows(x, 2, buf.nbytes - 1) is None  # no room


@pytest.mark.skipif("avx512" not in isas(), reason="fit packs its data with AVX-512 only")
def test_fit_packs_only_within_its_memory_budget(monkeypatch):
    """The packed copy fits beside the gradients and the optimizer's slots in
    FIT_EXTRA_BYTES (fit's memory within the data set plus 50 MiB)."""
    rng = np.random.default_rng(8)
    x = _matrix(rng, 2000, 100, 0.2, np.float32)
    x[1, 4] = x[2, 5] = x[3, 1] = 0.5
    y = rng.integers(0, 5, 2000)
    monkeypatch.setattr(_engine_native, "PACK_MIN_BYTES", 0)
    budgets = []
    pack = _engine_native.pack_rows
    monkeypatch.setattr(_engine_native, "pack_rows",
                        lambda rows, nt, budget: budgets.append(budget) or pack(rows, nt, budget))
    for optimizer, slots in (("rmsprop", 1), ("adam", 2)):
        model = gd.Sequential([gd.layers.Input((100,)), gd.layers.Dense(30, activation="relu"),
                               gd.layers.Dense(5, activation="softmax")])
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=2, batch_size=50, verbose=0)
        engine = model._engine
        state = [s for s in engine._slot_list(engine.plan) if s is not None]
        assert len(state) >= slots and engine.plan.params.nbytes == 4 * 3185
        assert budgets[-1] == (_engine_native.FIT_EXTRA_BYTES - engine.plan.params.nbytes
                               - sum(s.nbytes for s in state))
        assert model._engine._fit_data is None  # released when fit returns
    # a single epoch would not repay the packing: fit(epochs=1) in a loop would pay it
    # on every call
    budgets.clear()
    model.fit(x, y, epochs=3, initial_epoch=2, batch_size=50, verbose=0)
    assert budgets == [] and model._engine._fit_data is None
