"""The feature store's files under the artifact root: a local folder or any URL pyarrow's filesystems open.

Writes are atomic where readers could see them half done: temp file + rename locally; object stores publish an
object only once its upload completes.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any


class Files:
    def __init__(self, root: str) -> None:
        import pyarrow.fs

        self.root = root
        if "://" in root:
            self.fs, base = pyarrow.fs.FileSystem.from_uri(root)
            self.base = base.rstrip("/")
            self.local: Path | None = None
        else:
            self.local = Path(root).expanduser().resolve()
            self.fs = pyarrow.fs.LocalFileSystem()
            self.base = str(self.local)

    def path(self, rel: str) -> str:
        """The path pyarrow (with self.fs) reads and writes."""
        return f"{self.base}/{rel}"

    def where(self, rel: str) -> str:
        return str(self.local / rel) if self.local else f"{self.root.rstrip('/')}/{rel}"

    def makedirs(self, rel: str) -> None:
        if self.local:
            (self.local / rel).mkdir(parents=True, exist_ok=True)
        else:
            self.fs.create_dir(self.path(rel), recursive=True)

    def write_bytes(self, rel: str, data: bytes, *, exclusive: bool = False) -> bool:
        """Write atomically; with exclusive, False (and nothing written) when the file already exists."""
        if self.local:
            target = self.local / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
            tmp.write_bytes(data)
            if exclusive:
                try:
                    os.link(tmp, target)  # atomic create-if-absent: two writers of version N, one wins
                except FileExistsError:
                    return False
                finally:
                    tmp.unlink()
                return True
            os.replace(tmp, target)
            return True
        if exclusive and self.exists(rel):
            return False
        self.makedirs(rel.rsplit("/", 1)[0])
        with self.fs.open_output_stream(self.path(rel)) as out:
            out.write(data)
        return True

    def read_bytes(self, rel: str) -> bytes | None:
        if self.local:
            try:
                return (self.local / rel).read_bytes()
            except FileNotFoundError:
                return None
        if not self.exists(rel):
            return None
        with self.fs.open_input_stream(self.path(rel)) as handle:
            return handle.read()

    def exists(self, rel: str) -> bool:
        if self.local:
            return (self.local / rel).exists()
        import pyarrow.fs

        return self.fs.get_file_info(self.path(rel)).type != pyarrow.fs.FileType.NotFound

    def listdir(self, rel: str) -> list[str]:
        """Names directly under rel (none when it doesn't exist), hidden temp files left out."""
        if self.local:
            folder = self.local / rel
            names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        else:
            import pyarrow.fs

            infos: list[Any] = self.fs.get_file_info(pyarrow.fs.FileSelector(self.path(rel), allow_not_found=True))
            names = [info.base_name for info in infos]
        return sorted(n for n in names if not n.startswith("."))

    def delete(self, rel: str) -> None:
        if self.local:
            (self.local / rel).unlink(missing_ok=True)
        elif self.exists(rel):
            self.fs.delete_file(self.path(rel))
