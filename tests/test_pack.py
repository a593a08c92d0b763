"""Packed rows (gd_pack_palette_* / gd_pack_rows_* / gd_unpack_rows_*): the same palette
and bytes as the NumPy reference for any ISA and thread count, rows back bit for bit
(-0.0, NaN payloads and infinities included), with raw values and with a palette, the
nonzero counts, bad arguments refused; and fit gathering its batches from the packed
copy trains the same bits as from x."""
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


def _matrix(rng, n, f, density, dtype, levels=None):
    """Mostly +0.0, with -0.0, NaN (two payloads), -inf and a subnormal in the first rows;
    levels: the other values drawn from that many (as images scaled from bytes)."""
    values = rng.standard_normal((n, f))
    if levels:
        values = rng.integers(1, levels + 1, (n, f)) / levels
    x = np.where(rng.random((n, f)) < density, values, 0.0).astype(dtype)
    if n > 3 and f > 5:
        x[0, :3] = -0.0
        x[1, 4] = np.nan
        x[2, 5] = -np.inf
        bits = x.view(np.uint32 if dtype == np.float32 else np.uint64)
        bits[3, 1] = bits.dtype.type(0x7FC00123 if dtype == np.float32 else 0x7FF8000000000123)
        x[3, f - 1] = np.finfo(dtype).tiny / 4  # a subnormal
    return x


def _palette(x, n_threads):
    pal = np.full(256, np.nan, x.dtype)
    count = _ck().pack_palette(x, pal, n_threads)
    return pal[:count].copy() if count > 0 else None


def _pack(x, pal, n_threads):
    off = np.empty(x.shape[0] + 1, np.int64)
    total = _ck().pack_rows_size(x, 0 if pal is None else len(pal), off, n_threads)
    buf = np.full(total, 0xAB, np.uint8)  # every byte must be written
    _ck().pack_rows(x, pal, off, buf, n_threads)
    return buf, off


@pytest.mark.parametrize("levels", [None, 200], ids=["raw", "palette"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bytes_match_reference_every_thread_count(isa, dtype, levels):
    rng = np.random.default_rng(3)
    for f in WIDTHS:
        for density in (0.0, 0.2, 1.0):
            x = _matrix(rng, 40, f, density, dtype, levels)
            ref_pal = _reference.pack_palette(x)
            ref_buf, ref_off = _reference.pack_rows(x, ref_pal)
            for t in THREADS:
                pal = _palette(x, t)
                assert (pal is None) == (ref_pal is None), (isa, f, density, t)
                if pal is not None:
                    assert pal.tobytes() == ref_pal.tobytes()
                buf, off = _pack(x, pal, t)
                assert np.array_equal(off, ref_off), (isa, f, density, t)
                assert buf.tobytes() == ref_buf.tobytes(), (isa, f, density, t)


def test_palette_bounds(isa):
    ck = _ck()
    pal = np.empty(256, np.float32)
    x = np.zeros((300, 40), np.float32)
    assert ck.pack_palette(x, pal, 2) == -1  # nothing stored
    x[100, 7] = -0.0
    assert ck.pack_palette(x, pal, 2) == 1 and pal[:1].tobytes() == np.float32(-0.0).tobytes()
    x.reshape(-1)[:256] = np.arange(1, 257)  # 256 values and -0.0: 257
    assert ck.pack_palette(x, pal, 2) == -1
    x[100, 7] = 0.0
    assert ck.pack_palette(x, pal, 2) == 256
    assert np.array_equal(pal, np.arange(1, 257))
    x[-1, -1] = 1000.0  # the 257th, in the other thread's rows
    for t in THREADS:
        assert ck.pack_palette(x, pal, t) == -1
    with pytest.raises(ValueError, match="256"):
        ck.pack_palette(x, np.empty(255, np.float32), 1)


@pytest.mark.parametrize("levels", [None, 200], ids=["raw", "palette"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_unpack_gives_rows_back_bitwise(isa, dtype, levels):
    rng = np.random.default_rng(4)
    for f in WIDTHS:
        x = _matrix(rng, 50, f, 0.3, dtype, levels)
        pal = _reference.pack_palette(x)
        assert levels is None or pal is not None
        buf, off = _reference.pack_rows(x, pal)
        rows = rng.integers(0, 50, 70).astype(np.int64)
        ref, ref_count = _reference.unpack_rows(buf, off, rows, f, dtype, pal)
        for t in THREADS:
            dst = np.full((70, f), np.nan, dtype)
            count = _ck().unpack_rows(buf, off, pal, rows, dst, t)
            assert dst.tobytes() == x[rows].tobytes() == ref.tobytes(), (isa, f, t)
            assert count == np.count_nonzero(x[rows]) == ref_count


def test_empty_and_bad_arguments():
    ck = _ck()
    x = np.ones((4, 20), np.float32)
    off = np.empty(5, np.int64)
    assert ck.pack_rows_size(np.ones((0, 20), np.float32), 0, np.empty(1, np.int64), 1) == 0
    with pytest.raises(ValueError, match="off must hold 5"):
        ck.pack_rows_size(x, 0, np.empty(4, np.int64), 1)
    total = ck.pack_rows_size(x, 0, off, 1)
    buf = np.empty(total + 8, np.uint8)
    with pytest.raises(ValueError, match="does not fit"):
        ck.pack_rows(x, None, off, buf[:total - 1], 1)
    with pytest.raises(ValueError, match="aligned"):
        ck.pack_rows(x, None, off, buf[1:total + 1], 1)
    with pytest.raises(ValueError, match="1 to 256"):
        ck.pack_rows(x, np.zeros(0, np.float32), off, buf[:total], 1)
    ck.pack_rows(x, None, off, buf[:total], 1)
    dst = np.empty((2, 20), np.float32)
    with pytest.raises(IndexError, match="rows\\[1\\] = 4"):
        ck.unpack_rows(buf[:total], off, None, np.array([0, 4], np.int64), dst, 1)
    with pytest.raises(ValueError, match="does not hold 90 columns"):
        ck.unpack_rows(buf[:total], off, None, np.array([0, 1], np.int64),
                       np.empty((2, 90), np.float32), 1)
    with pytest.raises(ValueError, match="does not hold"):  # float64 records are longer
        ck.unpack_rows(buf[:total], off, None, np.array([0, 1], np.int64),
                       np.empty((2, 20), np.float64), 1)
    with pytest.raises(ValueError, match="does not hold"):  # a palette's are shorter
        ck.unpack_rows(buf[:total], off, np.ones(1, np.float32), np.array([0, 1], np.int64),
                       dst, 1)
    with pytest.raises(ValueError, match="2 entries for 3 rows"):
        ck.unpack_rows(buf[:total], off, None, np.array([0, 1], np.int64),
                       np.empty((3, 20), np.float32), 1)


def _fit(x, y, packed, monkeypatch, n_threads, dtype="float32", palette=False, **kw):
    monkeypatch.setattr(_engine_native, "PACK_MIN_BYTES", 0 if packed else 1 << 62)
    if palette:  # room for a byte per value, not for the raw values
        monkeypatch.setattr(_engine_native, "PACK_MAX_FRACTION", 0.15)
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
    if seen[-1] is not None:
        assert (seen[-1][2] is not None) == palette
    return model.get_weights(), history.history


@pytest.mark.parametrize("levels", [None, 200], ids=["raw", "palette"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_threads", THREADS)
def test_fit_from_packed_rows_trains_the_same_bits(monkeypatch, n_threads, dtype, levels):
    rng = np.random.default_rng(5)
    x = _matrix(rng, 300, 150, 0.2, np.float32, levels)
    x[1, 4] = x[2, 5] = x[3, 1] = 0.5  # finite data; the -0.0 and the subnormal stay
    y = rng.integers(0, 5, 300)
    w0, h0 = _fit(x, y, False, monkeypatch, n_threads, dtype, validation_split=0.2)
    w1, h1 = _fit(x, y, True, monkeypatch, n_threads, dtype, levels is not None,
                  validation_split=0.2)
    assert h0 == h1
    for a, b in zip(w0, w1):
        assert a.tobytes() == b.tobytes()


@pytest.mark.skipif("avx512" not in isas(), reason="fit packs its data with AVX-512 only")
def test_dense_data_is_not_packed():
    rng = np.random.default_rng(6)
    x = (rng.random((20000, 300)) + 1).astype(np.float32)  # 24 MB, no zeros
    assert _engine_native.pack_rows(x, 2) is None
    x[:, :250] = 0
    x[:, 250:] = rng.random((20000, 50)) + 1  # a sixth, all distinct
    buf, off, pal = _engine_native.pack_rows(x, 2)
    assert pal is None and off[-1] == buf.nbytes < x.nbytes / 4  # 0.21 of the bytes
    x[:, 250:] = np.arange(50) / 7  # +0.0 and 49 values
    buf, off, pal = _engine_native.pack_rows(x, 2)  # raw values where they fit
    assert pal is None and off[-1] == buf.nbytes < x.nbytes / 4
    buf, off, pal = _engine_native.pack_rows(x, 2, 3 << 20)  # else a byte each
    assert len(pal) == 49 and off[-1] == buf.nbytes < x.nbytes / 10
    x[:, 250:] = rng.random((20000, 50)) + 1
    assert _engine_native.pack_rows(x, 2, 3 << 20) is None  # no palette, no room
