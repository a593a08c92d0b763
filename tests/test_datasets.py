"""gradiente.datasets: Keras's layout, the cache folder, damaged files, downloads."""
import gzip
import hashlib
import os
import struct
import urllib.error

import numpy as np
import pytest

from gradiente.datasets import _files, _idx, fashion_mnist, mnist

SMALL = {
    "x_train": ((6, 28, 28), np.uint8),
    "y_train": ((6,), np.uint8),
    "x_test": ((2, 28, 28), np.uint8),
    "y_test": ((2,), np.uint8),
}


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty GRADIENTE_HOME; its datasets folder is returned."""
    monkeypatch.setenv("GRADIENTE_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "datasets"


@pytest.fixture
def no_network(monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(_files, "urlopen", offline)


def small_arrays(rng=np.random.default_rng(0)):
    return {key: rng.integers(0, 10 if key.startswith("y") else 256, size=shape,
                              dtype=np.uint8)
            for key, (shape, _) in SMALL.items()}


def check_layout(data):
    (x_train, y_train), (x_test, y_test) = data
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8
    assert set(np.unique(y_train)) == set(range(10))


# ---------------------------------------------------------------- the cache folder


def test_cache_dir_default_and_env(monkeypatch, tmp_path):
    monkeypatch.delenv("GRADIENTE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _files.cache_dir() == tmp_path / ".gradiente" / "datasets"
    monkeypatch.setenv("GRADIENTE_HOME", str(tmp_path / "g"))
    assert _files.cache_dir() == tmp_path / "g" / "datasets"
    assert _files.resolve("mnist.npz") == tmp_path / "g" / "datasets" / "mnist.npz"
    assert _files.resolve(tmp_path / "x.npz") == tmp_path / "x.npz"


def test_mnist_absolute_path(mnist_path, home, no_network):
    data = mnist.load_data(path=str(mnist_path))
    check_layout(data)
    assert data[0][1][:5].tolist() == [5, 0, 4, 1, 9]
    assert not home.exists()  # nothing downloaded, nothing created


def test_mnist_relative_path_in_cache(mnist_path, home, no_network):
    home.mkdir(parents=True)
    (home / "digits.npz").symlink_to(mnist_path)  # a link: never write beside the original
    check_layout(mnist.load_data("digits.npz"))
    with pytest.raises(OSError, match=str(home / "mnist.npz")):
        mnist.load_data()


def test_mnist_offline_error_says_where(home, no_network):
    with pytest.raises(_files.DownloadError) as info:
        mnist.load_data()
    message = str(info.value)
    assert str(home / "mnist.npz") in message
    assert mnist.ORIGIN in message and mnist.FILE_HASH in message
    assert "offline" in message
    assert [p.name for p in home.iterdir()] == []  # no temporary file left behind


# ---------------------------------------------------------------- damaged files


def test_read_npz_accepts_a_good_file(tmp_path):
    arrays = small_arrays()
    np.savez(tmp_path / "ok.npz", **arrays)
    got = mnist.read_npz(tmp_path / "ok.npz", SMALL)
    for key in SMALL:
        np.testing.assert_array_equal(got[key], arrays[key])


def test_wrong_keys(tmp_path):
    arrays = small_arrays()
    arrays["images"] = arrays.pop("x_train")
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"lacks the arrays x_train.*images"):
        mnist.read_npz(tmp_path / "bad.npz", SMALL)


def test_wrong_shape_and_dtype(tmp_path):
    arrays = small_arrays()
    np.savez(tmp_path / "shape.npz", **arrays)
    with pytest.raises(ValueError, match=r"x_train is uint8 \(6, 28, 28\); expected uint8 "
                                         r"\(60000, 28, 28\)"):
        mnist.load_data(tmp_path / "shape.npz")
    arrays["y_test"] = arrays["y_test"].astype(np.int64)
    np.savez(tmp_path / "dtype.npz", **arrays)
    with pytest.raises(ValueError, match=r"y_test is int64 \(2,\); expected uint8"):
        mnist.read_npz(tmp_path / "dtype.npz", SMALL)


def test_label_out_of_range(tmp_path):
    arrays = small_arrays()
    arrays["y_train"][3] = 12
    np.savez(tmp_path / "labels.npz", **arrays)
    with pytest.raises(ValueError, match="label 12; expected 0 to 9"):
        mnist.read_npz(tmp_path / "labels.npz", SMALL)


def test_truncated_file(tmp_path, mnist_path):
    with open(mnist_path, "rb") as f:
        head = f.read(os.path.getsize(mnist_path) // 2)
    (tmp_path / "cut.npz").write_bytes(head)
    with pytest.raises(ValueError, match="damaged or truncated"):
        mnist.load_data(str(tmp_path / "cut.npz"))


def test_truncated_member(tmp_path):
    np.savez_compressed(tmp_path / "ok.npz", **small_arrays())
    raw = bytearray((tmp_path / "ok.npz").read_bytes())
    raw[100:400] = bytes(300)  # corrupt a member's compressed data, keep the directory
    (tmp_path / "bad.npz").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="bad.npz"):
        mnist.read_npz(tmp_path / "bad.npz", SMALL)


def test_pickled_object_arrays_refused(tmp_path):
    arrays = small_arrays()
    arrays["x_train"] = np.array([{"evil": 1}] * 6, dtype=object)
    np.savez(tmp_path / "pickled.npz", **arrays)
    with pytest.raises(ValueError, match="pickled"):
        mnist.read_npz(tmp_path / "pickled.npz", SMALL)


def test_not_a_zip(tmp_path):
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(ValueError, match="not an .npz archive"):
        mnist.load_data(tmp_path / "plain.npy")


# ---------------------------------------------------------------- downloads


def serve(tmp_path, name, payload):
    """A local file:// URL serving ``payload``, and its SHA-256."""
    source = tmp_path / "server" / name
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(payload)
    return source.as_uri(), hashlib.sha256(payload).hexdigest()


def test_download_verifies_and_renames(tmp_path, home, monkeypatch):
    np.savez(tmp_path / "src.npz", **small_arrays())
    url, digest = serve(tmp_path, "mnist.npz", (tmp_path / "src.npz").read_bytes())
    target = home / "mnist.npz"
    _files.download(url, target, digest, what="test data",
                    check=lambda p: mnist.read_npz(p, SMALL))
    assert target.read_bytes() == (tmp_path / "src.npz").read_bytes()
    assert sorted(p.name for p in home.iterdir()) == ["mnist.npz"]


def test_load_data_downloads_when_missing(tmp_path, home, monkeypatch, mnist_path):
    url, digest = serve(tmp_path, "mnist.npz", mnist_path.read_bytes())
    monkeypatch.setattr(mnist, "ORIGIN", url)
    monkeypatch.setattr(mnist, "FILE_HASH", digest)
    check_layout(mnist.load_data())
    assert sorted(p.name for p in home.iterdir()) == ["mnist.npz"]


def test_sha256_mismatch_rejected_nothing_left(tmp_path, home):
    url, digest = serve(tmp_path, "mnist.npz", b"PK\x03\x04 forged")
    with pytest.raises(ValueError, match="SHA-256 .* not the published 0000"):
        _files.download(url, home / "mnist.npz", "0" * 64, what="MNIST")
    assert list(home.iterdir()) == []


def test_download_interrupted_leaves_nothing(home, monkeypatch):
    class Broken:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, n):
            raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(_files, "urlopen", lambda url, timeout=None: Broken())
    with pytest.raises(_files.DownloadError, match="connection reset"):
        _files.download("https://example.invalid/x", home / "x.npz", "0" * 64, what="x")
    assert list(home.iterdir()) == []


def test_download_content_check_failure_leaves_nothing(tmp_path, home):
    url, digest = serve(tmp_path, "mnist.npz", b"not a zip at all")
    with pytest.raises(ValueError, match="not an .npz archive"):
        _files.download(url, home / "mnist.npz", digest, what="MNIST",
                        check=lambda p: mnist.read_npz(p, SMALL))
    assert list(home.iterdir()) == []


# ---------------------------------------------------------------- IDX


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32,
                                   np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    if dtype == np.uint8:
        array = np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    path = tmp_path / f"a.idx{suffix}"
    _idx.write_idx(path, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == bool(suffix)
    got = _idx.read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, array)


def test_idx_reads_a_hand_written_header(tmp_path):
    payload = b"\x00\x00\x0b\x02" + struct.pack(">II", 2, 2) + struct.pack(">4h", 1, -2, 3, 300)
    (tmp_path / "h.idx").write_bytes(payload)
    np.testing.assert_array_equal(_idx.read_idx(tmp_path / "h.idx"), [[1, -2], [3, 300]])


@pytest.mark.parametrize("payload, message", [
    (b"\x01\x00\x08\x01" + struct.pack(">I", 3) + b"abc", "magic number"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 3) + b"abc", "unknown type code 0x07"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (b"\x00\x00\x08\x02" + struct.pack(">I", 3), "truncated: the dimensions"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 4) + b"abc", "truncated: data of shape"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 2) + b"abc", "bytes after"),
    (b"\x00\x00", "truncated: the header"),
    (b"\x00\x00\x08\x03" + struct.pack(">III", 2**31, 2**31, 2**31), "truncated"),
])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_damaged(tmp_path, payload, message, gz):
    path = tmp_path / "bad.idx"
    path.write_bytes(gzip.compress(payload) if gz else payload)
    with pytest.raises(ValueError, match=message):
        _idx.read_idx(path)


def test_idx_damaged_gzip_stream(tmp_path):
    path = tmp_path / "bad.idx.gz"
    _idx.write_idx(path, np.zeros((50, 50), np.uint8))
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(ValueError, match="bad.idx.gz"):
        _idx.read_idx(path)


# ---------------------------------------------------------------- Fashion-MNIST


def write_fashion(folder, n_train=6, n_test=2):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    arrays = {
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
    }
    for name, array in arrays.items():
        _idx.write_idx(folder / name, array)
    return arrays


@pytest.fixture
def small_fashion(monkeypatch):
    files = {name: ((6,) if "train-l" in name else (6, 28, 28) if "train-i" in name
                    else (2,) if "t10k-l" in name else (2, 28, 28), digest)
             for name, (_, digest) in fashion_mnist.FILES.items()}
    monkeypatch.setattr(fashion_mnist, "FILES", files)


def test_fashion_from_cache(home, no_network, small_fashion, monkeypatch, tmp_path):
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", (tmp_path / "nowhere",))
    arrays = write_fashion(home / "fashion-mnist")
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte.gz"])


def test_fashion_from_system_dir(home, no_network, small_fashion, monkeypatch, tmp_path):
    arrays = write_fashion(tmp_path / "usr-share")
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", (tmp_path / "usr-share",))
    (x_train, y_train), _ = fashion_mnist.load_data()
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte.gz"])
    assert not home.exists()


def test_fashion_offline_error(home, no_network, monkeypatch, tmp_path):
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", (tmp_path / "nowhere",))
    with pytest.raises(_files.DownloadError) as info:
        fashion_mnist.load_data()
    assert str(home / "fashion-mnist" / "train-labels-idx1-ubyte.gz") in str(info.value)
    assert list((home / "fashion-mnist").iterdir()) == []


def test_fashion_download(home, small_fashion, monkeypatch, tmp_path):
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", (tmp_path / "nowhere",))
    arrays = write_fashion(tmp_path / "server")
    files = {name: (shape, hashlib.sha256((tmp_path / "server" / name).read_bytes())
                    .hexdigest())
             for name, (shape, _) in fashion_mnist.FILES.items()}
    monkeypatch.setattr(fashion_mnist, "FILES", files)
    monkeypatch.setattr(fashion_mnist, "ORIGIN", (tmp_path / "server").as_uri() + "/")
    (x_train, _), _ = fashion_mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"])
    assert sorted(p.name for p in (home / "fashion-mnist").iterdir()) == sorted(files)


def test_fashion_wrong_shape(home, no_network, small_fashion, monkeypatch, tmp_path):
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", (tmp_path / "nowhere",))
    write_fashion(home / "fashion-mnist")
    _idx.write_idx(home / "fashion-mnist" / "t10k-images-idx3-ubyte.gz",
                   np.zeros((2, 27, 28), np.uint8))
    with pytest.raises(ValueError, match=r"uint8 \(2, 27, 28\); expected uint8 \(2, 28, 28\)"):
        fashion_mnist.load_data()


@pytest.mark.skipif(not all((fashion_mnist.SYSTEM_DIRS[0] / n).exists()
                            for n in fashion_mnist.FILES),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_real_debian_files(home, no_network):
    data = fashion_mnist.load_data()
    check_layout(data)
    assert data[0][1][:4].tolist() == [9, 0, 0, 3]
