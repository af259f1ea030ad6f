"""Tests for pressfeed.webpage: headline, publication date and main text of saved web pages.

Every page here is written for the test; none is taken from a real site.
"""

from __future__ import annotations

import datetime as dt

import pytest

from pressfeed.extract import extract_text
from pressfeed.models import DateSource, Release
from pressfeed.sources import decode
from pressfeed.webpage import WebPage, read_webpage
from pressfeed.webpage.headline import is_not_a_headline, strip_site
from pressfeed.webpage.pubdate import day_comes_first, find_dates

TODAY = dt.date(2026, 11, 23)
FILE_DAY = dt.date(2026, 11, 20)
STORY = (
    "The agency opened two new clinics in the northern districts this week, and its teams "
    "expect to treat more than four hundred patients a day once both are fully staffed."
)
MORE = (
    "Local health workers, trained over the summer, will run the clinics with support from "
    "mobile teams that visit the villages further up the valley every second week."
)
LAST = (
    "The clinics will stay open through the winter, when the roads to the district hospital "
    "are often closed by snow for several days at a time."
)


def page(body: str, head: str = "", lang: str = "en") -> str:
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">{head}</head>'
        f"<body>{body}</body></html>"
    )


def article(top: str, *, head: str = "", lang: str = "en", after: str = "") -> str:
    """A news page: site header and menu, the article with `top` above its text, a footer."""
    return page(
        '<header class="site"><a href="/">Valley Health Network</a><nav><a href="/">Home</a>'
        '<a href="/news">News</a></nav></header>'
        f"<main><article>{top}<p>{STORY}</p><p>{MORE}</p><p>{LAST}</p>{after}</article></main>"
        '<footer><p>© 2019 Valley Health Network</p><a href="/privacy">Privacy</a></footer>',
        head,
        lang,
    )


def read(html: str) -> WebPage:
    found = read_webpage(html, today=TODAY)
    assert found is not None
    return found


def release(html: str) -> Release:
    (one,) = extract_text(html, ".html", source="page.html", file_date=FILE_DAY, today=TODAY)
    return one


# --- headline -----------------------------------------------------------------------------------


def test_headline_is_the_visible_h1_not_the_title_with_the_site_name() -> None:
    head = (
        "<title>Two clinics open in the north | Valley Health Network</title>"
        '<meta property="og:title" content="Two clinics open in the north - Valley Health">'
    )
    assert read(article("<h1>Two clinics open in the north</h1>", head=head)).headline == (
        "Two clinics open in the north"
    )


def test_printed_wording_wins_over_the_declared_one() -> None:
    head = '<meta property="og:title" content="Clinics open in northern districts">'
    found = read(article("<h1>Two new clinics open in the northern districts</h1>", head=head))
    assert found.headline == "Two new clinics open in the northern districts"


def test_a_logo_h1_in_the_site_header_loses_to_the_article_heading() -> None:
    html = page(
        '<header><h1 class="logo">Valley Health Network</h1></header>'
        f'<div class="story"><h2 class="entry-title">Two clinics open in the north</h2>'
        f"<p>{STORY}</p><p>{MORE}</p></div>",
        '<meta property="og:site_name" content="Valley Health Network">'
        '<meta property="og:title" content="Two clinics open in the north">',
    )
    assert read(html).headline == "Two clinics open in the north"


def test_a_kicker_span_without_a_kicker_name_is_told_by_the_declared_title() -> None:
    head = '<meta property="og:title" content="Genetik: Zwei neue Kliniken im Norden eröffnet">'
    html = article(
        '<h1><span class="headline-intro">Genetik</span> <span class="headline-title">Zwei neue '
        "Kliniken im Norden eröffnet</span></h1>",
        head=head,
        lang="de",
    )
    assert read(html).headline == "Zwei neue Kliniken im Norden eröffnet"


def test_a_deck_inside_the_h1_is_not_part_of_the_headline() -> None:
    html = article(
        '<h1 class="title"><span class="headline">Two clinics open in the north</span>'
        '<span class="caption">A letter from the valley</span></h1>'
    )
    assert read(html).headline == "Two clinics open in the north"


def test_a_kicker_inside_the_h1_is_not_part_of_the_headline() -> None:
    html = article(
        '<h1><span class="kicker">Gesundheit</span> Zwei neue Kliniken im Norden eröffnet</h1>',
        lang="de",
    )
    assert read(html).headline == "Zwei neue Kliniken im Norden eröffnet"


@pytest.mark.parametrize("kicker", ["Health:", "Breaking", "Press release –"])
def test_a_kicker_before_the_declared_title_is_dropped(kicker: str) -> None:
    head = '<meta property="og:title" content="Two clinics open in the north">'
    html = article(f"<h1>{kicker} Two clinics open in the north</h1>", head=head)
    assert read(html).headline == "Two clinics open in the north"


@pytest.mark.parametrize(
    "heading",
    [
        "27.01.2020 | Two clinics open in the north",
        'Two clinics open in the north <time datetime="2020-01-27">27 January 2020</time>',
    ],
)
def test_a_date_inside_the_heading_is_not_part_of_the_headline(heading: str) -> None:
    found = read(article(f"<h1>{heading}</h1>"))
    assert (found.headline, found.date) == ("Two clinics open in the north", dt.date(2020, 1, 27))


def test_a_date_within_the_headline_stays() -> None:
    heading = "Clinics open on 27 January 2020 across the north"
    assert read(article(f"<h1>{heading}</h1>")).headline == heading


def test_byline_and_share_bar_above_the_story_never_become_the_headline() -> None:
    html = page(
        '<div class="top"><h2>By Marco Rossi</h2><h2>Share on Facebook Share on Twitter Email</h2>'
        f"<h2>18:37 CET</h2></div><div><p>{STORY}</p><p>{MORE}</p></div>",
        "<title>Two clinics open in the north | Valley Health Network</title>",
    )
    assert read(html).headline == "Two clinics open in the north"


@pytest.mark.parametrize(
    "text",
    [
        "By Marco Rossi",
        "18:37 CET",
        "4 AM",
        "Share on Facebook Share on Twitter Email",
        "Startseite > Politik > Inland",
    ],
)
def test_lines_that_are_never_headlines(text: str) -> None:
    assert is_not_a_headline(text)


def test_a_real_headline_is_kept() -> None:
    assert not is_not_a_headline("Clinics share their data with the ministry")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Two clinics open - BBC News", "Two clinics open"),
        ("Opinion | Why the clinics matter | The Daily Paper", "Why the clinics matter"),
        ("Affaire KPMG : un juge se récuse | Radio Nord", "Affaire KPMG : un juge se récuse"),
        ("Die Akte – der lange Marsch ins Digitale", "Die Akte – der lange Marsch ins Digitale"),
        ("Two clinics open | valleyhealth.example", "Two clinics open"),
        ("Two clinics open", "Two clinics open"),
    ],
)  # fmt: skip
def test_declared_titles_lose_site_names_and_sections(title: str, expected: str) -> None:
    assert strip_site(title, ["BBC News"]) == expected


def test_page_without_any_heading_takes_its_declared_title() -> None:
    html = page(f"<div><p>{STORY}</p><p>{MORE}</p></div>", "<title>Clinics open | VHN</title>")
    assert read(html).headline == "Clinics open"


# --- dates as printed ---------------------------------------------------------------------------


def dates_in(text: str, *, day_first: bool = True) -> list[dt.date]:
    return [f.date for f in find_dates(text, day_first=day_first, today=TODAY)]


@pytest.mark.parametrize(
    ("text", "day_first", "expected"),
    [
        ("27.01.2020", False, dt.date(2020, 1, 27)),  # dots: day first everywhere
        ("27. 1. 2020", False, dt.date(2020, 1, 27)),
        ("2020-01-27", False, dt.date(2020, 1, 27)),
        ("01/02/2020", False, dt.date(2020, 1, 2)),
        ("01/02/2020", True, dt.date(2020, 2, 1)),
        ("27/01/2020", False, dt.date(2020, 1, 27)),  # no month 27: the order is plain
        ("11/13/19", False, dt.date(2019, 11, 13)),
        ("12.29.14", False, dt.date(2014, 12, 29)),  # dots, month first: a US site's order
        ("05.04.13", True, dt.date(2013, 4, 5)),
        ("January 27, 2020", True, dt.date(2020, 1, 27)),
        ("Jan. 27 2020", True, dt.date(2020, 1, 27)),
        ("27th January 2020", True, dt.date(2020, 1, 27)),
        ("27-Jan-2020", True, dt.date(2020, 1, 27)),
        ("27 janvier 2020", True, dt.date(2020, 1, 27)),
        ("1er mars 2020", True, dt.date(2020, 3, 1)),
        ("27 gennaio 2020", True, dt.date(2020, 1, 27)),
        ("27 de enero de 2020", True, dt.date(2020, 1, 27)),
        ("27. Januar 2020", True, dt.date(2020, 1, 27)),
        ("3. März 2020", True, dt.date(2020, 3, 3)),
        ("27. tammikuuta 2020", True, dt.date(2020, 1, 27)),
        ("27. desember 2020", True, dt.date(2020, 12, 27)),
        ("3 maj 2020", True, dt.date(2020, 5, 3)),
        ("Mo, 27.01.2020, 14:05 Uhr", True, dt.date(2020, 1, 27)),
        ("Montag, 27. Januar 2020", True, dt.date(2020, 1, 27)),
        ("27.1.2020 klo 12.00", True, dt.date(2020, 1, 27)),
    ],
)
def test_printed_date_forms(text: str, day_first: bool, expected: dt.date) -> None:
    assert dates_in(f"Published {text} by the press office", day_first=day_first) == [expected]


@pytest.mark.parametrize(
    "text", ["© 2019 Valley Health", "in 2020", "32.01.2020", "13/13/2020", "4 min read", "1. 11."]
)
def test_what_is_not_a_full_date(text: str) -> None:
    assert dates_in(text) == []


def test_dates_after_tomorrow_or_before_the_web_are_not_dates() -> None:
    assert dates_in("12 March 2031 and 12 March 1990") == []


@pytest.mark.parametrize(
    "text",
    [
        "BERLIN, 18 November 2019 -- The minister said on 3 December 2019 that " + "x" * 200,
        "x" * 36 + " 3 September 2020 and 4 May 2020",  # opens in the span, ends past it
        "1" * 41 + " 3 May 2020",  # only digits before: no date starts in the span
        "v1.3 May 2020 " + "x" * 40,  # the dot before "3" is seen: "3 May" is no date
        "On 12/03/2019, 2019-03-13 and 14.03.2019 the board met",
        "no date here at all, only words " * 10,
    ],
)
def test_dates_starting_within_a_span_are_the_first_dates_of_the_text(text: str) -> None:
    def found(**within: int) -> list[tuple[dt.date, int, int]]:
        dates = find_dates(text, day_first=True, today=TODAY, **within)
        return [(f.date, f.start, f.end) for f in dates]

    assert found(starting_within=40) == [f for f in found() if f[1] <= 40]


@pytest.mark.parametrize(
    ("language", "url", "day_first"),
    [
        ("en-US", "", False),
        ("en_GB", "", True),
        ("en", "", False),
        ("en", "https://news.example.co.uk/story", True),
        ("", "", False),
        ("de", "", True),
        ("fi-FI", "", True),
        ("nb", "", True),
    ],
)
def test_day_month_order_from_language_locale_and_address(
    language: str, url: str, day_first: bool
) -> None:
    assert day_comes_first(language, url) is day_first


# --- the page's publication date ------------------------------------------------------------------


def test_date_printed_under_the_headline_beats_utc_metadata() -> None:
    head = '<meta property="article:published_time" content="2020-01-28T02:30:00Z">'
    html = article('<h1>Two clinics open</h1><p class="byline">By Ana Ruiz · January 27, 2020</p>',
                   head=head)  # fmt: skip
    found = read(html)
    assert (found.date, found.date_source) == (dt.date(2020, 1, 27), "page")


def test_a_date_printed_above_the_headline_counts() -> None:
    html = article('<p class="date">27.01.2020</p><p class="kicker">Pressemitteilung</p>'
                   "<h1>Zwei Kliniken im Norden eröffnet</h1>", lang="de")  # fmt: skip
    found = read(html)
    assert (found.headline, found.date) == (
        "Zwei Kliniken im Norden eröffnet",
        dt.date(2020, 1, 27),
    )


def test_a_date_above_the_headline_that_metadata_contradicts_is_today_not_the_date() -> None:
    head = '<meta property="article:published_time" content="2019-11-13T10:00:00-05:00">'
    html = article('<p class="today">Saturday, 23 November 2019</p><h1>Two clinics open</h1>',
                   head=head)  # fmt: skip
    assert (read(html).date, read(html).date_source) == (dt.date(2019, 11, 13), "meta")


@pytest.mark.parametrize("place", ["Aarhus", "Århus", "Ørsted", "Łódź", "Élancourt"])
def test_a_dateline_opening_the_story_dates_it_whatever_the_place_begins_with(place: str) -> None:
    # The place's capital is no lower-case word before the date, in any script.
    html = article("<h1>Two clinics open</h1>").replace(
        f"<p>{STORY}</p>", f"<p>{place}, 3 May 2020 – {STORY}</p>"
    )
    assert (read(html).date, read(html).date_source) == (dt.date(2020, 5, 3), "page")


def test_the_address_month_tells_a_printed_date_above_the_headline_from_a_header_today() -> None:
    head = (
        '<meta property="og:url" content="https://news.example.com/style/2014/05/packing.html">'
        '<meta property="article:published_time" content="2009-09-02T00:00:00-04:00">'
    )
    html = article('<p class="date">On May 23, 2014 at 1:30 PM</p><h1>Two clinics open</h1>',
                   head=head)  # fmt: skip
    assert (read(html).date, read(html).date_source) == (dt.date(2014, 5, 23), "page")


def test_a_time_element_prints_the_pages_own_day_of_a_utc_instant() -> None:
    head = '<meta property="article:published_time" content="2014-12-18T01:01:00Z">'
    byline = (
        '<p class="byline"><time datetime="2014-12-18T01:01:00Z">December 17, 2014 at 08:01PM EST'
        "</time> by Rachel Evans</p>"
    )
    html = article("<h1>Two clinics open</h1>", head=head, after=byline)
    assert (read(html).date, read(html).date_source) == (dt.date(2014, 12, 17), "page")


def test_a_utc_instant_is_read_in_the_zone_a_time_element_prints() -> None:
    head = '<meta property="article:published_time" content="2019-11-20T05:57:50Z">'
    top = (
        '<h1>Two clinics open</h1><p class="date"><time datetime="2019-11-20T06:01:19Z">'
        "Updated 10:01 pm PST, Tuesday, November 19, 2019</time></p>"
    )
    assert (read(article(top, head=head)).date) == dt.date(2019, 11, 19)


def test_an_update_with_its_clock_time_is_passed_over() -> None:
    head = '<meta property="article:published_time" content="2023-11-06T13:00:15Z">'
    top = '<h1>Two clinics open</h1><p class="byline">Updated 9:22 PM EST, Tue November 7, 2023</p>'
    assert (read(article(top, head=head)).date) == dt.date(2023, 11, 6)


def test_a_related_story_box_date_is_not_the_date() -> None:
    head = '<meta property="article:published_time" content="2023-11-06T13:00:15Z">'
    top = (
        '<h1>Two clinics open</h1><div class="related-stories"><p><a href="/older">Older clinic '
        "news</a> November 1, 2023</p></div><p>By Ana Ruiz</p>"
    )
    assert (read(article(top, head=head)).date) == dt.date(2023, 11, 6)


def test_a_list_of_tag_links_between_headline_and_date_does_not_hide_the_date() -> None:
    tags = "".join(f'<p><a href="/tag/{n}">Topic {n}</a></p>' for n in range(14))
    html = article(f'<h1>Two clinics open</h1>{tags}<p class="date">2018/6/19 5:50</p>')
    assert (read(html).date, read(html).date_source) == (dt.date(2018, 6, 19), "page")


def test_a_date_in_a_picture_caption_is_not_the_date() -> None:
    html = article(
        '<h1>Two clinics open</h1><figure><img src="clinic.jpg" alt=""><figcaption>The clinic '
        "on March 24, 2014, before the works began.</figcaption></figure>"
        '<p class="byline">By Ana Ruiz</p><p class="date">November 2, 2023 3:53 PM EDT</p>'
    )
    assert read(html).date == dt.date(2023, 11, 2)


def test_a_generic_h1_loses_to_the_release_heading_under_it() -> None:
    html = article("<h1>Pressemitteilung</h1><h2>Zwei Kliniken im Norden eröffnet</h2>", lang="de")
    assert read(html).headline == "Zwei Kliniken im Norden eröffnet"


def test_numeric_date_in_the_page_language_order() -> None:
    html = article('<h1>Zwei Kliniken eröffnet</h1><p class="meta">03.02.2020</p>', lang="de")
    assert read(html).date == dt.date(2020, 2, 3)
    html = article('<h1>Two clinics open</h1><p class="meta">03/02/2020</p>', lang="en-US")
    assert read(html).date == dt.date(2020, 3, 2)
    html = article('<h1>Two clinics open</h1><p class="meta">03/02/2020</p>', lang="en-GB")
    assert read(html).date == dt.date(2020, 2, 3)


def test_metadata_settles_an_order_the_language_leaves_open() -> None:
    head = '<meta name="date" content="2020-02-03">'
    html = article('<h1>Two clinics open</h1><p class="meta">03/02/2020</p>', head=head, lang="")
    assert read(html).date == dt.date(2020, 2, 3)


def test_update_dates_are_passed_over_for_the_publication_date() -> None:
    html = article("<h1>Two clinics open</h1><p>Updated 5 May 2020</p><p>Published 3 May 2020</p>")
    assert read(html).date == dt.date(2020, 5, 3)
    html = article("<h1>Two clinics open</h1><p>3 May 2020, updated 5 May 2020</p>")
    assert read(html).date == dt.date(2020, 5, 3)


def test_an_update_date_stands_in_when_nothing_else_is_given() -> None:
    html = article("<h1>Two clinics open</h1><p>Updated: 5 May 2020 10:12</p>")
    assert read(html).date == dt.date(2020, 5, 5)


def test_teaser_dates_and_event_dates_in_the_story_are_not_the_date() -> None:
    teasers = '<ul class="more"><li><a href="/a">Clinic staff trained, 12 March 2020</a></li></ul>'
    event = (
        "<p>Health workers will present the results at the conference on 14 June 2021 in the "
        "capital, where partners from the whole region are expected to attend.</p>"
    )
    head = '<meta property="article:published_time" content="2020-05-03T09:00:00+02:00">'
    found = read(article(f"<h1>Two clinics open</h1>{teasers}{event}", head=head))
    assert (found.date, found.date_source) == (dt.date(2020, 5, 3), "meta")


def test_a_dateline_opening_the_first_paragraph_is_the_date() -> None:
    html = page(
        f"<h1>Two clinics open</h1><p>Gulu, 4 June 2024 – {STORY}</p><p>{MORE}</p>"
        "<p>© 2019 Valley Health Network</p>"
    )
    found = release(html)
    assert (found.date, found.place, found.date_source) == (
        dt.date(2024, 6, 4),
        "Gulu",
        DateSource.PAGE,
    )
    assert found.paragraphs[0].startswith("Gulu, 4 June 2024 –")


@pytest.mark.parametrize(
    "head",
    [
        '<meta property="article:published_time" content="2021-09-14T08:00:00+02:00">',
        '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": ['
        '{"@type": "NewsArticle", "headline": "Two clinics open", '
        '"datePublished": "2021-09-14T08:00:00+02:00", "dateModified": "2022-01-01"}]}</script>',
        '<meta name="date" content="2021-09-14">',
        '<meta name="date" content="20210914">',  # ISO 8601's basic format
        '<meta name="publication_date" content="2021-09-14">',
        '<script type="application/ld+json">{"@type": "NewsArticle", '
        '"datePublished": "20210914T080000+0200"}</script>',
        '<meta property="article:modified_time" content="2022-01-01">'
        '<meta itemprop="datePublished" content="2021-09-14">',
    ],
)
def test_metadata_date_when_the_page_prints_none(head: str) -> None:
    found = release(article("<h1>Two clinics open</h1>", head=head))
    assert (found.date, found.date_source) == (dt.date(2021, 9, 14), DateSource.META)


def test_time_element_value_when_nothing_is_printed_as_a_date() -> None:
    html = article('<h1>Two clinics open</h1><time datetime="2021-09-14T08:00">8 hours ago</time>')
    assert read(html).date == dt.date(2021, 9, 14)


def test_page_without_a_date_takes_the_file_time_and_says_so() -> None:
    found = release(article("<h1>Two clinics open</h1>"))
    assert (found.date, found.date_source) == (FILE_DAY, DateSource.FILE)


# --- main text ----------------------------------------------------------------------------------


def test_main_text_drops_byline_share_bar_newsletter_related_and_comments() -> None:
    top = (
        '<h1>Two clinics open</h1><p class="byline">By Ana Ruiz · 27.01.2020 · 4 min read</p>'
        '<div class="share-bar"><a href="#">Facebook</a> <a href="#">Twitter</a></div>'
    )
    after = (
        '<div class="newsletter-box"><p>Get our weekly newsletter with the best stories from '
        "the valley, straight to your inbox every Friday morning.</p></div>"
        '<div class="related"><h3>More stories</h3><ul><li><a href="/b">A long headline of a '
        "related story about something else entirely</a></li></ul></div>"
        '<section class="comments"><p>I think this is a very good idea, and I hope the clinics '
        "stay open for a long time, because we needed them.</p></section>"
    )
    found = read(article(top, after=after))
    assert found.paragraphs == (STORY, MORE, LAST)


def test_release_labels_and_long_date_lines_are_not_story_text() -> None:
    html = article(
        "<h1>Cliniques ouvertes</h1><p>COMMUNIQUÉ DE PRESSE</p>"
        "<p>Publié le 27/01/2020 à 10h15 - Mis à jour le 28/01/2020 à 11h00</p>",
        lang="fr",
    )
    found = read(html)
    assert (found.date, found.paragraphs) == (dt.date(2020, 1, 27), (STORY, MORE, LAST))


def test_main_text_keeps_a_story_split_by_a_figure_and_subheadings() -> None:
    html = page(
        '<nav><a href="/">Home</a></nav><div class="post"><h1>Two clinics open</h1>'
        f'<div class="text"><p>{STORY}</p></div><figure><img src="a.jpg"><figcaption>Photo: VHN'
        f'</figcaption></figure><div class="text"><h2>Winter</h2><p>{MORE}</p><p>{LAST}</p></div>'
        '</div><div class="sidebar"><p>Donate to keep the clinics open, every gift helps the '
        "teams reach more villages in the valley this year.</p></div>"
    )
    assert read(html).paragraphs == (STORY, "Winter", MORE, LAST)


def test_classify_body_is_the_paragraphs_of_the_release() -> None:
    found = release(article("<h1>Two clinics open</h1>"))
    assert found.title == "Two clinics open"
    assert found.paragraphs == (STORY, MORE, LAST)


def test_listing_page_still_gives_one_release_per_teaser() -> None:
    teasers = "".join(
        f'<div class="teaser"><h2><a href="/{n}">{title}</a></h2><p>Geneva, {n} March 2024 – '
        f"{STORY}</p></div>"
        for n, title in [(12, "Clinics open in the north"), (5, "Teams reach the valley")]
    )
    releases = extract_text(
        page(f"<h1>Press releases</h1>{teasers}", "<title>Press releases | VHN</title>"),
        ".html",
        source="news.html",
        file_date=FILE_DAY,
        today=TODAY,
    )
    assert [(r.title, r.date) for r in releases] == [
        ("Clinics open in the north", dt.date(2024, 3, 12)),
        ("Teams reach the valley", dt.date(2024, 3, 5)),
    ]


@pytest.mark.parametrize("dateline", ["", "Geneva, 14 January 2020 – "])
def test_an_article_beside_a_list_of_dated_news_is_one_release(dateline: str) -> None:
    latest = "".join(
        f'<div class="item"><h3><a href="/{n}">Another story of the week, number {n}</a></h3>'
        f"<p>{n} January 2020</p></div>"
        for n in (10, 11, 12)
    )
    html = page(
        f"<div><h1>Two clinics open in the north</h1><p>14 January 2020</p><p>{dateline}{STORY}"
        f'</p><p>{MORE}</p><p>{LAST}</p></div><div class="latest"><h2>Latest</h2>{latest}</div>'
    )
    found = release(html)
    assert (found.title, found.date) == ("Two clinics open in the north", dt.date(2020, 1, 14))
    assert found.paragraphs == (f"{dateline}{STORY}", MORE, LAST)


# --- hostile pages stay bounded -----------------------------------------------------------------


def test_deep_nesting_is_flattened_not_cut() -> None:
    html = "<div>" * 100_000 + f"<h1>Clinics open deep down</h1><p>{STORY}</p>" + "</div>" * 99
    found = read(html)
    assert (found.headline, found.paragraphs) == ("Clinics open deep down", (STORY,))


def test_huge_attributes_are_read_past() -> None:
    huge = "x" * 5_000_000
    html = page(f'<div class="{huge}" data-a="{huge}"><h1 title="{huge}">Clinics open</h1>'
                f"<p>{STORY}</p><p>{MORE}</p></div>")  # fmt: skip
    found = read(html)
    assert (found.headline, found.paragraphs) == ("Clinics open", (STORY, MORE))


def test_an_attribute_left_open_to_the_end_does_not_raise() -> None:
    found = read_webpage(page(f"<h1>Clinics open</h1><p>{STORY}</p>") + '<a href="' * 50_000,
                         today=TODAY)  # fmt: skip
    assert found is not None
    assert found.headline == "Clinics open"


@pytest.mark.parametrize("declared", ["gb2312", "iso-8859-1", "utf-16", "no-such-charset", "x"])
def test_wrong_charset_declared_in_meta_does_not_garble_utf8(declared: str) -> None:
    html = f'<html><head><meta charset="{declared}"><title>Clínicas</title></head><body>'
    html += f"<h1>Zwei Kliniken in Görlitz eröffnet</h1><p>Ärzte und Pfleger: {STORY}</p></body>"
    text = decode(html.encode("utf-8"), "page.html", is_html=True)
    found = release(text)
    assert found.title == "Zwei Kliniken in Görlitz eröffnet"
    assert found.paragraphs == (f"Ärzte und Pfleger: {STORY}",)


def test_legacy_bytes_decoded_by_their_declared_charset() -> None:
    html = '<html><head><meta charset="windows-1252"></head><body><h1>Clinics in Görlitz</h1>'
    html += f"<p>Ärzte: {STORY}</p></body></html>"
    text = decode(html.encode("cp1252"), "page.html", is_html=True)
    assert release(text).title == "Clinics in Görlitz"


def test_xml_declaration_and_lone_surrogates_do_not_stop_the_reading() -> None:
    html = '<?xml version="1.0" encoding="iso-8859-1"?>' + page(
        f"<h1>Clinics\ud800 open</h1><p>{STORY}</p><p>{MORE}</p>"
    )
    found = read(html)
    assert (found.headline, found.paragraphs) == ("Clinics open", (STORY, MORE))


@pytest.mark.parametrize("text", ["", "   ", "<", "<!-- -->", "<p>…</p>"])
def test_pages_without_text_give_no_release(text: str) -> None:
    assert extract_text(text, ".html", source="p.html", file_date=FILE_DAY, today=TODAY) == []


def test_text_without_markup_is_one_release() -> None:
    assert release("Clinics open in the valley").paragraphs == ("Clinics open in the valley",)
