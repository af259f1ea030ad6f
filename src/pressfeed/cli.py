"""The `pressfeed` command: parse arguments, call one function per command, print the result."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from pressfeed import __version__, outbox, store
from pressfeed.classify import Rules, classify, compile_rules, topic_reason
from pressfeed.config import (
    CONFIG_ENV,
    SOURCE_OPTIONS,
    describe_options,
    env_name,
    load_settings,
    uses_builtin_topics,
)
from pressfeed.digest import dry_run, preview_digests, send_due_digests
from pressfeed.errors import PressfeedError, SourceError
from pressfeed.evaluate import NONE, EvalReport, evaluate, labelled_examples
from pressfeed.learn import LearnUnavailableError, learn_topics, learned_toml
from pressfeed.models import Digest, Frequency, Release, Settings, TopicScore
from pressfeed.publish import PublishReport, publish
from pressfeed.reading import releases_of
from pressfeed.scan import ScanReport, require_content_dir, scan_content
from pressfeed.send import transport_for
from pressfeed.service import run_service
from pressfeed.sources import SourceFile, discover
from pressfeed.subscriptions import (
    Choice,
    add_subscriber,
    describe,
    import_subscribers,
    remove_subscriber,
    subscriber_from,
)
from pressfeed.topicdrafts import apply_draft, draft_topics
from pressfeed.unsubscribes import read_unsubscribes

log = logging.getLogger("pressfeed")

EPILOG_SCAN = "example: pressfeed scan --content content/ --db var/pressfeed.db"
EPILOG_CLASSIFY = "example: pressfeed classify --explain content/iom/listing-2023.txt"
EPILOG_EVAL = "example: pressfeed eval ../shared/seeds-golden.json ../shared/seeds"
EPILOG_DIFF = "example: pressfeed topics diff"
EPILOG_APPLY = "example: pressfeed topics apply"
EPILOG_LEARN = "example: pressfeed topics learn labels.json content/ --out my-topics.toml"
EPILOG_PUBLISH = "example: pressfeed publish --full"
EPILOG_SUBSCRIBERS = "example: pressfeed subscribers add ana@example.org --topics libya,health"
EPILOG_DIGEST = "example: pressfeed digest --dry-run"
EPILOG_SEND = (
    "Any number of these may run at once, on any host sharing the database: each claims a batch "
    "of messages at a time. example: pressfeed send --batch 500"
)
EPILOG_UNSUBSCRIBES = "example: pressfeed unsubscribes read"
EPILOG_RUN = "example: pressfeed run --port 8080"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args))
    except PressfeedError as error:
        print(f"pressfeed: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away ("pressfeed classify --json content/ | head"): no traceback,
        # and nothing more written to the closed pipe when Python flushes at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("pressfeed: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pressfeed",
        description="Per-topic news feeds and email digests from a folder of press releases.",
        epilog=_settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pressfeed {__version__}")
    _add_common(parser, default=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(commands)
    _add_scan(commands)
    _add_publish(commands)
    _add_classify(commands)
    _add_eval(commands)
    _add_topics(commands)
    _add_subscribers(commands)
    _add_digest(commands)
    _add_send(commands)
    _add_unsubscribes(commands)
    return parser


def _settings_help() -> str:
    lines = ["settings (config file key, environment variable):"]
    lines += [f"  {key:<20} {env_name(key)}" for key, *_ in describe_options()]
    lines += [f"  {key}  (file only)" for key, *_ in describe_options(SOURCE_OPTIONS)]
    return "\n".join(lines)


Commands = Any  # argparse's private _SubParsersAction


def _add_common(parser: argparse.ArgumentParser, *, default: bool = False) -> None:
    """--config and --verbose, before the command or after it ("pressfeed scan --config F")."""
    # After the command, an option not given must leave the value given before it alone.
    unset: dict[str, Any] = {} if default else {"default": argparse.SUPPRESS}
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="settings file (default: $PRESSFEED_CONFIG, else config/pressfeed.toml)",
        **unset,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens", **unset)


def _command(commands: Commands, name: str, help: str, epilog: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=help, description=help, epilog=epilog
    )
    _add_common(parser)
    return parser


# --- run ----------------------------------------------------------------------------------------


def _add_run(commands: Commands) -> None:
    sub = _command(
        commands,
        "run",
        "run the service: watch the content, publish, send digests and serve the site",
        EPILOG_RUN,
    )
    sub.add_argument("--host", help="address to listen on (default: service.host)")
    sub.add_argument("--port", type=int, help="port to listen on (default: service.port)")
    sub.add_argument("--content", type=Path, metavar="DIR", help="content directory")
    sub.add_argument("--feeds", type=Path, metavar="DIR", help="output directory for feeds")
    sub.add_argument("--db", metavar="FILE", help="database file or SQLAlchemy URL")
    sub.set_defaults(handler=run_service_command)


def run_service_command(args: argparse.Namespace) -> int:
    overrides = {"content_dir": args.content, "output_dir": args.feeds, "database": args.db}
    given = {k: v for k, v in overrides.items() if v is not None}
    settings = _settings(args, given)  # a bad config stops here, before anything starts
    require_content_dir(settings)
    logging.getLogger("pressfeed").setLevel(logging.INFO)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    host = args.host or settings.service.host
    port = args.port if args.port is not None else settings.service.port
    email = settings.email
    mail = email.outbox_dir if email.transport == "directory" else settings.smtp.host
    print(
        f"pressfeed: starting on http://{host}:{port}/ with {settings.output_dir}; "
        f"content {settings.content_dir}; mail to {mail}",
        flush=True,
    )
    run_service(args.config, given, host=host, port=port)
    return 0


# --- scan ---------------------------------------------------------------------------------------


def _add_scan(commands: Commands) -> None:
    sub = _command(
        commands, "scan", "ingest, classify and store the content directory once", EPILOG_SCAN
    )
    sub.add_argument("--content", type=Path, metavar="DIR", help="content directory")
    sub.add_argument("--feeds", type=Path, metavar="DIR", help="output directory for feeds")
    sub.add_argument("--db", metavar="FILE", help="database file or SQLAlchemy URL")
    sub.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")
    sub.set_defaults(handler=run_scan)


def run_scan(args: argparse.Namespace) -> int:
    overrides = {"content_dir": args.content, "output_dir": args.feeds, "database": args.db}
    settings = _settings(args, overrides)
    require_content_dir(settings)
    with _opened(settings) as engine:
        with _progress(enabled=not args.quiet and sys.stderr.isatty()) as tick:
            report = scan_content(settings, engine, now=_now(), progress=tick)
        published = publish(settings, engine)
    _print_problems(report.problems)
    if not args.quiet:
        print(_scan_summary(report, settings))
        print(_publish_summary(published, settings))
    return 0


def _add_publish(commands: Commands) -> None:
    sub = _command(
        commands,
        "publish",
        "write the feeds and pages that changed since the last publish",
        EPILOG_PUBLISH,
    )
    sub.add_argument("--full", action="store_true", help="rebuild every file (unchanged ones stay)")
    sub.add_argument("--db", metavar="FILE", help="database file or SQLAlchemy URL")
    sub.add_argument("--feeds", type=Path, metavar="DIR", help="output directory for feeds")
    sub.set_defaults(handler=run_publish)


def run_publish(args: argparse.Namespace) -> int:
    settings = _settings(args, {"database": args.db, "output_dir": args.feeds})
    with _opened(settings) as engine:
        report = publish(settings, engine, full=args.full)
    print(_publish_summary(report, settings))
    return 0


def _publish_summary(report: PublishReport, settings: Settings) -> str:
    return (
        f"published to {settings.output_dir}: {report.written} files written, "
        f"{report.unchanged} unchanged, {report.removed} removed"
    )


@contextmanager
def _progress(*, enabled: bool) -> Iterator[Callable[[SourceFile], None] | None]:
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    with tqdm(unit=" files", desc="scanning", leave=False, file=sys.stderr) as bar:
        yield lambda _file: bar.update()


def _scan_summary(report: ScanReport, settings: Settings) -> str:
    skipped = f"; {len(report.problems)} files skipped" if report.problems else ""
    return (
        f"scanned {report.files_seen} files in {settings.content_dir} "
        f"({report.files_read} read, {report.files_removed} removed): "
        f"{report.added} releases added, {report.updated} updated, "
        f"{report.withdrawn} withdrawn, {report.reclassified} reclassified{skipped}"
    )


def _print_problems(problems: Sequence[SourceError]) -> None:
    for problem in problems:
        print(f"pressfeed: {problem}", file=sys.stderr)


# --- classify -----------------------------------------------------------------------------------


def _add_classify(commands: Commands) -> None:
    sub = _command(
        commands,
        "classify",
        "extract and classify files without touching the store",
        EPILOG_CLASSIFY,
    )
    sub.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or directories")
    sub.add_argument("--json", action="store_true", help="one JSON object per line and release")
    sub.add_argument("--explain", action="store_true", help="show each topic's evidence")
    sub.set_defaults(handler=run_classify)


def run_classify(args: argparse.Namespace) -> int:
    settings = _settings_or_builtin(args)
    rules = compile_rules(settings.topics)
    problems: list[SourceError] = []
    for file in _files(args.paths, problems):
        try:
            releases = releases_of(file, settings, _now().date())
        except SourceError as problem:
            problems.append(problem)
            continue
        for release in releases:
            _print_release(release, classify(release, rules), args, rules)
    _print_problems(problems)
    return 1 if problems and not args.json else 0


def _files(paths: Sequence[Path], problems: list[SourceError]) -> Iterator[SourceFile]:
    for path in paths:
        if path.is_dir():
            yield from discover(path, problems.append)
        elif path.is_file():
            stat = path.stat()
            yield SourceFile(path, str(path), stat.st_size, stat.st_mtime_ns)
        else:
            problems.append(SourceError(path, "no such file or directory"))


def _print_release(
    release: Release, scores: list[TopicScore], args: argparse.Namespace, rules: Rules
) -> None:
    topics = [s.slug for s in scores if s.assigned]
    if args.json:
        print(json.dumps(release_json(release, scores), ensure_ascii=False))
        return
    date = release.date.isoformat() + (" (file time)" if release.date_inferred else "")
    print(f"{release.source}#{release.position}  {release.id}  {date}  {release.title}")
    print(f"  topics: {', '.join(topics) or '(none)'}")
    if args.explain:
        for score in scores:
            print(explain(score))


def release_json(release: Release, scores: Sequence[TopicScore]) -> dict[str, Any]:
    """The `classify --json` record of one release."""
    return {
        "file": release.source,
        "index": release.position,
        "id": release.id,
        "title": release.title,
        "title_derived": release.title_derived,
        "date": release.stated_date.isoformat() if release.stated_date else None,
        "date_inferred": release.date_inferred,
        "date_source": release.date_source.value,
        "year_inferred": release.year_inferred,
        "file_date": release.date.isoformat() if release.date_inferred else None,
        "place": release.place,
        "topics": [s.slug for s in scores if s.assigned],
        "scores": {s.slug: s.score for s in scores},
        "paragraphs": len(release.paragraphs),
        "body": "\n\n".join(release.paragraphs),
        "contacts": list(release.contacts),
        "source_url": release.source_url,
        "organisation": release.organisation,
    }


def explain(score: TopicScore) -> str:
    """A topic's verdict and the evidence behind it, part by part, as text."""
    verdict = "yes" if score.assigned else f"no ({score.why_not})"
    head = (
        f"  {score.slug}: {verdict}; score {score.score:g} against threshold {score.threshold:g}, "
        f"{score.passages_about} of {score.passages} passages about it"
        + (", named in the headline" if score.in_headline else "")
        + (", the subject of the lead" if score.in_lead else "")
        + (f", {score.anchor!r} found" if score.anchor else "")
    )
    lines = [head]
    if (reason := topic_reason(score)) is not None and reason.found:
        lines.append(f"    why: {reason.phrase()}")
    for e in score.evidence:
        found = ", ".join(dict.fromkeys(e.found))
        near = f" near {', '.join(repr(w) for w in e.near)}" if e.near else ""
        lines.append(
            f"    {e.points:>6g}  {e.zone:<12} {e.term!r} x{len(e.found)} "
            f"(weight {e.weight:g} x {e.factor:.3g}): {found}{near}"
        )
    return "\n".join(lines)


# --- eval ---------------------------------------------------------------------------------------


def _add_eval(commands: Commands) -> None:
    sub = _command(
        commands, "eval", "score extraction and topics against a labels file", EPILOG_EVAL
    )
    sub.add_argument("labels", type=Path, metavar="LABELS.json", help="labels file")
    sub.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="files or directories holding the labelled files (default: the content directory)",
    )
    sub.add_argument("--misses", action="store_true", help="list every error")
    sub.set_defaults(handler=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    settings = _settings_or_builtin(args)
    paths = args.paths or [settings.content_dir]
    rules = compile_rules(settings.topics)
    report = evaluate(args.labels, paths, rules, now=_now(), settings=settings)
    _print_problems(report.problems)
    print(format_eval(report, show_misses=args.misses))
    return 0


def format_eval(report: EvalReport, *, show_misses: bool = False) -> str:
    """The evaluation as a table; the last four lines are the headline figures."""
    lines = [f"{'topic':<14}{'precision':>10}{'recall':>8}{'F1':>7}{'tp':>5}{'fp':>4}{'fn':>4}"]
    for t in report.topics:
        lines.append(
            f"{t.slug:<14}{t.precision:>10.3f}{t.recall:>8.3f}{t.f1:>7.3f}{t.tp:>5}{t.fp:>4}{t.fn:>4}"
        )
    lines += ["", *_confusion_table(report)]
    if show_misses or report.misses:
        lines += ["", "errors:" if report.misses else "errors: none"]
        lines += (
            [f"  {m}" for m in report.misses]
            if show_misses
            else [f"  {len(report.misses)} (see --misses)"]
        )
    lines.append("")
    if report.whole_files:
        lines.append(f"files     {report.whole_files} labelled as a whole (topics only)")
    lines += [
        f"releases  {report.found_distinct}/{report.distinct} distinct found "
        f"({report.found}/{report.labelled} labelled, {len(report.spurious)} spurious, "
        f"{report.duplicates_merged}/{report.duplicates} duplicates merged)",
        f"titles    {report.titles_right}/{report.labelled} right",
        f"dates     {report.dates_right}/{report.labelled} right",
        f"macro F1  {report.macro_f1:.3f}",
    ]
    return "\n".join(lines)


def _confusion_table(report: EvalReport) -> list[str]:
    """Labelled topics down, assigned topics across; an item counts in every cell it is in."""
    slugs = [t.slug for t in report.topics] + [NONE]
    width = max(len(s) for s in slugs) + 2
    lines = ["labelled \\ assigned".ljust(width + 6) + "".join(s.rjust(width) for s in slugs)]
    for expected in slugs:
        cells = "".join(str(report.confusions.get((expected, s), 0)).rjust(width) for s in slugs)
        lines.append(f"{expected:<{width + 6}}{cells}")
    return lines


# --- topics diff --------------------------------------------------------------------------------


def _add_topics(commands: Commands) -> None:
    sub = _command(commands, "topics", "inspect topics", EPILOG_DIFF)
    actions = sub.add_subparsers(dest="action", required=True, metavar="ACTION")
    diff = actions.add_parser(
        "diff",
        help="which stored releases would gain or lose a topic under the draft topics file",
        description="Classify every stored release under the live topics file and under the "
        "draft (topics_draft, by default topics.draft.toml beside it) and show the "
        "differences; with --stored, compare the topics stored at the last scan with the live "
        "file instead. Changes nothing.",
        epilog=EPILOG_DIFF,
    )
    diff.add_argument("--db", metavar="FILE", help="database file or SQLAlchemy URL")
    diff.add_argument(
        "--stored", action="store_true", help="stored topics against the live file, no draft"
    )
    _add_common(diff)
    diff.set_defaults(handler=run_topics_diff)
    apply = actions.add_parser(
        "apply",
        help="validate the draft topics file and install it as the live one",
        description="Check the draft topics file whole; when it is valid, keep the live file "
        "as <name>.bak and replace it atomically with the draft, which a running service "
        "then loads. A broken draft is refused with file, line and reason.",
        epilog=EPILOG_APPLY,
    )
    _add_common(apply)
    apply.set_defaults(handler=run_topics_apply)
    learn = actions.add_parser(
        "learn",
        help="propose topic rules (topics.toml) from labelled examples, cross-validated",
        description="Learn terms and weights for each topic of a labels file from the labelled "
        "releases, print them as a topics file, and report the cross-validated precision, "
        "recall and F1 of rules learned this way on stderr. Needs scikit-learn "
        "(pip install 'pressfeed[learn]').",
        epilog=EPILOG_LEARN,
    )
    learn.add_argument("labels", type=Path, metavar="LABELS.json", help="labels file")
    learn.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="files or directories labelled there"
    )
    learn.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    learn.add_argument("--terms", type=int, default=40, help="most terms per topic (default 40)")
    learn.add_argument("--out", type=Path, metavar="FILE", help="write the topics file here")
    _add_common(learn)
    learn.set_defaults(handler=run_topics_learn)


def run_topics_diff(args: argparse.Namespace) -> int:
    settings = _settings(args, {"database": args.db})
    live = compile_rules(settings.topics)
    draft = None if args.stored else compile_rules(draft_topics(settings)[1])
    gained: dict[str, int] = {}
    lost: dict[str, int] = {}
    with _opened(settings) as engine, engine.connect() as connection:
        for stored in store.live_releases(connection):
            live_topics = _assigned(stored.release, live)
            if draft is None:
                before, after = set(stored.topics), live_topics
            else:
                before, after = live_topics, _assigned(stored.release, draft)
            _print_diff(stored.release, before, after, gained, lost)
    slugs = sorted(set(gained) | set(lost))
    summary = ", ".join(f"{s} +{gained.get(s, 0)} -{lost.get(s, 0)}" for s in slugs)
    print(summary or "no release would change topics")
    return 0


def _assigned(release: Release, rules: Rules) -> set[str]:
    return {s.slug for s in classify(release, rules) if s.assigned}


def run_topics_apply(args: argparse.Namespace) -> int:
    applied = apply_draft(_settings(args))
    if not applied.changed:
        print(f"{applied.live} already holds the draft; nothing changed")
        return 0
    kept = f"; the previous one is {applied.backup}" if applied.backup else ""
    print(f"{len(applied.topics)} topics installed in {applied.live}{kept}")
    return 0


def run_topics_learn(args: argparse.Namespace) -> int:
    settings = _settings_or_builtin(args)
    slugs, examples, report = labelled_examples(
        args.labels, args.paths, now=_now(), settings=settings
    )
    _print_problems(report.problems)
    try:
        learned = learn_topics(slugs, examples, folds=args.folds, max_terms=args.terms)
    except (LearnUnavailableError, ValueError) as error:
        print(f"pressfeed: {error}", file=sys.stderr)
        return 2
    text = learned_toml(learned)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    print(f"{learned.examples} examples, {learned.folds}-fold cross-validation:", file=sys.stderr)
    for s in learned.scores:
        print(
            f"  {s.slug:<14} precision {s.precision:.3f}  recall {s.recall:.3f}  F1 {s.f1:.3f}",
            file=sys.stderr,
        )
    macro = sum(s.f1 for s in learned.scores) / len(learned.scores) if learned.scores else 0.0
    print(f"  macro F1 {macro:.3f}", file=sys.stderr)
    return 0


def _print_diff(
    release: Release,
    before: set[str],
    after: set[str],
    gained: dict[str, int],
    lost: dict[str, int],
) -> None:
    for slug in sorted(after - before):
        gained[slug] = gained.get(slug, 0) + 1
        print(f"+{slug:<12} {release.id}  {release.date}  {release.title}")
    for slug in sorted(before - after):
        lost[slug] = lost.get(slug, 0) + 1
        print(f"-{slug:<12} {release.id}  {release.date}  {release.title}")


# --- subscribers --------------------------------------------------------------------------------


def _add_subscribers(commands: Commands) -> None:
    sub = _command(commands, "subscribers", "manage digest subscribers", EPILOG_SUBSCRIBERS)
    actions = sub.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="add a subscriber, confirmed at once (or change one)",
        description="Add a subscriber, confirmed at once; an address already subscribed gets "
        "the new choices.",
        epilog=EPILOG_SUBSCRIBERS,
    )
    add.add_argument("address")
    _choice_options(add)
    _add_common(add)
    add.set_defaults(handler=run_subscribers_add)
    listing = actions.add_parser(
        "list", help="list subscribers", epilog="example: pressfeed subscribers list"
    )
    _add_common(listing)
    listing.set_defaults(handler=run_subscribers_list)
    remove = actions.add_parser(
        "remove",
        help="remove a subscriber",
        epilog="example: pressfeed subscribers remove ana@example.org",
    )
    remove.add_argument("address")
    _add_common(remove)
    remove.set_defaults(handler=run_subscribers_remove)
    load = actions.add_parser(
        "import",
        help="add subscribers from a CSV file; bad rows are reported by line",
        description="Add subscribers from a CSV file with a header row of columns among: "
        "address (required), topics, frequency, hour, weekday, timezone, query.",
        epilog="example: pressfeed subscribers import subscribers.csv",
    )
    load.add_argument("file", type=Path, metavar="FILE.csv")
    _add_common(load)
    load.set_defaults(handler=run_subscribers_import)
    for action in (add, listing, remove, load):
        action.add_argument("--db", metavar="FILE", help="database file or SQLAlchemy URL")


def _choice_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topics", default="all", help="topic slugs, comma-separated, or all")
    parser.add_argument(
        "--frequency", default="daily", choices=[f.value for f in Frequency], help="how often"
    )
    parser.add_argument("--hour", default="", help="local hour of the digest (default: setting)")
    parser.add_argument("--weekday", default="monday", help="day of weekly digests")
    parser.add_argument("--timezone", default="", help="IANA time zone (default: setting)")
    parser.add_argument(
        "--query", default="", help='a search query the releases must match too ("" for none)'
    )


@contextmanager
def _opened(settings: Settings) -> Iterator[Engine]:
    """The store, closed again when the command is done."""
    engine = store.open_store(settings.database, busy_timeout=settings.database_timeout)
    try:
        yield engine
    finally:
        engine.dispose()


def run_subscribers_add(args: argparse.Namespace) -> int:
    settings = _settings(args, {"database": args.db})
    choice = Choice(
        args.address,
        args.topics,
        args.frequency,
        args.hour,
        args.weekday,
        args.timezone,
        args.query,
    )
    subscriber = subscriber_from(choice, settings, now=_now(), confirmed=True)
    with _opened(settings) as engine:
        saved, new = add_subscriber(engine, subscriber)
    print(f"{'added' if new else 'updated'}: {'  '.join(describe(saved))}")
    return 0


def run_subscribers_list(args: argparse.Namespace) -> int:
    settings = _settings(args, {"database": args.db})
    with _opened(settings) as engine, engine.connect() as connection:
        rows = [describe(s) for s in store.all_subscribers(connection)]
    header = ("address", "topics", "schedule", "state", "covered until")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def run_subscribers_remove(args: argparse.Namespace) -> int:
    settings = _settings(args, {"database": args.db})
    with _opened(settings) as engine:
        removed = remove_subscriber(engine, args.address)
    if not removed:
        print(f"pressfeed: {args.address} is not subscribed", file=sys.stderr)
        return 1
    print(f"removed {args.address}")
    return 0


def run_subscribers_import(args: argparse.Namespace) -> int:
    settings = _settings(args, {"database": args.db})
    if not args.file.is_file():
        raise SourceError(args.file, "no such file")
    with _opened(settings) as engine:
        report = import_subscribers(engine, args.file, settings, now=_now())
    for problem in report.problems:
        print(f"pressfeed: {problem}", file=sys.stderr)
    print(
        f"imported {args.file}: {report.added} added, "
        f"{_skipped(report.existing, 'already subscribed')}, "
        f"{_skipped(report.left, 'unsubscribed before')}, {len(report.problems)} rows skipped"
    )
    return 0


def _skipped(addresses: Sequence[str], why: str) -> str:
    """'2 already subscribed (ana@example.org, bo@example.org)': the addresses left alone."""
    return f"{len(addresses)} {why}" + (f" ({', '.join(addresses)})" if addresses else "")


# --- digest -------------------------------------------------------------------------------------


def _add_digest(commands: Commands) -> None:
    sub = _command(commands, "digest", "send the digests that are due", EPILOG_DIGEST)
    sub.add_argument(
        "--frequency", choices=[f.value for f in Frequency], help="only subscribers of this rhythm"
    )
    sub.add_argument("--now", action="store_true", help="as if every period ended now")
    sub.add_argument("--dry-run", action="store_true", help="list who would get what; send nothing")
    sub.add_argument(
        "--preview", type=Path, metavar="DIR", help="write the messages as .eml and .html files"
    )
    sub.add_argument("--db", metavar="FILE", help="database file or SQLAlchemy URL")
    sub.set_defaults(handler=run_digest)


def run_digest(args: argparse.Namespace) -> int:
    settings = _settings(args, {"database": args.db})
    frequency = Frequency(args.frequency) if args.frequency else None
    options: dict[str, Any] = {"now": _now(), "frequency": frequency, "end_now": args.now}
    with _opened(settings) as engine:
        if args.dry_run:
            for digest in dry_run(settings, engine, **options):
                print(_digest_line(digest))
            return 0
        if args.preview:
            report = preview_digests(settings, engine, args.preview, **options)
            print(f"wrote {len(report.previews)} digests to {args.preview}")
            return 0
        report = send_due_digests(settings, engine, **options)
    delivery = report.delivery
    print(
        f"digests: {report.planned} recorded, {report.empty} with nothing new; messages: "
        f"{delivery.sent} sent, {delivery.deferred} deferred, {delivery.failed} failed"
    )
    return 0


# --- send ---------------------------------------------------------------------------------------


def _add_send(commands: Commands) -> None:
    sub = _command(commands, "send", "send the messages waiting in the outbox", EPILOG_SEND)
    sub.add_argument(
        "--batch",
        type=_positive,
        default=outbox.BATCH,
        metavar="N",
        help=f"messages to claim at a time (default: {outbox.BATCH})",
    )
    sub.add_argument("--db", metavar="FILE", help="database file or SQLAlchemy URL")
    sub.set_defaults(handler=run_send)


def run_send(args: argparse.Namespace) -> int:
    settings = _settings(args, {"database": args.db})
    transport = transport_for(settings.email, settings.smtp, settings.digest.connections)
    with _opened(settings) as engine:
        report = outbox.deliver_outbox(engine, transport, now=_now(), batch=args.batch)
    print(
        f"messages: {report.sent} sent, {report.deferred} to be tried again, {report.failed} failed"
    )
    return 0


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _digest_line(digest: Digest) -> str:
    if not digest.count:
        return f"{digest.subscriber.address}: nothing new"
    sections = ", ".join(f"{s.title} {len(s.items)}" for s in digest.sections)
    return f"{digest.subscriber.address}: {digest.count} releases ({sections})"


# --- unsubscribes -------------------------------------------------------------------------------


def _add_unsubscribes(commands: Commands) -> None:
    sub = _command(commands, "unsubscribes", "act on unsubscribe requests", EPILOG_UNSUBSCRIBES)
    actions = sub.add_subparsers(dest="action", required=True, metavar="ACTION")
    read = actions.add_parser(
        "read",
        help="unsubscribe whose token the mails in email.unsubscribe_maildir carry",
        description="Read the unsubscribe maildir, remove each subscriber whose token a mail "
        "carries, and move those mails to its 'processed' folder.",
        epilog=EPILOG_UNSUBSCRIBES,
    )
    read.add_argument("--db", metavar="FILE", help="database file or SQLAlchemy URL")
    _add_common(read)
    read.set_defaults(handler=run_unsubscribes_read)


def run_unsubscribes_read(args: argparse.Namespace) -> int:
    settings = _settings(args, {"database": args.db})
    maildir = settings.email.unsubscribe_maildir
    if maildir is None:
        print("pressfeed: email.unsubscribe_maildir is not set", file=sys.stderr)
        return 2
    with _opened(settings) as engine:
        report = read_unsubscribes(maildir, engine)
    print(
        f"{report.unsubscribed} unsubscribed, {report.unknown} with an unknown token, "
        f"{report.skipped} skipped and kept"
    )
    return 0


# --- shared -------------------------------------------------------------------------------------


def _settings(args: argparse.Namespace, overrides: dict[str, Any] | None = None) -> Settings:
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    return load_settings(args.config, overrides=given)


def _settings_or_builtin(args: argparse.Namespace) -> Settings:
    """The settings, or outside a project the defaults with the built-in topics, said on stderr."""
    settings = load_settings(args.config, builtin=True)
    if not settings.config_file.is_file() and uses_builtin_topics(settings):
        print(
            "pressfeed: no configuration file found; using the built-in topics "
            f"(give one with --config FILE or {CONFIG_ENV}=FILE)",
            file=sys.stderr,
        )
    return settings


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


if __name__ == "__main__":
    sys.exit(main())
