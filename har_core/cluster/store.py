"""A folder that cluster workers and the driver both write: a local or shared path, a file:// URL, or an
object-store URI (s3://, gs://, abfs://, hdfs://) through pyarrow's filesystems.

Every file appears whole or not at all. On a filesystem with renames (local disks, NFS and other shared
mounts, HDFS) a file is written to a hidden `.partial-<job>-…` sibling and renamed over its name; an object
store's single PUT already makes an object appear whole, so objects are written straight to their key. A
worker killed mid-write leaves only a partial named for its job, which that job's driver sweeps at the end.
"""
from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any, Callable

from pyarrow import fs

from ..config import is_object_store, local_path
from ..errors import HarError

PARTIAL = ".partial-"
_WHOLE_PUTS = ("s3", "gcs", "abfs")  # pyarrow's type names of the stores where an object appears only when whole


class Store:
    """Files under one root, named by keys relative to it ('clips-v1-L20-S260-rgb/<key>.npz')."""

    def __init__(self, location: str):
        self.location = location
        if is_object_store(location):
            try:
                self.fs, self.root = fs.FileSystem.from_uri(location)
            except Exception as exc:  # noqa: BLE001  pyarrow raises ArrowInvalid, OSError or its own for a URI
                raise HarError(f"cannot open {location}: {str(exc).splitlines()[0]}") from None
        else:
            self.fs, self.root = fs.LocalFileSystem(), str(local_path(location).resolve())
        self.renames = self.fs.type_name not in _WHOLE_PUTS

    @property
    def local(self) -> bool:
        return isinstance(self.fs, fs.LocalFileSystem)

    def path(self, key: str) -> str:
        return f"{self.root}/{key}" if key else self.root

    def check_folder(self, what: str) -> None:
        """Make the root (a folder) if it is missing; refuse a root that is a file, or a store that does not
        answer, in one line."""
        try:
            info = self.fs.get_file_info(self.root)
            if info.type == fs.FileType.File:
                raise HarError(f"{what} {self.location} is a file, not a folder")
            if info.type == fs.FileType.NotFound:
                self.fs.create_dir(self.root, recursive=True)
        except OSError as exc:
            raise HarError(f"cannot use {what} {self.location}: {str(exc).splitlines()[0]}") from None

    def names(self, folder: str) -> set[str]:
        """The file names in a folder (none if it does not exist): one listing, however many files."""
        selector = fs.FileSelector(self.path(folder), allow_not_found=True)
        return {info.base_name for info in self.fs.get_file_info(selector) if info.type == fs.FileType.File}

    def exists(self, key: str) -> bool:
        return self.fs.get_file_info(self.path(key)).type == fs.FileType.File

    def read(self, key: str) -> bytes:
        with self.fs.open_input_stream(self.path(key)) as fh:
            return fh.read()

    def write(self, key: str, data: bytes, job: str) -> None:
        """Write `data` under `key`, whole or not at all (see the module's docstring)."""
        self._put(key, job, lambda out: out.write(data))

    def upload(self, key: str, file: Path, job: str) -> None:
        """A local file (a finished video) stored under `key`, whole or not at all, streamed."""
        with open(file, "rb") as src:
            self._put(key, job, lambda out: shutil.copyfileobj(src, out, 1 << 20))

    def _put(self, key: str, job: str, fill: Callable[[Any], object]) -> None:
        target = self.path(key)
        if not self.renames:  # an object store: no folders to make, and a PUT is whole by itself
            with self.fs.open_output_stream(target) as out:
                fill(out)
            return
        folder, name = target.rsplit("/", 1)
        self.fs.create_dir(folder, recursive=True)
        tmp = f"{folder}/{PARTIAL}{job}-{uuid.uuid4().hex[:8]}-{name}"
        try:
            with self.fs.open_output_stream(tmp) as out:
                fill(out)
            self.fs.move(tmp, target)
        except BaseException:
            if self.fs.get_file_info(tmp).type == fs.FileType.File:
                self.fs.delete_file(tmp)
            raise

    def sweep(self, folders: list[str], job: str) -> int:
        """Remove the partial files of `job` in `folders` (left by workers that died mid-write); how many."""
        removed = 0
        for folder in folders:
            for name in self.names(folder):
                if name.startswith(f"{PARTIAL}{job}-"):
                    self.fs.delete_file(self.path(f"{folder}/{name}" if folder else name))
                    removed += 1
        return removed
