from __future__ import annotations

import shutil
import textwrap
import tomllib
from pathlib import Path

import pytest

from pressfeed.config import TOPIC_OPTIONS, describe_options, env_name, key_lines, load_settings
from pressfeed.errors import ConfigError
from pressfeed.models import EmailSettings, FolderSource, SmtpSettings, Term, Topic
from tests.conftest import write_settings

REPO = Path(__file__).resolve().parent.parent
TERM_RULE = "use letters, digits, spaces, hyphens, apostrophes and a final '*'"
BAD_SLUG = "a topic slug must be lower-case letters, digits and hyphens, not starting with '-'"

TOPICS = """\
[topics.libya]
title = "Libya"
description = "Events in Libya"
[topics.libya.terms]
"libya*" = 3
"""


def toml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def write_config(directory: Path, settings: str = "", topics: str = TOPICS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "topics.toml").write_text(toml(topics), encoding="utf-8")
    config = directory / "pressfeed.toml"
    config.write_text(toml(settings), encoding="utf-8")
    return config


def problems(error: pytest.ExceptionInfo[ConfigError]) -> list[tuple[str, int | None, str, str]]:
    """Each problem as (file name, line, key, reason)."""
    return [(p.path.name, p.line, p.key, p.reason) for p in error.value.problems]


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path), environ={})

    assert settings.config_file == tmp_path / "pressfeed.toml"
    assert settings.content_dir == tmp_path / "content"
    assert settings.output_dir == tmp_path / "feeds"
    assert settings.database == f"sqlite:///{tmp_path}/var/pressfeed.db"
    assert settings.site_url == "http://127.0.0.1:8080/"
    assert settings.site_title == "pressfeed"
    assert settings.feed_length == 50
    assert settings.language == "en"
    assert settings.max_file_bytes == 5_000_000
    assert settings.fallback_encoding == ""
    assert settings.topics_file == tmp_path / "topics.toml"
    assert settings.email == EmailSettings(outbox_dir=tmp_path / "outbox")
    assert settings.smtp == SmtpSettings()


def test_relative_paths_in_the_file_are_resolved_against_its_directory(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config",
        f"""
        content_dir = "../content"
        output_dir = "{tmp_path / "elsewhere"}"
        topics_file = "rules/../topics.toml"
        [email]
        outbox_dir = "mail"
        """,
    )

    settings = load_settings(config, environ={})

    assert settings.content_dir == tmp_path / "content"
    assert settings.output_dir == tmp_path / "elsewhere"
    assert settings.topics_file == tmp_path / "config" / "topics.toml"
    assert settings.email.outbox_dir == tmp_path / "config" / "mail"


def test_relative_config_path_and_env_paths_are_resolved_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(tmp_path / "conf")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")

    settings = load_settings(
        Path("../conf/pressfeed.toml"), environ={"PRESSFEED_CONTENT_DIR": "releases"}
    )

    assert settings.config_file == tmp_path / "conf" / "pressfeed.toml"
    assert settings.content_dir == tmp_path / "work" / "releases"
    assert settings.output_dir == tmp_path / "conf" / "feeds"


def test_database_path_becomes_an_sqlite_url(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", 'database = "../var/news.db"')

    assert load_settings(config, environ={}).database == f"sqlite:///{tmp_path}/var/news.db"


def test_database_url_is_kept(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'database = "postgresql://feeds@db.example/pressfeed"')

    assert load_settings(config, environ={}).database == "postgresql://feeds@db.example/pressfeed"


def test_site_url_gets_a_final_slash(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'site_url = "https://news.example/feeds"')

    assert load_settings(config, environ={}).site_url == "https://news.example/feeds/"


def test_integer_is_accepted_for_a_float(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[smtp]\ntimeout = 5")

    timeout = load_settings(config, environ={}).smtp.timeout

    assert timeout == 5.0
    assert isinstance(timeout, float)


def test_environment_overrides_top_level_and_section_keys(tmp_path: Path) -> None:
    config = write_config(tmp_path, "feed_length = 20\n[smtp]\nhost = 'file.example'")
    environ = {
        "PRESSFEED_FEED_LENGTH": " 10 ",
        "PRESSFEED_SMTP_HOST": "mail.example",
        "PRESSFEED_SMTP_STARTTLS": "Yes",
        "PRESSFEED_SMTP_TIMEOUT": "2.5",
        "PRESSFEED_SMTP_PORT": "587",
        "PRESSFEED_EMAIL_FROM": "News <news@example.org>",
        "PRESSFEED_UNRELATED": "whatever",
        "PRESSFEED_REQUIRE_SHARED": "1",
    }

    settings = load_settings(config, environ=environ)

    assert settings.feed_length == 10
    assert settings.email.sender == "News <news@example.org>"
    assert settings.smtp == SmtpSettings(host="mail.example", port=587, starttls=True, timeout=2.5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("TRUE", True), ("on", True), ("0", False), ("No", False), ("off", False)],
)
def test_environment_booleans(tmp_path: Path, text: str, expected: bool) -> None:
    config = write_config(tmp_path, "[smtp]\ntls = true" if not expected else "")

    settings = load_settings(config, environ={"PRESSFEED_SMTP_TLS": text})

    assert settings.smtp.tls is expected


def test_overrides_win_over_environment_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path / "config", 'content_dir = "from-file"\nfeed_length = 5')
    monkeypatch.chdir(tmp_path)
    environ = {"PRESSFEED_CONTENT_DIR": "from-env", "PRESSFEED_DATABASE": "sqlite:///env.db"}

    settings = load_settings(
        config,
        environ=environ,
        overrides={"content_dir": "from-flag", "database": "cli.db", "feed_length": "7"},
    )

    assert settings.content_dir == tmp_path / "from-flag"
    assert settings.database == f"sqlite:///{tmp_path}/cli.db"
    assert settings.feed_length == 7


def test_unknown_override_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(write_config(tmp_path), environ={}, overrides={"contents_dir": "x"})

    assert [(p.path, p.line, p.key, p.reason) for p in error.value.problems] == [
        (
            Path("command line"),
            None,
            "contents_dir",
            "unknown key 'contents_dir'; did you mean 'content_dir'?",
        )
    ]


def test_all_problems_in_a_file_are_reported_at_once(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
        # pressfeed
        site_title = "News"
        feed_lenght = 50
        max_file_bytes = "fifty"

        [smtp]
        host = "mail.example"
        port = 70000
        """,
    )

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    assert problems(error) == [
        (
            "pressfeed.toml",
            3,
            "feed_lenght",
            "unknown key 'feed_lenght'; did you mean 'feed_length'?",
        ),
        ("pressfeed.toml", 4, "max_file_bytes", "expected an integer >= 1, got 'fifty' (string)"),
        (
            "pressfeed.toml",
            8,
            "smtp.port",
            "expected an integer from 1 to 65535, got 70000 (integer)",
        ),
    ]
    assert str(error.value).splitlines()[0] == "invalid configuration (3 problems):"
    assert f"  {config}:8: smtp.port: expected an integer from 1" in str(error.value)


def test_bad_values_name_what_was_expected(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
        site_url = "ftp://files.example/"
        fallback_encoding = "latin-9"
        feed_length = 0
        language = ""
        [email]
        transport = "pigeon"
        [smtp]
        starttls = "yes"
        timeout = 0
        """,
    )

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    assert problems(error) == [
        (
            "pressfeed.toml",
            1,
            "site_url",
            "expected an http:// or https:// URL, got 'ftp://files.example/' (string)",
        ),
        (
            "pressfeed.toml",
            2,
            "fallback_encoding",
            "expected '' (none) or a text encoding known to Python, such as 'cp1252', "
            "got 'latin-9' (string)",
        ),
        ("pressfeed.toml", 3, "feed_length", "expected an integer >= 1, got 0 (integer)"),
        ("pressfeed.toml", 4, "language", "expected a non-empty string, got '' (string)"),
        (
            "pressfeed.toml",
            6,
            "email.transport",
            "expected 'directory' or 'smtp', got 'pigeon' (string)",
        ),
        ("pressfeed.toml", 8, "smtp.starttls", "expected true or false, got 'yes' (string)"),
        ("pressfeed.toml", 9, "smtp.timeout", "expected a number > 0, got 0 (integer)"),
    ]


def test_known_codec_is_accepted(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'fallback_encoding = "cp1252"')

    assert load_settings(config, environ={}).fallback_encoding == "cp1252"


def test_codec_that_is_not_a_text_encoding_is_rejected(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'fallback_encoding = "rot13"')

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    assert [(p.line, p.key) for p in error.value.problems] == [(1, "fallback_encoding")]


def test_unknown_sections_and_misplaced_keys(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
        email = "news@example.org"

        [smpt]
        host = "mail.example"

        [smtp]
        hots = "mail.example"
        """,
    )

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    assert problems(error) == [
        ("pressfeed.toml", 1, "email", "expected a table [email], got 'news@example.org' (string)"),
        ("pressfeed.toml", 3, "smpt", "unknown section 'smpt'; did you mean 'smtp'?"),
        ("pressfeed.toml", 7, "smtp.hots", "unknown key 'hots'; did you mean 'host'?"),
    ]


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'site_title = "News"\nfeed_length = \nlanguage = "en"\n')

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    assert problems(error) == [("pressfeed.toml", 2, "", "invalid TOML: Invalid value")]
    assert f"{config}:2: invalid TOML: Invalid value" in str(error.value)


def test_unterminated_string_is_reported_at_the_last_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'site_title = "News"\nlanguage = """en\n\n')

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    assert problems(error) == [
        ("pressfeed.toml", 4, "", "invalid TOML: Unterminated string at end of file")
    ]


@pytest.mark.parametrize(
    "sender", ["pressfeed", "news@", "a@example.org, b@example.org", "Newsroom <news>", ""]
)
def test_a_sender_that_is_not_one_address_is_refused_at_load(tmp_path: Path, sender: str) -> None:
    config = write_config(tmp_path, f'[email]\nfrom = "{sender}"\nreply_to = "desk@"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})
    expected = 'one email address ("Newsroom <news@example.org>" or news@example.org)'
    assert problems(error) == [
        ("pressfeed.toml", 2, "email.from", f"expected {expected}, got {sender!r} (string)"),
        (
            "pressfeed.toml",
            3,
            "email.reply_to",
            f"expected '' (none) or {expected}, got 'desk@' (string)",
        ),
    ]


def test_a_sender_and_reply_to_that_are_one_address_each_load(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, '[email]\nfrom = "Newsroom <news@example.org>"\nreply_to = "desk@example.org"\n'
    )
    settings = load_settings(config, environ={})
    assert (settings.email.sender, settings.email.reply_to) == (
        "Newsroom <news@example.org>",
        "desk@example.org",
    )


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    environ = {"PRESSFEED_FEED_LENGTH": "fifty", "PRESSFEED_SMTP_TLS": "maybe"}

    with pytest.raises(ConfigError) as error:
        load_settings(write_config(tmp_path), environ=environ)

    assert [(str(p.path), p.line, p.key, p.reason) for p in error.value.problems] == [
        (
            "environment",
            None,
            "PRESSFEED_FEED_LENGTH",
            "expected an integer >= 1, got 'fifty' (string)",
        ),
        ("environment", None, "PRESSFEED_SMTP_TLS", "expected true or false, got 'maybe' (string)"),
    ]
    assert "  environment: PRESSFEED_FEED_LENGTH: expected" in str(error.value)


def test_starttls_and_tls_together_are_rejected(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[smtp]\nstarttls = true\ntls = true\n")

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    assert problems(error) == [
        ("pressfeed.toml", 3, "smtp.tls", "cannot be true together with smtp.starttls; choose one")
    ]


def test_our_websub_hub_and_an_outside_one_together_are_rejected(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, '[service]\nwebsub = true\nwebsub_hub = "https://hub.example.org/"\n'
    )

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    reason = "cannot be true together with service.websub_hub; choose one"
    assert problems(error) == [("pressfeed.toml", 2, "service.websub", reason)]


def test_an_outside_websub_hub_must_be_an_http_url(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[service]\nwebsub_hub = "ftp://hub.example.org/"\n')

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    expected = (
        "expected '' (none) or an http:// or https:// URL, got 'ftp://hub.example.org/' (string)"
    )
    assert [p[2:] for p in problems(error)] == [("service.websub_hub", expected)]


def test_smtp_transport_needs_a_host(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[email]\ntransport = "smtp"\n')

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})
    settings = load_settings(config, environ={"PRESSFEED_SMTP_HOST": "mail.example"})

    assert problems(error) == [
        ("pressfeed.toml", 2, "email.transport", "is 'smtp' but smtp.host is empty")
    ]
    assert settings.email.transport == "smtp"


def test_no_configuration_file_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ConfigError) as error:
        load_settings(environ={})

    [problem] = error.value.problems
    assert problem.path == tmp_path / "config" / "pressfeed.toml"
    assert problem.line is None
    assert "no configuration file found" in problem.reason
    assert "--config FILE" in problem.reason
    assert "PRESSFEED_CONFIG" in problem.reason


def test_config_file_from_environment(tmp_path: Path) -> None:
    config = write_config(tmp_path / "elsewhere", "feed_length = 3")

    settings = load_settings(environ={"PRESSFEED_CONFIG": str(config)})

    assert settings.config_file == config
    assert settings.feed_length == 3


def test_config_file_in_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path / "config", "feed_length = 4")
    monkeypatch.chdir(tmp_path)

    settings = load_settings(environ={})

    assert settings.config_file == tmp_path / "config" / "pressfeed.toml"
    assert settings.feed_length == 4


def test_missing_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(tmp_path / "absent.toml", environ={})

    assert problems(error) == [("absent.toml", None, "", "cannot read: No such file or directory")]


def test_missing_topics_file_is_reported(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'topics_file = "rules.toml"')

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    assert problems(error) == [("rules.toml", None, "", "cannot read: No such file or directory")]


def test_topics_keep_file_order_and_take_defaults(tmp_path: Path) -> None:
    topics = """
        [defaults]
        threshold = 5
        headline_weight = 4.0
        min_passages = 2

        [topics.sea-rescue]
        title = "Sea rescue"
        description = "Rescues at sea"
        threshold = 2.5
        exclude = ["rescue dog", "lifeguard's"]
        [topics.sea-rescue.terms]
        "rescue*" = 2
        "mediterranean" = 1.5
        "coast guard" = -1

        [topics."libya"]
        title = "Libya"
        description = "Events in Libya"
        terms = { "libya*" = 3 }
        """
    config = write_config(tmp_path, topics=topics)

    settings = load_settings(config, environ={})

    assert settings.topics == (
        Topic(
            slug="sea-rescue",
            title="Sea rescue",
            description="Rescues at sea",
            terms=(Term("rescue*", 2.0), Term("mediterranean", 1.5), Term("coast guard", -1.0)),
            exclude=("rescue dog", "lifeguard's"),
            threshold=2.5,
            headline_weight=4.0,
            lead_weight=2.0,
            min_passages=2,
        ),
        Topic(
            slug="libya",
            title="Libya",
            description="Events in Libya",
            terms=(Term("libya*", 3.0),),
            threshold=5.0,
            headline_weight=4.0,
            min_passages=2,
        ),
    )
    assert settings.topic("libya") is settings.topics[1]


NOT_A_WEIGHT = "expected a non-zero number or a table { weight = number, near = list name }, got "


def test_topic_problems_are_reported_with_lines(tmp_path: Path) -> None:
    topics = """
        [defaults]
        treshold = 4

        [topics.Sea_Rescue]
        title = "Sea rescue"
        description = "Rescues at sea"
        terms = { "rescue" = 1 }

        [topics.libya]
        description = "Events in Libya"
        exclude = [
            "libya airlines",
            "tri*poli",
        ]
        keywords = ["tripoli"]
        [topics.libya.terms]
        "libya*" = "three"
        "lib*ya" = 2
        "tripoli" = 0
        """
    config = write_config(tmp_path, "feed_length = -1", topics)

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    assert problems(error) == [
        ("pressfeed.toml", 1, "feed_length", "expected an integer >= 1, got -1 (integer)"),
        (
            "topics.toml",
            2,
            "defaults.treshold",
            "unknown key 'treshold'; did you mean 'threshold'?",
        ),
        ("topics.toml", 4, "topics.Sea_Rescue", BAD_SLUG),
        ("topics.toml", 9, "topics.libya", "missing required key 'title'"),
        (
            "topics.toml",
            11,
            "topics.libya.exclude",
            "entry 2: '*' may only end a term; 'tri*poli' has one at character 4",
        ),
        (
            "topics.toml",
            15,
            "topics.libya.keywords",
            "unknown key 'keywords'; did you mean 'near_words'?",
        ),
        (
            "topics.toml",
            17,
            'topics.libya.terms."libya*"',
            NOT_A_WEIGHT + "'three' (string)",
        ),
        (
            "topics.toml",
            18,
            'topics.libya.terms."lib*ya"',
            "'*' may only end a term; 'lib*ya' has one at character 4",
        ),
        (
            "topics.toml",
            19,
            "topics.libya.terms.tripoli",
            NOT_A_WEIGHT + "0 (integer)",
        ),
    ]


def test_topic_weights_and_tables_are_checked(tmp_path: Path) -> None:
    topics = """
        [topics.libya]
        title = ""
        description = "Events in Libya"
        threshold = "high"
        lead_weight = -1
        min_passages = 2.5
        terms = {}

        [topics.tunisia]
        title = "Tunisia"
        description = "Events in Tunisia"
        [topics.tunisia.terms]
        "tunis/carthage" = 1
        " " = 1
        """
    config = write_config(tmp_path, topics=topics)

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    assert problems(error) == [
        ("topics.toml", 2, "topics.libya.title", "expected a non-empty string, got '' (string)"),
        ("topics.toml", 4, "topics.libya.threshold", "expected a number > 0, got 'high' (string)"),
        ("topics.toml", 5, "topics.libya.lead_weight", "expected a number >= 0, got -1 (integer)"),
        (
            "topics.toml",
            6,
            "topics.libya.min_passages",
            "expected an integer >= 1, got 2.5 (float)",
        ),
        (
            "topics.toml",
            7,
            "topics.libya.terms",
            "expected a non-empty table of term = weight, got a table",
        ),
        (
            "topics.toml",
            13,
            'topics.tunisia.terms."tunis/carthage"',
            "'/' at character 6 of 'tunis/carthage' is not allowed: " + TERM_RULE,
        ),
        ("topics.toml", 14, 'topics.tunisia.terms." "', "a term must not be empty"),
    ]


def test_word_lists_feed_near_terms_and_requirements(tmp_path: Path) -> None:
    topics = """
        [lists]
        migration = ["migra*", "refugee*"]

        [topics.governance]
        title = "Governance"
        description = "Migration policy"
        requires = "migration"
        [topics.governance.terms]
        "global compact" = 3
        "agreement*" = { weight = 2, near = "migration" }
        """
    settings = load_settings(write_config(tmp_path, topics=topics), environ={})
    (topic,) = settings.topics
    assert topic.terms == (
        Term("global compact", 3.0),
        Term("agreement*", 2.0, near="migration"),
    )
    assert topic.requires == "migration"
    assert topic.lists == (("migration", ("migra*", "refugee*")),)


def test_word_list_problems_are_reported_once_with_lines(tmp_path: Path) -> None:
    topics = """
        [lists]
        empty = []
        broken = ["migra*", "mi*gra"]
        notalist = "migra*"

        [topics.governance]
        title = "Governance"
        description = "Migration policy"
        requires = "nowhere"
        [topics.governance.terms]
        "deal" = { weight = 2, near = "broken" }
        "pact" = { weight = 2, near = "nowhere" }
        "treaty" = { weight = 2, close = "empty" }
        "accord" = { weight = 2 }
        """
    with pytest.raises(ConfigError) as error:
        load_settings(write_config(tmp_path, topics=topics), environ={})
    assert problems(error) == [
        ("topics.toml", 2, "lists.empty", "a word list must not be empty"),
        (
            "topics.toml",
            3,
            "lists.broken",
            "entry 2: '*' may only end a term; 'mi*gra' has one at character 3",
        ),
        (
            "topics.toml",
            4,
            "lists.notalist",
            "expected an array of terms (strings), got 'migra*' (string)",
        ),
        ("topics.toml", 9, "topics.governance.requires", "unknown word list 'nowhere'"),
        ("topics.toml", 12, "topics.governance.terms.pact", "unknown word list 'nowhere'"),
        ("topics.toml", 13, "topics.governance.terms.treaty", "unknown key 'close'"),
        (
            "topics.toml",
            14,
            "topics.governance.terms.accord",
            "a term table needs 'near', a word list of [lists]; "
            "a term that counts anywhere is written with its weight alone",
        ),
    ]


def test_all_is_a_reserved_slug(tmp_path: Path) -> None:
    topics = TOPICS + '[topics.all]\ntitle = "All"\ndescription = "x"\nterms = { "a" = 1 }\n'
    config = write_config(tmp_path, topics=topics)

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    assert problems(error) == [
        ("topics.toml", 6, "topics.all", "'all' is reserved for the feed of every release")
    ]


def test_topics_file_needs_a_topic(tmp_path: Path) -> None:
    config = write_config(tmp_path, topics="[defaults]\nthreshold = 3\n[topic.libya]\n")

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    assert problems(error) == [
        ("topics.toml", None, "topics", "at least one [topics.<slug>] table is required"),
        ("topics.toml", 3, "topic", "unknown key 'topic'; did you mean 'topics'?"),
    ]


def test_multiline_values_are_not_taken_for_keys(tmp_path: Path) -> None:
    topics = '''
        [topics.libya]
        title = "Libya"
        description = """
        title = "not a key"
        [topics.fake]
        """
        exclude = [
            "libya airlines",  # a comment with "quotes" and ] brackets
            'tripoli = 3',
        ]
        terms = { "libya*" = 3 }
        bogus = 1
        '''
    config = write_config(tmp_path, topics=topics)

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    assert problems(error) == [
        (
            "topics.toml",
            7,
            "topics.libya.exclude",
            "entry 2: '=' at character 9 of 'tripoli = 3' is not allowed: " + TERM_RULE,
        ),
        ("topics.toml", 12, "topics.libya.bogus", "unknown key 'bogus'"),
    ]


def test_key_lines() -> None:
    text = toml(
        '''
        a = 1
        [t."x.y"]
        'lit' = """
        z = 9
        """
        [[list]]
        b.c = [1,
          2]
        d = 4  # e = 5
        '''
    )

    assert key_lines(text) == {
        ("a",): 1,
        ("t",): 2,
        ("t", "x.y"): 2,
        ("t", "x.y", "lit"): 3,
        ("list",): 6,
        ("list", "b"): 7,
        ("list", "b", "c"): 7,
        ("list", "d"): 9,
    }


def test_describe_options_and_env_name() -> None:
    options = {row[0]: row for row in describe_options()}

    assert options["feed_length"] == (
        "feed_length",
        "integer",
        "50",
        "number of newest releases in each feed",
    )
    assert options["email.from"][2] == '"pressfeed <pressfeed@localhost>"'
    assert options["smtp.starttls"][1:3] == ("boolean", "false")
    assert options["max_file_bytes"][2] == "5_000_000"
    assert len(options) == 43
    assert env_name("smtp.host") == "PRESSFEED_SMTP_HOST"
    assert env_name("feed_length") == "PRESSFEED_FEED_LENGTH"
    assert env_name("email.from") == "PRESSFEED_EMAIL_FROM"


def test_every_option_is_overridable_from_the_environment(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    environ = {env_name(key): "19" for key, kind, _, _ in describe_options() if kind == "integer"}

    settings = load_settings(config, environ=environ)

    assert (settings.feed_length, settings.max_file_bytes, settings.smtp.port) == (19, 19, 19)


def test_repository_config_loads(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    shutil.copy(REPO / "config" / "pressfeed.toml", config_dir / "pressfeed.toml")
    (config_dir / "topics.toml").write_text(TOPICS, encoding="utf-8")

    settings = load_settings(config_dir / "pressfeed.toml", environ={})

    assert settings.content_dir == tmp_path / "content"
    assert settings.output_dir == tmp_path / "feeds"
    assert settings.database == f"sqlite:///{tmp_path}/var/pressfeed.db"
    assert settings.topics_file == config_dir / "topics.toml"
    assert settings.email == EmailSettings(outbox_dir=tmp_path / "outbox")
    assert settings.smtp == SmtpSettings()
    assert [t.slug for t in settings.topics] == ["libya"]


def test_repository_config_names_every_key() -> None:
    data = tomllib.loads((REPO / "config" / "pressfeed.toml").read_text(encoding="utf-8"))
    written = [f"{k}.{key}" for k, v in data.items() if isinstance(v, dict) for key in v]
    written += [k for k, v in data.items() if not isinstance(v, dict)]

    assert sorted(written) == sorted(key for key, *_ in describe_options())


def test_topics_syntax_error_is_reported_with_the_main_files_problems(tmp_path: Path) -> None:
    config = write_config(tmp_path, "feed_length = 0", topics="[topics.libya]\ntitle = Libya\n")

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    assert problems(error) == [
        ("pressfeed.toml", 1, "feed_length", "expected an integer >= 1, got 0 (integer)"),
        ("topics.toml", 2, "", "invalid TOML: Invalid value"),
    ]


def test_process_environment_is_read_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path)
    monkeypatch.setenv("PRESSFEED_SITE_TITLE", "Newsroom")

    assert load_settings(config).site_title == "Newsroom"


def test_misspelt_environment_variable_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(tmp_path)

    settings = load_settings(config, environ={"PRESSFEED_FEED_LENGHT": "3"})

    assert settings.feed_length == 50
    assert caplog.messages == [
        "ignored environment variable PRESSFEED_FEED_LENGHT; did you mean PRESSFEED_FEED_LENGTH?"
    ]


def test_describe_topic_options() -> None:
    rows = describe_options(TOPIC_OPTIONS)

    assert [row[0] for row in rows] == [
        "topics.<slug>.title",
        "topics.<slug>.description",
        "topics.<slug>.terms",
        "topics.<slug>.exclude",
        "topics.<slug>.requires",
        "topics.<slug>.threshold",
        "topics.<slug>.headline_weight",
        "topics.<slug>.lead_weight",
        "topics.<slug>.passage_points",
        "topics.<slug>.min_share",
        "topics.<slug>.min_passages",
        "topics.<slug>.near_words",
    ]
    assert rows[0][2] == "(required)"
    assert rows[3][2] == "[]"


def test_a_home_directory_of_no_user_is_a_config_problem(tmp_path: Path) -> None:
    config = write_settings(tmp_path, '[email]\noutbox_dir = "~no-such-user-here/mail"\n')
    with pytest.raises(ConfigError, match="~no-such-user-here names no home directory"):
        load_settings(config, environ={})
    with pytest.raises(ConfigError, match="names no home directory"):
        load_settings(Path("~no-such-user-here/pressfeed.toml"), environ={})


def test_sources_name_the_publisher_of_each_content_folder(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
        organisation = "Wire"

        [sources."iom"]
        organisation = "IOM"

        [sources."iom/press/"]
        organisation = ""
        """,
    )

    settings = load_settings(config, environ={})

    assert settings.organisation == "Wire"
    assert settings.sources == (FolderSource("iom", "IOM"), FolderSource("iom/press", ""))


def test_source_folder_problems_are_reported_with_file_line_and_key(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
        [sources."/srv/iom"]
        organisation = "IOM"
        [sources."../unhcr"]
        organisation = "UNHCR"
        [sources.'wfp\\news']
        organisation = "WFP"
        [sources."msf"]
        organization = "MSF"
        [sources."who"]
        organisation = 3
        [sources."ifrc"]
        [sources.unicef.press]
        organisation = "UNICEF"
        [sources."oxfam"]
        organisation = "Oxfam"
        [sources."oxfam/"]
        organisation = "Oxfam"
        """,
    )

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    relative = "expected a folder relative to content_dir, such as 'iom/press'"
    assert problems(error) == [
        ("pressfeed.toml", 1, 'sources."/srv/iom"', f"{relative}, not an absolute path"),
        (
            "pressfeed.toml",
            3,
            'sources."../unhcr"',
            f"{relative}; '.', '..', empty names and NUL are not allowed",
        ),
        ("pressfeed.toml", 5, 'sources."wfp\\\\news"', f"{relative}, written with '/'"),
        (
            "pressfeed.toml",
            8,
            "sources.msf.organization",
            "unknown key 'organization'; did you mean 'organisation'?",
        ),
        ("pressfeed.toml", 10, "sources.who.organisation", "expected a string, got 3 (integer)"),
        ("pressfeed.toml", 11, "sources.ifrc", "missing required key 'organisation'"),
        (
            "pressfeed.toml",
            12,
            "sources.unicef.press",
            "unknown key 'press'; a folder with a \"/\" is written quoted: "
            '[sources."unicef/press"]',
        ),
        ("pressfeed.toml", 16, 'sources."oxfam/"', "names the folder 'oxfam' a second time"),
    ]


def test_sources_must_be_tables(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'sources = "iom"\n')

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    assert problems(error) == [
        (
            "pressfeed.toml",
            1,
            "sources",
            "expected tables [sources.\"<folder>\"], got 'iom' (string)",
        ),
    ]


def test_a_misspelt_sources_table_is_named(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[source."iom"]\norganisation = "IOM"\n')

    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})

    assert problems(error) == [
        ("pressfeed.toml", 1, "source", "unknown section 'source'; did you mean 'sources'?"),
    ]
