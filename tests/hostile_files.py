"""A content directory of hostile files, built on tmp_path at test time.

Each file is a `Case`: what it is, and what a scan must do with it: read it (and store the
release whose title is given) or report it by name with a reason holding the given words.
Nothing large is committed: the 100 MB file is sparse and the rest is generated here.
"""

from __future__ import annotations

import codecs
import os
import random
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
BIG = 100 * 1024 * 1024
ARABIC = "الإغاثة تصل إلى سرت"  # "relief reaches Sirte"
SECRET = "Secret release kept outside the content directory"
HOSTILE_TITLE = "Rescue teams <b>reach</b> the island <script>alert('title')</script>"

# Markup that must never reach a feed, page or mail as markup.
SCRIPT_HTML = """<!doctype html>
<html><head><title>page title</title>
<script>alert('head')</script>
<style>body { background: url("javascript:alert('css')") }</style>
</head>
<body onload="alert('body')">
<iframe src="javascript:alert('frame')"></iframe>
<object data="javascript:alert('object')"></object>
<article>
<h1 onmouseover="alert('h1')">Hostile page headline stays plain text</h1>
<p>Geneva, 3 March 2024 – Aid agencies reached <a href="javascript:alert('link')"
 onclick="alert('click')">the coast</a> with food. <img src=x onerror="alert('img')">Teams
 stayed&nbsp;on.</p>
<p>The page shows &lt;script&gt;alert('entity')&lt;/script&gt; and
 &lt;iframe src="javascript:alert('entity')"&gt; as words.</p>
<svg onload="alert('svg')"><script>alert('in svg')</script></svg>
<p>More text<script>document.write('<p>injected by script</p>')</script> after the script.</p>
<noscript><p>noscript fallback</p></noscript>
</article>
</body></html>
"""

MARKUP_TEXT = f"""{HOSTILE_TITLE}

Tripoli, 4 March 2024 – Rescue teams reached the island <img src=x onerror=alert('txt')> and \
<iframe src="javascript:alert('txt')"></iframe> found 40 people. A CDATA end ]]> and an entity \
&amp; stay text, as does <a href="javascript:alert('a')">a link</a>.
"""

MARKUP_MD = """# <img src=x onerror=alert('md')> Health workers vaccinate children

Rome, 5 March 2024 – Health workers vaccinated 2,000 children [click here](javascript:alert('md'))
against measles, <script>alert('md2')</script> with ![x](javascript:alert(1)) help from partners.
"""


class Expect(Enum):
    READ = "read"  # its release is stored, under `detail` as title
    PROBLEM = "problem"  # reported by name, `detail` in the reason
    NOT_A_FILE = "not a file"  # a folder or a folder link: nothing to read, nothing stored


@dataclass(frozen=True)
class Case:
    name: str  # relative to the content directory, as the scan reports it
    what: str
    expect: Expect
    detail: str


def release(title: str, body: str, day: int = 10, place: str = "Geneva") -> str:
    """A one-release page: headline, dateline paragraph, one more paragraph."""
    return (
        f"{title}\n\n{place}, {day} March 2024 – {body}\n\n"
        "The agencies will report again next week on the people they reached.\n"
    )


def write_corpus(content: Path, outside: Path) -> list[Case]:
    """Fill `content` with good and hostile files; `outside` is a folder beside it."""
    cases: list[Case] = []
    cases += _good(content)
    cases += _encodings(content)
    cases += _sizes(content)
    cases += _characters(content)
    cases += _markup(content)
    cases += _links(content, outside)
    cases += _special_files(content)
    cases += _names(content)
    return cases


def _write(content: Path, name: str, data: bytes | str) -> Path:
    path = content / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _good(content: Path) -> list[Case]:
    good = [
        (
            "good/rescue.txt",
            "Rescue ship lands 60 survivors in Valletta",
            "the ship landed 60 people",
        ),
        ("good/health.md", "Clinics reopen in the south", "three clinics reopened for patients"),
    ]
    cases = []
    for name, title, body in good:
        _write(content, name, release(title, body))
        cases.append(Case(name, "a good release", Expect.READ, title))
    # Written last and read like the rest; touched by the scan's progress callback.
    _write(content, "vanishing.txt", release("Release that vanishes", "it is deleted mid-scan."))
    _write(content, "growing.txt", release("Release still being written", "the first half"))
    cases.append(
        Case(
            "vanishing.txt", "a file deleted mid-scan", Expect.PROBLEM, "removed since it was found"
        )
    )
    cases.append(
        Case("growing.txt", "a file still being written", Expect.PROBLEM, "still being written")
    )
    return cases


def _encodings(content: Path) -> list[Case]:
    rng = random.Random(6)
    cp1252 = release("Legacy file – “quoted” café news", "Zürich aid — “all safe”.", day=11)
    utf8 = release("Genève, Zürich and Málaga meet", "the cafés reopened in Genève.", day=12)
    utf16 = release("UTF-16 release with a byte order mark", "read like any other.", day=13)
    _write(content, "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(4096))
    # High bytes only, among them 0x81, which no legacy charset we fall back to maps.
    _write(
        content,
        "binary-no-nul.html",
        b"\x81" + bytes(rng.randrange(0x80, 0x100) for _ in range(4096)),
    )
    _write(content, "invalid-utf8.txt", utf8.encode().replace(b" and ", b" an\xff "))
    _write(content, "truncated-utf8.txt", utf8.encode() + "é".encode()[:1])
    _write(content, "utf16-le-bom.txt", codecs.BOM_UTF16_LE + utf16.encode("utf-16-le"))
    be = release("UTF-16 big-endian release", "read like any other.", day=14)
    _write(content, "utf16-be-bom.md", codecs.BOM_UTF16_BE + be.encode("utf-16-be"))
    _write(content, "utf16-no-bom.txt", utf16.encode("utf-16-le"))
    u32 = release("UTF-32 release with a byte order mark", "read too.", day=15)
    _write(content, "utf32-bom.txt", u32.encode("utf-32"))
    declared = "<meta charset='windows-1252'><h1>Page – declared “windows-1252”</h1>"
    _write(
        content,
        "utf8-bom-declares-cp1252.html",
        codecs.BOM_UTF8 + (declared + "<p>Geneva, 16 March 2024 – Café ölçü.</p>").encode(),
    )
    _write(content, "cp1252.txt", cp1252.encode("cp1252"))
    page = "<meta charset='windows-1252'><h1>Declared legacy page – “café”</h1>"
    body = "<p>Geneva, 17 March 2024 – Naïve “quotes” — read by the page's charset.</p>"
    _write(content, "cp1252-declared.html", (page + body).encode("cp1252"))
    utf7 = "<meta charset='utf-7'><h1>Page declaring UTF-7</h1><p>Geneva, 18 March 2024 - "
    utf7 += "+ADw-script+AD4-alert(7)+ADw-/script+AD4- caf\xe9.</p>"
    _write(content, "utf7-declared.html", utf7.encode("latin-1"))
    return [
        Case("binary.txt", "binary data", Expect.PROBLEM, "binary"),
        Case("binary-no-nul.html", "binary data without NUL", Expect.PROBLEM, "cp1252"),
        Case("invalid-utf8.txt", "UTF-8 with a broken byte", Expect.PROBLEM, "not valid UTF-8"),
        Case("truncated-utf8.txt", "UTF-8 cut mid-character", Expect.PROBLEM, "not valid UTF-8"),
        Case(
            "utf16-le-bom.txt",
            "UTF-16 LE with a BOM",
            Expect.READ,
            "UTF-16 release with a byte order mark",
        ),
        Case("utf16-be-bom.md", "UTF-16 BE with a BOM", Expect.READ, "UTF-16 big-endian release"),
        Case(
            "utf16-no-bom.txt",
            "UTF-16 without a BOM",
            Expect.PROBLEM,
            "UTF-16 without a byte order mark",
        ),
        Case(
            "utf32-bom.txt",
            "UTF-32 with a BOM",
            Expect.READ,
            "UTF-32 release with a byte order mark",
        ),
        Case(
            "utf8-bom-declares-cp1252.html",
            "a BOM beats the declared charset",
            Expect.READ,
            "Page – declared “windows-1252”",
        ),
        Case("cp1252.txt", "Windows-1252 text", Expect.READ, "Legacy file – “quoted” café news"),
        Case(
            "cp1252-declared.html",
            "Windows-1252 page that says so",
            Expect.READ,
            "Declared legacy page – “café”",
        ),
        Case("utf7-declared.html", "a page declaring UTF-7", Expect.READ, "Page declaring UTF-7"),
    ]


def _sizes(content: Path) -> list[Case]:
    with (content / "sparse-100mb.txt").open("wb") as handle:
        handle.truncate(BIG)  # sparse: costs no disk and no time
    _write(content, "one-10mb-line.txt", b"word " * (2 * 1024 * 1024))
    _write(content, "million-short-lines.txt", b"a\n" * 1_000_000)
    long_line = "Relief " * 150_000  # about 1 MB on one line, under every limit
    _write(content, "one-1mb-line.txt", release("A release with one very long line", long_line))
    _write(content, "empty.txt", b"")
    _write(content, "whitespace.md", b"  \n\t\n\r\n")
    _write(content, "bom-only.txt", codecs.BOM_UTF8)
    return [
        Case("sparse-100mb.txt", "a 100 MB file", Expect.PROBLEM, "over max_file_bytes"),
        Case("one-10mb-line.txt", "one 10 MB line", Expect.PROBLEM, "over max_file_bytes"),
        Case(
            "million-short-lines.txt",
            "a million short lines",
            Expect.PROBLEM,
            "over max_file_lines",
        ),
        Case("one-1mb-line.txt", "a 1 MB line", Expect.READ, "A release with one very long line"),
        Case("empty.txt", "an empty file", Expect.PROBLEM, "empty"),
        Case("whitespace.md", "only whitespace", Expect.PROBLEM, "empty"),
        Case("bom-only.txt", "only a BOM", Expect.PROBLEM, "empty"),
    ]


def _characters(content: Path) -> list[Case]:
    nul = release("Release with a NUL byte", "text\x00with a NUL inside.")
    controls = release(
        "Control\x07 characters\x1b vanish\x7f",
        "bell\x07, escape\x1b[31m, form\x0c feed\x0b, C1\x85\x9b controls.",
    )
    invisible = release(
        "Flo\u200bod re\u200dlief\u2060 reaches\u202e Sirte\u202c",
        f"the convoy reached Sirte. {ARABIC} \u200f(RLM kept)\u200e.",
    )
    _write(content, "nul-in-text.txt", nul)
    _write(content, "control-characters.txt", controls)
    _write(content, "zero-width-and-rtl.txt", invisible)
    _write(
        content,
        "crlf.txt",
        release("Windows line ends are read", "CRLF text.").replace("\n", "\r\n"),
    )
    _write(
        content,
        "cr-only.txt",
        release("Old Mac line ends are read", "CR text.").replace("\n", "\r"),
    )
    return [
        Case("nul-in-text.txt", "a NUL in text", Expect.PROBLEM, "binary"),
        Case(
            "control-characters.txt", "control characters", Expect.READ, "Control characters vanish"
        ),
        Case(
            "zero-width-and-rtl.txt",
            "zero-width and bidi characters",
            Expect.READ,
            "Flood relief reaches Sirte",
        ),
        Case("crlf.txt", "CRLF line ends", Expect.READ, "Windows line ends are read"),
        Case("cr-only.txt", "CR line ends", Expect.READ, "Old Mac line ends are read"),
    ]


def _markup(content: Path) -> list[Case]:
    deep = "<div>" * 50_000 + "<h1>Deeply nested release still reads</h1>"
    deep += "<p>Geneva, 19 March 2024 – The text sits under fifty thousand folders.</p>"
    deep += "<span><b><i>" * 20_000 + "</div>" * 50_000
    broken = "<h1>Broken tags at the end do not stall the scan</h1>"
    broken += "<p>Geneva, 20 March 2024 – Text before a flood of unclosed tags.</p>"
    broken += '<a b="' * 30_000 + "<a" * 30_000 + "< " * 30_000
    bomb = '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    bomb += "<h1>Entity bomb is only text</h1><p>Geneva, 21 March 2024 – &b;&b;&b; stays.</p>"
    comment = "<h1>Headline before an open comment</h1><p>Geneva, 22 March 2024 – Visible.</p>"
    comment += "<!-- never closed <p>hidden by the comment</p>"
    _write(content, "script-style-iframe-events.html", SCRIPT_HTML)
    _write(content, "markup-in-text.txt", MARKUP_TEXT)
    _write(content, "markup-in-markdown.md", MARKUP_MD)
    _write(content, "deeply-nested.html", deep)
    _write(content, "unclosed-tags.html", broken)
    _write(content, "entity-bomb.html", bomb)
    _write(content, "unclosed-comment.html", comment)
    return [
        Case(
            "script-style-iframe-events.html",
            "scripts, styles, iframes, handlers",
            Expect.READ,
            "Hostile page headline stays plain text",
        ),
        Case("markup-in-text.txt", "markup in plain text", Expect.READ, HOSTILE_TITLE),
        Case(
            "markup-in-markdown.md",
            "markup in Markdown",
            Expect.READ,
            "<img src=x onerror=alert('md')> Health workers vaccinate children",
        ),
        Case(
            "deeply-nested.html",
            "deeply nested HTML",
            Expect.READ,
            "Deeply nested release still reads",
        ),
        Case(
            "unclosed-tags.html",
            "tags never closed",
            Expect.READ,
            "Broken tags at the end do not stall the scan",
        ),
        Case(
            "entity-bomb.html", "an entity expansion bomb", Expect.READ, "Entity bomb is only text"
        ),
        Case(
            "unclosed-comment.html",
            "a comment never closed",
            Expect.READ,
            "Headline before an open comment",
        ),
    ]


def _links(content: Path, outside: Path) -> list[Case]:
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_text(release(SECRET, "never to be published."))
    (outside / "folder").mkdir(exist_ok=True)
    (outside / "folder" / "also-secret.txt").write_text(release(SECRET + " too", "nor this."))
    (content / "outside.txt").symlink_to(outside / "secret.txt")
    (content / "outside-folder").symlink_to(outside / "folder", target_is_directory=True)
    (content / "loop-a.txt").symlink_to(content / "loop-b.txt")
    (content / "loop-b.txt").symlink_to(content / "loop-a.txt")
    (content / "self-loop.txt").symlink_to("self-loop.txt")
    (content / "dangling.txt").symlink_to(content / "no-such-file.txt")
    (content / "inside-link.txt").symlink_to(content / "good" / "rescue.txt")
    (content / "good" / "up").symlink_to("..", target_is_directory=True)  # a folder loop
    _write(content, "swapped.txt", release("Release swapped for a link", "mid-scan."))
    return [
        Case(
            "swapped.txt",
            "a file replaced by a link outside between finding and reading",
            Expect.PROBLEM,
            "replaced by a symbolic link, not followed",
        ),
        Case(
            "outside.txt",
            "a link outside the content directory",
            Expect.PROBLEM,
            "outside the content directory, not followed",
        ),
        Case(
            "outside-folder",
            "a folder link outside",
            Expect.PROBLEM,
            "outside the content directory, not followed",
        ),
        Case("loop-a.txt", "a link loop", Expect.PROBLEM, "symbolic link loop"),
        Case("loop-b.txt", "a link loop", Expect.PROBLEM, "symbolic link loop"),
        Case("self-loop.txt", "a link to itself", Expect.PROBLEM, "symbolic link loop"),
        Case("dangling.txt", "a link to nothing", Expect.PROBLEM, "missing file"),
        Case(
            "inside-link.txt",
            "a link to a file inside",
            Expect.READ,
            "Rescue ship lands 60 survivors in Valletta",
        ),
        Case("good/up", "a folder link looping back", Expect.NOT_A_FILE, ""),
    ]


def _special_files(content: Path) -> list[Case]:
    os.mkfifo(content / "fifo.txt")  # a read would wait for a writer forever
    unreadable = _write(content, "unreadable.txt", release("Unreadable release", "chmod 000."))
    unreadable.chmod(0)
    _write(content, "locked/inner.txt", release("Release in a locked folder", "chmod 000."))
    (content / "locked").chmod(0)
    _write(
        content, "folder.txt/inside.txt", release("Release in a folder named like a file", "ok.")
    )
    cases = [
        Case("fifo.txt", "a FIFO", Expect.PROBLEM, "not a regular file (a FIFO)"),
        Case("folder.txt", "a folder named like a file", Expect.NOT_A_FILE, ""),
        Case(
            "folder.txt/inside.txt",
            "a file inside it",
            Expect.READ,
            "Release in a folder named like a file",
        ),
    ]
    if AS_ROOT:  # root reads whatever the mode says
        cases.append(
            Case("unreadable.txt", "mode 000 read as root", Expect.READ, "Unreadable release")
        )
        cases.append(
            Case(
                "locked/inner.txt", "folder 000 as root", Expect.READ, "Release in a locked folder"
            )
        )
    else:
        cases.append(Case("unreadable.txt", "mode 000", Expect.PROBLEM, "Permission denied"))
        cases.append(Case("locked", "folder mode 000", Expect.PROBLEM, "folder cannot be listed"))
    return cases


def _names(content: Path) -> list[Case]:
    named = [
        ("name with spaces.txt", "A file name with spaces"),
        ("name\nwith a line break.txt", "A file name with a line break"),
        (
            "\u041f\u0440\u0435\u0441\u0441-\u0440\u0435\u043b\u0438\u0437.txt",
            "A Cyrillic file name",
        ),
        ("\u65b0\u95fb\u7a3f.md", "A Chinese file name"),
        (f"{ARABIC}.txt", "An Arabic file name"),
        ("-rf --no-preserve-root.txt", "A file name like an option"),
    ]
    cases = []
    for day, (name, title) in enumerate(named, start=1):
        _write(content, name, release(title, "read by its odd name.", day=day))
        cases.append(Case(name, "an odd name", Expect.READ, title))
    raw = os.fsencode(content) + b"/legacy-name-\xe9.txt"
    with open(raw, "wb") as handle:
        handle.write(release("Release under a name that is not UTF-8", "x.").encode())
    bad = os.fsdecode(b"legacy-name-\xe9.txt")
    _write(content, "bad\nname.txt", b"\x00\x01binary")
    cases.append(Case(bad, "a name that is not UTF-8", Expect.PROBLEM, "not valid UTF-8; rename"))
    cases.append(
        Case("bad\nname.txt", "a bad file under a name with a line break", Expect.PROBLEM, "binary")
    )
    return cases
