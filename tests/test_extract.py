"""Tests for pressfeed.extract: one test per rule, the golden pages, the seeds and our content.

The golden pages live in tests/golden/pages: each case is NAME.txt, NAME.md or NAME.html beside
NAME.json, the releases a careful reader finds on that page. To start a new case, write the page,
then draft its JSON from the current output and correct it by hand:

    .venv/bin/python -m tests.test_extract NAME [NAME ...]
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pressfeed.extract import (
    derive_title,
    extract_text,
    reads_as_headline,
    split_contacts,
    strip_chrome,
)
from pressfeed.models import Block, DateKind, Dateline, Release
from tests.conftest import ROOT, SHARED

PAGES = ROOT / "tests" / "golden" / "pages"
CONTENT = ROOT / "content"
CONTENT_LABELS = ROOT / "tests" / "golden" / "content-labels.json"
PAGE_SUFFIXES = (".txt", ".md", ".html")
FILE_DATE = dt.date(2020, 1, 1)
TODAY = dt.date(2026, 11, 23)
D = dt.date

LEAD = (
    "Dakar, 14 May 2024 – A new contribution will let the agency serve a hot meal every school "
    "day to 180,000 children in four countries."
)
BODY = "Without the new money, kitchens in more than 600 schools would have closed in June."
MORE = "The agency buys most of the grain from smallholder farmers near the schools."
HEADLINE = "Fresh funding keeps school meals going in the Sahel"
CONTACT = "+46 70 123 45 67, anna.berg@society.example"


def extract(
    text: str, suffix: str = ".txt", *, source: str = "page.txt", file_date: dt.date = FILE_DATE
) -> list[Release]:
    return extract_text(text, suffix, source=source, file_date=file_date, today=TODAY)


def page(*paragraphs: str) -> str:
    """Plain text with one paragraph a line and a blank line between them."""
    return "\n\n".join(paragraphs) + "\n"


def blocks(*texts: str) -> list[Block]:
    return [Block(text, line, 1) for line, text in enumerate(texts, start=1)]


def story(*texts: str) -> list[str]:
    return [b.text for b in strip_chrome(blocks(*texts))]


def only(releases: Sequence[Release]) -> Release:
    assert len(releases) == 1, [r.title for r in releases]
    return releases[0]


# --- chrome ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mark", ["-", "•", "|", "* * *", "—", "»"])
def test_lone_punctuation_is_chrome(mark: str) -> None:
    assert story(LEAD, mark, BODY) == [LEAD, BODY]


@pytest.mark.parametrize(
    "trail",
    [
        "Home / News",
        "Home > Newsroom > Press releases",
        "Accueil » Actualités",
        "Startseite › Presse › Pressemitteilungen",
        "Home | Media | Statements",
    ],
)
def test_breadcrumb_trail_is_chrome(trail: str) -> None:
    assert story(LEAD, trail, BODY) == [LEAD, BODY]


def test_sentence_with_a_slash_is_not_a_breadcrumb() -> None:
    text = "Teams in Rome / Brussels met on Monday. They agreed a plan."
    assert story(LEAD, text, BODY) == [LEAD, text, BODY]


def test_menu_label_shown_twice_is_chrome() -> None:
    assert story(LEAD, "Partnerships", "Partnerships", BODY) == [LEAD, BODY]


@pytest.mark.parametrize(
    ("label", "glued"),
    [
        ("Our Work", "Our WorkAs the leading agency, we link relief and development work."),
        ("Who we are", "WHO WE AREThe agency was founded in 1951 to help people on the move."),
    ],
)
def test_menu_label_glued_to_its_blurb_is_chrome(label: str, glued: str) -> None:
    assert story(LEAD, label, glued, BODY) == [LEAD, BODY]


def test_headline_repeated_at_the_start_of_its_paragraph_is_not_a_label() -> None:
    first = "Heat waves are becoming longer and more frequent in the region, the report finds."
    assert story("Heat waves", first, BODY) == ["Heat waves", first, BODY]


def test_top_menu_run_is_chrome_but_its_last_line_is_kept_for_the_headline_rules() -> None:
    menu = ["Skip to content", "Home", "About us", "What we do", "Drought deepens"]
    assert story(*menu, LEAD, BODY) == ["Drought deepens", LEAD, BODY]


def test_short_last_menu_line_is_kept_as_the_headline() -> None:
    release = only(extract(page("Home", "News", "Press", "Drought deepens", LEAD, BODY)))
    assert (release.title, release.title_derived) == ("Drought deepens", False)
    assert release.paragraphs == (LEAD, BODY)


def test_bulleted_menu_run_is_chrome_to_its_last_item() -> None:
    assert story("Home", "- Where we work", "- Data and Research", LEAD, BODY) == [LEAD, BODY]


def test_footer_run_is_chrome() -> None:
    footer = ["Share this:", "Facebook", "Email", "Privacy policy", "Imprint"]
    assert story(LEAD, BODY, *footer) == [LEAD, BODY]


def test_single_short_closing_line_is_kept() -> None:
    assert story(LEAD, BODY, "The Executive Board") == [LEAD, BODY, "The Executive Board"]


def test_footer_run_stops_at_contact_details() -> None:
    contact = "Anna Berg, +46 70 123 45 67, anna.berg@society.example"
    assert story(LEAD, "Media contact:", contact, "Donate", "Privacy") == [
        LEAD,
        "Media contact:",
        contact,
    ]


@pytest.mark.parametrize(
    "caption",
    [
        "© 2024 World Meals Agency",
        "The camp at dawn, March 2015. ©Agency/Jane Doe 2015",
        "(c) 2023 Relief Coalition",
        "All rights reserved.",
        "Photo: Jane Doe/Agency",
        "Photos: Jane Doe",
        "Children queue for lunch at a school in Garissa. Photo: Jane Doe/Agency",
        "Credit: Jane Doe/Agency",
        "Foto: Giulia Ferri",
    ],
)
def test_captions_and_copyright_lines_are_chrome(caption: str) -> None:
    assert story(LEAD, caption, BODY) == [LEAD, BODY]


@pytest.mark.parametrize(
    "text",
    [
        "The photo exhibition opens on Friday in the city library.",
        "Credit unions in the region have lent money to 4,000 families.",
    ],
)
def test_paragraphs_about_photos_or_credit_are_not_captions(text: str) -> None:
    assert story(LEAD, text, BODY) == [LEAD, text, BODY]


# --- headlines ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Drought deepens", True),
        ("IOM: saving lives must always be the number-one priority", True),
        ("“Servono più mezzi di soccorso”, dice l’OIM", True),
        ("2,000 people reach the border in a week", True),
        ("Floods", False),  # one word is a menu label
        ("The agency said so.", False),
        ("Media contact:", False),
        ("in the hills above the city", False),
        ("More to come...", False),
        (" ".join(["word"] * 36).capitalize(), False),
    ],
)
def test_reads_as_headline(text: str, expected: bool) -> None:
    assert reads_as_headline(text) is expected


def test_headline_of_a_page_without_dateline_is_its_first_block() -> None:
    release = only(extract(page("How we choose the projects we fund", BODY, MORE)))
    assert (release.title, release.title_derived) == ("How we choose the projects we fund", False)
    assert release.paragraphs == (BODY, MORE)


def test_markdown_heading_is_the_headline_even_with_a_full_stop() -> None:
    release = only(extract(f"# We choose projects with care.\n\n{BODY}\n\n{MORE}\n", ".md"))
    assert (release.title, release.paragraphs) == ("We choose projects with care.", (BODY, MORE))


def test_body_paragraph_that_reads_as_a_headline_stays_in_the_body() -> None:
    aside = "Three districts still without power"
    release = only(extract(page(HEADLINE, LEAD, BODY, aside, MORE)))
    assert release.title == HEADLINE
    assert release.paragraphs == (LEAD, BODY, aside, MORE)


def test_date_alone_under_the_headline_opens_the_body() -> None:
    release = only(extract(page("Nav", HEADLINE, "12 May 2023", BODY, MORE)))
    assert (release.title, release.date, release.date_kind) == (
        HEADLINE,
        D(2023, 5, 12),
        DateKind.STATED,
    )
    assert release.paragraphs == ("12 May 2023", BODY, MORE)


def test_date_alone_above_the_headline_under_a_menu() -> None:
    menu = ["Home", "Who we are", "Get involved", "Contact us"]
    release = only(extract(page(*menu, "18 November 2024", HEADLINE, BODY, MORE)))
    assert (release.title, release.title_derived) == (HEADLINE, False)
    assert release.date == D(2024, 11, 18)
    assert release.paragraphs == ("18 November 2024", BODY, MORE)


def test_listing_with_dates_above_headlines() -> None:
    second = "Volunteers reach flood-hit villages in the north"
    text = page("18 November 2024", HEADLINE, BODY, "4 November 2024", second, MORE)
    releases = extract(text)
    assert [(r.title, r.date) for r in releases] == [
        (HEADLINE, D(2024, 11, 18)),
        (second, D(2024, 11, 4)),
    ]
    assert [r.paragraphs for r in releases] == [
        ("18 November 2024", BODY),
        ("4 November 2024", MORE),
    ]


def test_listing_of_headlines_with_dates_under_them() -> None:
    titles = [HEADLINE, "Volunteers reach flood-hit villages", "Clinic reopens in the old town"]
    dates = ["18 November 2024", "4 November 2024", "1 November 2024"]
    text = page(*(line for pair in zip(titles, dates, strict=True) for line in pair))
    releases = extract(text)
    assert [(r.title, r.date.day) for r in releases] == [
        (titles[0], 18),
        (titles[1], 4),
        (titles[2], 1),
    ]


# --- listings -------------------------------------------------------------------------------------

LISTING = page(
    "Home / News",
    "New water points open in three camps",
    "Amman, 12 March 2025 – Three new water points now serve about 9,000 people in the camps.",
    "The network plans two more before the summer.",
    "Winter kits reach families in the north",
    "Erbil, 20 February 2025 – Blankets and stoves were handed out to 1,200 families.",
    "Legal aid desks extended to two more cities",
    "Duhok, 28 January 2025 – Free legal advice on civil documents is now available in Duhok.",
)


def test_listing_page_is_split_into_releases() -> None:
    releases = extract(LISTING)
    assert [r.title for r in releases] == [
        "New water points open in three camps",
        "Winter kits reach families in the north",
        "Legal aid desks extended to two more cities",
    ]
    assert [len(r.paragraphs) for r in releases] == [2, 1, 1]
    assert [r.place for r in releases] == ["Amman", "Erbil", "Duhok"]


def test_positions_count_the_releases_of_a_file_from_zero() -> None:
    releases = extract(LISTING, source="press/listing.txt")
    assert [(r.position, r.source) for r in releases] == [
        (i, "press/listing.txt") for i in range(3)
    ]


def test_photo_caption_between_listing_items_is_not_a_release() -> None:
    text = page(
        "Rains bring relief but also floods",
        "Nairobi, 10 January 2025 - Heavy rains have refilled water pans in the dry east.",
        "Photo: Jane Doe/Agency",
        "School feeding restarts after the holidays",
        "Garissa, 6 January 2025 - Kitchens in 140 schools reopened this week.",
        "Children queue for lunch at a school in Garissa. Photo: Jane Doe/Agency",
    )
    releases = extract(text)
    assert [r.title for r in releases] == [
        "Rains bring relief but also floods",
        "School feeding restarts after the holidays",
    ]
    assert [len(r.paragraphs) for r in releases] == [1, 1]


def test_dateline_paragraph_without_headline_is_a_release_with_a_derived_title() -> None:
    statement = (
        "New York, 5 March 2025 – The federation is saddened by the loss of three aid workers. "
        "It calls for an inquiry."
    )
    releases = extract(page("Home / Statements", HEADLINE, LEAD, statement))
    assert [(r.title, r.title_derived) for r in releases] == [
        (HEADLINE, False),
        ("The federation is saddened by the loss of three aid workers", True),
    ]
    assert releases[1].paragraphs == (statement,)
    assert (releases[1].date, releases[1].place) == (D(2025, 3, 5), "New York")


def test_derived_title_is_cut_to_a_dozen_words() -> None:
    lead = (
        "18 December - On International Migrants Day we remember that behind every figure there "
        "is a person with a family."
    )
    release = only(extract(page(lead, BODY)))
    assert (
        release.title
        == "On International Migrants Day we remember that behind every figure there is…"
    )
    assert release.title_derived


def test_derived_title_of_a_page_without_headline_or_dateline() -> None:
    first = "The agency opened its office in Malta in 2005 and works with the government."
    release = only(extract(page(first, BODY)))
    assert (release.title, release.title_derived) == (
        "The agency opened its office in Malta in 2005 and works with the government",
        True,
    )


@pytest.mark.parametrize(
    ("paragraph", "title"),
    [
        ("Geneva – Talks ended. The next round is in May.", "Talks ended"),
        ("Geneva – the talks ended on Friday", "The talks ended on Friday"),
        ("No dateline here. Second sentence.", "No dateline here"),
        ("Talks ended. Łukasz Nowak chaired them.", "Talks ended"),
        ("Talks ended. Čtvrté kolo je v květnu.", "Talks ended"),
    ],
)
def test_derive_title_takes_the_first_sentence_after_the_dateline(
    paragraph: str, title: str
) -> None:
    end = len("Geneva – ") if paragraph.startswith("Geneva") else 0
    dateline = Dateline(place="Geneva" if end else None, date=None, year_stated=False, end=end)
    assert derive_title([paragraph], dateline) == title


# --- datelines and dates --------------------------------------------------------------------------

PLACE_ONLY = (
    "Geneva – Representatives of more than 100 governments met in Geneva this week to discuss "
    "climate and migration."
)


def test_place_only_dateline_gives_the_place_and_the_file_date() -> None:
    release = only(extract(page(HEADLINE, PLACE_ONLY, BODY), file_date=D(2024, 7, 1)))
    assert (release.place, release.date, release.date_kind) == (
        "Geneva",
        D(2024, 7, 1),
        DateKind.FILE_TIME,
    )
    assert release.stated_date is None
    assert release.paragraphs == (PLACE_ONLY, BODY)


def test_place_only_paragraph_without_headline_continues_the_release_before_it() -> None:
    releases = extract(page(HEADLINE, LEAD, PLACE_ONLY))
    assert only(releases).paragraphs == (LEAD, PLACE_ONLY)


def test_place_only_release_in_a_listing_with_its_headline() -> None:
    releases = extract(page(HEADLINE, LEAD, "Talks on climate and migration end", PLACE_ONLY))
    assert [(r.title, r.date_kind) for r in releases] == [
        (HEADLINE, DateKind.STATED),
        ("Talks on climate and migration end", DateKind.FILE_TIME),
    ]


def test_yearless_datelines_take_the_year_of_the_newer_release_above() -> None:
    text = page(
        "Rains bring relief but also floods",
        "Nairobi, 10 January 2025 - Heavy rains have refilled water pans in the dry east.",
        "School feeding restarts after the holidays",
        "Garissa, 28 December - Kitchens in 140 schools reopened this week.",
        "Cash transfers reach herding families",
        "15 December - More than 8,000 households received their first transfer.",
    )
    assert [(r.date, r.date_kind) for r in extract(text)] == [
        (D(2025, 1, 10), DateKind.STATED),
        (D(2024, 12, 28), DateKind.YEAR_INFERRED),
        (D(2024, 12, 15), DateKind.YEAR_INFERRED),
    ]


def test_yearless_datelines_above_the_first_stated_year_count_forward_from_it() -> None:
    text = page(
        "New water points open in three camps",
        "Amman, 12 January – Three new water points now serve about 9,000 people.",
        "Pledges welcomed",
        "Geneva, 2 December 2024 – The network welcomed the pledges made this week.",
    )
    assert [(r.date, r.date_kind) for r in extract(text)] == [
        (D(2025, 1, 12), DateKind.YEAR_INFERRED),
        (D(2024, 12, 2), DateKind.STATED),
    ]


@pytest.mark.parametrize(
    ("file_date", "expected"), [(D(2020, 1, 1), D(2019, 3, 3)), (D(2020, 6, 1), D(2020, 3, 3))]
)
def test_yearless_dateline_alone_is_not_later_than_the_file(
    file_date: dt.date, expected: dt.date
) -> None:
    release = only(extract(page(HEADLINE, "Rome, 3 March - " + BODY), file_date=file_date))
    assert (release.date, release.date_kind) == (expected, DateKind.YEAR_INFERRED)


def test_page_without_any_date_takes_the_file_date() -> None:
    release = only(extract(page(HEADLINE, BODY, MORE), file_date=D(2024, 2, 29)))
    assert (release.date, release.date_kind, release.stated_date) == (
        D(2024, 2, 29),
        DateKind.FILE_TIME,
        None,
    )
    assert release.place is None


@pytest.mark.parametrize(
    ("lead", "place", "date"),
    [
        (
            "Berlin, 3. März 2020 – Die Organisation begrüßt das neue Gesetz.",
            "Berlin",
            D(2020, 3, 3),
        ),
        (
            "Wien, Montag, 12. Februar 2024 – Der Verein stockt sein Angebot auf.",
            "Wien",
            D(2024, 2, 12),
        ),
        ("Madrid, 3 de marzo de 2020 – La fundación abre dos comedores.", "Madrid", D(2020, 3, 3)),
        (
            "Ciudad de Panamá, martes 4 de junio de 2024 – La fundación abre dos comedores.",
            "Ciudad de Panamá",
            D(2024, 6, 4),
        ),
        (
            "Genève, le 3 mars 2020 – L’organisation appelle les gouvernements.",
            "Genève",
            D(2020, 3, 3),
        ),
        ("Roma, 26 gennaio 2021 – Almeno 27 persone hanno perso la vita.", "Roma", D(2021, 1, 26)),
    ],
)
def test_datelines_in_other_languages(lead: str, place: str, date: dt.date) -> None:
    release = only(extract(page(HEADLINE, lead, BODY)))
    assert (release.place, release.date, release.date_kind) == (place, date, DateKind.STATED)
    assert release.paragraphs[0] == lead


def test_published_label_under_the_headline_dates_the_release() -> None:
    release = only(extract(page("Un plan pour les écoles rurales", "Publié le 3 mars 2020", BODY)))
    assert (release.title, release.date, release.place) == (
        "Un plan pour les écoles rurales",
        D(2020, 3, 3),
        None,
    )
    assert release.paragraphs == ("Publié le 3 mars 2020", BODY)


# --- contacts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "intro",
    [
        "Media contact:",
        "Press contacts",
        "Media enquiries",
        "For more information, please contact:",
        "For further information please contact",
        "Contact:",
        "Contacts",
        "Please contact",
        "Per ulteriori informazioni:",
        "Per informazioni",
        "Contatti:",
        "Pour plus d’informations :",
        "Contact presse :",
        "Pressekontakt:",
        "Kontakt:",
        "Para más información:",
        "Contactos",
    ],
)
def test_contact_block_is_split_off_at_its_introduction(intro: str) -> None:
    release = only(extract(page(HEADLINE, LEAD, BODY, intro, "Anna Berg", CONTACT)))
    assert release.paragraphs == (LEAD, BODY)
    assert release.contacts == (intro, "Anna Berg", CONTACT)


def test_contact_introduction_with_details_on_the_same_line() -> None:
    contact = "Media contact: Sara Bonnici, press officer, +356 7912 4408, press@harbour.example"
    release = only(extract(page(HEADLINE, LEAD, BODY, contact)))
    assert (release.paragraphs, release.contacts) == ((LEAD, BODY), (contact,))


def test_closing_lines_with_email_or_telephone_are_contacts() -> None:
    geneva = "Leo Doe at the Geneva office: +41 79 000 0000, email ldoe@agency.example"
    tunis = "Safa Ali at the Tunis office, tel. +216 22 000 000"
    release = only(extract(page(HEADLINE, LEAD, BODY, geneva, tunis)))
    assert (release.paragraphs, release.contacts) == ((LEAD, BODY), (geneva, tunis))


@pytest.mark.parametrize(
    "paragraph",
    [
        "Contact with the boat was lost shortly after it reported that water was coming in.",
        "Contacts between the two coast guards resumed on Tuesday.",
        "Kontakt zu den Angehörigen besteht über das Rote Kreuz.",
        "Contatti con le famiglie sono in corso da ieri sera.",
        "Families can write to help@agency.example for news of their relatives.",
    ],
)
def test_story_paragraph_about_contact_stays_in_the_body(paragraph: str) -> None:
    release = only(extract(page(HEADLINE, LEAD, paragraph, BODY)))
    assert (release.paragraphs, release.contacts) == ((LEAD, paragraph, BODY), ())


def test_first_paragraph_is_never_a_contact_block() -> None:
    assert split_contacts(["Contact: the lead.", "Second."]) == (
        ["Contact: the lead.", "Second."],
        [],
    )


# --- link text ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        " Read more »",
        " Read more…",
        " Read More >>",
        " Read here",
        " Read the news",
        " Read the full story",
        " Continue reading →",
        " Lire la suite",
        " Leer más",
        " Leggi",
        " Leggi tutto",
        " Weiterlesen",
    ],
)
def test_link_text_after_the_last_sentence_is_stripped(link: str) -> None:
    release = only(extract(page(HEADLINE, LEAD + link, BODY + link)))
    assert release.paragraphs == (LEAD, BODY)


@pytest.mark.parametrize(
    "sentence",
    ["See the full report on the website.", "Read the report, the agency said.", "We read more."],
)
def test_sentences_that_start_like_link_text_are_kept(sentence: str) -> None:
    release = only(extract(page(HEADLINE, LEAD, f"{BODY} {sentence}")))
    assert release.paragraphs == (LEAD, f"{BODY} {sentence}")


# --- ids ------------------------------------------------------------------------------------------


def test_teaser_and_full_text_get_the_same_id() -> None:
    teaser = page(
        HEADLINE,
        "Dakar, 14 May – A new contribution will let the agency serve hot meals. Read more »",
        "Clinic reopens in the old town",
        "Tunis, 3 May 2024 – The clinic reopened on Monday.",
    )
    full = page("Home / Newsroom", HEADLINE, LEAD, BODY, MORE)
    short, whole = extract(teaser, source="listing.txt")[0], only(extract(full, source="full.txt"))
    assert (short.date_kind, whole.date_kind) == (DateKind.YEAR_INFERRED, DateKind.STATED)
    assert short.id == whole.id
    assert re.fullmatch(r"[0-9a-f]{16}", whole.id)


def test_undated_teaser_and_full_text_get_the_same_id() -> None:
    teaser = extract(page(HEADLINE, PLACE_ONLY), file_date=D(2024, 1, 1))
    full = extract(page(HEADLINE, PLACE_ONLY, BODY, MORE), file_date=D(2024, 3, 1))
    assert only(teaser).id == only(full).id


def test_same_headline_on_another_day_gets_another_id() -> None:
    first = only(extract(page(HEADLINE, LEAD)))
    again = only(extract(page(HEADLINE, LEAD.replace("14 May 2024", "14 May 2025"))))
    assert first.id != again.id


def test_ids_are_stable_across_runs_and_file_dates() -> None:
    one = extract(LISTING, file_date=D(2025, 6, 1))
    two = extract(LISTING, source="elsewhere.txt", file_date=D(2026, 1, 1))
    assert [r.id for r in one] == [r.id for r in two]
    assert len({r.id for r in one}) == 3


# --- pages without releases -----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n\n", "Home\nAbout us\nNews\nContact\n", "© 2024 Agency\n"])
def test_page_without_a_story_has_no_release(text: str) -> None:
    assert extract(text) == []


# --- golden pages ---------------------------------------------------------------------------------


def _case_pages() -> list[Path]:
    return sorted(p for p in PAGES.iterdir() if p.suffix in PAGE_SUFFIXES)


def _first_words(text: str, count: int = 8) -> str:
    return " ".join(text.split()[:count])


def summarise(release: Release, body_starts: str | None = None) -> dict[str, Any]:
    """What a golden case records of a release; `body_starts` is kept if the body starts so."""
    first = release.paragraphs[0] if release.paragraphs else ""
    starts = body_starts if body_starts is not None and first.startswith(body_starts) else None
    return {
        "title": release.title,
        "title_derived": release.title_derived,
        "date": release.stated_date.isoformat() if release.stated_date else None,
        "date_kind": release.date_kind.value,
        "place": release.place,
        "body_starts": starts if starts is not None else _first_words(first),
        "paragraphs": len(release.paragraphs),
        "contacts": len(release.contacts),
    }


def extract_page(path: Path) -> list[Release]:
    text = path.read_text(encoding="utf-8")
    return extract(text, path.suffix, source=path.name)


def test_golden_folder_has_cases_and_no_stray_files() -> None:
    pages = {p.stem for p in _case_pages()}
    expected = {p.stem for p in PAGES.glob("*.json")}
    assert len(pages) >= 15
    assert expected == pages, "each page needs NAME.json beside it, and each NAME.json a page"


@pytest.mark.parametrize("path", _case_pages(), ids=lambda p: p.name)
def test_golden_page(path: Path) -> None:
    expected_file = path.with_suffix(".json")
    assert expected_file.is_file(), (
        f"no {expected_file.name}: python -m tests.test_extract {path.stem}"
    )
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    releases = extract_page(path)
    starts = [e["body_starts"] for e in expected] + [None] * len(releases)
    assert [summarise(r, s) for r, s in zip(releases, starts, strict=False)] == expected
    assert [r.position for r in releases] == list(range(len(releases)))


# --- hand-labelled files: the shared seeds and our content ----------------------------------------


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _labelled_files(labels: Path) -> list[str]:
    if not labels.is_file():
        return ["(labels missing)"]  # the shared_dir fixture skips or fails the test
    return list(json.loads(labels.read_text(encoding="utf-8"))["files"])


def _labelled_view(label: dict[str, Any]) -> dict[str, Any]:
    if label["date"] is None:
        kind = DateKind.FILE_TIME
    else:
        kind = DateKind.YEAR_INFERRED if label.get("year_inferred") else DateKind.STATED
    return {
        "title": label["title"],
        "date": label["date"],
        "date_kind": kind.value,
        "body_starts": _squash(label["body_starts"]),
    }


def _release_view(release: Release, label: dict[str, Any] | None) -> dict[str, Any]:
    body = _squash(" ".join(release.paragraphs))
    wanted = _squash(label["body_starts"]) if label else ""
    return {
        "title": None if release.title_derived else release.title,
        "date": release.stated_date.isoformat() if release.stated_date else None,
        "date_kind": release.date_kind.value,
        "body_starts": wanted if label and body.startswith(wanted) else body[:80],
    }


def check_labelled_file(path: Path, labels: list[dict[str, Any]]) -> None:
    """Extract `path` and compare every release with its hand label, in page order."""
    releases = extract(path.read_text(encoding="utf-8"), path.suffix, source=path.name)
    padded = [*labels, *[None] * len(releases)]
    found = [_release_view(r, lb) for r, lb in zip(releases, padded, strict=False)]
    assert found == [_labelled_view(lb) for lb in labels]


def _check_duplicates(files: dict[str, Any], root: Path) -> None:
    ids: dict[str, str] = {}
    for name in files:
        releases = extract(
            (root / name).read_text(encoding="utf-8"), Path(name).suffix, source=name
        )
        ids.update({f"{name}#{r.position}": r.id for r in releases})
    pairs = [
        (f"{name}#{i}", label["duplicate_of"])
        for name, entry in files.items()
        for i, label in enumerate(entry["releases"])
        if label.get("duplicate_of")
    ]
    assert pairs, "the labels name no duplicates"
    assert [(a, b, ids[a] == ids[b]) for a, b in pairs] == [(a, b, True) for a, b in pairs]


SEEDS_LABELS = SHARED / "seeds-golden.json"


@pytest.mark.parametrize("name", _labelled_files(SEEDS_LABELS))
def test_seed_file_matches_its_labels(shared_dir: Path, name: str) -> None:
    files = json.loads((shared_dir / "seeds-golden.json").read_text(encoding="utf-8"))["files"]
    check_labelled_file(shared_dir / "seeds" / name, files[name]["releases"])


def test_seed_duplicates_share_an_id(shared_dir: Path) -> None:
    files = json.loads((shared_dir / "seeds-golden.json").read_text(encoding="utf-8"))["files"]
    _check_duplicates(files, shared_dir / "seeds")


@pytest.mark.parametrize("name", _labelled_files(CONTENT_LABELS))
def test_content_file_matches_its_labels(name: str) -> None:
    files = json.loads(CONTENT_LABELS.read_text(encoding="utf-8"))["files"]
    check_labelled_file(CONTENT / name, files[name]["releases"])


def test_content_duplicates_share_an_id() -> None:
    files = json.loads(CONTENT_LABELS.read_text(encoding="utf-8"))["files"]
    _check_duplicates(files, CONTENT)


# --- drafting a new golden case -------------------------------------------------------------------


def draft_expected(name: str) -> Path:
    """Write NAME.json from what extraction finds today: a draft to correct by hand."""
    path = next((p for p in _case_pages() if p.stem == name), None)
    if path is None:
        sys.exit(f"no page {name}.txt, {name}.md or {name}.html in {PAGES}")
    target = path.with_suffix(".json")
    found = [summarise(r) for r in extract_page(path)]
    target.write_text(json.dumps(found, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return target


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m tests.test_extract NAME [NAME ...]")
    for case in sys.argv[1:]:
        print(f"wrote {draft_expected(case)}: now check every value by hand")
