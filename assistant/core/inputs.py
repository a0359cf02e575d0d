"""Text from outside the program, made safe at the edge: small text files
(the config, a questions list), command-line arguments and typed lines.

Linux hands Python bytes. Arguments and environment variables that are not
UTF-8 arrive as lone surrogates (PEP 383), which crash any later
``encode("utf-8")``; a file read as text raises `UnicodeDecodeError`; a
device or FIFO read as a file never ends. The functions here turn each of
those into valid text or into one `AssistantError` line.
"""

from __future__ import annotations

import codecs
import errno
import logging
import os
import re
import stat
import unicodedata
from pathlib import Path

from assistant.core.errors import AssistantError

log = logging.getLogger(__name__)

_FILE_KINDS = {
    stat.S_IFDIR: "is a directory",
    stat.S_IFCHR: "is a character device, not a regular file",
    stat.S_IFBLK: "is a block device, not a regular file",
    stat.S_IFIFO: "is a FIFO, not a regular file",
    stat.S_IFSOCK: "is a socket, not a regular file",
}


def read_small_text(
    path: Path,
    what: str,
    *,
    max_bytes: int,
    error: type[AssistantError],
    optional: bool = False,
    if_missing: str = "check the path",
) -> str | None:
    """The UTF-8 text of the regular file ``path`` (a leading byte-order mark
    is dropped), or `error` with one line starting with ``what`` and the path
    (ending with ``if_missing`` when there is no such file).

    With ``optional`` (a default location, not one the user named), a file
    that is absent, unreadable or not a regular file gives None instead, with
    a debug or warning log; a file that is there but bad is still an error.
    Never blocks on a FIFO and never reads a device: the kind of file is
    checked on the open descriptor before a byte is read, and at most
    ``max_bytes`` + 1 bytes are read.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            if optional:
                return None
            raise error(f"{what} {path}: no such file; {if_missing}") from None
        reason = {
            errno.ELOOP: "a symlink loop; point the link at a file",
            errno.EACCES: "permission denied; check its owner and permissions",
        }.get(exc.errno, exc.strerror or str(exc))
        if optional:
            # An unreadable home must not block every command: this location is optional.
            log.debug("%s %s skipped: %s", what, path, reason)
            return None
        raise error(f"{what} {path}: cannot read it ({reason})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = _FILE_KINDS.get(stat.S_IFMT(mode), "is not a regular file")
            if optional:
                log.warning("%s %s %s; skipped", what, path, kind)
                return None
            raise error(f"{what} {path} {kind}; pass a text file")
        raw = _read_at_most(fd, max_bytes + 1)
    except OSError as exc:
        raise error(f"{what} {path}: cannot read it ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(raw) > max_bytes:
        raise error(f"{what} {path} is over {max_bytes // 1024} KiB: not a {what} file")
    return decode_utf8(raw, f"{what} {path}", error)


def _read_at_most(fd: int, limit: int) -> bytes:
    parts = []
    while limit > 0 and (part := os.read(fd, min(limit, 1 << 16))):
        parts.append(part)
        limit -= len(part)
    return b"".join(parts)


def decode_utf8(raw: bytes, name: str, error: type[AssistantError]) -> str:
    """``raw`` as UTF-8 (a leading byte-order mark is allowed), else `error`
    naming ``name``, the first bad byte, its offset and its line."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise error(f"{name} is UTF-16 text; save it as UTF-8")
    bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        return raw[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = bom + exc.start
        line = raw.count(b"\n", 0, offset) + 1
        raise error(
            f"{name} is not UTF-8 text (byte 0x{raw[offset]:02x} at offset {offset}, "
            f"line {line}); save it as UTF-8"
        ) from None


REPLACEMENT = "\ufffd"

_TERMINAL_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
"""A terminal's escape sequence (an arrow key without line editing, a
colour code in pasted text): CSI, OSC, or a two-character escape."""


def repair_text(text: str) -> str:
    """``text`` as valid Unicode: bytes that were not UTF-8 (which Python
    keeps as surrogates U+DC80..U+DCFF) are decoded again with each bad byte
    replaced by U+FFFD, and any other lone surrogate becomes U+FFFD. Control
    characters other than tab and newline (NUL) become spaces, and terminal
    escape sequences are dropped. Everything else, emoji and bidi marks
    too, is kept."""
    out = bytearray()
    for c in _TERMINAL_ESCAPE.sub("", text):
        code = ord(c)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(code - 0xDC00)
        elif 0xD800 <= code <= 0xDFFF:
            out += REPLACEMENT.encode()
        elif c not in "\t\n" and unicodedata.category(c) == "Cc":
            out += b" "
        else:
            out += c.encode()
    return out.decode("utf-8", errors="replace")


def replaced_bytes(raw: str, repaired: str) -> bool:
    """Whether `repair_text` had to put U+FFFD into ``repaired``: ``raw``
    held bytes that are not UTF-8 or broken text. (Bytes that a non-UTF-8
    terminal encoding only failed to decode are recovered, not replaced.)"""
    return repaired.count(REPLACEMENT) > raw.count(REPLACEMENT)


def has_words(text: str) -> bool:
    """Whether ``text`` holds anything to answer: a letter, digit, mark,
    punctuation or symbol other than U+FFFD; not only spaces, control or
    format characters (zero-width spaces, bidi marks)."""
    return any(c != REPLACEMENT and unicodedata.category(c)[0] in "LMNPS" for c in text)
