# The cases are real text, typographic dashes and quotes included.
import datetime as dt

import pytest

from pressfeed.dates import infer_years, parse_dateline

TODAY = dt.date(2025, 6, 1)
D = dt.date
NBSP = "\u00a0"
TWELVE_WORDS = "The agency said on Monday that more than two thousand people had arrived here."


def parse(paragraph: str, today: dt.date = TODAY) -> tuple[str | None, dt.date | None, bool, str]:
    dateline = parse_dateline(paragraph, today=today)
    assert dateline is not None, paragraph
    return dateline.place, dateline.date, dateline.year_stated, paragraph[dateline.end :]


DATED = [
    ("Rome, 30 July 2019 – Today, 30th July, is World Day", "Rome", D(2019, 7, 30), "Today, 30th"),
    ("Rome 2 January 2019 - The International Organization", "Rome", D(2019, 1, 2), "The Int"),
    ("Genève, le 3 mars 2020 – L'OIM a annoncé", "Genève", D(2020, 3, 3), "L'OIM"),
    ("Roma, 26 gennaio 2019 – L'OIM esprime", "Roma", D(2019, 1, 26), "L'OIM"),
    ("Madrid, 3 de marzo de 2020 – La OIM", "Madrid", D(2020, 3, 3), "La OIM"),
    ("Berlin, 3. März 2020 – Die IOM", "Berlin", D(2020, 3, 3), "Die IOM"),
    ("Paris, lundi 1er mars 2021 – L'OIM", "Paris", D(2021, 3, 1), "L'OIM"),
    ("Geneva, Switzerland, 12 May 2019 – IOM", "Geneva, Switzerland", D(2019, 5, 12), "IOM"),
    ("Cox's Bazar, 3 May 2019 - Rohingya refugees", "Cox's Bazar", D(2019, 5, 3), "Rohingya"),
    ("Cox’s Bazar, 3 May 2019 - Rohingya refugees", "Cox’s Bazar", D(2019, 5, 3), "Rohingya"),
    (
        "Floriana/Rome/Brussels, 9 January 2019 – IOM commends",
        "Floriana/Rome/Brussels",
        D(2019, 1, 9),
        "IOM commends",
    ),
    ("St. Louis, 3 May 2020 – Officials", "St. Louis", D(2020, 5, 3), "Officials"),
    ("Port-au-Prince, 12 January 2020 – Ten years", "Port-au-Prince", D(2020, 1, 12), "Ten years"),
    ("Dar es Salaam, 4 June 2019 – IOM", "Dar es Salaam", D(2019, 6, 4), "IOM"),
    ("Washington, D.C., March 2, 2020 – IOM", "Washington, D.C.", D(2020, 3, 2), "IOM"),
    ("ROME, 3 MAY 2019 – IOM", "ROME", D(2019, 5, 3), "IOM"),
    ("Łódź, 3 May 2019 – IOM", "Łódź", D(2019, 5, 3), "IOM"),
    ("𝐑𝐎𝐌𝐄, 3 May 2019 – IOM", "𝐑𝐎𝐌𝐄", D(2019, 5, 3), "IOM"),  # mathematical bold capitals
    ("Roma, lunedì 26 gennaio 2019 – L'OIM", "Roma", D(2019, 1, 26), "L'OIM"),
    ("Madrid, lunes 3 de marzo de 2020 – La OIM", "Madrid", D(2020, 3, 3), "La OIM"),
    ("Berlin, Montag, 3. März 2020 – Die IOM", "Berlin", D(2020, 3, 3), "Die IOM"),
    (f"29 March{NBSP} 2019{NBSP} -{NBSP} In relation to", None, D(2019, 3, 29), "In relation"),
    ("29 March  2019 - In relation to the activities", None, D(2019, 3, 29), "In relation"),
    ("April 25, 2016 Today, World Malaria Day 2016", None, D(2016, 4, 25), "Today, World"),
    (f"April 19, 2016{NBSP} -{NBSP} IOM’s Global Migration", None, D(2016, 4, 19), "IOM’s Global"),
    ("March 24, 2016 IOM is marking this year’s", None, D(2016, 3, 24), "IOM is marking"),
    ("April 25, 2016 “We must act,” said", None, D(2016, 4, 25), "“We must"),
    ("April 25, 2016 2,000 people arrived", None, D(2016, 4, 25), "2,000 people"),
    ("Sept. 3, 2019 – IOM", None, D(2019, 9, 3), "IOM"),
    ("Monday, March 2, 2020 — IOM", None, D(2020, 3, 2), "IOM"),
    ("March 2nd, 2020 — IOM", None, D(2020, 3, 2), "IOM"),
    ("30th July 2019 – IOM", None, D(2019, 7, 30), "IOM"),
    ("3rd of March 2020 – IOM", None, D(2020, 3, 3), "IOM"),
    ("2019-07-30 – Today", None, D(2019, 7, 30), "Today"),
    ("Geneva, 2019-07-30 – Today", "Geneva", D(2019, 7, 30), "Today"),
]


@pytest.mark.parametrize(("paragraph", "place", "date", "story"), DATED)
def test_dated_datelines(paragraph: str, place: str | None, date: dt.date, story: str) -> None:
    assert parse(paragraph)[:3] == (place, date, True)
    assert parse(paragraph)[3].startswith(story)


YEARLESS = [
    ("Roma 26 January - The International Organisation", "Roma", (1, 26), "The Inter"),
    (f"18 December -{NBSP}Migration is the great issue", None, (12, 18), "Migration"),
    ("23 August - UNHCR, the UN Refugee Agency", None, (8, 23), "UNHCR, the"),
    ("Rome, 28 March - in the last few weeks", "Rome", (3, 28), "in the last"),
    ("Paris, 3 mars – L'OIM", "Paris", (3, 3), "L'OIM"),
    ("March 28 – IOM", None, (3, 28), "IOM"),
]


@pytest.mark.parametrize(("paragraph", "place", "month_day", "story"), YEARLESS)
def test_yearless_datelines_use_todays_year(
    paragraph: str, place: str | None, month_day: tuple[int, int], story: str
) -> None:
    assert parse(paragraph)[:3] == (place, D(TODAY.year, *month_day), False)
    assert parse(paragraph)[3].startswith(story)


DATE_ONLY = [
    ("12 May 2023", D(2023, 5, 12)),
    ("May 12, 2023", D(2023, 5, 12)),
    ("2023-05-12", D(2023, 5, 12)),
    ("Published: 12 May 2023", D(2023, 5, 12)),
    ("Posted on May 12, 2023", D(2023, 5, 12)),
    ("Posted on: May 12, 2023 ", D(2023, 5, 12)),
    ("Date: 12 May 2023", D(2023, 5, 12)),
    ("Updated 12 May 2023", D(2023, 5, 12)),
    ("Press release: 12 May 2023", D(2023, 5, 12)),
    ("News release May 12, 2023", D(2023, 5, 12)),
    ("Publié le 12 mai 2023", D(2023, 5, 12)),
    ("Pubblicato il 12 maggio 2023", D(2023, 5, 12)),
    ("Publicado el 12 de mayo de 2023", D(2023, 5, 12)),
    ("Veröffentlicht am 12. Mai 2023", D(2023, 5, 12)),
]


@pytest.mark.parametrize(("paragraph", "date"), DATE_ONLY)
def test_a_paragraph_of_only_a_date_is_a_dateline(paragraph: str, date: dt.date) -> None:
    dateline = parse_dateline(paragraph, today=TODAY)
    assert dateline is not None
    assert (dateline.place, dateline.date, dateline.year_stated) == (None, date, True)
    assert dateline.end == len(paragraph)


def test_a_label_needs_the_paragraph_to_end_with_the_date() -> None:
    assert parse_dateline("Published: 12 May 2023 – IOM said", today=TODAY) is None


SEPARATORS = ["–", "—", "‒", "-", ":", "|", " –", " - ", " | ", ", –", f"{NBSP}–{NBSP}"]


@pytest.mark.parametrize("separator", SEPARATORS)
def test_separators(separator: str) -> None:
    assert parse(f"Rome, 3 May 2019{separator} IOM said")[1:] == (D(2019, 5, 3), True, "IOM said")
    assert parse(f"Rome, 3 May 2019{separator}IOM said")[3] == "IOM said"


PLACE_ONLY = [
    ("Geneva – IOM Director General António Vitorino (27-30/11)", "Geneva", "IOM Director"),
    ("Tripoli – A flight to Ghana", "Tripoli", "A flight"),
    ("Floriana/Rome/Brussels – The IOM", "Floriana/Rome/Brussels", "The IOM"),
    (f"Floriana/Rome/Brussels{NBSP} –{NBSP} The IOM", "Floriana/Rome/Brussels", "The IOM"),
    ("Geneva - The International Organization", "Geneva", "The International"),
    ("GENEVA – The agency", "GENEVA", "The agency"),
    ("Cox's Bazar – Monsoon rains", "Cox's Bazar", "Monsoon"),
    ("Dar es Salaam — Officials", "Dar es Salaam", "Officials"),
    ("Port-au-Prince – Ten years", "Port-au-Prince", "Ten years"),
    ("Geneva, Switzerland – Officials", "Geneva, Switzerland", "Officials"),
    ("Geneva –The agency", "Geneva", "The agency"),
]


@pytest.mark.parametrize(("opening", "place", "story"), PLACE_ONLY)
def test_place_only_datelines(opening: str, place: str, story: str) -> None:
    paragraph = f"{opening} {TWELVE_WORDS}"
    assert parse(paragraph)[:3] == (place, None, False)
    assert parse(paragraph)[3].startswith(story)


SENTENCE_ENDS = [
    f"Geneva – {TWELVE_WORDS}",
    f"Geneva – {TWELVE_WORDS[:-1]}!",
    f"Geneva – {TWELVE_WORDS[:-1]}?",
    f"Geneva – {TWELVE_WORDS[:-1]}.” ",
    f"Geneva – {TWELVE_WORDS[:-1]}.)",
    # Teasers on listing pages end in a link text after the last sentence.
    f"Geneva – {TWELVE_WORDS} Read here",
    f"Tripoli – {TWELVE_WORDS} Read the news{NBSP}",
]


@pytest.mark.parametrize("paragraph", SENTENCE_ENDS)
def test_place_only_accepts_a_story_with_a_sentence_end(paragraph: str) -> None:
    assert parse(paragraph)[1] is None


PLACE_ONLY_REJECTED = [
    "World Day Against Trafficking – IOM: Necessary to keep attention high on the phenomenon "
    "along diversified routes",
    "Libya – IOM calls for calm",
    "Geneva – one two three four five six seven eight nine ten eleven.",
    f"Geneva – {TWELVE_WORDS[:-1]}",
    f"Geneva-{TWELVE_WORDS}",
    f"Geneva- {TWELVE_WORDS}",
    f"Geneva, {TWELVE_WORDS}",
    f"Geneva is the home of the agency – {TWELVE_WORDS}",
    f"One Two Three Four – {TWELVE_WORDS}",
    f"de Paris – {TWELVE_WORDS}",
    f"geneva – {TWELVE_WORDS}",
    f"Monday – {TWELVE_WORDS}",
]


@pytest.mark.parametrize("paragraph", PLACE_ONLY_REJECTED)
def test_place_only_rejects_headlines(paragraph: str) -> None:
    assert parse_dateline(paragraph, today=TODAY) is None


NOT_DATELINES = [
    "On Thursday (11/29) IOM Director General Vitorino convened a high-level dialogue.",
    "Geneva is the home of the agency.",
    "In 2019, 1,200 people crossed the sea.",
    "Today, 30th July, is World Day Against Trafficking.",
    "The “New Jungle”, a migrant settlement in the port city of Calais, France. August, 2015. "
    "©IOM/Amanda Nero 2015",
    "IOM Director General's Message on International Women's Day 2016",
    "UN Migration Agency Concludes 109th Council Session",
    "IOM Releases Global Migration Trends 2015 Factsheet",
    "18 migrants rescued off Libya",
    "18 Marines rescued off Libya",
    "The 3 May elections – were held in peace.",
    "“The safety of migrants in detention is especially concerning,” he said.",
    "- Where we work",
    "- 2030 Agenda",
    "IOM: saving lives must always be the number-one priority",
    "March 2016 – IOM",
    "",
    "Rome, 28 March 2019, IOM said",
    "25 April 2016 Today, World Malaria Day",
    "April 25 Today, World Malaria Day",
    "April 25, 2016 today the world",
    "12 May 2023 10:30 – IOM",
    "One Two Three Four Five Six, 3 May 2020 – IOM",
]


@pytest.mark.parametrize("paragraph", NOT_DATELINES)
def test_not_datelines(paragraph: str) -> None:
    assert parse_dateline(paragraph, today=TODAY) is None


MONTHS = {
    "English": [
        ("January", "Jan"), ("February", "Feb"), ("March", "Mar"), ("April", "Apr"),
        ("May", "May"), ("June", "Jun"), ("July", "Jul"), ("August", "Aug"),
        ("September", "Sept"), ("October", "Oct"), ("November", "Nov"), ("December", "Dec"),
    ],
    "French": [
        ("janvier", "janv"), ("février", "févr"), ("mars", "mars"), ("avril", "avr"),
        ("mai", "mai"), ("juin", "juin"), ("juillet", "juil"), ("août", "aout"),
        ("septembre", "sept"), ("octobre", "oct"), ("novembre", "nov"), ("décembre", "déc"),
    ],
    "Italian": [
        ("gennaio", "gen"), ("febbraio", "feb"), ("marzo", "mar"), ("aprile", "apr"),
        ("maggio", "mag"), ("giugno", "giu"), ("luglio", "lug"), ("agosto", "ago"),
        ("settembre", "set"), ("ottobre", "ott"), ("novembre", "nov"), ("dicembre", "dic"),
    ],
    "Spanish": [
        ("enero", "ene"), ("febrero", "feb"), ("marzo", "mar"), ("abril", "abr"),
        ("mayo", "may"), ("junio", "jun"), ("julio", "jul"), ("agosto", "ago"),
        ("septiembre", "sep"), ("octubre", "oct"), ("noviembre", "nov"), ("diciembre", "dic"),
    ],
    "German": [
        ("Januar", "Jan"), ("Februar", "Feb"), ("März", "Mrz"), ("April", "Apr"),
        ("Mai", "Mai"), ("Juni", "Jun"), ("Juli", "Jul"), ("August", "Aug"),
        ("September", "Sep"), ("Oktober", "Okt"), ("November", "Nov"), ("Dezember", "Dez"),
    ],
}  # fmt: skip
MONTH_NAMES = [
    pytest.param(name, number, id=f"{language}-{name}")
    for language, months in MONTHS.items()
    for number, pair in enumerate(months, start=1)
    for name in (*pair, f"{pair[1]}.")
]
MONTH_VARIANTS = [
    ("fevrier", 2), ("Fevr.", 2), ("decembre", 12), ("Aout", 8), ("Maerz", 3), ("Jänner", 1),
    ("Jän.", 1), ("setiembre", 9), ("Sept.", 9), ("FÉVRIER", 2), ("MÄRZ", 3),
]  # fmt: skip


@pytest.mark.parametrize(("name", "number"), [*MONTH_NAMES, *MONTH_VARIANTS])
def test_month_names(name: str, number: int) -> None:
    assert parse(f"Rome, 3 {name} 2020 – IOM")[1] == D(2020, number, 3)
    assert parse(f"3 {name.upper()} – IOM")[1] == D(TODAY.year, number, 3)
    assert parse(f"{name} 3, 2020 – IOM")[1] == D(2020, number, 3)


WEEKDAYS = [
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Mon.", "Thurs",
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
    "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica",
    "lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo",
    "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag",
]  # fmt: skip


@pytest.mark.parametrize("weekday", WEEKDAYS)
def test_weekdays_before_the_date(weekday: str) -> None:
    assert parse(f"Rome, {weekday}, 3 May 2020 – IOM")[:2] == ("Rome", D(2020, 5, 3))
    assert parse(f"{weekday} 3 May 2020 – IOM")[:2] == (None, D(2020, 5, 3))


INVALID = [
    "31 February 2020 – IOM",
    "29 February 2019 – IOM",
    "30 February – IOM",
    "31 April 2020 – IOM",
    "32 May 2020 – IOM",
    "0 May 2020 – IOM",
    "February 30, 2020 – IOM",
    "2019-02-29 – IOM",
    "2019-13-01 – IOM",
]


@pytest.mark.parametrize("paragraph", INVALID)
def test_invalid_dates(paragraph: str) -> None:
    assert parse_dateline(paragraph, today=TODAY) is None


def test_leap_day_with_a_stated_leap_year() -> None:
    assert parse("29 February 2020 – IOM")[1:3] == (D(2020, 2, 29), True)


def test_yearless_leap_day_gets_a_leap_placeholder_year() -> None:
    assert parse("29 February – IOM", today=D(2025, 6, 1))[1:3] == (D(2024, 2, 29), False)
    assert parse("29 February – IOM", today=D(2028, 6, 1))[1:3] == (D(2028, 2, 29), False)


@pytest.mark.parametrize(
    ("year", "today", "accepted"),
    [
        (1899, D(2025, 6, 1), False),
        (1900, D(2025, 6, 1), True),
        (2026, D(2025, 6, 1), True),
        (2027, D(2025, 6, 1), False),
        (2027, D(2026, 1, 1), True),
    ],
)
def test_plausible_years(year: int, today: dt.date, accepted: bool) -> None:
    for paragraph in (f"Rome, 3 May {year} – IOM", f"May 3, {year} IOM", f"{year}-05-03 – IOM"):
        assert (parse_dateline(paragraph, today=today) is not None) is accepted


def test_seed_page_sequence() -> None:
    dates = [
        D(2019, 7, 30), D(2019, 3, 29), (1, 26), None, D(2019, 1, 2), (12, 18), None, None,
        (8, 23), (3, 28),
    ]  # fmt: skip
    assert infer_years(dates, reference=D(2024, 1, 1)) == [
        D(2019, 7, 30), D(2019, 3, 29), D(2019, 1, 26), None, D(2019, 1, 2), D(2018, 12, 18),
        None, None, D(2018, 8, 23), D(2018, 3, 28),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        ([D(2020, 1, 5), (12, 30)], [D(2020, 1, 5), D(2019, 12, 30)]),
        ([D(2020, 1, 5), (1, 5)], [D(2020, 1, 5), D(2020, 1, 5)]),
        ([D(2020, 1, 5), (1, 6)], [D(2020, 1, 5), D(2019, 1, 6)]),
        ([(1, 10), (12, 30), (12, 1)], [D(2023, 1, 10), D(2022, 12, 30), D(2022, 12, 1)]),
    ],
    ids=["december-after-january", "same-day", "day-after", "inferred-dates-chain"],
)
def test_year_boundaries(
    dates: list[tuple[int, int] | dt.date | None], expected: list[dt.date | None]
) -> None:
    assert infer_years(dates, reference=D(2023, 3, 1)) == expected


def test_no_neighbours_uses_the_reference() -> None:
    assert infer_years([(3, 1), None], reference=D(2023, 3, 1)) == [D(2023, 3, 1), None]
    assert infer_years([(3, 2)], reference=D(2023, 3, 1)) == [D(2022, 3, 2)]


def test_a_yearless_first_item_uses_the_following_date() -> None:
    dates = [(1, 3), None, (12, 20), D(2020, 12, 1), (11, 5)]
    assert infer_years(dates, reference=D(2024, 6, 1)) == [
        D(2021, 1, 3), None, D(2020, 12, 20), D(2020, 12, 1), D(2020, 11, 5),
    ]  # fmt: skip


def test_following_date_on_the_same_day() -> None:
    assert infer_years([(12, 1), D(2020, 12, 1)], reference=D(2024, 6, 1))[0] == D(2020, 12, 1)


@pytest.mark.parametrize(
    ("neighbour", "expected"),
    [
        ([D(2023, 5, 1), None], D(2020, 2, 29)),
        ([D(2024, 3, 1), None], D(2024, 2, 29)),
        ([D(2024, 2, 28), None], D(2020, 2, 29)),
        ([None, D(2021, 1, 1)], D(2024, 2, 29)),
        ([None, D(2020, 1, 1)], D(2020, 2, 29)),
        ([None, None], D(2020, 2, 29)),
    ],
    ids=["newer-non-leap", "newer-leap", "newer-just-before", "older", "older-leap", "reference"],
)
def test_leap_day(neighbour: list[dt.date | None], expected: dt.date) -> None:
    newer, older = neighbour
    result = infer_years([newer, (2, 29), older], reference=D(2023, 6, 1))
    assert result == [newer, expected, older]


def test_stated_dates_and_none_pass_through() -> None:
    dates: list[tuple[int, int] | dt.date | None] = [None, D(2019, 1, 2), None, D(2021, 5, 5)]
    assert infer_years(dates, reference=D(2024, 1, 1)) == dates
    assert infer_years([], reference=D(2024, 1, 1)) == []
