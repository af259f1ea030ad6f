"""Subscribers: checked, stored, changed, removed and imported from CSV, on a real store."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pressfeed import store
from pressfeed.digest import mail_settings
from pressfeed.errors import MailAddressError
from pressfeed.models import Frequency, Settings
from pressfeed.subscriptions import (
    ADDRESS_SIGN_UPS_PER_HOUR,
    CONFIRMATION_GAP,
    SIGN_UP_WINDOW,
    SIGN_UPS_PER_HOUR,
    Choice,
    SignUpLimits,
    SignUpOutcome,
    SubscriptionError,
    TopicStop,
    add_subscriber,
    import_subscribers,
    normal_address,
    remove_subscriber,
    sign_up,
    stop_topic,
    subscriber_from,
)
from tests.conftest import NOW


@pytest.mark.parametrize(
    "text",
    [
        "ana",
        "ana@",
        "@example.org",
        "ana@example",
        "a b@example.org",
        "ana@ex..org",
        "ana@example.org\r\nBcc: x@example.org",
        "<ana@example.org>",
    ],
)
def test_bad_addresses_are_refused(text: str) -> None:
    with pytest.raises(SubscriptionError, match="not an e-mail address"):
        normal_address(text)


def test_address_domain_is_lower_cased_not_the_local_part() -> None:
    assert normal_address(" Ana.Ruiz@Example.ORG ") == "Ana.Ruiz@example.org"


def test_defaults_come_from_the_settings(settings: Settings) -> None:
    subscriber = subscriber_from(Choice("ana@example.org"), settings, now=NOW, confirmed=False)
    assert subscriber.topics == ()
    assert subscriber.frequency is Frequency.DAILY
    assert (subscriber.hour, subscriber.timezone) == (8, "UTC")
    assert subscriber.confirmed is False
    assert len(subscriber.token) >= 32


def test_topics_are_checked_against_the_configured_ones(settings: Settings) -> None:
    subscriber = subscriber_from(
        Choice("ana@example.org", topics="health, libya libya"), settings, now=NOW, confirmed=True
    )
    assert subscriber.topics == ("health", "libya")
    with pytest.raises(SubscriptionError, match="unknown topic 'sport'; topics are: libya"):
        subscriber_from(
            Choice("ana@example.org", topics="sport"), settings, now=NOW, confirmed=True
        )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("frequency", "hourly", "unknown frequency"),
        ("hour", "24", "hour must be 0 to 23"),
        ("weekday", "someday", "unknown weekday"),
        ("timezone", "Mars/Olympus", "unknown time zone"),
        ("timezone", "Europe", "unknown time zone"),
    ],
)
def test_bad_choices_say_what_is_wrong(
    settings: Settings, field: str, value: str, message: str
) -> None:
    with pytest.raises(SubscriptionError, match=message):
        subscriber_from(
            Choice("ana@example.org", **{field: value}), settings, now=NOW, confirmed=True
        )


def test_weekly_on_a_named_day(settings: Settings) -> None:
    subscriber = subscriber_from(
        Choice(
            "ana@example.org", frequency="weekly", weekday="Fri", hour="17", timezone="Europe/Rome"
        ),
        settings,
        now=NOW,
        confirmed=True,
    )
    assert (subscriber.frequency, subscriber.weekday, subscriber.hour) == (Frequency.WEEKLY, 4, 17)


def test_adding_an_address_twice_updates_its_choices(settings: Settings, engine: Engine) -> None:
    first = subscriber_from(Choice("ana@example.org"), settings, now=NOW, confirmed=True)
    again = subscriber_from(
        Choice("ana@example.org", topics="libya"), settings, now=NOW, confirmed=True
    )
    assert add_subscriber(engine, first)[1] is True
    saved, new = add_subscriber(engine, again)
    assert new is False
    assert saved.id == first.id
    assert saved.token == first.token
    assert saved.topics == ("libya",)
    with engine.connect() as connection:
        assert len(store.all_subscribers(connection)) == 1


def test_remove(settings: Settings, engine: Engine) -> None:
    add_subscriber(
        engine, subscriber_from(Choice("ana@example.org"), settings, now=NOW, confirmed=True)
    )
    assert remove_subscriber(engine, "ana@EXAMPLE.org") is True
    assert remove_subscriber(engine, "ana@example.org") is False


def test_import_adds_good_rows_and_reports_bad_ones_by_line(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "address,topics,frequency,hour\n"
        "ana@example.org,libya;health,weekly,9\n"
        "not-an-address,libya,daily,8\n"
        "bo@example.org,,immediate,\n"
        "cy@example.org,sport,daily,8\n"
        "ana@example.org,health,daily,7\n",
        encoding="utf-8",
    )
    report = import_subscribers(engine, csv_file, settings, now=NOW)
    assert (report.added, report.existing) == (2, ["ana@example.org"])
    assert report.problems == [
        f"{csv_file}:3: not an e-mail address: 'not-an-address'",
        f"{csv_file}:5: unknown topic 'sport'; topics are: libya, sea-rescue, health, governance",
    ]
    with engine.connect() as connection:
        ana = store.subscriber_by_address(connection, "ana@example.org")
        bo = store.subscriber_by_address(connection, "bo@example.org")
    assert ana is not None
    assert bo is not None
    assert (ana.topics, ana.frequency, ana.hour) == (("libya", "health"), Frequency.WEEKLY, 9)
    assert (bo.topics, bo.frequency) == ((), Frequency.IMMEDIATE)


def test_import_without_an_address_column_says_so(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("email,topics\nana@example.org,libya\n", encoding="utf-8")
    report = import_subscribers(engine, csv_file, settings, now=NOW)
    assert report.problems == [f"{csv_file}:1: no 'address' column in the header"]
    assert report.added == 0


def test_importing_again_keeps_choices_and_never_brings_back_who_left(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("address,topics\nana@example.org,libya\nbo@example.org,\n", "utf-8")
    assert import_subscribers(engine, csv_file, settings, now=NOW).added == 2
    changed = subscriber_from(
        Choice("ana@example.org", topics="health"), settings, now=NOW, confirmed=True
    )
    add_subscriber(engine, changed)  # as the manage page does
    assert remove_subscriber(engine, "bo@example.org")
    report = import_subscribers(engine, csv_file, settings, now=NOW)
    assert (report.added, report.existing, report.left) == (
        0,
        ["ana@example.org"],
        ["bo@example.org"],
    )
    with engine.connect() as connection:
        assert [s.address for s in store.all_subscribers(connection)] == ["ana@example.org"]
        ana = store.subscriber_by_address(connection, "ana@example.org")
    assert ana is not None
    assert ana.topics == ("health",)


# --- signing up ---------------------------------------------------------------------------------


@dataclasses.dataclass
class SignUps:
    """sign_up as one running service calls it: one set of limits, the store, the settings."""

    settings: Settings
    engine: Engine
    limits: SignUpLimits = dataclasses.field(default_factory=SignUpLimits)

    def __call__(
        self, address: str, *, client: str = "192.0.2.1", at: dt.datetime = NOW, **fields: str
    ) -> SignUpOutcome:
        mail = mail_settings(self.settings, self.engine)
        choice = Choice(address, **fields)
        return sign_up(self.engine, self.settings, mail, self.limits, choice, client=client, now=at)

    def confirmations(self) -> list[store.OutboxRow]:
        with self.engine.connect() as connection:
            return [r for r in store.outbox_rows(connection) if r.kind == "confirm"]

    def stored(self, address: str) -> bool:
        with self.engine.connect() as connection:
            return store.subscriber_by_address(connection, address) is not None


@pytest.fixture
def signing_up(settings: Settings, engine: Engine) -> SignUps:
    return SignUps(settings, engine)


def test_a_new_address_is_stored_unconfirmed_with_a_confirmation_mail(
    signing_up: SignUps,
) -> None:
    assert signing_up("Ana@Example.ORG", topics="health", frequency="weekly") is (
        SignUpOutcome.MAILED
    )
    with signing_up.engine.connect() as connection:
        saved = store.subscriber_by_address(connection, "Ana@example.org")
    assert saved is not None
    assert (saved.confirmed, saved.topics, saved.frequency) == (
        False,
        ("health",),
        Frequency.WEEKLY,
    )
    [row] = signing_up.confirmations()
    assert (row.key, row.message.recipient) == (f"{saved.id}-confirm-1", "Ana@example.org")
    assert b"confirm?token=" in row.message.data


def test_a_second_sign_up_takes_the_new_choices_and_waits_for_its_mail(
    signing_up: SignUps,
) -> None:
    assert signing_up("ana@example.org", topics="health") is SignUpOutcome.MAILED
    soon = NOW + CONFIRMATION_GAP / 2
    assert signing_up("ana@example.org", topics="libya", at=soon) is SignUpOutcome.NOT_MAILED
    with signing_up.engine.connect() as connection:
        saved = store.subscriber_by_address(connection, "ana@example.org")
    assert saved is not None
    assert saved.topics == ("libya",)
    later = NOW + CONFIRMATION_GAP
    assert signing_up("ana@example.org", at=later) is SignUpOutcome.MAILED
    assert [r.key.rsplit("-", 1)[1] for r in signing_up.confirmations()] == ["1", "2"]


def test_a_confirmed_subscriber_is_left_as_it_is_and_mailed_nothing(
    signing_up: SignUps,
) -> None:
    made = subscriber_from(
        Choice("ana@example.org", "health"), signing_up.settings, now=NOW, confirmed=True
    )
    before = add_subscriber(signing_up.engine, made)[0]
    assert signing_up("ana@example.org", topics="libya") is SignUpOutcome.NOT_MAILED
    with signing_up.engine.connect() as connection:
        assert store.subscriber_by_address(connection, "ana@example.org") == before
    assert signing_up.confirmations() == []


def test_sign_ups_over_an_hourly_count_are_refused_and_store_nothing(
    signing_up: SignUps,
) -> None:
    address = [signing_up("ana@example.org") for _ in range(ADDRESS_SIGN_UPS_PER_HOUR + 1)]
    assert address[-1] is SignUpOutcome.LIMITED
    assert SignUpOutcome.LIMITED not in address[:-1]
    clients = [signing_up(f"r{n}@example.org", client="c") for n in range(SIGN_UPS_PER_HOUR + 1)]
    assert clients[-1] is SignUpOutcome.LIMITED
    assert SignUpOutcome.LIMITED not in clients[:-1]
    assert not signing_up.stored(f"r{SIGN_UPS_PER_HOUR}@example.org")
    an_hour_on = NOW + SIGN_UP_WINDOW
    assert signing_up("ana@example.org", client="c", at=an_hour_on) is SignUpOutcome.MAILED


def test_a_refused_choice_raises_and_counts_against_no_limit(signing_up: SignUps) -> None:
    for _ in range(SIGN_UPS_PER_HOUR + 1):
        with pytest.raises(SubscriptionError, match="unknown frequency"):
            signing_up("ana@example.org", frequency="hourly")
    assert not signing_up.stored("ana@example.org")
    assert signing_up("ana@example.org") is SignUpOutcome.MAILED


def test_an_address_no_mail_can_carry_raises_and_stores_nothing(signing_up: SignUps) -> None:
    with pytest.raises(MailAddressError) as raised:
        signing_up("a..b@example.org")  # passes the checks; not one mailbox
    assert raised.value.address == "a..b@example.org"
    assert not signing_up.stored("a..b@example.org")
    assert signing_up.confirmations() == []


def test_stopping_a_topic_keeps_the_others_in_their_order(settings: Settings) -> None:
    ana = subscriber_from(
        Choice("ana@example.org", "health,libya,governance"), settings, now=NOW, confirmed=True
    )
    outcome, changed = stop_topic(ana, "libya", settings)
    assert outcome is TopicStop.STOPPED
    assert changed == dataclasses.replace(ana, topics=("health", "governance"))
    assert stop_topic(changed, "libya", settings) == (TopicStop.NOT_FOLLOWED, changed)
    assert stop_topic(changed, "all", settings) == (TopicStop.NOT_FOLLOWED, changed)


def test_stopping_one_of_every_topic_names_every_other(settings: Settings) -> None:
    bo = subscriber_from(Choice("bo@example.org", "all"), settings, now=NOW, confirmed=True)
    every = tuple(t.slug for t in settings.topics)
    assert stop_topic(bo, "health", settings)[1].topics == tuple(s for s in every if s != "health")
    assert stop_topic(bo, "all", settings) == (
        TopicStop.STOPPED,
        dataclasses.replace(bo, topics=every),
    )


def test_the_last_topic_is_never_stopped_into_every_topic(settings: Settings) -> None:
    cy = subscriber_from(Choice("cy@example.org", "health"), settings, now=NOW, confirmed=True)
    assert stop_topic(cy, "health", settings) == (TopicStop.LAST_TOPIC, cy)
    one = dataclasses.replace(settings, topics=settings.topics[:1])
    dee = subscriber_from(Choice("dee@example.org", ""), one, now=NOW, confirmed=True)
    assert stop_topic(dee, one.topics[0].slug, one) == (TopicStop.LAST_TOPIC, dee)


def test_import_takes_a_query_column_and_reports_a_broken_query_by_line(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        'address,topics,query\nana@example.org,libya,"Tripoli OR Misrata"\n'
        'bo@example.org,health,"before:yesterday"\n',
        encoding="utf-8",
    )
    report = import_subscribers(engine, csv_file, settings, now=NOW)
    assert report.added == 1
    assert len(report.problems) == 1
    assert report.problems[0].startswith(f"{csv_file}:3: ")
    with engine.connect() as connection:
        ana = store.subscriber_by_address(connection, "ana@example.org")
    assert ana is not None
    assert ana.query == "Tripoli OR Misrata"
