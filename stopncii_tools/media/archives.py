"""Pictures inside zip archives, read in memory: nothing is ever extracted to disk.

Each picture or video inside an archive becomes one item named ``archive.zip!folder/name.jpg``
(``outer.zip!inner.zip!name.jpg`` inside a nested archive). Archives get the limits any other
input gets, checked before anything is unpacked: how many files, how large each would be once
unpacked and in all, how deep archives nest, and how strongly each file is compressed (a zip
bomb packs gigabytes into kilobytes). A file that unpacks to another size than the archive
declares is refused too. Each refusal names the file and the reason; the rest go on.

The pictures embedded in PDF documents are read the same way (``report.pdf!page 2/img0.jpg``),
with pypdf from the ``documents`` extra, whose own limits bound every stream it unpacks; pages
and pictures per document are capped too. Without the extra, each PDF is named as not read.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

MAX_MEMBERS: Final = 10_000
MAX_MEMBER_BYTES: Final = 512 * 1024 * 1024  # unpacked, per file (a video can be large)
MAX_TOTAL_BYTES: Final = 4 * 1024 * 1024 * 1024  # unpacked, all files of one archive together
MAX_RATIO: Final = 100  # unpacked per packed byte; real photos and videos barely compress
RATIO_FROM_BYTES: Final = 1024 * 1024  # small files may compress well (text, blank pictures)
MAX_DEPTH: Final = 2  # archives inside archives inside archives are refused

_ZIP_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06")  # a first entry, or an empty archive
_PDF_MAGIC: Final = b"%PDF-"
PDF_NOT_READ: Final = ("this is a PDF document; pictures inside PDF files are read with the documents extra: "
                       "pip install 'stopncii-tools[documents]'. Or save the pictures out of it and check those")
MAX_PDF_PAGES: Final = 2_000


@dataclass(frozen=True)
class Member:
    """One file inside an archive, unpacked in memory, or the reason it could not be."""

    name: str  # archive.zip!folder/name.jpg
    data: bytes | None = None
    problem: str | None = None


def kind_of_file(path: Path) -> str | None:
    """``"zip"`` or ``"pdf"`` from the first bytes of the file; None for anything else (or unreadable:
    reading it again reports why)."""
    try:
        if not path.is_file():  # a FIFO or a device would block or never end: hashing refuses them
            return None
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    return "pdf" if head.startswith(_PDF_MAGIC) else None


def archive_members(path: Path) -> Iterator[Member]:
    """Every file inside the zip archive at ``path`` (nested archives opened too), in memory."""
    try:
        with open(path, "rb") as f:
            yield from _members(f, str(path), depth=0)
    except OSError as exc:
        yield Member(str(path), problem=f"cannot read the archive: {exc.strerror or exc}")


def _members(source: IO[bytes], name: str, depth: int) -> Iterator[Member]:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        yield Member(name, problem=f"this zip archive is damaged or incomplete ({exc})")
        return
    with archive:
        files = [info for info in archive.infolist() if not info.is_dir()]
        if len(files) > MAX_MEMBERS:
            yield Member(name, problem=f"the archive holds {len(files)} files; at most {MAX_MEMBERS} are read")
            return
        total = sum(info.file_size for info in files)
        if total > MAX_TOTAL_BYTES:
            yield Member(name, problem=f"the archive would unpack to {total / 2**30:.1f} GB; at most "
                                       f"{MAX_TOTAL_BYTES // 2**30} GB are read (this is how zip bombs look)")
            return
        for info in files:
            inner = f"{name}!{info.filename}"
            member = _read(archive, info, inner)
            if member.data is not None and member.data.startswith(_ZIP_MAGIC):
                if depth + 1 > MAX_DEPTH:
                    yield Member(inner, problem=f"archives nested more than {MAX_DEPTH} deep are not opened")
                else:
                    yield from _members(io.BytesIO(member.data), inner, depth + 1)
                continue
            if member.data is not None and member.data.startswith(_PDF_MAGIC):
                yield from document_pictures(member.data, inner)
                continue
            yield member


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> Member:
    """The file's bytes, after every check that can be made before unpacking it."""
    if info.flag_bits & 0x1:
        return Member(name, problem="this file is protected by a password; it cannot be read")
    if info.file_size > MAX_MEMBER_BYTES:
        return Member(name, problem=f"it would unpack to {info.file_size / 2**20:.0f} MB; "
                                    f"at most {MAX_MEMBER_BYTES // 2**20} MB are read")
    if info.file_size >= RATIO_FROM_BYTES and info.file_size > MAX_RATIO * max(1, info.compress_size):
        return Member(name, problem=f"it is compressed more than {MAX_RATIO} to 1, the mark of a zip bomb; "
                                    "it was not unpacked")
    try:
        with archive.open(info) as f:
            data = f.read(info.file_size)  # never more than declared: the checks above hold
    except (zipfile.BadZipFile, EOFError) as exc:  # zipfile checks the size and CRC-32 it declares
        return Member(name, problem=f"its content does not match what the archive says; the archive is "
                                    f"damaged or was altered ({exc}); it was not read")
    except (OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        return Member(name, problem=f"it could not be unpacked ({exc})")
    except Exception as exc:  # a decompressor's surprise (zlib, bz2, lzma) must not end the run
        return Member(name, problem=f"it could not be unpacked ({type(exc).__name__}: {str(exc)[:120]})")
    if len(data) != info.file_size:
        return Member(name, problem="its content does not match what the archive says (a shorter file); "
                                    "the archive is damaged or was altered; it was not read")
    return Member(name, data=data)


def document_pictures(data: bytes, name: str) -> Iterator[Member]:
    """Every picture embedded in the PDF document ``data``, in memory, page by page."""
    try:
        import pypdf
    except ImportError:
        yield Member(name, problem=PDF_NOT_READ)
        return
    found = 0
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            yield Member(name, problem="this PDF document is protected by a password; it cannot be read")
            return
        if len(reader.pages) > MAX_PDF_PAGES:
            yield Member(name, problem=f"the document has {len(reader.pages)} pages; at most {MAX_PDF_PAGES} are read")
            return
        for number, page in enumerate(reader.pages, 1):
            for image in page.images:
                found += 1
                if found > MAX_MEMBERS:
                    yield Member(name, problem=f"the document holds more than {MAX_MEMBERS} pictures; the rest "
                                               "were not read")
                    return
                yield _document_picture(image, f"{name}!page {number}/{image.name}")
    except Exception as exc:  # pypdf's errors and limits, and any surprise of a damaged file: one line
        yield Member(name, problem=f"this PDF document is damaged or could not be read "
                                   f"({type(exc).__name__}: {str(exc)[:120]})")
        return
    if not found:
        yield Member(name, problem="this PDF document holds no pictures")


def _document_picture(image: object, name: str) -> Member:
    data = getattr(image, "data", b"")
    if len(data) > MAX_MEMBER_BYTES:
        return Member(name, problem=f"the picture is {len(data) / 2**20:.0f} MB; at most "
                                    f"{MAX_MEMBER_BYTES // 2**20} MB are read")
    return Member(name, data=data)
