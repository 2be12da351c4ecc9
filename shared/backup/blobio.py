"""Streaming between COPY and Blob Storage, never holding a table in memory.

Writing: psycopg2's `copy_expert` calls `write()` once per row. `CopySink` gathers rows into
1 MiB chunks, hashes and counts them (the uncompressed content), gzips them and hands the
compressed bytes to `BlockUploader`, which stages fixed-size blocks on a few threads (so the
database read and the upload overlap) and commits the block list on `close()`. Staged blocks
that are never committed are not a blob: a run that dies mid-table leaves nothing behind that
could be mistaken for a file, and Azure discards uncommitted blocks after a week.

Reading: blobs are downloaded to a spool file while their sha256 is computed, so a restore can
check every blob before it writes anything, then loads from the local copies.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import queue
import threading
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from shared.backup.manifest import BlobEntry

CHUNK_BYTES = 1 << 20
BLOCK_BYTES = 8 << 20
UPLOAD_THREADS = 4
# zlib level 4: half the CPU of level 6 (pg_dump -Fc's default) for about 6 % more bytes.
GZIP_LEVEL = 4
READ_BYTES = 1 << 20


class BlockUploader:
    """A write-only file that becomes one block blob on close(); sha256 of what was stored.

    A blob that fits in one block is stored with a single Put Blob on close(); a larger one is
    staged block by block on a few threads and committed on close(). Either way nothing is
    visible under the blob's name before close() succeeds.
    """

    def __init__(
        self,
        blob_client: Any,
        *,
        block_bytes: int = BLOCK_BYTES,
        threads: int = UPLOAD_THREADS,
        metadata: dict[str, str] | None = None,
    ) -> None:
        self._blob = blob_client
        self._block_bytes = block_bytes
        self._buffer = bytearray()
        self._ids: list[str] = []
        self._pending: deque[Future[Any]] = deque()
        self._threads = threads
        self._executor: ThreadPoolExecutor | None = None
        self._metadata = metadata
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.sha256.update(data)
        self.bytes += len(data)
        self._buffer += data
        while len(self._buffer) >= self._block_bytes:
            block = bytes(self._buffer[: self._block_bytes])
            del self._buffer[: self._block_bytes]
            self._stage(block)

    def _stage(self, block: bytes) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._threads, thread_name_prefix="blob-up"
            )
        block_id = f"{len(self._ids):08d}"
        self._ids.append(block_id)
        # Bound the memory in flight: wait for the oldest upload before queueing more.
        while len(self._pending) >= self._threads:
            self._pending.popleft().result()
        self._pending.append(
            self._executor.submit(self._blob.stage_block, block_id, block, length=len(block))
        )

    def close(self) -> None:
        """Store what is left: only now does the blob exist."""
        from azure.storage.blob import BlobBlock

        try:
            if not self._ids:
                self._blob.upload_blob(bytes(self._buffer), overwrite=True, metadata=self._metadata)
                return
            if self._buffer:
                self._stage(bytes(self._buffer))
                self._buffer.clear()
            while self._pending:
                self._pending.popleft().result()
            self._blob.commit_block_list(
                [BlobBlock(block_id=block_id) for block_id in self._ids], metadata=self._metadata
            )
        finally:
            self.abort()

    def abort(self) -> None:
        """Give up: nothing is committed, so no blob appears."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


class _ChunkedRaw(io.RawIOBase):
    """Receives the 1 MiB chunks of the BufferedWriter in front of CopySink."""

    def __init__(self, sink: CopySink) -> None:
        self._sink = sink

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._sink.take_chunk(bytes(data))
        return len(data)


class CopySink:
    """The file `copy_expert(... TO STDOUT ...)` writes to: count, hash, gzip, upload.

    psycopg2 calls `write()` once per row; a C-level `io.BufferedWriter` takes those calls and
    hands 1 MiB chunks on. Chunks are counted, hashed and gzip'd on one worker thread (zlib and
    hashlib release the GIL, so this overlaps reading the next rows), in order, through a small
    bounded queue. A table that fits in one chunk never starts the thread.
    """

    QUEUE_CHUNKS = 4

    def __init__(self, uploader: BlockUploader, *, level: int = GZIP_LEVEL) -> None:
        self._uploader = uploader
        self._gzip = zlib.compressobj(level, zlib.DEFLATED, 31)
        self.content_sha256 = hashlib.sha256()
        self.rows = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=self.QUEUE_CHUNKS)
        self._error: BaseException | None = None
        self._worker: threading.Thread | None = None
        self._closing = False
        self._aborted = False
        self._front = io.BufferedWriter(_ChunkedRaw(self), buffer_size=CHUNK_BYTES)
        self.write = self._front.write  # psycopg2 calls this per row: keep it in C

    def _process(self, chunk: bytes) -> None:
        # COPY's text format escapes newlines inside values, so each line is one row.
        self.rows += chunk.count(b"\n")
        self.content_sha256.update(chunk)
        compressed = self._gzip.compress(chunk)
        if compressed:
            self._uploader.write(compressed)

    def _work(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain, so the producer never blocks on a dead worker
            try:
                self._process(chunk)
            except BaseException as exc:
                self._error = exc

    def take_chunk(self, chunk: bytes) -> None:
        if self._aborted:
            return
        if self._error is not None:
            raise self._error
        if self._worker is None and self._closing:
            self._process(chunk)  # a small table: the only chunk, no thread needed
            return
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="copy-gzip", daemon=True)
            self._worker.start()
        self._queue.put(chunk)

    def _finish_worker(self) -> None:
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join()
            self._worker = None

    def close(self, name: str) -> BlobEntry:
        """Finish the gzip stream, commit the blob, and describe it for the manifest."""
        try:
            self._closing = True
            self._front.flush()
            self._finish_worker()
            if self._error is not None:
                raise self._error
            self._uploader.write(self._gzip.flush())
            self._uploader.close()
        except BaseException:
            self._uploader.abort()
            raise
        return BlobEntry(
            name=name,
            bytes=self._uploader.bytes,
            sha256=self._uploader.sha256.hexdigest(),
            rows=self.rows,
            content_sha256=self.content_sha256.hexdigest(),
        )

    def abort(self) -> None:
        self._aborted = True
        self._finish_worker()
        self._uploader.abort()


class HashingReader:
    """What `copy_expert(... FROM STDIN ...)` reads: a gzip file, decompressed ahead on a thread.

    The worker decompresses, hashes and counts (zlib and hashlib release the GIL) while
    psycopg2 sends the previous chunk, so the two overlap; QUEUE_CHUNKS bounds the memory.
    """

    QUEUE_CHUNKS = 4

    def __init__(self, path: Path) -> None:
        self._path = path
        self.content_sha256 = hashlib.sha256()
        self.rows = 0
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(
            maxsize=self.QUEUE_CHUNKS
        )
        self._pending = b""
        self._done = False
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="copy-gunzip", daemon=True)
        self._worker.start()

    def _work(self) -> None:
        try:
            with gzip.open(self._path, "rb") as raw:
                while not self._stop.is_set() and (chunk := raw.read(READ_BYTES)):
                    self.content_sha256.update(chunk)
                    self.rows += chunk.count(b"\n")
                    self._queue.put(chunk)
            self._queue.put(None)
        except BaseException as exc:
            self._queue.put(exc)

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._pending) < size):
            item = self._queue.get()
            if item is None:
                self._done = True
            elif isinstance(item, BaseException):
                self._done = True
                raise item
            else:
                self._pending += item
        if size < 0:
            data, self._pending = self._pending, b""
        else:
            data, self._pending = self._pending[:size], self._pending[size:]
        return data

    def close(self) -> None:
        """Stop the worker (also when COPY failed half-way) and wait for it."""
        self._stop.set()
        while self._worker.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.1)
        self._worker.join()


class HashingWriter:
    """A file-like writer that only hashes and counts (for checksums of a live table)."""

    def __init__(self) -> None:
        self.content_sha256 = hashlib.sha256()
        self.rows = 0
        self._chunk = bytearray()

    def write(self, data: bytes) -> None:
        self._chunk += data
        if len(self._chunk) >= CHUNK_BYTES:
            self.flush()

    def flush(self) -> None:
        self.rows += self._chunk.count(b"\n")
        self.content_sha256.update(self._chunk)
        self._chunk.clear()

    def hexdigest(self) -> str:
        self.flush()
        return self.content_sha256.hexdigest()


def download_to_file(blob_client: Any, path: Path, *, threads: int = UPLOAD_THREADS) -> str:
    """Download a blob to `path`; return the sha256 of its bytes."""
    with path.open("wb") as handle:
        blob_client.download_blob(max_concurrency=threads).readinto(handle)
    return file_sha256(path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(READ_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def upload_small(blob_client: Any, data: bytes, metadata: dict[str, str] | None = None) -> None:
    """Upload a small document (a manifest) in one request, replacing any earlier one."""
    blob_client.upload_blob(data, overwrite=True, metadata=metadata)
