"""Where data sets live, and how a missing one is fetched safely.

A relative name is looked up in ``$GRADIENTE_HOME/datasets`` (default
``~/.gradiente/datasets``), as Keras does with ``~/.keras/datasets``; an absolute path is
used as it is. A download goes to a temporary file beside its target, is checked against
its published SHA-256 and only then renamed into place, so a failed or forged transfer
never leaves a file behind.
"""
import hashlib
import os
import pathlib
import tempfile
import urllib.request

_CHUNK = 1 << 20
_TIMEOUT = 60  # seconds without data before a download gives up

#: The function that opens a URL; tests replace it.
urlopen = urllib.request.urlopen


class DownloadError(OSError):
    """A data set could not be downloaded (no network, server error)."""


def cache_dir():
    """``$GRADIENTE_HOME/datasets``, or ``~/.gradiente/datasets`` when unset."""
    home = os.environ.get("GRADIENTE_HOME")
    base = pathlib.Path(home).expanduser() if home else pathlib.Path.home() / ".gradiente"
    return base / "datasets"


def resolve(path, subdir=None):
    """The file a ``path`` argument names: absolute as given, relative in the cache."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load_data(path=...) expects a str or os.PathLike; received "
                        f"{type(path).__name__}: {path!r}.")
    path = pathlib.Path(os.fspath(path)).expanduser()
    if path.is_absolute():
        return path
    folder = cache_dir() if subdir is None else cache_dir() / subdir
    return folder / path


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url, target, file_hash, what, check=None):
    """Fetch ``url`` into ``target``, verified by its SHA-256 ``file_hash``.

    ``check(tmp_path)`` may validate the contents before the rename. On any failure the
    temporary file is removed; a network failure raises DownloadError whose message says
    where to put the file by hand.
    """
    target = pathlib.Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"{what} is not at {target} and its folder cannot be created ({exc}). "
            f"Put the file there, or set GRADIENTE_HOME to a writable folder."
        ) from exc
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with urlopen(url, timeout=_TIMEOUT) as response:
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        digest.update(chunk)
                        out.write(chunk)
            except OSError as exc:  # URLError, timeouts and HTTPError are OSErrors
                raise DownloadError(
                    f"{what} is not at {target} and downloading it from {url} failed "
                    f"({exc}). If this machine is offline, put a copy of the file at {target} "
                    f"(the published one has SHA-256 {file_hash}), or pass an absolute "
                    f"path to load_data(path=...)."
                ) from exc
        if digest.hexdigest() != file_hash:
            raise ValueError(
                f"The download of {what} from {url} has SHA-256 {digest.hexdigest()}, "
                f"not the published {file_hash}; it was discarded. Try again later, or "
                f"copy a verified file to {target}."
            )
        if check is not None:
            check(tmp)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target
