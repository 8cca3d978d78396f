"""Content-addressed artifact storage: a blob is named by its sha256, stored once at <root>/<sha[:2]>/<sha>.

The root is a local folder, or any URL pyarrow's filesystems understand (s3://, gs://, hdfs://, file://).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from nbmlops.errors import NbmlopsError

CHUNK = 1 << 20


class ArtifactError(NbmlopsError):
    """A blob that is missing from the artifact store, or whose bytes no longer match their hash."""


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    uri: str  # where it lives: a local path, or the URL under the configured root
    created: bool  # False when identical bytes were already stored


def sha256_file(path: str | Path) -> tuple[str, int]:
    import hashlib  # here and below: opening a store should not load OpenSSL

    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _check_sha(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ArtifactError(f"'{sha256}' is not a sha256 hex digest")
    return sha256


class ArtifactStore:
    def __init__(self, root: str | Path) -> None:
        self.root = str(root)
        self._fs: Any = None
        self._base = ""
        if "://" in self.root:
            import pyarrow.fs  # lazy: pyarrow is heavy and only needed for URL roots

            self._fs, self._base = pyarrow.fs.FileSystem.from_uri(self.root)
            self._base = self._base.rstrip("/")
        else:
            self._local = Path(self.root).expanduser().resolve()

    @property
    def is_local(self) -> bool:
        return self._fs is None

    def _rel(self, sha256: str) -> str:
        return f"{sha256[:2]}/{_check_sha(sha256)}"

    def uri(self, sha256: str) -> str:
        if self.is_local:
            return str(self._local / self._rel(sha256))
        return f"{self.root.rstrip('/')}/{self._rel(sha256)}"

    def _remote(self, sha256: str) -> str:
        return f"{self._base}/{self._rel(sha256)}"

    # -- writing ------------------------------------------------------------------------------------------
    def put_bytes(self, data: bytes) -> StoredBlob:
        import hashlib

        sha = hashlib.sha256(data).hexdigest()
        if self.exists(sha):
            return StoredBlob(sha, len(data), self.uri(sha), False)
        self._write(sha, iter([data]))
        return StoredBlob(sha, len(data), self.uri(sha), True)

    def put_file(self, path: str | Path) -> StoredBlob:
        sha, size = sha256_file(path)
        if self.exists(sha):
            return StoredBlob(sha, size, self.uri(sha), False)
        if self.is_local:
            target = self._local / self._rel(sha)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{sha}.{os.urandom(4).hex()}.tmp")
            import shutil

            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        else:
            with open(path, "rb") as handle:
                self._write(sha, iter(lambda: handle.read(CHUNK), b""))
        return StoredBlob(sha, size, self.uri(sha), True)

    def _write(self, sha256: str, chunks: Iterator[bytes]) -> None:
        if self.is_local:
            target = self._local / self._rel(sha256)
            target.parent.mkdir(parents=True, exist_ok=True)
            # temp + rename: a reader or a concurrent writer of the same bytes never sees half a blob
            tmp = target.with_name(f".{sha256}.{os.urandom(4).hex()}.tmp")
            with open(tmp, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            os.replace(tmp, target)
            return
        path = self._remote(sha256)
        self._fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        # object stores publish an object only when the upload completes, so no temp name is needed there
        with self._fs.open_output_stream(path) as out:
            for chunk in chunks:
                out.write(chunk)

    # -- reading ------------------------------------------------------------------------------------------
    def exists(self, sha256: str) -> bool:
        if self.is_local:
            return (self._local / self._rel(sha256)).is_file()
        import pyarrow.fs

        return self._fs.get_file_info(self._remote(sha256)).type == pyarrow.fs.FileType.File

    def open(self, sha256: str) -> IO[bytes]:
        if not self.exists(sha256):
            raise ArtifactError(f"artifact {sha256} is not in the artifact store {self.root}")
        if self.is_local:
            return open(self._local / self._rel(sha256), "rb")
        return self._fs.open_input_stream(self._remote(sha256))

    def get_bytes(self, sha256: str) -> bytes:
        with self.open(sha256) as handle:
            return handle.read()

    def local_path(self, sha256: str, cache_dir: str | Path | None = None) -> Path:
        """A local file holding the blob: the blob itself for a local root, else a download into cache_dir."""
        if self.is_local:
            if not self.exists(sha256):
                raise ArtifactError(f"artifact {sha256} is not in the artifact store {self.root}")
            return self._local / self._rel(sha256)
        if cache_dir is None:
            raise ArtifactError(f"artifact root {self.root} is remote: give a cache_dir to download into")
        target = Path(cache_dir) / self._rel(sha256)
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{sha256}.{os.urandom(4).hex()}.tmp")
            import shutil

            with self.open(sha256) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            os.replace(tmp, target)
        return target

    def verify(self, sha256: str) -> bool:
        """True when the stored bytes still hash to their name (False when missing or corrupted)."""
        if not self.exists(sha256):
            return False
        import hashlib

        digest = hashlib.sha256()
        with self.open(sha256) as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest() == sha256

    def delete(self, sha256: str) -> bool:
        if not self.exists(sha256):
            return False
        if self.is_local:
            (self._local / self._rel(sha256)).unlink()
        else:
            self._fs.delete_file(self._remote(sha256))
        return True
