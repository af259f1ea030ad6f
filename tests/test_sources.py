"""Finding, decoding and hashing content files, on real files under tmp_path."""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

import pytest

from pressfeed.errors import SourceError
from pressfeed.sources import SourceFile, discover, read_source

MAX = 10_000


def write(root: Path, name: str, data: bytes | str = "Text.\n") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def source(root: Path, name: str, data: bytes | str) -> SourceFile:
    """The file as discover finds it."""
    write(root, name, data)
    (found,) = [f for f in discover(root) if f.name == name]
    return found


def read(file: SourceFile, *, fallback: str = "", max_bytes: int = MAX) -> str:
    return read_source(file, max_bytes=max_bytes, fallback_encoding=fallback).text


def failure(file: SourceFile, *, fallback: str = "", max_bytes: int = MAX) -> SourceError:
    with pytest.raises(SourceError) as caught:
        read_source(file, max_bytes=max_bytes, fallback_encoding=fallback)
    error = caught.value
    assert error.path == Path(file.name)
    assert str(error).startswith(f"{file.name}")
    return error


# --- discover -----------------------------------------------------------------------------------


def test_discover_finds_content_files_recursively_in_path_order(tmp_path: Path) -> None:
    for name in ["z.txt", "a/b.md", "a/c/d.html", "a-b.txt", "m.htm", "n.markdown", "A.TXT"]:
        write(tmp_path, name)
    names = [f.name for f in discover(tmp_path)]
    assert names == ["A.TXT", "a/b.md", "a/c/d.html", "a-b.txt", "m.htm", "n.markdown", "z.txt"]


def test_discover_skips_other_suffixes(tmp_path: Path) -> None:
    for name in ["notes.pdf", "data.json", "README", "page.html.bak", "keep.txt"]:
        write(tmp_path, name)
    assert [f.name for f in discover(tmp_path)] == ["keep.txt"]


@pytest.mark.parametrize(
    "name",
    [
        ".hidden.txt",
        "~draft.txt",
        "#autosave.txt#",
        "draft.txt~",
        ".draft.txt.swp",
        "upload.txt.part",
        "save.html.tmp",
        ".git/a.txt",
        "~old/a.txt",
        "backup~/a.txt",
        "incoming.part/a.txt",
        "scratch.tmp/a.txt",
        "session.swp/a.txt",
        "a/.cache/b.md",
    ],
)
def test_discover_skips_hidden_and_temporary_names(tmp_path: Path, name: str) -> None:
    write(tmp_path, name)
    write(tmp_path, "keep.txt")
    assert [f.name for f in discover(tmp_path)] == ["keep.txt"]


def test_discover_reports_size_and_mtime(tmp_path: Path) -> None:
    path = write(tmp_path, "sub/a.txt", "12345")
    (found,) = discover(tmp_path)
    assert found == SourceFile(path, "sub/a.txt", 5, path.stat().st_mtime_ns)
    assert found.suffix == ".txt"


def test_discover_of_an_empty_folder_finds_nothing(tmp_path: Path) -> None:
    assert list(discover(tmp_path)) == []


# --- read_source: text and hashes ---------------------------------------------------------------


def test_read_source_decodes_utf8_and_hashes_the_bytes(tmp_path: Path) -> None:
    data = "Genève – 3 mars 2020 : l’OIM salue…\n".encode()
    file = source(tmp_path, "a.txt", data)
    got = read_source(file, max_bytes=MAX)
    assert got.text == "Genève – 3 mars 2020 : l’OIM salue…\n"
    assert got.sha256 == hashlib.sha256(data).hexdigest()


def test_hash_is_of_the_bytes_not_the_text(tmp_path: Path) -> None:
    data = codecs.BOM_UTF16_LE + "Rome – text\n".encode("utf-16-le")
    file = source(tmp_path, "a.txt", data)
    got = read_source(file, max_bytes=MAX)
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    assert got.sha256 != hashlib.sha256(got.text.encode()).hexdigest()


def test_hash_changes_with_one_byte(tmp_path: Path) -> None:
    one = read_source(source(tmp_path, "a.txt", "Rome, 3 May 2023\n"), max_bytes=MAX)
    other = read_source(source(tmp_path, "b.txt", "Rome, 4 May 2023\n"), max_bytes=MAX)
    assert one.sha256 != other.sha256


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    file = source(tmp_path, "a.txt", codecs.BOM_UTF8 + "Valletta – text".encode())
    assert read(file) == "Valletta – text"


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
    ],
)
def test_utf16_and_utf32_with_a_bom_are_decoded(tmp_path: Path, bom: bytes, codec: str) -> None:
    text = "Genève, 3 mars – l’OIM\nSecond line\n"
    file = source(tmp_path, "a.txt", bom + text.encode(codec))
    assert read(file) == text


def test_html_declaring_windows_1252_is_decoded(tmp_path: Path) -> None:
    page = b'<html><head><meta charset="windows-1252"></head><body><p>Caf\xe9 \x80 5 \x93ok\x94</p>'
    file = source(tmp_path, "page.html", page)
    assert "Café € 5 “ok”" in read(file)


def test_html_declaring_a_charset_in_http_equiv_is_decoded(tmp_path: Path) -> None:
    page = (
        b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'
        b"</head><body><p>Gen\xe8ve</p>"
    )
    file = source(tmp_path, "page.htm", page)
    assert "Genève" in read(file)


def test_declared_charset_wins_over_the_fallback(tmp_path: Path) -> None:
    page = b'<meta charset="windows-1252"><p>\x80 10</p>'
    file = source(tmp_path, "page.html", page)
    assert "€ 10" in read(file, fallback="latin-1")


def test_valid_utf8_html_is_read_as_utf8_whatever_it_declares(tmp_path: Path) -> None:
    page = '<meta charset="windows-1252"><p>Genève</p>'.encode()
    file = source(tmp_path, "page.html", page)
    assert "Genève" in read(file)


def test_fallback_encoding_reads_invalid_utf8(tmp_path: Path) -> None:
    file = source(tmp_path, "a.txt", b"Gen\xe8ve, 3 mars\n")
    assert read(file, fallback="latin-1") == "Genève, 3 mars\n"


def test_fallback_is_not_used_for_valid_utf8(tmp_path: Path) -> None:
    file = source(tmp_path, "a.txt", "Genève".encode())
    assert read(file, fallback="latin-1") == "Genève"


def test_html_with_an_unknown_charset_uses_the_fallback(tmp_path: Path) -> None:
    file = source(tmp_path, "page.html", b'<meta charset="x-no-such-charset"><p>Gen\xe8ve</p>')
    assert "Genève" in read(file, fallback="cp1252")


# --- read_source: errors that name the file -----------------------------------------------------


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    error = failure(source(tmp_path, "news/empty.txt", b""))
    assert "empty" in error.reason


@pytest.mark.parametrize(
    "data",
    [
        b" \n\t\r\n  \n",
        codecs.BOM_UTF8 + b"\n \n",
        codecs.BOM_UTF16_LE + " \n\n".encode("utf-16-le"),
        "\u00a0\u3000\n".encode(),  # no-break and ideographic spaces
    ],
    ids=["ascii", "utf8-bom", "utf16", "unicode-spaces"],
)
def test_whitespace_only_file_is_an_error(tmp_path: Path, data: bytes) -> None:
    error = failure(source(tmp_path, "blank.txt", data))
    assert "empty" in error.reason


def test_file_over_max_bytes_is_an_error(tmp_path: Path) -> None:
    file = source(tmp_path, "big.txt", "x" * 101)
    error = failure(file, max_bytes=100)
    assert "101 bytes" in error.reason
    assert "max_file_bytes (100)" in error.reason


def test_file_of_exactly_max_bytes_is_read(tmp_path: Path) -> None:
    file = source(tmp_path, "big.txt", "x" * 100)
    assert read(file, max_bytes=100) == "x" * 100


def test_file_that_grew_after_discover_is_checked_again(tmp_path: Path) -> None:
    file = source(tmp_path, "growing.txt", "short")
    write(tmp_path, "growing.txt", "x" * 500)
    error = failure(file, max_bytes=100)
    assert "500 bytes" in error.reason


def test_binary_file_is_an_error(tmp_path: Path) -> None:
    file = source(tmp_path, "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    error = failure(file)
    assert "binary" in error.reason


def test_utf16_without_a_bom_is_an_error_not_garbage(tmp_path: Path) -> None:
    error = failure(source(tmp_path, "a.txt", "Rome – text".encode("utf-16-le")))
    assert "binary" in error.reason


def test_invalid_utf8_is_an_error_with_its_line(tmp_path: Path) -> None:
    file = source(tmp_path, "news/a.txt", b"Rome\nfirst line\nGen\xe8ve\nlast\n")
    error = failure(file)
    assert error.line == 3
    assert str(error).startswith("news/a.txt:3: ")
    assert "UTF-8" in error.reason
    assert "fallback_encoding" in error.reason


def test_invalid_utf8_on_the_first_line_is_line_1(tmp_path: Path) -> None:
    assert failure(source(tmp_path, "a.txt", b"caf\xe9 text\nmore")).line == 1


def test_html_with_an_unknown_charset_is_an_error(tmp_path: Path) -> None:
    page = b'<html><head><meta charset="x-no-such-charset"></head>\n<p>Gen\xe8ve</p>'
    error = failure(source(tmp_path, "page.html", page))
    assert error.line == 2


def test_fallback_that_cannot_decode_is_an_error(tmp_path: Path) -> None:
    error = failure(source(tmp_path, "a.txt", b"Gen\xe8ve"), fallback="ascii")
    assert "ascii" in error.reason


def test_utf16_bom_with_a_broken_body_is_an_error(tmp_path: Path) -> None:
    error = failure(source(tmp_path, "a.txt", codecs.BOM_UTF16_LE + b"R\x00o\x00m"))
    assert "utf-16" in error.reason


def test_file_removed_after_discover_is_an_error(tmp_path: Path) -> None:
    file = source(tmp_path, "gone.txt", "Text.")
    file.path.unlink()
    error = failure(file)
    assert "cannot read" in error.reason


def test_folder_in_place_of_a_discovered_file_is_an_error(tmp_path: Path) -> None:
    file = source(tmp_path, "swapped.txt", "Text.")
    file.path.unlink()
    file.path.mkdir()
    failure(file)
