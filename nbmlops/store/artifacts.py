"""Content-addressed artifact storage: a blob is named by its sha256, stored once at <root>/<sha[:2]>/<sha>.

The root is a local folder, or any URL pyarrow's filesystems understand (s3://, gs://, hdfs://, file://), opened
through nbmlops.store.filesystems, the registry every artifact root goes through.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from nbmlops.errors import NbmlopsError
from nbmlops.store.filesystems import CHUNK, Root, open_root


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
    def __init__(self, root: str | Path | Root) -> None:
        # one way to open a root, local or remote: nbmlops.store.filesystems (pyarrow only for URL roots)
        self._root = root if isinstance(root, Root) else open_root(root)
        self.root = self._root.url

    @property
    def is_local(self) -> bool:
        return self._root.is_local

    @property
    def files(self) -> Root:
        """The root itself, for named files kept beside the blobs (the shared step cache's entries)."""
        return self._root

    def _rel(self, sha256: str) -> str:
        return f"{sha256[:2]}/{_check_sha(sha256)}"

    def uri(self, sha256: str) -> str:
        return self._root.where(self._rel(sha256))

    # -- writing ------------------------------------------------------------------------------------------
    def put_bytes(self, data: bytes) -> StoredBlob:
        import hashlib

        sha = hashlib.sha256(data).hexdigest()
        if self.exists(sha) and self._reuse(sha):
            return StoredBlob(sha, len(data), self.uri(sha), False)
        self._root.write_chunks(self._rel(sha), (data,))
        return StoredBlob(sha, len(data), self.uri(sha), True)

    def put_file(self, path: str | Path) -> StoredBlob:
        sha, size = sha256_file(path)
        if self.exists(sha) and self._reuse(sha):
            return StoredBlob(sha, size, self.uri(sha), False)
        self._root.copy_file(self._rel(sha), path)
        return StoredBlob(sha, size, self.uri(sha), True)

    # -- reading ------------------------------------------------------------------------------------------
    def _reuse(self, sha256: str) -> bool:
        """An existing blob is reused: its mtime is renewed, so `nbmlops gc` (which keeps blobs younger than its
        grace period, store/gc.py) leaves it while the writer records the row naming it. False when it vanished
        meanwhile (the caller writes it again)."""
        if not self._root.is_local:
            return True
        try:
            os.utime(self._root.local / self._rel(sha256))  # type: ignore[attr-defined]  # a LocalRoot
        except FileNotFoundError:
            return False
        return True

    def exists(self, sha256: str) -> bool:
        return self._root.is_file(self._rel(sha256))

    def open(self, sha256: str) -> IO[bytes]:
        if not self.exists(sha256):
            raise ArtifactError(f"artifact {sha256} is not in the artifact store {self.root}")
        return self._root.open_input(self._rel(sha256))

    def get_bytes(self, sha256: str) -> bytes:
        with self.open(sha256) as handle:
            return handle.read()

    def local_path(self, sha256: str, cache_dir: str | Path | None = None) -> Path:
        """A local file holding the blob: the blob itself for a local root, else a download into cache_dir."""
        if self.is_local:
            if not self.exists(sha256):
                raise ArtifactError(f"artifact {sha256} is not in the artifact store {self.root}")
            return Path(self.uri(sha256))
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

    def download(self, sha256: str, target: str | Path) -> None:
        """Write the blob to the local file `target`, atomically, checking the bytes against their name as they
        come (ArtifactError when missing or when they don't match: nothing is left at `target` then)."""
        import hashlib

        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.urandom(4).hex()}.tmp")
        digest = hashlib.sha256()
        try:
            with self.open(sha256) as src, open(tmp, "wb") as out:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha256:
                raise ArtifactError(f"artifact {sha256} in {self.root} no longer matches its hash")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

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
        return self._root.delete(self._rel(sha256))
