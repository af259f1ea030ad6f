"""Digests: when they are due, what they hold, and delivery through the outbox."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.policy
import re
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pressfeed import store
from pressfeed.digest import (
    build_digest,
    dry_run,
    mail_settings,
    period_end,
    preview_digests,
    send_due_digests,
)
from pressfeed.mail import DigestMailer, digest_message, digest_subject, message_bytes
from pressfeed.models import (
    DateKind,
    Digest,
    Frequency,
    Release,
    Settings,
    StoredRelease,
    Subscriber,
)
from pressfeed.scan import scan_content
from pressfeed.send import DirectoryTransport
from pressfeed.subscriptions import Choice, add_subscriber, subscriber_from
from tests.conftest import NOW
from tests.test_publish import HEALTH
from tests.test_scan import LISTING

UTC = dt.UTC


def subscriber(**changes: object) -> Subscriber:
    values: dict[str, object] = {
        "id": "s1",
        "address": "ana@example.org",
        "topics": (),
        "frequency": Frequency.DAILY,
        "hour": 8,
        "weekday": 0,
        "timezone": "UTC",
        "confirmed": True,
        "token": "t" * 32,
        "created": dt.datetime(2026, 1, 1, tzinfo=UTC),
    }
    values.update(changes)
    return Subscriber(**values)  # type: ignore[arg-type]


# --- when ---------------------------------------------------------------------------------------


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-11-23T09:30:00+00:00", "2026-11-23T08:00:00+00:00"),
        ("2026-11-23T08:00:00+00:00", "2026-11-23T08:00:00+00:00"),
        ("2026-11-23T07:59:59+00:00", "2026-11-22T08:00:00+00:00"),
    ],
)
def test_daily_period_ends_at_the_last_local_hour(now: str, expected: str) -> None:
    assert period_end(subscriber(), at(now)) == at(expected)


def test_daily_period_follows_the_subscribers_time_zone() -> None:
    rome = subscriber(timezone="Europe/Rome", hour=8)
    assert period_end(rome, at("2026-11-23T09:30:00+00:00")) == at("2026-11-23T07:00:00+00:00")
    summer = period_end(rome, at("2026-07-01T09:30:00+00:00"))
    assert summer == at("2026-07-01T06:00:00+00:00")


def test_daily_period_keeps_the_local_hour_across_a_clock_change() -> None:
    rome = subscriber(timezone="Europe/Rome", hour=8)
    # 29 March 2026: clocks go forward at 02:00 local; a run just before 08:00 local on 29 March
    assert period_end(rome, at("2026-03-29T05:30:00+00:00")) == at("2026-03-28T07:00:00+00:00")


def test_weekly_period_ends_on_the_weekday() -> None:
    friday = subscriber(frequency=Frequency.WEEKLY, weekday=4, hour=17)
    # Monday 23 November 2026 -> the previous Friday, 20 November, 17:00
    assert period_end(friday, at("2026-11-23T09:00:00+00:00")) == at("2026-11-20T17:00:00+00:00")
    assert period_end(friday, at("2026-11-27T17:00:00+00:00")) == at("2026-11-27T17:00:00+00:00")


def test_immediate_period_ends_now() -> None:
    now = at("2026-11-23T09:17:03+00:00")
    assert period_end(subscriber(frequency=Frequency.IMMEDIATE), now) == now


# --- what ---------------------------------------------------------------------------------------


def stored(
    rid: str, topics: tuple[str, ...], date: dt.date = dt.date(2026, 11, 20)
) -> StoredRelease:
    release = Release(
        id=rid,
        title=f"Release {rid}",
        title_derived=False,
        date=date,
        date_kind=DateKind.STATED,
        place="Geneva",
        paragraphs=(f"Text of {rid}.",),
        contacts=(),
        source="a.txt",
        position=0,
    )
    arrived = dt.datetime(2026, 11, 22, tzinfo=UTC)
    return StoredRelease(release, "h", arrived, arrived, None, topics)


def test_digest_groups_by_the_subscribers_first_topic(settings: Settings) -> None:
    arrived = [stored("a", ("libya", "sea-rescue")), stored("b", ("health",)), stored("c", ())]
    ana = subscriber(topics=("sea-rescue", "libya"))
    digest = build_digest(settings, ana, arrived, NOW, NOW, today=NOW.date())
    assert [(s.slug, [i.release_id for i in s.items]) for s in digest.sections] == [
        ("sea-rescue", ["a"])
    ]
    assert digest.count == 1


def test_digest_of_everything_keeps_releases_without_a_topic(settings: Settings) -> None:
    arrived = [stored("a", ("libya", "health")), stored("b", ("health",)), stored("c", ())]
    digest = build_digest(settings, subscriber(), arrived, NOW, NOW, today=NOW.date())
    assert [(s.title, [i.release_id for i in s.items]) for s in digest.sections] == [
        ("Libya", ["a"]),
        ("Health", ["b"]),
        ("Other releases", ["c"]),
    ]
    assert digest.sections[0].items[0].url == f"{settings.site_url}releases/a.html"


def test_maximum_age_skips_old_datelines(settings: Settings) -> None:
    limited = dataclasses.replace(
        settings, digest=dataclasses.replace(settings.digest, max_age_days=30)
    )
    arrived = [stored("new", ("libya",)), stored("old", ("libya",), dt.date(2019, 1, 1))]
    digest = build_digest(limited, subscriber(), arrived, NOW, NOW, today=NOW.date())
    assert [i.release_id for s in digest.sections for i in s.items] == ["new"]
    unlimited = build_digest(settings, subscriber(), arrived, NOW, NOW, today=NOW.date())
    assert unlimited.count == 2


def test_old_releases_are_newly_added_and_file_dates_are_marked(
    settings: Settings, engine: Engine
) -> None:
    guessed = stored("guess", ("libya",), NOW.date())
    guessed = dataclasses.replace(
        guessed, release=dataclasses.replace(guessed.release, date_kind=DateKind.FILE_TIME)
    )
    arrived = [stored("new", ("libya",)), stored("old", ("libya",), dt.date(2019, 1, 1)), guessed]
    digest = build_digest(settings, subscriber(), arrived, NOW, NOW, today=NOW.date())
    items = {i.release_id: i for s in digest.sections for i in s.items}
    assert [(r, items[r].newly_added, items[r].date_inferred) for r in items] == [
        ("new", False, False),
        ("old", True, False),
        ("guess", False, True),  # its date is the file's: nothing says it is old
    ]
    assert digest_subject(digest) == "2 new releases and 1 newly added on Libya"
    message = digest_message(digest, mail_settings(settings, engine), now=NOW)
    for kind in ("plain", "html"):
        body = message.get_body((kind,))
        assert body is not None
        text = " ".join(body.get_content().split())
        assert "2 new releases and 1 newly added from" in text, kind
        assert "1 January 2019 · newly added" in text, kind
        assert f"{NOW.day} November 2026 (date from the file)" in text, kind
    only_old = build_digest(settings, subscriber(), arrived[1:2], NOW, NOW, today=NOW.date())
    assert digest_subject(only_old) == "1 release newly added on Libya"


# --- the whole run, written to a directory of .eml files ------------------------------------------


def add(settings: Settings, engine: Engine, address: str, **choice: str) -> Subscriber:
    """A subscriber who signed up three days ago, before any of the news."""
    since = NOW - dt.timedelta(days=3)
    made = subscriber_from(Choice(address, **choice), settings, now=since, confirmed=True)
    return add_subscriber(engine, made)[0]


def run(settings: Settings, engine: Engine, now: dt.datetime, outbox: Path) -> object:
    return send_due_digests(settings, engine, now=now, transport=DirectoryTransport(outbox))


def messages(outbox: Path) -> dict[str, email.message.EmailMessage]:
    parser = BytesParser(policy=email.policy.default)
    return {p.name: parser.parsebytes(p.read_bytes()) for p in sorted(outbox.glob("*.eml"))}


@pytest.fixture
def news(settings: Settings, engine: Engine, tmp_path: Path) -> Path:
    """A first scan (the archive), then two releases that arrive the next day."""
    (settings.content_dir / "old.txt").write_text(LISTING, encoding="utf-8")
    scan_content(settings, engine, now=NOW - dt.timedelta(days=2))
    (settings.content_dir / "health.txt").write_text(HEALTH, encoding="utf-8")
    scan_content(settings, engine, now=NOW - dt.timedelta(hours=12))
    return tmp_path / "outbox"


def test_first_scan_is_mailed_to_nobody(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    add(settings, engine, "ana@example.org")
    (settings.content_dir / "old.txt").write_text(LISTING, encoding="utf-8")
    scan_content(settings, engine, now=NOW - dt.timedelta(days=2))
    report = run(settings, engine, NOW, tmp_path / "outbox")
    assert report.planned == 0  # type: ignore[attr-defined]
    assert not (tmp_path / "outbox").exists()


def test_the_first_scan_that_finds_releases_is_the_archive_however_late(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    add(settings, engine, "ana@example.org", frequency="immediate")
    scan_content(settings, engine, now=NOW - dt.timedelta(days=2))  # the folder is still empty
    assert run(settings, engine, NOW - dt.timedelta(days=1), tmp_path / "outbox").planned == 0  # type: ignore[attr-defined]
    (settings.content_dir / "old.txt").write_text(LISTING, encoding="utf-8")
    scan_content(settings, engine, now=NOW - dt.timedelta(hours=1))
    report = run(settings, engine, NOW, tmp_path / "outbox")
    assert report.planned == 0  # type: ignore[attr-defined]
    (settings.content_dir / "health.txt").write_text(HEALTH, encoding="utf-8")
    scan_content(settings, engine, now=NOW + dt.timedelta(minutes=1))
    later = run(settings, engine, NOW + dt.timedelta(minutes=2), tmp_path / "outbox")
    assert later.planned == 1  # type: ignore[attr-defined]
    (message,) = messages(tmp_path / "outbox").values()
    assert "tuberculosis" not in message.get_body(("plain",)).get_content()


def test_due_digest_is_recorded_sent_once_and_holds_only_news(
    settings: Settings, engine: Engine, news: Path
) -> None:
    add(settings, engine, "ana@example.org", topics="health")
    add(settings, engine, "bo@example.org", topics="libya")
    report = run(settings, engine, NOW, news)
    assert (report.planned, report.empty, report.delivery.sent) == (1, 1, 1)  # type: ignore[attr-defined]
    (message,) = messages(news).values()
    assert message["To"] == "ana@example.org"
    assert message["Subject"] == "1 release newly added on Health"  # dated 2024
    assert "Clinic opens for new arrivals" in message.get_body(("plain",)).get_content()
    assert "tuberculosis" not in message.get_body(("plain",)).get_content()  # the archive
    again = run(settings, engine, NOW + dt.timedelta(hours=1), news)
    assert (again.planned, again.delivery.sent) == (0, 0)  # type: ignore[attr-defined]
    with engine.connect() as connection:
        (row,) = store.outbox_rows(connection)
    assert row.status == "sent"
    assert row.message_id == message["Message-ID"]


def test_nothing_new_means_no_mail(settings: Settings, engine: Engine, news: Path) -> None:
    add(settings, engine, "bo@example.org", topics="governance")
    report = run(settings, engine, NOW, news)
    assert (report.planned, report.empty) == (0, 1)  # type: ignore[attr-defined]
    assert messages(news) == {} if news.exists() else True


def test_release_withdrawn_before_the_digest_is_left_out(
    settings: Settings, engine: Engine, news: Path
) -> None:
    add(settings, engine, "ana@example.org", topics="health")
    (settings.content_dir / "health.txt").unlink()
    scan_content(settings, engine, now=NOW - dt.timedelta(hours=1))
    report = run(settings, engine, NOW, news)
    assert report.planned == 0  # type: ignore[attr-defined]


def test_digest_due_while_down_is_sent_once_after(
    settings: Settings, engine: Engine, news: Path
) -> None:
    add(settings, engine, "ana@example.org", topics="health")
    three_days_later = NOW + dt.timedelta(days=3)
    first = run(settings, engine, three_days_later, news)
    second = run(settings, engine, three_days_later + dt.timedelta(minutes=1), news)
    assert (first.planned, second.planned) == (1, 0)  # type: ignore[attr-defined]
    assert len(messages(news)) == 1


def test_unconfirmed_subscribers_get_nothing(
    settings: Settings, engine: Engine, news: Path
) -> None:
    pending = subscriber_from(Choice("cy@example.org"), settings, now=NOW, confirmed=False)
    add_subscriber(engine, dataclasses.replace(pending, created=NOW - dt.timedelta(days=3)))
    assert run(settings, engine, NOW, news).planned == 0  # type: ignore[attr-defined]


def test_dry_run_and_preview_record_nothing(
    settings: Settings, engine: Engine, news: Path, tmp_path: Path
) -> None:
    add(settings, engine, "ana@example.org", topics="health")
    digests = dry_run(settings, engine, now=NOW)
    assert [(d.subscriber.address, d.count) for d in digests] == [("ana@example.org", 1)]
    report = preview_digests(settings, engine, tmp_path / "preview", now=NOW)
    assert len(report.previews) == 1
    assert len(list((tmp_path / "preview").glob("*.html"))) == 1
    assert run(settings, engine, NOW, news).planned == 1  # type: ignore[attr-defined]


def test_now_option_ends_every_period_now(settings: Settings, engine: Engine, news: Path) -> None:
    add(settings, engine, "ana@example.org", topics="health", frequency="weekly", weekday="sunday")
    assert run(settings, engine, NOW, news).planned == 0  # type: ignore[attr-defined]
    report = send_due_digests(
        settings, engine, now=NOW, end_now=True, transport=DirectoryTransport(news)
    )
    assert report.planned == 1


# "a..b@example.org" passes the sign-up checks, but no mail can carry it (not one mailbox).
UNCARRIED = "a..b@example.org"
# A broken template override: str.format raises ValueError while the mail is made.
BROKEN_TEMPLATE = '{{ "{:d}".format(address) }}\n'


def test_an_address_mail_cannot_carry_is_skipped_and_the_others_get_their_digest(
    settings: Settings, engine: Engine, news: Path, caplog: pytest.LogCaptureFixture
) -> None:
    add(settings, engine, "ana@example.org", topics="health")
    skipped = add(settings, engine, UNCARRIED, topics="health")
    report = run(settings, engine, NOW, news)
    assert (report.planned, report.delivery.sent) == (1, 1)  # type: ignore[attr-defined]
    assert [m["To"] for m in messages(news).values()] == ["ana@example.org"]
    assert f"digest for {UNCARRIED} not made" in caplog.text
    with engine.connect() as connection:
        left = store.subscriber_by_id(connection, skipped.id)
    assert left is not None
    assert left.covered_until is None  # its period stays open: nothing was lost for it


def test_a_bug_while_making_a_digest_stops_the_run_and_is_not_taken_for_a_bad_address(
    settings: Settings, engine: Engine, news: Path, tmp_path: Path
) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "digest.txt").write_text(BROKEN_TEMPLATE, encoding="utf-8")
    broken = dataclasses.replace(settings, templates_dir=tmp_path / "mine")
    reader = add(settings, engine, "ana@example.org", topics="health")
    with pytest.raises(ValueError, match="Unknown format code"):
        run(broken, engine, NOW, news)
    with engine.connect() as connection:
        assert store.outbox_rows(connection) == []
        after = store.subscriber_by_id(connection, reader.id)
    assert after is not None
    assert after.covered_until is None  # the next run, templates mended, sends it
    assert run(settings, engine, NOW, news).planned == 1  # type: ignore[attr-defined]


# --- one rendering for many subscribers ---------------------------------------------------------


def built_alone(settings: Settings, engine: Engine, reader: Subscriber) -> tuple[Digest, bytes]:
    """A digest of two releases for `reader`, and its bytes made on its own."""
    arrived = [stored("a", ("libya",)), stored("b", ("health",))]
    made = build_digest(
        settings, reader, arrived, NOW - dt.timedelta(days=1), NOW, today=NOW.date()
    )
    return made, message_bytes(digest_message(made, mail_settings(settings, engine), now=NOW))


def without_boundary(data: bytes) -> bytes:
    return re.sub(rb"={15}\d+==", b"BOUNDARY", data)


def test_readers_of_the_same_topics_share_one_body_with_their_own_links_and_ids(
    settings: Settings, engine: Engine
) -> None:
    mailer = DigestMailer(mail_settings(settings, engine), now=NOW)
    readers = [
        subscriber(id="s1", address="ana@example.org", topics=("libya",), token="a" * 32),
        subscriber(id="s2", address="bo@example.org", topics=("libya",), token="b" * 32),
    ]
    ids = set()
    for reader, other in zip(readers, reversed(readers), strict=True):
        made, alone = built_alone(settings, engine, reader)
        message = mailer.build(made)
        assert without_boundary(message.data) == without_boundary(alone)  # as if made alone
        parsed = BytesParser(policy=email.policy.default).parsebytes(message.data)
        text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert f"token={reader.token}" in text
        assert other.token not in text
        assert (parsed["To"], message.recipient) == (reader.address, reader.address)
        ids.add(message.message_id)
    assert mailer.bodies == 1
    assert len(ids) == 2


def test_a_template_that_changes_the_address_gets_each_digest_made_alone(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "digest.txt").write_text("For {{ address | upper }}\n", encoding="utf-8")
    mine = dataclasses.replace(settings, templates_dir=tmp_path / "mine")
    reader = subscriber(topics=("libya",))
    made, alone = built_alone(mine, engine, reader)
    message = DigestMailer(mail_settings(mine, engine), now=NOW).build(made)
    assert without_boundary(message.data) == without_boundary(alone)
    assert b"For ANA@EXAMPLE.ORG" in message.data
