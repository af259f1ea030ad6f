"""Tests for pressfeed.markup: HTML, Markdown and plain text to paragraph blocks."""

import pytest

from pressfeed.markup import (
    blocks_for,
    clean_line,
    clean_text,
    declared_charset,
    html_blocks,
    markdown_blocks,
    text_blocks,
)
from pressfeed.models import Block

# Long enough to be prose, short enough to leave a page's lines under 100 columns.
STORY = "The agency said on Monday that more than two thousand people had arrived."


def texts(blocks: list[Block]) -> list[str]:
    return [b.text for b in blocks]


def headings(blocks: list[Block]) -> list[str]:
    return [b.text for b in blocks if b.heading]


# --- clean_text and clean_line --------------------------------------------------------------------


@pytest.mark.parametrize(
    "char",
    ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x0e", "\x1f", "\x7f", "\ufffe", "\uffff", "\ud800"],
)
def test_clean_text_drops_characters_xml_forbids(char: str) -> None:
    assert clean_text(f"safe{char} port") == "safe port"


@pytest.mark.parametrize("char", ["\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"])
def test_clean_text_drops_invisible_characters_inside_words(char: str) -> None:
    assert clean_text(f"dis{char}placed") == "displaced"


def test_clean_text_keeps_tabs_and_newlines() -> None:
    assert clean_text("Geneva\tRome\nBrussels\n\nend") == "Geneva\tRome\nBrussels\n\nend"


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\u2028"])
def test_clean_text_makes_every_line_end_a_newline(newline: str) -> None:
    assert clean_text(f"one{newline}two{newline}") == "one\ntwo\n"


def test_clean_text_composes_accents() -> None:
    assert clean_text("Gene\u0300ve") == "Genève"


def test_clean_line_collapses_tabs_and_no_break_spaces_to_one_space() -> None:
    assert clean_line("  29\u00a0March \t 2019\u202f- IOM  ") == "29 March 2019 - IOM"


def test_tab_between_words_in_plain_text_becomes_a_space() -> None:
    assert texts(text_blocks("Geneva\tRome")) == ["Geneva Rome"]


# --- plain text -----------------------------------------------------------------------------------

WRAPPED = """\
Kampala, 4 June 2024 - Health workers began a week-long oral cholera
vaccination campaign on Monday in three districts on the shore of the
lake, where 212 cases have been reported since the start of April.

Mobile teams will visit fishing landing sites and islands that have no
health centre, travelling by boat with cool boxes for the vaccine. The
district offices have trained 300 volunteers to explain the campaign.
"""


def test_hard_wrapped_lines_are_joined_into_paragraphs() -> None:
    assert texts(text_blocks(WRAPPED)) == [
        "Kampala, 4 June 2024 - Health workers began a week-long oral cholera vaccination campaign"
        " on Monday in three districts on the shore of the lake, where 212 cases have been reported"
        " since the start of April.",
        "Mobile teams will visit fishing landing sites and islands that have no health centre,"
        " travelling by boat with cool boxes for the vaccine. The district offices have trained"
        " 300 volunteers to explain the campaign.",
    ]


def test_short_last_line_of_a_wrapped_paragraph_ends_it_without_a_blank_line() -> None:
    text = (
        "Mobile teams will visit fishing landing sites and islands that have no\n"
        "health centre.\n"
        "The district offices have trained 300 volunteers to explain the campaign\n"
        "in local languages and to register people who need a second visit and\n"
        "to hand out chlorine tablets.\n"
        "The campaign aims to reach 450,000 people aged one year and older in\n"
        "the three districts.\n"
    )
    assert texts(text_blocks(text)) == [
        "Mobile teams will visit fishing landing sites and islands that have no health centre.",
        "The district offices have trained 300 volunteers to explain the campaign in local"
        " languages and to register people who need a second visit and to hand out chlorine"
        " tablets.",
        "The campaign aims to reach 450,000 people aged one year and older in the three districts.",
    ]


def test_line_ending_in_a_colon_is_not_joined_to_the_next() -> None:
    text = WRAPPED + (
        "\nFor more information about the campaign in the lakeside districts, contact:\n"
        "Peter Okello, district health office, +256 700 000 111\n"
    )
    assert texts(text_blocks(text))[-2:] == [
        "For more information about the campaign in the lakeside districts, contact:",
        "Peter Okello, district health office, +256 700 000 111",
    ]


def test_lines_that_are_whole_paragraphs_are_not_joined() -> None:
    long = STORY + " Teams handed out water, food and blankets at the port through the night."
    text = f"Safe port needed for 112 people\n{long}\n{STORY}\n{STORY}\n{STORY}\n"
    assert texts(text_blocks(text)) == [
        "Safe port needed for 112 people",
        long,
        STORY,
        STORY,
        STORY,
    ]


def test_short_whole_lines_are_not_joined() -> None:
    text = "Home\nWho we are\nWhat we do\nGet involved\nNews\nContact us\n"
    assert texts(text_blocks(text)) == [
        "Home",
        "Who we are",
        "What we do",
        "Get involved",
        "News",
        "Contact us",
    ]


def test_text_blocks_count_lines_and_blank_lines() -> None:
    blocks = text_blocks("Home / News\n\n\nHeadline here\n\nRome, 2 January 2019 - Text.\n")
    assert [(b.line, b.gap) for b in blocks] == [(1, 0), (4, 2), (6, 1)]
    assert not any(b.heading for b in blocks)


# --- Markdown -------------------------------------------------------------------------------------


def test_markdown_headings_lose_their_hashes_and_are_marked() -> None:
    blocks = markdown_blocks("# Clean water for all #\n\nText.\n\n### Next steps\n")
    assert texts(blocks) == ["Clean water for all", "Text.", "Next steps"]
    assert headings(blocks) == ["Clean water for all", "Next steps"]


def test_markdown_underlined_headings_are_marked() -> None:
    blocks = markdown_blocks("Clean water for all\n===================\n\nText.\n\nNext\n----\n")
    assert texts(blocks) == ["Clean water for all", "Text.", "Next"]
    assert headings(blocks) == ["Clean water for all", "Next"]


def test_markdown_rule_after_a_blank_line_separates_without_a_block() -> None:
    assert texts(markdown_blocks("Text.\n\n---\n\n© 2024 Agency\n")) == ["Text.", "© 2024 Agency"]


def test_markdown_links_keep_their_text_and_images_disappear() -> None:
    text = "Read the [full letter](https://example.org/letter) ![logo](logo.png)here."
    assert texts(markdown_blocks(text)) == ["Read the full letter here."]


def test_markdown_emphasis_and_code_marks_are_removed() -> None:
    text = "**Valletta, 3 June 2023** – our ship *Lanterna* and __two__ `vessels`"
    assert texts(markdown_blocks(text)) == [
        "Valletta, 3 June 2023 – our ship Lanterna and two vessels"
    ]


def test_markdown_hard_wrapped_paragraph_is_joined() -> None:
    text = "More than 600 volunteers spent Saturday\non nine beaches and filled\nbags.\n"
    assert texts(markdown_blocks(text)) == [
        "More than 600 volunteers spent Saturday on nine beaches and filled bags."
    ]


def test_markdown_list_items_are_separate_blocks_with_their_continuations() -> None:
    text = "Ministers should:\n\n- guarantee a port\n  without conditions;\n- share them;\n1. act\n"
    assert texts(markdown_blocks(text)) == [
        "Ministers should:",
        "- guarantee a port without conditions;",
        "- share them;",
        "1. act",
    ]


def test_markdown_quotes_lose_their_marks() -> None:
    assert texts(markdown_blocks("> We are seeing burns\n> every day.\n")) == [
        "We are seeing burns every day."
    ]


def test_markdown_heading_is_not_joined_to_the_next_line() -> None:
    assert texts(markdown_blocks("## Media contact\nMaria Camilleri\n")) == [
        "Media contact",
        "Maria Camilleri",
    ]


# --- HTML -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag", ["script", "style", "nav", "header", "footer", "aside", "figcaption", "form", "noscript"]
)
def test_html_chrome_elements_are_dropped(tag: str) -> None:
    page = f"<body><p>Before.</p><{tag}><p>Chrome text</p> more</{tag}><p>After.</p></body>"
    assert texts(html_blocks(page)) == ["Before.", "After."]


def test_html_script_content_with_tags_inside_is_dropped() -> None:
    page = "<p>Before.</p><script>document.write('<p>ad</p>');</script><p>After.</p>"
    assert texts(html_blocks(page)) == ["Before.", "After."]


def test_html_nested_chrome_is_dropped_up_to_its_own_end() -> None:
    page = "<nav><ul><li>Home</li><nav>Inner</nav><li>Press</li></ul></nav><p>Story.</p>"
    assert texts(html_blocks(page)) == ["Story."]


def test_html_chrome_left_unclosed_inside_other_chrome_ends_with_it() -> None:
    page = "<nav><form><input name='q'>Search</nav><p>Story.</p>"
    assert texts(html_blocks(page)) == ["Story."]


def test_html_article_header_keeps_its_headline_as_a_heading() -> None:
    page = (
        "<header><h1>Site name</h1></header>"
        "<article><header><span>Press release</span><h1>Clinic reopens</h1></header>"
        "<p>Tunis, 3 May 2024 – The clinic reopened.</p></article>"
    )
    blocks = html_blocks(page)
    assert texts(blocks) == [
        "Press release",
        "Clinic reopens",
        "Tunis, 3 May 2024 – The clinic reopened.",
    ]
    assert headings(blocks) == ["Clinic reopens"]


def test_html_header_after_the_article_is_chrome_again() -> None:
    page = "<article><p>Story.</p></article><header><p>Subscribe</p></header><p>End.</p>"
    assert texts(html_blocks(page)) == ["Story.", "End."]


@pytest.mark.parametrize(
    ("tag", "heading"), [("h1", True), ("h2", True), ("h3", True), ("h4", False)]
)
def test_html_headings_h1_to_h3_are_marked(tag: str, heading: bool) -> None:
    (block,) = html_blocks(f"<{tag}>Clinic <em>reopens</em></{tag}>")
    assert (block.text, block.heading) == ("Clinic reopens", heading)


def test_html_entities_are_decoded() -> None:
    page = "<p>Water &amp; sanitation &ndash; &lt;now&gt; &eacute;t&#233; &#x2014; caf&eacute;s</p>"
    assert texts(html_blocks(page)) == ["Water & sanitation – <now> été — cafés"]


def test_html_soft_hyphens_and_no_break_spaces_from_entities_are_cleaned() -> None:
    page = "<h1>Emer&shy;gency&nbsp;shelter for dis&#173;placed&#8203; families</h1>"
    assert texts(html_blocks(page)) == ["Emergency shelter for displaced families"]


def test_html_blocks_break_at_block_elements_and_line_breaks() -> None:
    page = "<div>Media contact:<p>Awa Diallo<br>+221 77 000 11 22<br/>awa@meals.example</p></div>"
    assert texts(html_blocks(page)) == [
        "Media contact:",
        "Awa Diallo",
        "+221 77 000 11 22",
        "awa@meals.example",
    ]


def test_html_inline_elements_and_source_newlines_stay_in_one_block() -> None:
    page = (
        "<p>The <a href='/x'>agency</a> said\n   on <strong>Monday</strong>\nthat it was ready.</p>"
    )
    assert texts(html_blocks(page)) == ["The agency said on Monday that it was ready."]


def test_html_hidden_elements_are_dropped() -> None:
    page = (
        "<p>Story.</p><div id='cookies' hidden><div>We use cookies.</div>"
        "<button>Accept</button> Read our policy.</div><p>End.</p>"
    )
    assert texts(html_blocks(page)) == ["Story.", "End."]


def test_html_head_is_dropped() -> None:
    page = (
        "<html><head><title>Site | Agency</title><meta charset='utf-8'></head><body><p>Story.</p>"
    )
    assert texts(html_blocks(page)) == ["Story."]


def test_html_unclosed_head_ends_at_body() -> None:
    page = "<html><head><title>Site</title><link rel='stylesheet' href='a.css'><body><p>Story.</p>"
    assert texts(html_blocks(page)) == ["Story."]


def test_html_unclosed_head_without_body_tag_ends_at_the_first_story_element() -> None:
    page = (
        "<html><head><meta charset='utf-8'><title>Site</title><h1>Clinic reopens</h1><p>Story.</p>"
    )
    assert texts(html_blocks(page)) == ["Clinic reopens", "Story."]


def test_html_blocks_record_their_source_line() -> None:
    page = "<html>\n<body>\n<h1>Clinic reopens</h1>\n\n<p>Tunis, 3 May 2024 – Text.</p>\n</body>"
    assert [(b.text, b.line) for b in html_blocks(page)] == [
        ("Clinic reopens", 3),
        ("Tunis, 3 May 2024 – Text.", 5),
    ]


def test_html_unclosed_paragraphs_still_split() -> None:
    assert texts(html_blocks("<p>One.<p>Two.<p>Three.")) == ["One.", "Two.", "Three."]


# --- charset and dispatch -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "charset"),
    [
        (b'<html><head><meta charset="windows-1252"><title>x</title>', "windows-1252"),
        (b"<meta http-equiv='Content-Type' content='text/html; charset=ISO-8859-1'>", "ISO-8859-1"),
        (b"<html><head><title>no charset</title></head>", None),
        (b"<meta name='description' content='charset=utf-8 is not a declaration'>", None),
    ],
)
def test_declared_charset(head: bytes, charset: str | None) -> None:
    assert declared_charset(head) == charset


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [
        (".html", ["Heading"]),
        (".htm", ["Heading"]),
        (".md", ["<h1>Heading</h1>"]),
        (".markdown", ["<h1>Heading</h1>"]),
        (".txt", ["<h1>Heading</h1>"]),
    ],
)
def test_blocks_for_reads_a_file_by_its_suffix(suffix: str, expected: list[str]) -> None:
    assert texts(blocks_for("<h1>Heading</h1>", suffix)) == expected


def test_blocks_for_cleans_text_before_splitting() -> None:
    assert texts(blocks_for("Head\u00adline\r\n\r\nText\x0c here.", ".txt")) == [
        "Headline",
        "Text here.",
    ]


def test_short_whole_paragraph_lines_are_not_taken_for_hard_wrapping() -> None:
    text = (
        "Teams reached 4,000 families in the northern districts this week.\n"
        "Water trucking resumed in two camps after the road reopened on Monday.\n"
        "Clinics in the three camps saw 1,200 patients, most of them children.\n"
        "Registration of new arrivals continues at the transit centre daily.\n"
        "Partners plan a second distribution of shelter kits before the rains.\n"
    )
    assert texts(text_blocks(text)) == text.splitlines()
