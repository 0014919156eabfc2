"""Safe unpacking of uploaded zips and files, and folders confined to the batch root."""
import os
import stat
import zipfile
from pathlib import Path

import pytest

from summarizer.documents.archive import (
    ArchiveError, ArchiveLimits, extract_zip, safe_relative_path, save_uploads, unpack_uploads,
)
from summarizer.documents.paths import OutsideRootError, files_under, resolve_under
from tests.files import zip_bytes

TEXT = b"The council approved the budget. Teachers welcomed it."


def tree(folder: Path):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_extracts_supported_files_skips_others(tmp_path):
    data = zip_bytes([("a.txt", TEXT), ("sub/b.md", b"# B\n\n" + TEXT), ("img.png", b"\x89PNG"),
                     ("__MACOSX/._a.txt", b"junk"), (".DS_Store", b"junk"), ("sub/", b"")])
    out = extract_zip(data, tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in out.files] == ["a.txt", "sub/b.md"]
    assert tree(tmp_path) == ["a.txt", "sub/b.md"]
    assert (tmp_path / "a.txt").read_bytes() == TEXT
    assert len(out.skipped) == 3 and any("img.png" in s for s in out.skipped)


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "..\\evil.txt",
                                  "/etc/evil.txt", "C:\\evil.txt", "c:/evil.txt",
                                  "\\\\server\\share\\evil.txt"])
def test_entries_leaving_the_folder_refuse_the_archive(tmp_path, name):
    dest = tmp_path / "dest"
    dest.mkdir()
    data = zip_bytes([("ok.txt", TEXT), (name, TEXT)])
    with pytest.raises(ArchiveError, match="refused the archive"):
        extract_zip(data, dest)
    # nothing written anywhere: checks run before the first file is written
    assert tree(tmp_path) == []


def test_symlink_entry_refused(tmp_path):
    info = zipfile.ZipInfo("link.txt")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    data = zip_bytes([(info, b"/etc/passwd")])
    with pytest.raises(ArchiveError, match="symbolic link"):
        extract_zip(data, tmp_path)


def test_duplicate_entries_refused(tmp_path):
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate name itself
        data = zip_bytes([("a.txt", TEXT), ("a.txt", b"other")])
    with pytest.raises(ArchiveError, match="twice"):
        extract_zip(data, tmp_path)


def test_zip_bomb_by_ratio_refused(tmp_path):
    data = zip_bytes([("bomb.txt", b"0" * (5 * 1024 * 1024))])  # ~5 kB compressed
    assert len(data) < 20_000
    with pytest.raises(ArchiveError, match="zip bomb"):
        extract_zip(data, tmp_path, limits=ArchiveLimits(max_ratio=100))
    assert tree(tmp_path) == []


def test_total_size_and_file_size_limits(tmp_path):
    entries = [(f"f{i}.txt", os.urandom(40_000)) for i in range(3)]  # incompressible
    data = zip_bytes(entries)
    with pytest.raises(ArchiveError, match="unpacks to over 100,000 bytes"):
        extract_zip(data, tmp_path, limits=ArchiveLimits(max_total_bytes=100_000))
    with pytest.raises(ArchiveError, match="over 30,000"):
        extract_zip(data, tmp_path, limits=ArchiveLimits(max_file_bytes=30_000))
    assert tree(tmp_path) == []


def test_entry_lying_about_its_size_is_stopped(tmp_path):
    data = bytearray(zip_bytes([("a.txt", b"x" * 70_000)], compression=zipfile.ZIP_STORED))
    # Shrink the declared size in the central directory: the check before writing passes,
    # but the stream then yields more (zipfile stops at the declared size and fails the
    # CRC, or we stop at the limit): either way nothing over the limit is kept.
    central = data.rfind(b"PK\x01\x02")
    data[central + 24: central + 28] = (100).to_bytes(4, "little")
    out = extract_zip(bytes(data), tmp_path, limits=ArchiveLimits(max_file_bytes=1000))
    assert out.files == [] and "cannot be unpacked" in out.skipped[0]
    assert tree(tmp_path) == []


def test_too_many_files(tmp_path):
    data = zip_bytes([(f"f{i}.txt", TEXT) for i in range(6)])
    with pytest.raises(ArchiveError, match="more than 5 files"):
        extract_zip(data, tmp_path, limits=ArchiveLimits(max_files=5))
    assert len(extract_zip(data, tmp_path, limits=ArchiveLimits(max_files=6)).files) == 6


def test_not_a_zip(tmp_path):
    with pytest.raises(ArchiveError, match="not a readable zip"):
        extract_zip(b"this is not a zip", tmp_path)


def test_existing_file_is_never_overwritten(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"mine")
    out = extract_zip(zip_bytes([("a.txt", TEXT)]), tmp_path)
    assert out.files == [] and "a.txt: cannot be unpacked" in out.skipped[0]
    assert (tmp_path / "a.txt").read_bytes() == b"mine"


def test_safe_relative_path_normalizes():
    assert safe_relative_path("./a//b/./c.txt").as_posix() == "a/b/c.txt"
    assert safe_relative_path("dir\\x.txt").as_posix() == "dir/x.txt"
    for bad in ("", "..", "/", "a/../../b", "x\x00.txt"):
        with pytest.raises(ArchiveError):
            safe_relative_path(bad)


def test_save_uploads_uses_base_names_and_limits(tmp_path):
    out = save_uploads([("../../x/a.txt", TEXT), ("/etc/b.md", TEXT), ("c.exe", b"MZ"),
                        ("C:\\Users\\me\\d.txt", TEXT)], tmp_path)
    assert tree(tmp_path) == ["a.txt", "b.md", "d.txt"] and "c.exe" in out.skipped[0]
    for bad in ("..", "x/", ""):
        with pytest.raises(ArchiveError, match="no usable file name"):
            save_uploads([(bad, TEXT)], tmp_path)
    with pytest.raises(ArchiveError, match="too many files"):
        save_uploads([(f"{i}.txt", TEXT) for i in range(3)], tmp_path / "m",
                     limits=ArchiveLimits(max_files=2))


def test_unpack_uploads_mixes_files_and_zips_with_shared_limits(tmp_path):
    files = [("loose.txt", TEXT), ("docs.zip", zip_bytes([("a.txt", TEXT), ("s/b.txt", TEXT)])),
             ("docs.zip", zip_bytes([("c.txt", TEXT)]))]
    out = unpack_uploads(files, tmp_path)
    assert tree(tmp_path) == ["docs-2/c.txt", "docs/a.txt", "docs/s/b.txt", "loose.txt"]
    assert len(out.files) == 4
    again = tmp_path / "again"
    again.mkdir()
    with pytest.raises(ArchiveError, match="docs.zip: refused the archive: more than 1 files"):
        unpack_uploads(files[:2], again, limits=ArchiveLimits(max_files=2))


# -- root confinement ----------------------------------------------------------------
@pytest.fixture
def root(tmp_path):
    base = tmp_path / "root"
    (base / "news" / "deep").mkdir(parents=True)
    (base / "news" / "a.txt").write_bytes(TEXT)
    (base / "news" / "deep" / "b.txt").write_bytes(TEXT)
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "s.txt").write_bytes(b"secret text here.")
    return base


def test_resolve_under_accepts_inside(root):
    assert resolve_under(root, "news") == (root / "news").resolve()
    assert resolve_under(root, ".") == root.resolve()
    assert resolve_under(root, "news/deep/../a.txt") == (root / "news" / "a.txt").resolve()


@pytest.mark.parametrize("name", ["..", "../secret", "news/../../secret", "/etc", "/"])
def test_resolve_under_refuses_outside(root, name):
    with pytest.raises(OutsideRootError):
        resolve_under(root, name)


def test_symlinks_out_of_the_root_are_refused(root):
    os.symlink(root.parent / "secret", root / "escape")
    os.symlink(root.parent / "secret" / "s.txt", root / "news" / "leak.txt")
    os.symlink(root / "news" / "a.txt", root / "news" / "alias.txt")  # inside: fine
    with pytest.raises(OutsideRootError, match="outside the batch root"):
        resolve_under(root, "escape")
    files, refused = files_under(root, resolve_under(root, "news"))
    names = sorted(p.name for p in files)
    assert names == ["a.txt", "alias.txt", "b.txt"]
    assert len(refused) == 1 and "leak.txt" in refused[0]


def test_root_missing_or_unset(tmp_path):
    with pytest.raises(OutsideRootError, match="no batch root"):
        resolve_under("", "x")
    with pytest.raises(OutsideRootError, match="not a folder"):
        resolve_under(tmp_path / "nope", "x")
    with pytest.raises(OutsideRootError, match="no such file"):
        resolve_under(tmp_path, "missing")
