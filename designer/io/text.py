"""Text files as users have them: gzip sniffed by its magic bytes, UTF-8 (with or without a BOM) or UTF-16.

Every reader of user files goes through ``read_text`` so that a Latin-1 table, a binary file or a
gzipped FASTA without a ``.gz`` name is one line naming the file, never a ``UnicodeDecodeError``.
"""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from pathlib import Path

from designer.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le`` / ``-be`` when every other byte of the start is zero (ASCII text saved as UTF-16), else None."""
    head = data[:2000]
    if len(head) < 4 or len(head) % 2:
        head = head[: len(head) - len(head) % 2]
    if len(head) < 4:
        return None
    if head[1::2].count(0) > 0.9 * (len(head) // 2):
        return "utf-16-le"
    if head[0::2].count(0) > 0.9 * (len(head) // 2):
        return "utf-16-be"
    return None


def decode_bytes(data: bytes, where: str, lenient: bool = False) -> str:
    """The text of a file's bytes (gunzipped when they start with gzip's magic).

    Args:
        lenient: undecodable bytes become U+FFFD instead of an error (CIF files, whose comments
            often hold Latin-1 author names that do not matter to the structure).

    Raises:
        DataError: naming ``where``, for a broken gzip stream, binary data, or (unless ``lenient``)
            text in another encoding.
    """
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            raise DataError(f"{where}: a damaged or truncated gzip file; recompress it or give the plain text") from None
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc)
            except UnicodeDecodeError:
                raise DataError(f"{where}: starts with a {enc} byte-order mark but is not {enc} text; "
                                "save it as UTF-8") from None
    enc = _utf16_without_bom(data) if b"\x00" in data[:2000] else None
    if enc:
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            pass
    if b"\x00" in data:
        raise DataError(f"{where}: a binary file, not text; give a CSV, FASTA or CIF text file (gzip allowed)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if lenient:
            return data.decode("utf-8", errors="replace")
        raise DataError(f"{where}: not UTF-8 or UTF-16 text (byte {exc.start} is 0x{data[exc.start]:02x}, "
                        "e.g. Latin-1); save the file as UTF-8") from None


def read_text(path: str | Path, lenient: bool = False) -> str:
    """``decode_bytes`` of a file (DataError naming it when it cannot be read)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise DataError(f"{path}: a folder, where a file is expected") from None
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return decode_bytes(data, str(path), lenient)


def open_text(path: str | Path) -> io.StringIO:
    """A text handle on ``read_text(path)`` (newlines kept as in the file, for the csv module)."""
    return io.StringIO(read_text(path), newline="")
