"""A minimal FastCGI client: one responder request, for PHP-FPM's status page.

FastCGI 1.0 frames everything in records: an 8-byte header (version 1, type, request id,
content length, padding length, a reserved byte), the content, the padding. A request is a
BEGIN_REQUEST record (role RESPONDER, flags 0: the server closes the connection when done),
PARAMS records holding name-value pairs and an empty PARAMS record ending them, an empty
STDIN record (no body); the answer is STDOUT and STDERR records until END_REQUEST.

Everything is bounded: the connection and every read time out, and an answer larger than a
limit is refused, so a listener that is not PHP-FPM (or one that stalls) cannot hang or
flood the caller.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterable, Iterator, Mapping

__all__ = [
    "BEGIN_REQUEST",
    "END_REQUEST",
    "PARAMS",
    "STDERR",
    "STDIN",
    "STDOUT",
    "FastCGIError",
    "Record",
    "decode_params",
    "decode_records",
    "encode_params",
    "encode_record",
    "request",
    "request_bytes",
]

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7
_RESPONDER = 1
_HEADER = struct.Struct(">BBHHBx")
#: A record holds at most 65535 bytes of content.
_MAX_CONTENT = 0xFFFF


class FastCGIError(OSError):
    """The peer did not answer as a FastCGI responder (or too slowly, or too much)."""


Record = tuple[int, int, bytes]  # (type, request id, content)


def encode_record(kind: int, content: bytes = b"", request_id: int = 1) -> bytes:
    """One record, its content padded to a multiple of 8 bytes as the specification advises."""
    if len(content) > _MAX_CONTENT:
        raise ValueError("a FastCGI record holds at most 65535 bytes")
    padding = -len(content) % 8
    return _HEADER.pack(1, kind, request_id, len(content), padding) + content + b"\0" * padding


def _length(n: int) -> bytes:
    # Lengths up to 127 take one byte; longer ones four, with the top bit set.
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def encode_params(params: Mapping[str, str]) -> bytes:
    """Name-value pairs as PARAMS content (UTF-8)."""
    out = b""
    for name, value in params.items():
        key, val = name.encode(), value.encode()
        out += _length(len(key)) + _length(len(val)) + key + val
    return out


def decode_params(data: bytes) -> dict[str, str]:
    """The inverse of encode_params; ValueError when the pairs are cut short."""
    out: dict[str, str] = {}
    at = 0

    def length() -> int:
        nonlocal at
        if at >= len(data):
            raise ValueError("truncated FastCGI name-value pair")
        if data[at] < 128:
            at += 1
            return data[at - 1]
        if at + 4 > len(data):
            raise ValueError("truncated FastCGI name-value pair")
        at += 4
        return struct.unpack(">I", data[at - 4 : at])[0] & 0x7FFFFFFF

    while at < len(data):
        n, v = length(), length()
        if at + n + v > len(data):
            raise ValueError("truncated FastCGI name-value pair")
        out[data[at : at + n].decode()] = data[at + n : at + n + v].decode()
        at += n + v
    return out


def decode_records(data: bytes) -> Iterator[Record]:
    """The complete records at the start of `data` (a trailing partial one is left out)."""
    at = 0
    while at + _HEADER.size <= len(data):
        version, kind, request_id, length, padding = _HEADER.unpack_from(data, at)
        if version != 1:
            raise FastCGIError(f"not a FastCGI record (version {version})")
        end = at + _HEADER.size + length
        if end + padding > len(data):
            return
        yield kind, request_id, data[at + _HEADER.size : end]
        at = end + padding


def request_bytes(params: Mapping[str, str], body: bytes = b"", request_id: int = 1) -> bytes:
    """BEGIN_REQUEST (responder, close when done), PARAMS, STDIN: one whole request."""
    begin = encode_record(BEGIN_REQUEST, struct.pack(">HB5x", _RESPONDER, 0), request_id)
    content = encode_params(params)
    chunks = [content[i : i + _MAX_CONTENT] for i in range(0, len(content), _MAX_CONTENT)]
    out = begin + b"".join(encode_record(PARAMS, c, request_id) for c in chunks)
    out += encode_record(PARAMS, b"", request_id)
    for i in range(0, len(body), _MAX_CONTENT):
        out += encode_record(STDIN, body[i : i + _MAX_CONTENT], request_id)
    return out + encode_record(STDIN, b"", request_id)


def _connect(address: str, timeout: float) -> socket.socket:
    """`unix:/path` or `tcp:HOST:PORT` (an IPv6 host in brackets), as backends.py writes them."""
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: str | tuple[str, int] = address[5:]
    elif address.startswith("tcp:"):
        host, _, port = address[4:].rpartition(":")
        host = host.strip("[]")
        if host in ("", "*", "0.0.0.0"):
            host = "127.0.0.1"  # a wildcard listener answers on loopback
        elif host == "::":
            host = "::1"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        target = (host, int(port))
    else:
        raise FastCGIError(f"unknown FastCGI address {address!r}")
    sock.settimeout(timeout)
    try:
        sock.connect(target)
    except OSError:
        sock.close()
        raise
    return sock


def request(
    address: str,
    params: Mapping[str, str],
    *,
    timeout: float = 2.0,
    limit: int = 64 * 1024,
) -> tuple[bytes, bytes]:
    """(stdout, stderr) of one GET-like request to the responder at `address`.

    The whole exchange ends within `timeout` seconds; more than `limit` bytes of answer, a
    connection closed before END_REQUEST, or records that are not FastCGI raise
    FastCGIError (OSError, like a refused connection).
    """
    deadline = time.monotonic() + timeout
    with _connect(address, timeout) as sock:
        sock.sendall(request_bytes(params))
        data = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise FastCGIError(f"{address}: no complete answer within {timeout:g} s")
            sock.settimeout(left)
            try:
                chunk = sock.recv(16384)
            except TimeoutError:
                raise FastCGIError(f"{address}: no complete answer within {timeout:g} s") from None
            if not chunk:
                raise FastCGIError(f"{address}: connection closed before END_REQUEST")
            data += chunk
            if len(data) > limit:
                raise FastCGIError(f"{address}: answer larger than {limit} bytes")
            records = list(decode_records(data))
            if any(kind == END_REQUEST for kind, _, _ in records):
                return _streams(records)


def _streams(records: Iterable[Record]) -> tuple[bytes, bytes]:
    out = err = b""
    for kind, _, content in records:
        if kind == STDOUT:
            out += content
        elif kind == STDERR:
            err += content
    return out, err
