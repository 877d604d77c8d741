"""Tests for extract.archive: zips are built in code under tmp_path."""

from __future__ import annotations

import stat
import struct
import zipfile
from pathlib import Path

import pytest

from core.errors import ArchiveError
from extract.archive import list_members, safe_extract


def build_zip(path: Path, files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def assert_nothing_written(tmp_path: Path, dest: Path, zip_path: Path) -> None:
    assert not dest.exists()
    # Only the zip itself is left: no temp folder, no stray member.
    assert all_files(tmp_path) == [zip_path]
    assert [p for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_extracts_all_members(tmp_path):
    zip_path = build_zip(
        tmp_path / "rvu.zip",
        {"PPRRVU24.csv": b"a,b\n1,2\n", "docs/readme.txt": b"hello", "docs/": b""},
    )
    dest = tmp_path / "out"

    result = safe_extract(zip_path, dest)

    assert result == {"PPRRVU24.csv": dest / "PPRRVU24.csv", "docs/readme.txt": dest / "docs" / "readme.txt"}
    assert (dest / "PPRRVU24.csv").read_bytes() == b"a,b\n1,2\n"
    assert (dest / "docs" / "readme.txt").read_bytes() == b"hello"
    assert list_members(zip_path) == ["PPRRVU24.csv", "docs/readme.txt"]
    assert {p.name for p in tmp_path.iterdir()} == {"rvu.zip", "out"}  # temp folder gone


def test_extracts_only_requested_members(tmp_path):
    zip_path = build_zip(tmp_path / "z.zip", {"a.csv": b"a", "b.csv": b"b", "c.csv": b"c"})
    dest = tmp_path / "out"
    result = safe_extract(zip_path, dest, members=["c.csv", "a.csv"])
    assert list(result) == ["c.csv", "a.csv"]
    assert all_files(dest) == [dest / "a.csv", dest / "c.csv"]


def test_missing_requested_member_lists_what_the_zip_has(tmp_path):
    zip_path = build_zip(tmp_path / "z.zip", {"a.csv": b"a", "b.csv": b"b"})
    dest = tmp_path / "out"
    with pytest.raises(ArchiveError) as exc_info:
        safe_extract(zip_path, dest, members=["a.csv", "GPCI2024.csv"])
    message = str(exc_info.value)
    assert "GPCI2024.csv" in message and "a.csv" in message and "b.csv" in message
    assert str(zip_path) in message
    assert_nothing_written(tmp_path, dest, zip_path)


def test_existing_dest_gets_files_moved_in(tmp_path):
    zip_path = build_zip(tmp_path / "z.zip", {"a.csv": b"new"})
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "a.csv").write_bytes(b"old")
    (dest / "keep.txt").write_bytes(b"keep")
    safe_extract(zip_path, dest)
    assert (dest / "a.csv").read_bytes() == b"new"
    assert (dest / "keep.txt").read_bytes() == b"keep"
    assert [p for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


@pytest.mark.parametrize("evil", ["../evil.txt", "/abs.txt", "docs/../../evil.txt", "C:/win.txt", "..\\evil.txt"])
def test_path_traversal_members_are_refused(tmp_path, evil):
    zip_path = tmp_path / "evil.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("good.txt", b"fine")  # comes first: must not be written either
        # ZipInfo keeps the name as given (writestr with a str would strip a leading '/').
        info = zipfile.ZipInfo("placeholder")
        info.filename = evil
        zf.writestr(info, b"pwned")
    dest = tmp_path / "sub" / "out"

    with pytest.raises(ArchiveError) as exc_info:
        safe_extract(zip_path, dest)

    message = str(exc_info.value)
    assert repr(evil) in message and str(zip_path) in message
    assert not dest.exists()
    assert all_files(tmp_path) == [zip_path]


def test_symlink_member_is_refused(tmp_path):
    zip_path = tmp_path / "link.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        info = zipfile.ZipInfo("passwd")
        info.create_system = 3  # Unix
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    dest = tmp_path / "out"
    with pytest.raises(ArchiveError, match="symlink"):
        safe_extract(zip_path, dest)
    assert_nothing_written(tmp_path, dest, zip_path)


def test_truncated_zip(tmp_path):
    good = build_zip(tmp_path / "good.zip", {"a.csv": b"x" * 10_000, "b.csv": bytes(range(256)) * 100})
    data = good.read_bytes()
    zip_path = tmp_path / "cut.zip"
    zip_path.write_bytes(data[: len(data) // 2])
    good.unlink()
    dest = tmp_path / "out"

    with pytest.raises(ArchiveError, match="truncated or corrupt") as exc_info:
        safe_extract(zip_path, dest)
    assert str(zip_path) in str(exc_info.value)
    with pytest.raises(ArchiveError, match="truncated"):
        list_members(zip_path)
    assert_nothing_written(tmp_path, dest, zip_path)


def test_html_page_saved_as_zip(tmp_path):
    zip_path = tmp_path / "cpt.zip"
    zip_path.write_bytes(b"<!DOCTYPE html><html><head><title>License</title></head></html>")
    dest = tmp_path / "out"
    with pytest.raises(ArchiveError, match="HTML page") as exc_info:
        safe_extract(zip_path, dest)
    assert str(zip_path) in str(exc_info.value)
    assert_nothing_written(tmp_path, dest, zip_path)


def test_other_non_zip_and_missing_file(tmp_path):
    not_zip = tmp_path / "x.zip"
    not_zip.write_bytes(b"HCPCS,DESC\n")
    with pytest.raises(ArchiveError, match="not a zip"):
        safe_extract(not_zip, tmp_path / "out")
    with pytest.raises(ArchiveError, match="does not exist"):
        list_members(tmp_path / "nope.zip")


def test_zip_bomb_ratio_refused(tmp_path):
    zip_path = build_zip(tmp_path / "bomb.zip", {"zeros.bin": bytes(50_000_000)})
    dest = tmp_path / "out"
    with pytest.raises(ArchiveError, match="zip bomb") as exc_info:
        safe_extract(zip_path, dest, max_ratio=10)
    assert "zeros.bin" in str(exc_info.value)
    assert_nothing_written(tmp_path, dest, zip_path)


def test_zip_bomb_default_ratio_refused(tmp_path):
    # 50 MB of zeros deflates ~1000:1, above the default limit of 200.
    zip_path = build_zip(tmp_path / "bomb.zip", {"zeros.bin": bytes(50_000_000)})
    with pytest.raises(ArchiveError, match="zip bomb"):
        safe_extract(zip_path, tmp_path / "out")


def test_member_and_total_size_limits(tmp_path):
    zip_path = build_zip(
        tmp_path / "big.zip", {"a.bin": b"a" * 1000, "b.bin": b"b" * 1000}, zipfile.ZIP_STORED
    )
    with pytest.raises(ArchiveError, match="over the limit of 500") as exc_info:
        safe_extract(zip_path, tmp_path / "out", max_member_bytes=500)
    assert "a.bin" in str(exc_info.value)
    with pytest.raises(ArchiveError, match="total 2000 bytes"):
        safe_extract(zip_path, tmp_path / "out", max_total_bytes=1500)
    # Restricting to one member brings the total under the limit.
    assert list(safe_extract(zip_path, tmp_path / "out", members=["b.bin"], max_total_bytes=1500)) == ["b.bin"]


def test_small_repetitive_file_is_not_a_bomb(tmp_path):
    # 100 KB of blanks compresses > 200:1 but is far too small to matter.
    zip_path = build_zip(tmp_path / "blank.zip", {"blank.txt": b" " * 100_000})
    assert list(safe_extract(zip_path, tmp_path / "out")) == ["blank.txt"]


def test_crc_mismatch_names_member(tmp_path):
    payload = b"HELLO-CMS-" * 50
    zip_path = build_zip(tmp_path / "crc.zip", {"ok.txt": b"fine", "bad.txt": payload}, zipfile.ZIP_STORED)
    data = zip_path.read_bytes()
    at = data.index(payload)
    zip_path.write_bytes(data[:at] + b"J" + data[at + 1 :])  # flip one stored byte
    dest = tmp_path / "out"
    with pytest.raises(ArchiveError) as exc_info:
        safe_extract(zip_path, dest)
    assert "'bad.txt'" in str(exc_info.value) and str(zip_path) in str(exc_info.value)
    assert_nothing_written(tmp_path, dest, zip_path)


def test_lying_header_is_refused(tmp_path):
    # Declare 10 bytes uncompressed for a member that really holds 1000.
    real = b"L" * 1000
    zip_path = build_zip(tmp_path / "liar.zip", {"liar.txt": real}, zipfile.ZIP_STORED)
    data = bytearray(zip_path.read_bytes())
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 10)  # uncompressed size in the central directory
    struct.pack_into("<I", data, 22, 10)  # and in the local header
    zip_path.write_bytes(bytes(data))
    dest = tmp_path / "out"
    with pytest.raises(ArchiveError, match="liar.txt"):
        safe_extract(zip_path, dest)
    assert_nothing_written(tmp_path, dest, zip_path)
