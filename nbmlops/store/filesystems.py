"""Opening the artifact root: one small registry from URL scheme to filesystem, the shape of papermill's
`iorw` handlers. The content-addressed artifact store and the feature store both open their root here.

    root = open_root("/data/artifacts")          # a local folder (no scheme): plain os calls, no pyarrow import
    root = open_root("s3://bucket/artifacts")    # any other URL: pyarrow.fs.FileSystem.from_uri by default
    register("myfs", MyRoot.open)                # a scheme of its own: opener(url) -> Root

A Root reads and writes paths relative to itself (`features/data/x.parquet`), and hands `fs` / `path(rel)` to
pyarrow readers. Writes are atomic where a reader could see them half done: a temp file and a rename locally;
object stores publish an object only once its upload completes. `exclusive=True` creates a file only when it is
absent: atomic locally (a hard link), a check then a write elsewhere (as strong as the filesystem allows).
`file://` URLs go through pyarrow like every other URL, so what `where()` names keeps the URL form.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from nbmlops.errors import NbmlopsError

CHUNK = 1 << 20  # bytes read at a time when copying, hashing or uploading


class FilesystemError(NbmlopsError):
    """An artifact root whose URL no registered opener (nor pyarrow) can open."""


class Root(ABC):
    """A folder of some filesystem, addressed by relative paths: what an opener returns."""

    url: str  # as configured: a local path or a URL
    is_local: bool

    @property
    @abstractmethod
    def fs(self) -> Any:
        """The pyarrow filesystem holding the root (for pyarrow.dataset and friends)."""

    @abstractmethod
    def path(self, rel: str) -> str:
        """The path `fs` reads and writes for rel."""

    @abstractmethod
    def where(self, rel: str) -> str:
        """Where rel lives, for people and records: a local path, or the URL under the root."""

    @abstractmethod
    def is_file(self, rel: str) -> bool:
        """True when rel is a file (not a folder, not missing)."""

    @abstractmethod
    def read_bytes(self, rel: str) -> bytes | None:
        """The file's bytes; None when it doesn't exist."""

    @abstractmethod
    def open_input(self, rel: str) -> IO[bytes]:
        """A binary stream of the file (FileNotFoundError or the filesystem's own error when missing)."""

    @abstractmethod
    def write_chunks(self, rel: str, chunks: Iterable[bytes]) -> None:
        """Write atomically from an iterable of byte chunks (parent folders made as needed)."""

    @abstractmethod
    def write_bytes(self, rel: str, data: bytes, *, exclusive: bool = False) -> bool:
        """Write atomically; with exclusive, False (and nothing written) when the file already exists."""

    def copy_file(self, rel: str, source: str | Path) -> None:
        """Store a local file's bytes at rel, atomically."""
        with open(source, "rb") as handle:
            self.write_chunks(rel, iter(lambda: handle.read(CHUNK), b""))

    @abstractmethod
    def listdir(self, rel: str) -> list[str]:
        """Names directly under rel, sorted (none when it doesn't exist), hidden temp files left out."""

    @abstractmethod
    def delete(self, rel: str) -> bool:
        """Remove the file; False when there was none."""

    @abstractmethod
    def makedirs(self, rel: str) -> None:
        """Make the folder rel and its parents (no-op where folders are implicit)."""

    @abstractmethod
    def delete_tree(self, rel: str) -> None:
        """Remove the folder rel and everything under it (nothing when it doesn't exist)."""


class LocalRoot(Root):
    """A local folder, through os and pathlib (pyarrow's LocalFileSystem only when `fs` is asked for)."""

    is_local = True

    def __init__(self, url: str | Path) -> None:
        self.url = str(url)
        self.local = Path(url).expanduser().resolve()
        self._fs: Any = None

    @property
    def fs(self) -> Any:
        if self._fs is None:
            import pyarrow.fs  # lazy: pyarrow is heavy and most local work never needs it

            self._fs = pyarrow.fs.LocalFileSystem()
        return self._fs

    def path(self, rel: str) -> str:
        return f"{self.local}/{rel}"

    def where(self, rel: str) -> str:
        return str(self.local / rel)

    def is_file(self, rel: str) -> bool:
        return (self.local / rel).is_file()

    def read_bytes(self, rel: str) -> bytes | None:
        try:
            return (self.local / rel).read_bytes()
        except FileNotFoundError:
            return None

    def open_input(self, rel: str) -> IO[bytes]:
        return open(self.local / rel, "rb")

    def _temp(self, rel: str) -> tuple[Path, Path]:
        target = self.local / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        # beside the target, so the rename stays on one filesystem; hidden, so listdir never shows it
        return target, target.with_name(f".{target.name}.{os.urandom(4).hex()}.tmp")

    def write_chunks(self, rel: str, chunks: Iterable[bytes]) -> None:
        target, tmp = self._temp(rel)
        with open(tmp, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(tmp, target)  # a reader or a concurrent writer of the same name never sees half a file

    def write_bytes(self, rel: str, data: bytes, *, exclusive: bool = False) -> bool:
        target, tmp = self._temp(rel)
        tmp.write_bytes(data)
        if exclusive:
            try:
                os.link(tmp, target)  # atomic create-if-absent: of two writers of one name, one wins
            except FileExistsError:
                return False
            finally:
                tmp.unlink()
            return True
        os.replace(tmp, target)
        return True

    def copy_file(self, rel: str, source: str | Path) -> None:
        import shutil  # here, as hashlib in artifacts.py: opening a root loads as little as it can

        target, tmp = self._temp(rel)
        shutil.copyfile(source, tmp)  # the OS's fast copy where it has one
        os.replace(tmp, target)

    def listdir(self, rel: str) -> list[str]:
        folder = self.local / rel
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        return sorted(n for n in names if not n.startswith("."))

    def delete(self, rel: str) -> bool:
        try:
            (self.local / rel).unlink()
        except FileNotFoundError:
            return False
        return True

    def makedirs(self, rel: str) -> None:
        (self.local / rel).mkdir(parents=True, exist_ok=True)

    def delete_tree(self, rel: str) -> None:
        import shutil

        shutil.rmtree(self.local / rel, ignore_errors=True)


class ArrowRoot(Root):
    """A folder of any pyarrow filesystem (S3, GCS, HDFS, Azure, file://)."""

    is_local = False

    def __init__(self, url: str, fs: Any, base: str) -> None:
        self.url = url
        self._fs = fs
        self.base = base.rstrip("/")

    @classmethod
    def from_uri(cls, url: str) -> ArrowRoot:
        import pyarrow.fs

        try:
            fs, base = pyarrow.fs.FileSystem.from_uri(url)
        except (ValueError, OSError) as exc:  # ArrowInvalid is a ValueError: unknown scheme or bad URL
            known = ", ".join(sorted(s for s in _OPENERS if s)) or "none"
            raise FilesystemError(
                f"artifact root '{url}': pyarrow can't open it ({exc}); schemes registered "
                f"with nbmlops.store.filesystems.register: {known}"
            ) from None
        return cls(url, fs, base)

    @property
    def fs(self) -> Any:
        return self._fs

    def path(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def where(self, rel: str) -> str:
        # options in the URL's query (`?endpoint_override=...`) stay after the path, so the result reopens
        location, mark, query = self.url.partition("?")
        return f"{location.rstrip('/')}/{rel}{mark}{query}"

    def is_file(self, rel: str) -> bool:
        import pyarrow.fs

        return self._fs.get_file_info(self.path(rel)).type == pyarrow.fs.FileType.File

    def read_bytes(self, rel: str) -> bytes | None:
        if not self.is_file(rel):
            return None
        with self._fs.open_input_stream(self.path(rel)) as handle:
            return handle.read()

    def open_input(self, rel: str) -> IO[bytes]:
        return self._fs.open_input_stream(self.path(rel))

    def write_chunks(self, rel: str, chunks: Iterable[bytes]) -> None:
        path = self.path(rel)
        self._fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        # object stores publish an object only when the upload completes, so no temp name is needed there
        with self._fs.open_output_stream(path) as out:
            for chunk in chunks:
                out.write(chunk)

    def write_bytes(self, rel: str, data: bytes, *, exclusive: bool = False) -> bool:
        if exclusive and self.is_file(rel):
            return False
        self.write_chunks(rel, (data,))
        return True

    def listdir(self, rel: str) -> list[str]:
        import pyarrow.fs

        infos = self._fs.get_file_info(pyarrow.fs.FileSelector(self.path(rel), allow_not_found=True))
        return sorted(n for n in (info.base_name for info in infos) if not n.startswith("."))

    def delete(self, rel: str) -> bool:
        if not self.is_file(rel):
            return False
        self._fs.delete_file(self.path(rel))
        return True

    def makedirs(self, rel: str) -> None:
        self._fs.create_dir(self.path(rel), recursive=True)

    def delete_tree(self, rel: str) -> None:
        import pyarrow.fs

        if self._fs.get_file_info(self.path(rel)).type == pyarrow.fs.FileType.Directory:
            self._fs.delete_dir(self.path(rel))


Opener = Callable[[str], Root]
# scheme -> opener; "" is a plain local path. A URL whose scheme has no opener of its own goes to pyarrow.
_OPENERS: dict[str, Opener] = {"": LocalRoot}


def register(scheme: str, opener: Opener) -> None:
    """Open roots of `scheme` (e.g. "s3") with opener(url) from now on, instead of pyarrow's default."""
    _OPENERS[scheme.lower()] = opener


def scheme_of(url: str) -> str:
    """'s3' for 's3://bucket/x', '' for a local path."""
    return url.split("://", 1)[0].lower() if "://" in url else ""


def open_root(url: str | Path) -> Root:
    """The artifact root at `url`: a local folder, or a URL its scheme's opener (else pyarrow) opens."""
    text = str(url)
    return _OPENERS.get(scheme_of(text), ArrowRoot.from_uri)(text)
