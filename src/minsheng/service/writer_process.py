"""The settlement writer in a process of its own, fed by the HTTP processes over a local socket.

In one process the HTTP event loop and the settlement writer share one interpreter lock: at a
thousand settlements a second the writer was busy all the time, and spent about half of each
batch not on its own CPU but waiting, for the database and for that lock
(docs/performance.md, sitting 4; with a process of its own throughput was higher in 3 of 4
measured pairs, the p99 no lower). ``minsheng serve`` therefore starts writer processes
(:class:`WriterProcess`; one unless ``--writers N``, see below), and its HTTP processes (one or
``--workers N``) hand each ``POST /api/v1/settlements`` to one of them
(:mod:`minsheng.api.writer_client`): the body as sent and the hash of its bearer token.
The writer process parses the claim, checks the token and the role in the batch, settles and
commits exactly as the writer does in process (:mod:`minsheng.service.writer`), and sends
back each reply — its HTTP status, whether it is a replay, and the JSON body — once the batch
has committed. Claims from all HTTP processes join the same batches.

The wire: each message is a 4-byte big-endian length and a payload. A request is its tag (8
bytes, the HTTP process's own number for it), the token's hash (64 hexadecimal characters) and
the body; a reply is the tag, the status (2 bytes), a replay flag (1 byte) and the body.

The writer process dies with the process that started it (``PR_SET_PDEATHSIG``), so a server
killed with ``kill -9`` leaves no writer behind; a transaction it had not committed is rolled
back by the database, and its claims were never acknowledged.

``minsheng serve --writers N`` starts N writer processes, each settling the claims of its own
share of the persons (:func:`shard_of` their ``psn_no``): one writer's Python runs on one core
at most, N of them on N. Claims of one person all go to one writer, so writers never wait
for each other's person locks; the database still orders them where they meet — the audit
head, taken last in each transaction, and a ``setl_id`` sent for two different persons at
once (the unique key: the later batch is rolled back and settled again, its claim answered
409). :data:`SOCKET_ENV` then holds the N sockets' paths, separated by ``os.pathsep``. With
more than one, each writer settles one batch at a time (``MINSHENG_WRITER_PIPELINE=0``): two
pipelined writers on 2 cores measured slower than either one pipelined writer or two plain
ones (docs/performance.md, sitting 6).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson

from minsheng.core.errors import InputError, MinshengError
from minsheng.core.json_body import load_json
from minsheng.service.settlement_batch import SettleReply, SettleRequest

SOCKET_ENV = "MINSHENG_WRITER_SOCKET"
"""Set by ``minsheng serve`` for its HTTP processes: the writer processes' sockets (one path,
or several separated by ``os.pathsep``)."""
FRAME = struct.Struct(">I")
REQUEST = struct.Struct(">Q64s")
REPLY = struct.Struct(">QH?")
INTERNAL_ERROR = orjson.dumps({"error": "internal", "message": "服务内部错误，结算未完成",
                               "message_en": "internal error, nothing was settled"})
log = logging.getLogger("minsheng.service.writer_process")


# -- the wire ---------------------------------------------------------------------------------
def shard_of(psn_no: object, writers: int) -> int:
    """Which of ``writers`` writer processes settles the claims of ``psn_no``: the same in
    every HTTP process and every run (CRC-32 of its UTF-8 text, not Python's salted
    ``hash``). A body without a text ``psn_no`` goes to the first: it is refused there."""
    if writers <= 1 or not isinstance(psn_no, str):
        return 0
    return zlib.crc32(psn_no.encode("utf-8", "surrogatepass")) % writers


def socket_paths(value: str) -> list[str]:
    """The writer sockets named in :data:`SOCKET_ENV`."""
    return [path for path in value.split(os.pathsep) if path]


def encode_request(tag: int, secret_hash: str, body: bytes) -> bytes:
    payload = REQUEST.pack(tag, secret_hash.encode("ascii")) + body
    return FRAME.pack(len(payload)) + payload


def encode_reply(tag: int, status: int, replayed: bool, body: bytes) -> bytes:
    payload = REPLY.pack(tag, status, replayed) + body
    return FRAME.pack(len(payload)) + payload


def reply_parts(outcome: SettleReply | BaseException) -> tuple[int, bool, bytes]:
    """An outcome of the writer as HTTP sends it: status, replay, JSON body (an error in the
    format of :func:`minsheng.api.responses.error_response`)."""
    if isinstance(outcome, SettleReply):
        return 200, outcome.replayed, outcome.body
    if isinstance(outcome, MinshengError):
        return outcome.status, False, orjson.dumps(outcome.to_dict())
    return 500, False, INTERNAL_ERROR


def split_frames(buffer: bytearray) -> list[bytes]:
    """The whole messages at the start of ``buffer``, taken out of it."""
    out = []
    start = 0
    while len(buffer) - start >= FRAME.size:
        (n,) = FRAME.unpack_from(buffer, start)
        if len(buffer) - start - FRAME.size < n:
            break
        out.append(bytes(buffer[start + FRAME.size:start + FRAME.size + n]))
        start += FRAME.size + n
    del buffer[:start]
    return out


# -- the writer process's side ----------------------------------------------------------------
class Channel:
    """One HTTP process's connection: the writer answers a batch's requests of it in one send."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()

    def answer(self, answers: Sequence[tuple[int, SettleReply | BaseException]]) -> None:
        data = b"".join(encode_reply(tag, *reply_parts(outcome)) for tag, outcome in answers)
        with self._lock, contextlib.suppress(OSError):  # the HTTP process went away
            self._sock.sendall(data)


def request_of(payload: bytes, channel: Channel) -> SettleRequest:
    """A message from an HTTP process → a request for the writer (its body parsed here; a bad
    body travels with it, to be answered after the token and the role are checked)."""
    from minsheng.service.settlements import parse_request

    tag, secret = REQUEST.unpack_from(payload)
    secret_hash = secret.decode("ascii")
    try:
        raw = load_json(payload[REQUEST.size:])
    except InputError as error:
        request = SettleRequest(None, None, "", None, secret_hash, error=error)
    else:
        request = parse_request(raw, secret_hash=secret_hash, defer_errors=True)
    request.channel, request.tag = channel, tag
    return request


def serve_connection(sock: socket.socket,
                     submit: Callable[[list[SettleRequest]], None]) -> None:
    """Read requests until the HTTP process closes; those read together join the writer's
    queue together."""
    channel = Channel(sock)
    buffer = bytearray()
    with sock:
        while True:
            try:
                data = sock.recv(1 << 16)
            except OSError:
                return
            if not data:
                return
            buffer += data
            requests = [request_of(p, channel) for p in split_frames(buffer)]
            if requests:
                submit(requests)


def _die_with_parent(parent: int) -> None:
    """Linux: SIGKILL this process when the process that started it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before prctl
        os._exit(1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="minsheng settlement writer process")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    _die_with_parent(args.parent)
    logging.basicConfig(level=logging.WARNING)
    from minsheng.service.db import get_database
    from minsheng.service.writer import writer_for

    writer = writer_for(get_database())
    # what is loaded by now lives as long as the process: out of the garbage collector's
    # walks (as the HTTP processes do): at concurrency 32 on PostgreSQL, p99 13–15 ms
    # against 19–33 ms without, in 3 interleaved pairs (docs/performance.md, sitting 10)
    gc.collect()
    gc.freeze()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(args.socket)
    listener.bind(args.socket)
    listener.listen(64)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve_connection, args=(conn, writer.submit_many),
                         daemon=True, name="minsheng-writer-channel").start()


# -- the server's side ------------------------------------------------------------------------
class WriterProcess:
    """Starts the writer process for ``minsheng serve``, starts it again should it die, and
    stops it with the server. Its socket is :attr:`path` (also set as :data:`SOCKET_ENV`)."""

    def __init__(self) -> None:
        self._folder = tempfile.mkdtemp(prefix="minsheng-writer-")
        self.path = str(Path(self._folder) / "writer.sock")
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watch: threading.Thread | None = None

    def start(self, timeout: float = 60) -> None:
        self._launch(timeout)
        self._watch = threading.Thread(target=self._watch_over, daemon=True,
                                       name="minsheng-writer-watch")
        self._watch.start()

    def _launch(self, timeout: float) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "minsheng.service.writer_process", "--socket", self.path,
             "--parent", str(os.getpid())])
        deadline = time.monotonic() + timeout
        while True:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(self.path)
                    return
                except OSError:
                    pass
            if self._proc.poll() is not None:
                raise RuntimeError(f"结算写入进程未能启动（退出码 {self._proc.returncode}）")
            if time.monotonic() > deadline:
                raise RuntimeError("结算写入进程未能启动（超时）")
            time.sleep(0.05)

    def _watch_over(self) -> None:
        while not self._stopping.is_set():
            proc = self._proc
            assert proc is not None
            code = proc.wait()
            if self._stopping.is_set():
                return
            log.error("结算写入进程退出（%s），重新启动 / settlement writer exited, restarting",
                      code)
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            try:
                self._launch(60)
            except RuntimeError:
                log.exception("结算写入进程无法重新启动")
                time.sleep(1)

    def stop(self) -> None:
        self._stopping.set()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        shutil.rmtree(self._folder, ignore_errors=True)


if __name__ == "__main__":
    main()
