"""An HTTP process's line to the settlement writer process (:mod:`minsheng.service.writer_process`).

``minsheng serve`` sets :data:`~minsheng.service.writer_process.SOCKET_ENV`; each HTTP process
then keeps one connection to each writer process per event loop, sends each settlement's body
and token hash to the writer of its person (:func:`~minsheng.service.writer_process.shard_of`)
and awaits the reply by tag. Should the writer process go away, the
requests waiting on it are answered 503 (nothing of them is acknowledged; a retry with the
same ``setl_id`` gets the settlement if it was committed) and the next request connects anew.
"""

from __future__ import annotations

import asyncio
import itertools
import os

from minsheng.core.errors import MinshengError
from minsheng.service.writer_process import (
    FRAME,
    REPLY,
    SOCKET_ENV,
    encode_request,
    shard_of,
    socket_paths,
)

Reply = tuple[int, bool, bytes]
"""HTTP status, whether it is a replay, JSON body."""


class WriterUnavailable(MinshengError):
    status = 503
    kind = "unavailable"

    def __init__(self) -> None:
        super().__init__("结算写入进程暂不可用，请稍后以同一结算流水号重试",
                         "the settlement writer is unavailable; retry with the same setl_id")


class RemoteWriter:
    def __init__(self, path: str) -> None:
        self.path = path
        self._tags = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Reply]] = {}
        self._stream: asyncio.StreamWriter | None = None
        self._connecting: asyncio.Lock | None = None

    async def settle(self, secret_hash: str, body: bytes) -> Reply:
        stream = self._stream or await self._connect()
        tag = next(self._tags)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[tag] = future
        stream.write(encode_request(tag, secret_hash, body))
        try:
            return await future
        finally:
            self._waiting.pop(tag, None)

    async def _connect(self) -> asyncio.StreamWriter:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._stream is None:
                try:
                    reader, stream = await asyncio.open_unix_connection(self.path)
                except OSError:
                    raise WriterUnavailable() from None
                self._stream = stream
                asyncio.get_running_loop().create_task(self._read(reader, stream))
            return self._stream

    async def _read(self, reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        try:
            while True:
                (n,) = FRAME.unpack(await reader.readexactly(FRAME.size))
                payload = await reader.readexactly(n)
                tag, status, replayed = REPLY.unpack_from(payload)
                future = self._waiting.get(tag)
                if future is not None and not future.done():
                    future.set_result((status, replayed, payload[REPLY.size:]))
        except (asyncio.IncompleteReadError, OSError):
            pass
        finally:
            if self._stream is stream:
                self._stream = None
            stream.close()
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(WriterUnavailable())


_remotes: dict[asyncio.AbstractEventLoop, list[RemoteWriter]] = {}
"""The lines of each event loop, one per writer process: a stream belongs to the loop it was
opened on (a server process has one loop for its life)."""


def remote_writer(psn_no: object = None) -> RemoteWriter | None:
    """The line, on the running loop, to the writer process that settles the claims of
    ``psn_no`` — if the server has writer processes."""
    paths = os.environ.get(SOCKET_ENV)
    if not paths:
        return None
    loop = asyncio.get_running_loop()
    remotes = _remotes.get(loop)
    if remotes is None:
        remotes = _remotes[loop] = [RemoteWriter(path) for path in socket_paths(paths)]
    return remotes[shard_of(psn_no, len(remotes))]
