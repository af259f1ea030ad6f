"""jinja2's one home: template environments over folders that override one another."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeAlias

import jinja2
from jinja2 import nodes

from pressfeed.errors import TemplateError

Environment: TypeAlias = jinja2.Environment  # so other modules need not import jinja2

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


# The project's own templates: a configured folder needs to hold only the ones it changes.
BUILT_IN = Path(__file__).resolve().parents[2] / "templates"


def environment(template_dirs: Sequence[Path]) -> Environment:
    """An environment looking for each template in `template_dirs`, then the project's own."""
    folders = [Path(d).resolve() for d in template_dirs]
    if BUILT_IN.is_dir() and BUILT_IN not in folders:
        folders.append(BUILT_IN)
    return _environment(tuple(folders))


def render(env: Environment, name: str, **values: Any) -> str:
    """Render template `name` with `values`; TemplateError names the template file and line
    of what failed, a value it uses but is not given among them."""
    try:
        return env.get_template(name).render(**values)
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(error.filename or name, error.lineno, error.message or "") from error
    except jinja2.TemplateError as error:
        file, line = _template_frame(error.__traceback__, name)
        raise TemplateError(file, line, str(error)) from error


def _template_frame(trace: TracebackType | None, name: str) -> tuple[str, int | None]:
    """The template file and line where rendering failed: the innermost frame that jinja2
    gave a template's file name."""
    found: tuple[str, int | None] = (name, None)
    while trace is not None:
        code = trace.tb_frame.f_code
        if code.co_filename.endswith((".html", ".txt", ".css", ".xml")):
            found = (code.co_filename, trace.tb_lineno)
        trace = trace.tb_next
    return found


def prints_plainly(env: Environment, name: str, names: frozenset[str]) -> bool:
    """Whether template `name`, and those it extends, includes or imports, use `names` only as
    plain prints (`{{ address }}`: no filter, test, condition, assignment or call)."""
    return _prints_plainly(env, name, names, set())


def _prints_plainly(env: Environment, name: str, names: frozenset[str], seen: set[str]) -> bool:
    if name in seen:
        return True
    seen.add(name)
    assert env.loader is not None
    tree = env.parse(env.loader.get_source(env, name)[0])
    used = sum(1 for n in tree.find_all(nodes.Name) if n.name in names)
    printed = sum(
        1
        for output in tree.find_all(nodes.Output)
        for n in output.nodes
        if isinstance(n, nodes.Name) and n.name in names
    )
    others = [
        getattr(o, "template", None)
        for o in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport))
    ]
    return used == printed and all(
        isinstance(o, nodes.Const) and _prints_plainly(env, o.value, names, seen) for o in others
    )


def long_date(day: dt.date) -> str:
    """A date as people write it, the same whatever the locale: "3 November 2026"."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def long_month(month: str) -> str:
    """A month as people write it: "2024-03" becomes "March 2024"."""
    year, number = month.split("-")
    return f"{MONTHS[int(number) - 1]} {year}"


WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def schedule(frequency: str, hour: int, weekday: int, timezone: str) -> str:
    """When a digest goes out, in words: "once a day, at 08:00 (Europe/Rome time)"."""
    at = f"at {hour:02d}:00 ({timezone} time)"
    if frequency == "immediate":
        return "as soon as releases arrive"
    if frequency == "weekly":
        return f"once a week, on {WEEKDAY_NAMES[weekday]} {at}"
    return f"once a day, {at}"


@functools.lru_cache(maxsize=16)
def _environment(template_dirs: tuple[Path, ...]) -> Environment:
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(d) for d in template_dirs])
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(("html", "xml")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["long_date"] = long_date
    env.filters["long_month"] = long_month
    env.globals["schedule"] = schedule
    return env
