"""Loads and validates the settings file and the topics file against one declared schema."""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import math
import os
import re
import tomllib
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePath, PureWindowsPath
from typing import Any
from urllib.parse import urlsplit

from pressfeed.addresses import mailbox
from pressfeed.errors import ConfigError, ConfigProblem, MailAddressError
from pressfeed.models import (
    ALL_FEED,
    DigestSettings,
    EmailSettings,
    FolderSource,
    ServiceSettings,
    Settings,
    SmtpSettings,
    Term,
    Topic,
)

log = logging.getLogger(__name__)

ENV_PREFIX = "PRESSFEED_"
CONFIG_ENV = "PRESSFEED_CONFIG"
DEFAULT_CONFIG = Path("config/pressfeed.toml")
BUILTIN_TOPICS = Path(__file__).with_name("topics.toml")  # the default topics pressfeed ships
# Read by other parts of pressfeed, so they are neither settings nor typos.
NON_SETTING_ENV = frozenset({CONFIG_ENV, "PRESSFEED_REQUIRE_SHARED"})
RESERVED_SLUGS = frozenset({ALL_FEED})  # "all" names the feed of every release

ENVIRONMENT = "environment"
COMMAND_LINE = "command line"


# --- kinds of value -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """How an option's value is checked, converted and described."""

    name: str  # short type name for --help and the README
    expected: str  # completes "expected ...": "an integer >= 1"
    # Returns the converted value; raises ValueError, with a reason or without one.
    convert: Callable[[object, Path], object]
    # Turns an environment string into the value a TOML file would hold.
    parse_text: Callable[[str], object] = str


def _text_as_int(text: str) -> object:
    try:
        return int(text.strip())
    except ValueError:
        return text


def _text_as_float(text: str) -> object:
    try:
        return float(text.strip())
    except ValueError:
        return text


_BOOLEAN_WORDS = {"1": True, "true": True, "yes": True, "on": True} | {
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def _text_as_bool(text: str) -> object:
    return _BOOLEAN_WORDS.get(text.strip().lower(), text)


def _string(value: object, base: Path) -> str:
    if not isinstance(value, str):
        raise ValueError
    return value


def _nonempty_string(value: object, base: Path) -> str:
    text = _string(value, base)
    if not text.strip():
        raise ValueError
    return text


def _address(value: object, base: Path) -> str:
    text = _string(value, base)
    try:
        mailbox(text, "address")
    except MailAddressError:
        raise ValueError from None
    return text


def _optional_address(value: object, base: Path) -> str:
    return "" if value == "" else _address(value, base)


def _absolute(path: Path, base: Path) -> Path:
    try:
        path = path.expanduser()
    except RuntimeError:  # "~name" of no user on this machine, or no home directory at all
        raise ValueError(f"{path.parts[0]} names no home directory here") from None
    return Path(os.path.normpath(base / path))


def _path(value: object, base: Path) -> Path:
    if not isinstance(value, str | PurePath) or not str(value):
        raise ValueError
    if "\x00" in str(value):
        raise ValueError("a path cannot hold a NUL character")
    return _absolute(Path(value), base)


def _optional_path(value: object, base: Path) -> Path | None:
    return None if value == "" else _path(value, base)


def _database(value: object, base: Path) -> str:
    if isinstance(value, str) and "://" in value:
        return value
    return f"sqlite:///{_path(value, base)}"


def _site_url(value: object, base: Path) -> str:
    url = _string(value, base)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError
    return url if url.endswith("/") else url + "/"


def _optional_url(value: object, base: Path) -> str:
    url = _string(value, base)
    parts = urlsplit(url)
    if url and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise ValueError
    return url


def _boolean(value: object, base: Path) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


def _text_encoding(value: object, base: Path) -> str:
    name = _string(value, base)
    try:
        # Decoding a byte, not codecs.lookup alone, also rejects codecs like rot13 or base64.
        b"a".decode(name or "utf-8", "ignore")
    except (LookupError, UnicodeError):
        raise ValueError from None
    return name


def _integer(low: int, high: int | None = None) -> Kind:
    expected = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"

    def convert(value: object, base: Path) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError
        if value < low or (high is not None and value > high):
            raise ValueError
        return value

    return Kind("integer", expected, convert, _text_as_int)


def _as_float(value: object) -> float:
    """The value as a finite float; TOML integers count as numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError
    if not math.isfinite(value):
        raise ValueError
    return float(value)


def _number(low: float, *, inclusive: bool) -> Kind:
    sign = ">=" if inclusive else ">"

    def convert(value: object, base: Path) -> float:
        number = _as_float(value)
        if number < low or (number == low and not inclusive):
            raise ValueError
        return number

    return Kind("number", f"a number {sign} {low:g}", convert, _text_as_float)


def _choice(*names: str) -> Kind:
    def convert(value: object, base: Path) -> str:
        if value not in names:
            raise ValueError
        return str(value)

    return Kind("|".join(names), " or ".join(repr(n) for n in names), convert)


TEXT = Kind("string", "a string", _string)
NAME = Kind("string", "a non-empty string", _nonempty_string)
PATH = Kind("path", "a path (string)", _path)
OPTIONAL_PATH = Kind("path", "'' (none) or a path (string)", _optional_path)
DATABASE = Kind("path or URL", "a file path or an SQLAlchemy URL (string)", _database)
SITE_URL = Kind("URL", "an http:// or https:// URL", _site_url)
OPTIONAL_URL = Kind("URL", "'' (none) or an http:// or https:// URL", _optional_url)
_ONE_ADDRESS = 'one email address ("Newsroom <news@example.org>" or news@example.org)'
ADDRESS = Kind("address", _ONE_ADDRESS, _address)
OPTIONAL_ADDRESS = Kind("address", f"'' (none) or {_ONE_ADDRESS}", _optional_address)
BOOLEAN = Kind("boolean", "true or false", _boolean, _text_as_bool)


def _timezone(value: object, base: Path) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as error:
        # OSError: a folder of zones ("Europe") or a name too long for a file name.
        raise ValueError(f"unknown time zone {value!r}") from error
    return value


TIMEZONE = Kind("time zone", "an IANA time zone name such as 'Europe/Rome'", _timezone)
ENCODING = Kind(
    "string", "'' (none) or a text encoding known to Python, such as 'cp1252'", _text_encoding
)


# --- the schema ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One configuration key: where it lives, its kind, its default and a line of help."""

    section: str  # "" for top-level keys
    key: str
    kind: Kind
    default: object  # None means the key is required
    help: str
    field: str = ""  # attribute name in the settings dataclass, when it differs from key

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.key}" if self.section else self.key

    @property
    def attribute(self) -> str:
        return self.field or self.key


OPTIONS: tuple[Option, ...] = (
    Option("", "content_dir", PATH, "content", "directory of press release files to scan"),
    Option("", "output_dir", PATH, "feeds", "directory the feeds and pages are written to"),
    Option("", "database", DATABASE, "var/pressfeed.db", "SQLite file, or an SQLAlchemy URL"),
    Option(
        "",
        "database_timeout",
        _number(0, inclusive=True),
        10.0,
        "seconds a write waits for another writer's lock on the database",
    ),
    Option("", "site_url", SITE_URL, "http://127.0.0.1:8080/", "public URL of feeds and pages"),
    Option("", "site_title", NAME, "pressfeed", "site name shown in feeds, pages and mails"),
    Option(
        "",
        "organisation",
        TEXT,
        "",
        "publisher named for releases whose page names none; empty: none",
    ),
    Option("", "feed_length", _integer(1), 50, "number of newest releases in each feed"),
    Option("", "archive_length", _integer(1), 100, "most releases on one archive page"),
    Option(
        "",
        "explain_topics",
        BOOLEAN,
        True,
        "feed entries and release pages say why a release carries its topics",
    ),
    Option(
        "",
        "page_length",
        _integer(1),
        25,
        "newest releases on a topic's page (and on `/releases/`)",
    ),
    Option("", "language", NAME, "en", "language code of the feeds and pages"),
    Option(
        "", "max_file_bytes", _integer(1), 5_000_000, "content files above this size are skipped"
    ),
    Option("", "max_file_lines", _integer(1), 100_000, "content files with more lines are skipped"),
    Option("", "fallback_encoding", ENCODING, "", "encoding tried when a file is not UTF-8"),
    Option(
        "",
        "workers",
        _integer(0, 256),
        0,
        "processes that read files and write pages in large scans; 0: one per core",
    ),
    Option("", "topics_file", PATH, "topics.toml", "TOML file of topic rules"),
    Option(
        "",
        "topics_draft",
        OPTIONAL_PATH,
        "",
        "topics file that topics diff and apply read; '': topics_file's name with .draft",
    ),
    Option("", "templates_dir", PATH, "templates", "folder of page and mail templates (jinja2)"),
    Option(
        "email",
        "transport",
        _choice("directory", "smtp"),
        "directory",
        "send by SMTP or write .eml files",
    ),
    Option(
        "email",
        "from",
        ADDRESS,
        "pressfeed <pressfeed@localhost>",
        "From address of digests and confirmation mails",
        field="sender",
    ),
    Option("email", "reply_to", OPTIONAL_ADDRESS, "", "Reply-To address; empty for none"),
    Option("email", "outbox_dir", PATH, "outbox", "directory of .eml files waiting to be sent"),
    Option(
        "email",
        "unsubscribe_maildir",
        OPTIONAL_PATH,
        "",
        "maildir that receives mail to unsubscribe+TOKEN@ the From domain; '' for none",
    ),
    Option("smtp", "host", TEXT, "", "SMTP server host name"),
    Option("smtp", "port", _integer(1, 65535), 25, "SMTP server port"),
    Option("smtp", "starttls", BOOLEAN, False, "upgrade the connection with STARTTLS"),
    Option("smtp", "tls", BOOLEAN, False, "connect with implicit TLS (usually port 465)"),
    Option("smtp", "username", TEXT, "", "SMTP login name; empty for none"),
    Option("smtp", "password", TEXT, "", "SMTP password"),
    Option("smtp", "timeout", _number(0, inclusive=False), 60.0, "seconds to wait for the server"),
    Option("", "secret", TEXT, "", "key that signs tokens and message ids; empty: one is made"),
    Option("digest", "connections", _integer(1, 64), 4, "SMTP connections used at once"),
    Option("digest", "max_age_days", _integer(0), 0, "skip releases dated older; 0: no limit"),
    Option("digest", "timezone", TIMEZONE, "UTC", "time zone of new subscribers"),
    Option("digest", "hour", _integer(0, 23), 8, "local hour of daily and weekly digests"),
    Option("service", "host", NAME, "127.0.0.1", "address the web server listens on"),
    Option("service", "port", _integer(1, 65535), 8080, "port the web server listens on"),
    Option("service", "scan_interval", _integer(10), 300, "seconds between full scans"),
    Option("service", "poll", BOOLEAN, False, "watch by polling (for network file systems)"),
    Option(
        "service",
        "websub",
        BOOLEAN,
        False,
        "serve a WebSub hub at <site_url>hub, named in the feeds, that pushes changed feeds",
    ),
    Option(
        "service",
        "websub_hub",
        OPTIONAL_URL,
        "",
        "'' (none) or an outside WebSub hub to name in the feeds and ping when they change",
    ),
    Option(
        "service",
        "websub_private_callbacks",
        BOOLEAN,
        False,
        "let the hub call back this host and private networks, not only public addresses",
    ),
)

SECTIONS = tuple(dict.fromkeys(o.section for o in OPTIONS if o.section))
_BY_DOTTED = {o.dotted: o for o in OPTIONS}


def term_problem(text: str) -> str | None:
    """Why text cannot be a topic term, or None when it can."""
    if not text.strip():
        return "a term must not be empty"
    for index, char in enumerate(text):
        if char == "*" and index < len(text) - 1:
            return f"'*' may only end a term; {text!r} has one at character {index + 1}"
        if not (char.isalnum() or char in " -'\u2019*"):
            return (
                f"{char!r} at character {index + 1} of {text!r} is not allowed: use letters, "
                "digits, spaces, hyphens, apostrophes and a final '*'"
            )
    if not any(char.isalnum() for char in text):
        return f"{text!r} has no letter or digit"
    return None


def _term_list(value: object, base: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError
    reasons = [f"entry {i}: {r}" for i, text in enumerate(value, 1) if (r := term_problem(text))]
    if reasons:
        raise ValueError("; ".join(reasons))
    return tuple(value)


def _term_table(value: object, base: Path) -> dict[str, object]:
    if not isinstance(value, dict) or not value:
        raise ValueError
    return value


def _in_unit_interval(value: object, base: Path) -> float:
    number = _as_float(value)
    if not 0 <= number <= 1:
        raise ValueError
    return number


_fraction = Kind("float", "a number from 0 to 1", _in_unit_interval)
TOPIC_SECTION = "topics.<slug>"
TOPIC_OPTIONS: tuple[Option, ...] = (
    Option(TOPIC_SECTION, "title", NAME, None, "title of the topic's feed"),
    Option(TOPIC_SECTION, "description", NAME, None, "what the topic covers, shown in its feed"),
    Option(
        TOPIC_SECTION,
        "terms",
        Kind("table", "a non-empty table of term = weight", _term_table),
        None,
        "words or phrases and their weights; a final '*' matches any ending",
    ),
    Option(
        TOPIC_SECTION,
        "exclude",
        Kind("array", "an array of terms (strings)", _term_list),
        (),
        "a release containing any of these terms never carries the topic",
    ),
    Option(
        TOPIC_SECTION,
        "requires",
        NAME,
        "",
        "name of a word list the release must contain a word of",
    ),
    Option(TOPIC_SECTION, "threshold", _number(0, inclusive=False), 6.0, "score needed"),
    Option(TOPIC_SECTION, "headline_weight", _number(0, inclusive=True), 3.0, "headline factor"),
    Option(TOPIC_SECTION, "lead_weight", _number(0, inclusive=True), 2.0, "lead factor"),
    Option(
        TOPIC_SECTION,
        "passage_points",
        _number(0, inclusive=False),
        3.0,
        "points that make a passage of the body about the topic",
    ),
    Option(
        TOPIC_SECTION,
        "min_share",
        _fraction,
        0.2,
        "share of passages about the topic that makes it the body's subject, without the headline",
    ),
    Option(
        TOPIC_SECTION,
        "min_passages",
        _integer(1),
        3,
        "passages about the topic that make it the body's subject, however long the body",
    ),
    Option(TOPIC_SECTION, "near_words", _integer(1), 15, "how close a 'near' word must stand"),
)
# Keys a [defaults] table in the topics file may set for every topic.
TOPIC_DEFAULT_KEYS = (
    "threshold",
    "headline_weight",
    "lead_weight",
    "passage_points",
    "min_share",
    "min_passages",
    "near_words",
)
_TOPIC_BY_KEY = {o.key: o for o in TOPIC_OPTIONS}
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")


def env_name(dotted_key: str) -> str:
    """The environment variable that overrides a setting: smtp.host -> PRESSFEED_SMTP_HOST."""
    return ENV_PREFIX + dotted_key.replace(".", "_").upper()


_BY_ENV = {env_name(o.dotted): o for o in OPTIONS}


def describe_options(options: Sequence[Option] = OPTIONS) -> list[tuple[str, str, str, str]]:
    """Each option as (dotted key, type name, default as TOML text, help line)."""
    return [(o.dotted, o.kind.name, toml_text(o.default), o.help) for o in options]


def toml_text(value: object) -> str:
    if value is None:
        return "(required)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    if isinstance(value, int):
        return f"{value:_}" if value >= 10_000 else str(value)
    return str(value)


# --- messages -----------------------------------------------------------------------------------

_TYPE_NAMES = {
    int: "integer",
    float: "float",
    dt.datetime: "datetime",
    dt.date: "date",
    dt.time: "time",
}


def _describe(value: object) -> str:
    """A value as quoted in a problem: 'fifty' (string), 0 (integer), a table."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return f"{str(value).lower()} (boolean)"
    if isinstance(value, str):
        return f"{value!r} (string)"
    return f"{value} ({_TYPE_NAMES.get(type(value), type(value).__name__)})"


def _unknown(what: str, name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r}{hint}"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _dotted(keys: Sequence[str]) -> str:
    """Keys written as TOML would: topics.libya.terms."libya*"."""
    return ".".join(k if _BARE_KEY.fullmatch(k) else toml_text(k) for k in keys)


# --- finding the line of a key ------------------------------------------------------------------

_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_KEY_PATH = rf"{_KEY_PART}(?:[ \t]*\.[ \t]*{_KEY_PART})*"
_HEADER = re.compile(rf"[ \t]*\[\[?[ \t]*({_KEY_PATH})[ \t]*\]")
_ASSIGNMENT = re.compile(rf"[ \t]*({_KEY_PATH})[ \t]*=")
_MULTILINE_QUOTES = ('"""', "'''")


def _key_parts(path: str) -> tuple[str, ...]:
    parts = re.findall(_KEY_PART, path)
    return tuple(tomllib.loads(f"k = {p}")["k"] if p[0] in "\"'" else p for p in parts)


def _scan_value(text: str, depth: int, quote: str) -> tuple[int, str]:
    """Bracket depth and open multi-line quote after text, starting from the given state."""
    index = 0
    while index < len(text):
        if quote:
            if text[index] == "\\" and quote[0] == '"':
                index += 2
            elif text.startswith(quote, index):
                index, quote = index + len(quote), ""
            else:
                index += 1
            continue
        char = text[index]
        if char == "#":
            break
        if char in "\"'":
            quote = next(q for q in (*_MULTILINE_QUOTES, char) if text.startswith(q, index))
            index += len(quote)
            continue
        depth += 1 if char in "[{" else -1 if char in "]}" else 0
        index += 1
    return depth, quote if quote in _MULTILINE_QUOTES else ""


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Map each table and key path of a TOML text to the line that first names it."""
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    depth, quote = 0, ""
    for number, line in enumerate(text.split("\n"), start=1):
        if depth or quote:  # inside a multi-line array or string
            depth, quote = _scan_value(line, depth, quote)
        elif header := _HEADER.match(line):
            table = _key_parts(header[1])
            _record(lines, table, number)
        elif assignment := _ASSIGNMENT.match(line):
            _record(lines, table + _key_parts(assignment[1]), number)
            depth, quote = _scan_value(line[assignment.end() :], 0, "")
    return lines


def _record(lines: dict[tuple[str, ...], int], path: tuple[str, ...], number: int) -> None:
    for end in range(1, len(path) + 1):
        lines.setdefault(path[:end], number)


# --- reading files ------------------------------------------------------------------------------

_ERROR_AT = re.compile(r"\s*\(at line (\d+), column \d+\)$")


@dataclass(frozen=True)
class _Document:
    """A parsed TOML file with the line of every key."""

    path: Path
    data: dict[str, Any]
    lines: Mapping[tuple[str, ...], int]

    def line(self, keys: Sequence[str]) -> int | None:
        """The line of keys, or of the nearest enclosing table written in the file."""
        for end in range(len(keys), 0, -1):
            if (found := self.lines.get(tuple(keys[:end]))) is not None:
                return found
        return None

    def problem(self, keys: Sequence[str], reason: str) -> ConfigProblem:
        return ConfigProblem(self.path, self.line(keys), _dotted(keys), reason)


def _read_document(path: Path) -> _Document:
    """Parse a TOML file; raises ConfigError naming the file and line when it cannot."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ConfigError([ConfigProblem(path, None, "", f"cannot read: {reason}")]) from error
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([_syntax_problem(path, text, str(error))]) from error
    except RecursionError as error:  # tomllib recurses into nested arrays and inline tables
        reason = "invalid TOML: arrays or tables nested too deeply"
        raise ConfigError([ConfigProblem(path, None, "", reason)]) from error
    return _Document(path, data, key_lines(text))


def _syntax_problem(path: Path, text: str, message: str) -> ConfigProblem:
    if found := _ERROR_AT.search(message):
        line: int | None = int(found[1])
        message = message[: found.start()]
    else:  # "(at end of document)"
        line = text.count("\n") + 1
        message = message.replace(" (at end of document)", " at end of file")
    return ConfigProblem(path, line, "", f"invalid TOML: {message}")


def _choose_file(path: Path | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    """The settings file to read, or None when none is given and there is none to find."""
    if path is None and environ.get(CONFIG_ENV):
        path = Path(environ[CONFIG_ENV])
    if path is None and (cwd / DEFAULT_CONFIG).is_file():
        path = DEFAULT_CONFIG
    if path is None:
        return None
    try:
        return _absolute(path, cwd)
    except ValueError as error:
        raise ConfigError([ConfigProblem(path, None, "", str(error))]) from None


# --- collecting values from their sources -------------------------------------------------------


@dataclass(frozen=True)
class _Given:
    """One value given for an option, and where it was given."""

    option: Option
    value: Any  # as given until _resolve converts it
    base: Path  # relative paths are resolved against it
    source: Path | str  # a file, ENVIRONMENT or COMMAND_LINE
    line: int | None
    name: str  # the key as the user wrote it: dotted key or variable name
    text: bool = False  # a string from the environment or the command line, to be parsed

    def problem(self, reason: str) -> ConfigProblem:
        return ConfigProblem(self.source, self.line, self.name, reason)


def _convert(option: Option, value: object, base: Path, *, text: bool = False) -> object:
    """The option's value converted; raises ValueError carrying the full reason."""
    try:
        parsed = option.kind.parse_text(value) if text and isinstance(value, str) else value
        return option.kind.convert(parsed, base)
    except ValueError as error:
        reason = str(error) or f"expected {option.kind.expected}, got {_describe(value)}"
        raise ValueError(reason) from None


def _defaults(config_file: Path) -> list[_Given]:
    base = config_file.parent
    return [_Given(o, o.default, base, config_file, None, o.dotted) for o in OPTIONS]


def _file_values(doc: _Document, problems: list[ConfigProblem]) -> list[_Given]:
    given: list[_Given] = []
    for key, value in doc.data.items():
        if key in _BY_DOTTED:
            given.append(_from_file(doc, _BY_DOTTED[key], value))
        elif key in SECTIONS and isinstance(value, dict):
            given += _section_values(doc, key, value, problems)
        elif key in SECTIONS:
            problems.append(doc.problem([key], f"expected a table [{key}], got {_describe(value)}"))
        elif key != SOURCES:  # read by _folder_sources
            what = "section" if isinstance(value, dict) else "key"
            known = [*SECTIONS, SOURCES] if isinstance(value, dict) else [*_BY_DOTTED, *SECTIONS]
            problems.append(doc.problem([key], _unknown(what, key, known)))
    return given


def _section_values(
    doc: _Document, section: str, table: dict[str, Any], problems: list[ConfigProblem]
) -> list[_Given]:
    known = [o.key for o in OPTIONS if o.section == section]
    given: list[_Given] = []
    for key, value in table.items():
        if key in known:
            given.append(_from_file(doc, _BY_DOTTED[f"{section}.{key}"], value))
        else:
            problems.append(doc.problem([section, key], _unknown("key", key, known)))
    return given


def _from_file(doc: _Document, option: Option, value: object) -> _Given:
    keys = [option.section, option.key] if option.section else [option.key]
    return _Given(option, value, doc.path.parent, doc.path, doc.line(keys), option.dotted)


def _env_values(environ: Mapping[str, str], cwd: Path) -> list[_Given]:
    given: list[_Given] = []
    for name, text in environ.items():
        if option := _BY_ENV.get(name):
            given.append(_Given(option, text, cwd, ENVIRONMENT, None, name, text=True))
        elif name.startswith(ENV_PREFIX) and name not in NON_SETTING_ENV:
            _warn_if_typo(name)
    return given


def _warn_if_typo(name: str) -> None:
    # Unrelated PRESSFEED_* variables are allowed; only near misses are worth a word.
    if close := difflib.get_close_matches(name, list(_BY_ENV), n=1, cutoff=0.85):
        log.warning("ignored environment variable %s; did you mean %s?", name, close[0])


def _override_values(
    overrides: Mapping[str, object], cwd: Path, problems: list[ConfigProblem]
) -> list[_Given]:
    given: list[_Given] = []
    for key, value in overrides.items():
        if option := _BY_DOTTED.get(key):
            given.append(_Given(option, value, cwd, COMMAND_LINE, None, key, text=True))
        else:
            problems.append(
                ConfigProblem(COMMAND_LINE, None, key, _unknown("key", key, _BY_DOTTED))
            )
    return given


def _resolve(given: Iterable[_Given], problems: list[ConfigProblem]) -> dict[str, _Given]:
    """Convert every given value; the last one for each option wins, or none if it is invalid."""
    winners: dict[str, _Given] = {}
    for item in given:
        try:
            value = _convert(item.option, item.value, item.base, text=item.text)
        except ValueError as error:
            problems.append(item.problem(str(error)))
            winners.pop(item.option.dotted, None)
        else:
            winners[item.option.dotted] = replace(item, value=value)
    return winners


def _check_together(winners: Mapping[str, _Given], problems: list[ConfigProblem]) -> None:
    tls, starttls = winners.get("smtp.tls"), winners.get("smtp.starttls")
    if tls and starttls and tls.value and starttls.value:
        reason = f"cannot be true together with {starttls.name}; choose one"
        problems.append(tls.problem(reason))
    own, outside = winners.get("service.websub"), winners.get("service.websub_hub")
    if own and outside and own.value and outside.value:
        problems.append(own.problem(f"cannot be true together with {outside.name}; choose one"))
    transport, host = winners.get("email.transport"), winners.get("smtp.host")
    if transport and host and transport.value == "smtp" and not host.value:
        problems.append(transport.problem("is 'smtp' but smtp.host is empty"))


# --- topics -------------------------------------------------------------------------------------


TOPICS_FILE_KEYS = ("defaults", "lists", "topics")


def _load_topics(doc: _Document, problems: list[ConfigProblem]) -> tuple[Topic, ...]:
    for key in [k for k in doc.data if k not in TOPICS_FILE_KEYS]:
        problems.append(doc.problem([key], _unknown("key", key, TOPICS_FILE_KEYS)))
    lists = _word_lists(doc, problems)
    shared = {o.key: o.default for o in TOPIC_OPTIONS if o.default is not None}
    defaults = doc.data.get("defaults", {})
    if isinstance(defaults, dict):
        shared |= _topic_values(doc, ["defaults"], defaults, TOPIC_DEFAULT_KEYS, problems)
    else:
        problems.append(doc.problem(["defaults"], f"expected a table, got {_describe(defaults)}"))
    table = doc.data.get("topics", {})
    if not isinstance(table, dict):
        problems.append(doc.problem(["topics"], f"expected a table, got {_describe(table)}"))
        return ()
    if not table:
        problems.append(doc.problem(["topics"], "at least one [topics.<slug>] table is required"))
    topics = [_topic(doc, slug, rules, shared, lists, problems) for slug, rules in table.items()]
    return tuple(t for t in topics if t is not None)


def _word_lists(doc: _Document, problems: list[ConfigProblem]) -> dict[str, tuple[str, ...]]:
    """The [lists] table: named lists of terms that topics refer to with `near` and `requires`."""
    table = doc.data.get("lists", {})
    if not isinstance(table, dict):
        problems.append(doc.problem(["lists"], f"expected a table, got {_describe(table)}"))
        return {}
    lists: dict[str, tuple[str, ...]] = {}
    for name, terms in table.items():
        try:
            if terms == []:
                raise ValueError("a word list must not be empty")
            lists[name] = _term_list(terms, doc.path.parent)
        except ValueError as error:
            reason = str(error) or f"expected an array of terms (strings), got {_describe(terms)}"
            problems.append(doc.problem(["lists", name], reason))
            lists[name] = ()  # reported once here, not again where a topic names it
    return lists


def _topic_values(
    doc: _Document,
    where: list[str],
    table: dict[str, Any],
    known: Sequence[str],
    problems: list[ConfigProblem],
) -> dict[str, object]:
    """The valid values of a topic or [defaults] table; a problem for each other key."""
    values: dict[str, object] = {}
    for key, value in table.items():
        if key not in known:
            problems.append(doc.problem([*where, key], _unknown("key", key, known)))
            continue
        try:
            values[key] = _convert(_TOPIC_BY_KEY[key], value, doc.path.parent)
        except ValueError as error:
            problems.append(doc.problem([*where, key], str(error)))
    return values


def _topic(
    doc: _Document,
    slug: str,
    rules: object,
    shared: Mapping[str, object],
    lists: Mapping[str, tuple[str, ...]],
    problems: list[ConfigProblem],
) -> Topic | None:
    before = len(problems)
    where = ["topics", slug]
    if not _SLUG.fullmatch(slug):
        reason = (
            "a topic slug must be lower-case letters, digits and hyphens, not starting with '-'"
        )
        problems.append(doc.problem(where, reason))
    elif slug in RESERVED_SLUGS:
        problems.append(doc.problem(where, f"{slug!r} is reserved for the feed of every release"))
    if not isinstance(rules, dict):
        problems.append(doc.problem(where, f"expected a table, got {_describe(rules)}"))
        return None
    values: dict[str, Any] = {
        **shared,
        **_topic_values(doc, where, rules, [*_TOPIC_BY_KEY], problems),
    }
    for missing in [o.key for o in TOPIC_OPTIONS if o.default is None and o.key not in rules]:
        problems.append(doc.problem(where, f"missing required key {missing!r}"))
    if isinstance(values.get("terms"), dict):
        values["terms"] = _terms(doc, [*where, "terms"], values["terms"], lists, problems)
    values["requires"] = values.get("requires") or None
    if values["requires"] is not None and values["requires"] not in lists:
        reason = _unknown("word list", values["requires"], lists)
        problems.append(doc.problem([*where, "requires"], reason))
    if len(problems) > before:
        return None
    named = {t.near for t in values["terms"] if t.near} | {values["requires"]} - {None}
    values["lists"] = tuple((name, lists[name]) for name in sorted(named))
    return Topic(slug=slug, **values)


def _terms(
    doc: _Document,
    where: list[str],
    table: dict[str, object],
    lists: Mapping[str, tuple[str, ...]],
    problems: list[ConfigProblem],
) -> tuple[Term, ...]:
    terms: list[Term] = []
    for text, value in table.items():
        try:
            terms.append(_term(text, value, lists))
        except ValueError as error:
            problems.append(doc.problem([*where, text], str(error)))
    return tuple(terms)


def _term(text: str, value: object, lists: Mapping[str, tuple[str, ...]]) -> Term:
    """A term from `"text" = weight` or `"text" = { weight = 2, near = "list" }`."""
    if reason := term_problem(text):
        raise ValueError(reason)
    near = None
    if isinstance(value, dict):
        if unknown := [k for k in value if k not in ("weight", "near")]:
            raise ValueError(_unknown("key", unknown[0], ["weight", "near"]))
        near, value = value.get("near"), value.get("weight")
        if near is None:
            raise ValueError(
                "a term table needs 'near', a word list of [lists]; "
                "a term that counts anywhere is written with its weight alone"
            )
        if not isinstance(near, str):
            raise ValueError(f"'near' must name a word list of [lists], got {_describe(near)}")
        if near not in lists:
            raise ValueError(_unknown("word list", near, lists))
    if isinstance(value, bool) or not isinstance(value, int | float) or value == 0:
        expected = "a non-zero number or a table { weight = number, near = list name }"
        raise ValueError(f"expected {expected}, got {_describe(value)}")
    return Term(text, float(value), near)


# --- [sources."<folder>"]: who published the releases of a content sub-folder -----------------

SOURCES = "sources"
SOURCE_SECTION = 'sources."<folder>"'
SOURCE_OPTIONS: tuple[Option, ...] = (
    Option(
        SOURCE_SECTION,
        "organisation",
        TEXT,
        None,
        "publisher of the folder's releases whose page names none; empty: none",
    ),
)
_SOURCE_BY_KEY = {o.key: o for o in SOURCE_OPTIONS}
_RELATIVE_FOLDER = "expected a folder relative to content_dir, such as 'iom/press'"


def folder_problem(folder: str) -> str | None:
    """Why `folder` cannot name a sub-folder of the content directory, or None when it can."""
    if "\\" in folder:
        return f"{_RELATIVE_FOLDER}, written with '/'"
    if folder.startswith(("/", "~")) or PureWindowsPath(folder).drive:
        return f"{_RELATIVE_FOLDER}, not an absolute path"
    if "\x00" in folder or any(p in ("", ".", "..") for p in folder.removesuffix("/").split("/")):
        return f"{_RELATIVE_FOLDER}; '.', '..', empty names and NUL are not allowed"
    return None


def _folder_sources(doc: _Document, problems: list[ConfigProblem]) -> tuple[FolderSource, ...]:
    """The [sources."<folder>"] tables, each folder once."""
    table = doc.data.get(SOURCES, {})
    if not isinstance(table, dict):
        reason = f"expected tables [{SOURCE_SECTION}], got {_describe(table)}"
        problems.append(doc.problem([SOURCES], reason))
        return ()
    found: dict[str, FolderSource] = {}
    for folder, entry in table.items():
        source = _folder_source(doc, folder, entry, problems)
        if source and source.folder in found:
            reason = f"names the folder {source.folder!r} a second time"
            problems.append(doc.problem([SOURCES, folder], reason))
        elif source:
            found[source.folder] = source
    return tuple(found.values())


def _folder_source(
    doc: _Document, folder: str, entry: object, problems: list[ConfigProblem]
) -> FolderSource | None:
    where = [SOURCES, folder]
    before = len(problems)
    if reason := folder_problem(folder):
        problems.append(doc.problem(where, reason))
    if not isinstance(entry, dict):
        problems.append(doc.problem(where, f"expected a table, got {_describe(entry)}"))
        return None
    values: dict[str, Any] = {}
    for key, value in entry.items():
        if isinstance(value, dict):  # [sources.iom.press] is the folder "iom", its table "press"
            hint = f'a folder with a "/" is written quoted: [sources."{folder}/{key}"]'
            problems.append(doc.problem([*where, key], f"{_unknown('key', key, [])}; {hint}"))
        elif key not in _SOURCE_BY_KEY:
            problems.append(doc.problem([*where, key], _unknown("key", key, _SOURCE_BY_KEY)))
        else:
            try:
                values[key] = _convert(_SOURCE_BY_KEY[key], value, doc.path.parent)
            except ValueError as error:
                problems.append(doc.problem([*where, key], str(error)))
    if len(problems) > before:
        return None  # beside these, a missing key would be noise
    for missing in [key for key in _SOURCE_BY_KEY if key not in entry]:
        problems.append(doc.problem(where, f"missing required key {missing!r}"))
    return None if len(problems) > before else FolderSource(folder.removesuffix("/"), **values)


# --- putting it together ------------------------------------------------------------------------


def load_settings(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    *,
    builtin: bool = False,
) -> Settings:
    """Read, check and merge defaults, the config file, PRESSFEED_* variables and overrides.

    With `builtin`, no settings file to be found is no error: the defaults and the built-in
    topics stand in (`uses_builtin_topics` tells).
    """
    environ = os.environ if environ is None else environ
    cwd = Path.cwd()
    config_file = _choose_file(path, environ, cwd)
    if config_file is None and not builtin:
        reason = f"no configuration file found; give one with --config FILE or {CONFIG_ENV}=FILE"
        raise ConfigError([ConfigProblem(cwd / DEFAULT_CONFIG, None, "", reason)])
    if config_file is None:
        # The defaults, relative to the working directory, with the topics pressfeed ships.
        config_file = cwd / DEFAULT_CONFIG
        doc = _Document(config_file, {"topics_file": str(BUILTIN_TOPICS)}, {})
    else:
        doc = _read_document(config_file)
    problems: list[ConfigProblem] = []
    given = [
        *_defaults(config_file),
        *_file_values(doc, problems),
        *_env_values(environ, cwd),
        *_override_values(overrides or {}, cwd, problems),
    ]
    winners = _resolve(given, problems)
    _check_together(winners, problems)
    sources = _folder_sources(doc, problems)
    # Without a valid topics_file there is no knowing which topics file was meant.
    topics = (
        _read_topics(winners["topics_file"].value, problems) if "topics_file" in winners else ()
    )
    if problems:
        raise ConfigError(_in_reading_order(problems))
    log.debug("configuration loaded from %s", config_file)
    values = {key: g.value for key, g in winners.items()}
    return _settings(config_file, values, topics, sources)


def load_topics(path: Path) -> tuple[Topic, ...]:
    """The topics of one topics file, or a ConfigError naming every problem with its line."""
    problems: list[ConfigProblem] = []
    topics = _read_topics(path, problems)
    if problems:
        raise ConfigError(_in_reading_order(problems))
    return topics


def draft_topics_file(settings: Settings) -> Path:
    """The draft topics file: `topics_draft`, else "topics.draft.toml" beside the live one."""
    live = settings.topics_file
    return settings.topics_draft or live.with_name(f"{live.stem}.draft{live.suffix}")


def _read_topics(path: Path, problems: list[ConfigProblem]) -> tuple[Topic, ...]:
    try:
        doc = _read_document(path)
    except ConfigError as error:
        problems.extend(error.problems)
        return ()
    return _load_topics(doc, problems)


def _settings(
    config_file: Path,
    values: Mapping[str, Any],
    topics: tuple[Topic, ...],
    sources: tuple[FolderSource, ...],
) -> Settings:
    def fields(section: str) -> dict[str, Any]:
        return {o.attribute: values[o.dotted] for o in OPTIONS if o.section == section}

    return Settings(
        config_file=config_file,
        topics=topics,
        sources=sources,
        email=EmailSettings(**fields("email")),
        smtp=SmtpSettings(**fields("smtp")),
        digest=DigestSettings(**fields("digest")),
        service=ServiceSettings(**fields("service")),
        **fields(""),
    )


def _in_reading_order(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    """Problems grouped by file in the order files were read, each file's by line."""
    first: dict[str, int] = {}
    for index, problem in enumerate(problems):
        first.setdefault(str(problem.path), index)
    return sorted(problems, key=lambda p: (first[str(p.path)], p.line or 0))


def uses_builtin_topics(settings: Settings) -> bool:
    return settings.topics_file.resolve() == BUILTIN_TOPICS.resolve()
