"""The command line, run in-process and once as the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pressfeed import store
from pressfeed.cli import main
from pressfeed.config import load_settings
from tests.conftest import ROOT, write_settings
from tests.test_scan import LISTING, TEASER

Run = tuple[int, str, str]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_settings(tmp_path)
    (tmp_path / "content" / "listing.txt").write_text(LISTING, encoding="utf-8")
    return path


def test_scan_prints_a_summary(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--config", str(config), "scan")
    assert code == 0
    assert "scanned 1 files" in out
    assert "2 releases added" in out
    assert err == ""


def test_scan_options_override_the_settings(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "teaser.txt").write_text(TEASER, encoding="utf-8")
    db = tmp_path / "other.db"
    code, out, _ = run(
        capsys, "--config", str(config), "scan", "--content", str(other), "--db", str(db)
    )
    assert code == 0
    assert "1 releases added" in out
    assert db.is_file()


def test_scan_reports_bad_files_and_goes_on(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "content" / "bad.txt").write_bytes(b"ok\n\xff\xfe\n")
    code, out, err = run(capsys, "--config", str(config), "scan")
    assert code == 0
    assert "bad.txt:2: skipped: not valid UTF-8" in err
    assert "2 releases added" in out
    assert "1 files skipped" in out


def test_missing_content_directory_is_one_clear_error(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--config", str(config), "scan", "--content", str(tmp_path / "nope"))
    assert code == 1
    assert err == f"pressfeed: {tmp_path / 'nope'}: content directory not found\n"
    assert not (tmp_path / "pressfeed.db").exists()


def test_bad_config_lists_every_problem_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_settings(tmp_path, 'feed_lenght = 5\n[smtp]\nport = "twenty-five"\n')
    code, _, err = run(capsys, "--config", str(config), "scan")
    assert code == 1
    assert "2 problems" in err
    assert f"{config}:6: feed_lenght: unknown key" in err
    assert f"{config}:8: smtp.port:" in err


def test_classify_json_has_one_object_per_release(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "content" / "listing.txt"
    code, out, _ = run(capsys, "--config", str(config), "classify", "--json", str(page))
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [r["index"] for r in records] == [0, 1]
    first = records[0]
    assert first["file"] == str(page)
    assert first["title"] == "Rescue ship waits for a safe port with 60 survivors on board"
    assert first["date"] == "2024-03-12"
    assert first["date_inferred"] is False
    assert first["topics"] == ["sea-rescue"]
    assert len(first["id"]) == 16


def test_classify_json_gives_null_date_and_the_file_date_for_undated_pages(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "content" / "teaser.txt"
    page.write_text(TEASER, encoding="utf-8")
    _, out, _ = run(capsys, "--config", str(config), "classify", "--json", str(page))
    record = json.loads(out)
    assert record["date"] is None
    assert record["date_inferred"] is True
    assert record["file_date"] is not None


def test_classify_explain_shows_evidence_part_by_part_with_its_context(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "content" / "listing.txt"
    _, out, _ = run(capsys, "--config", str(config), "classify", "--explain", str(page))
    first = out.split("listing.txt#1")[0]  # the rescue release
    assert "sea-rescue: yes; score" in first
    assert "against threshold 6" in first
    assert "named in the headline" in first
    assert "headline     'safe port*' x1 (weight 3 x 3): safe port" in first
    assert "lead         'rubber boat*' x1" in first or "lead         'boat*' x1" in first
    assert "libya: no (score 0 below 6)" in first


def explained(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> str:
    """`classify --explain` on one page with the project's topics."""
    config = write_settings(tmp_path)
    page = tmp_path / "content" / "page.txt"
    page.write_text(text, encoding="utf-8")
    _, out, _ = run(capsys, "--config", str(config), "classify", "--explain", str(page))
    return out


def test_classify_explain_names_the_word_that_let_a_near_term_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = explained(
        tmp_path,
        capsys,
        "Ministers sign a deal on the return of migrants\n\n"
        "ATHENS, 4 May 2024 – Ministers of both states signed a deal on the return of migrants "
        "who have no right to stay, under a new asylum procedure.\n",
    )
    assert "governance: yes" in out
    assert "'deal' x1 (weight 2 x 3): deal near 'migrants'" in out


def test_classify_explain_says_why_a_topic_was_left_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = explained(
        tmp_path,
        capsys,
        "Farmers sign a loan agreement with the bank\n\n"
        "NAIROBI, 4 May 2024 – Two hundred farmers signed a loan agreement for new seed "
        "and irrigation pumps, the bank said on Friday.\n",
    )
    assert "topics: (none)" in out
    assert "governance: no (score 0 below 6)" in out


def test_classify_outside_a_project_uses_the_built_in_topics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PRESSFEED_CONFIG", raising=False)
    page = tmp_path / "listing.txt"
    page.write_text(LISTING, encoding="utf-8")
    code, out, err = run(capsys, "classify", str(page))
    assert code == 0
    assert "topics: sea-rescue" in out
    assert "topics: health" in out
    assert "no configuration file found; using the built-in topics" in err


def test_other_commands_outside_a_project_still_need_a_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PRESSFEED_CONFIG", raising=False)
    code, _, err = run(capsys, "scan")
    assert code != 0
    assert "no configuration file found; give one with --config FILE" in err
    assert not (tmp_path / "var").exists()


def test_the_built_in_topics_are_the_project_topics_file() -> None:
    from pressfeed.config import BUILTIN_TOPICS

    assert BUILTIN_TOPICS.read_bytes() == (ROOT / "config" / "topics.toml").read_bytes()


def test_classify_walks_directories_and_reports_missing_paths(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "--config",
        str(config),
        "classify",
        str(tmp_path / "content"),
        str(tmp_path / "x.txt"),
    )
    assert code == 1
    assert out.count("topics:") == 2
    assert "x.txt: skipped: no such file or directory" in err


def test_eval_scores_the_sample_content(capsys: pytest.CaptureFixture[str]) -> None:
    labels = ROOT / "tests" / "golden" / "content-labels.json"
    config = ROOT / "config" / "pressfeed.toml"
    code, out, _ = run(capsys, "--config", str(config), "eval", str(labels), str(ROOT / "content"))
    lines = out.splitlines()
    assert code == 0
    assert lines[-1] == "macro F1  1.000"
    assert lines[-4].startswith("releases  24/24 distinct found (25/25 labelled, 0 spurious")


def test_eval_on_the_seeds_is_perfect(shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = ROOT / "config" / "pressfeed.toml"
    labels, seeds = shared_dir / "seeds-golden.json", shared_dir / "seeds"
    _, out, _ = run(capsys, "--config", str(config), "eval", str(labels), str(seeds))
    assert out.splitlines()[-4:] == [
        "releases  17/17 distinct found (18/18 labelled, 0 spurious, 1/1 duplicates merged)",
        "titles    18/18 right",
        "dates     18/18 right",
        "macro F1  1.000",
    ]


def test_eval_reports_a_broken_labels_file(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "labels.json"
    labels.write_text('{"files": {}}', encoding="utf-8")
    code, _, err = run(capsys, "--config", str(config), "eval", str(labels))
    assert code == 1
    assert "labels.json: not a labels file" in err


def test_topics_diff_stored_shows_gains_and_losses_before_publishing(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--config", str(config), "scan")
    _, out, _ = run(capsys, "--config", str(config), "topics", "diff", "--stored")
    assert out.strip() == "no release would change topics"
    topics = tmp_path / "topics.toml"
    original = (ROOT / "config" / "topics.toml").read_text(encoding="utf-8")
    topics.write_text(
        original.replace('title = "Health"\n', 'title = "Health"\nthreshold = 1000.0\n'),
        encoding="utf-8",
    )
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            str(ROOT / "config" / "topics.toml"), str(topics)
        ),
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "--config", str(config), "topics", "diff", "--stored")
    assert code == 0
    assert "-health" in out
    assert "Health workers screen new arrivals for tuberculosis" in out
    assert out.splitlines()[-1] == "health +0 -1"
    _, again, _ = run(capsys, "--config", str(config), "topics", "diff", "--stored")
    assert again == out  # diff changes nothing


@pytest.mark.parametrize("command", [["pressfeed"], ["-m", "pressfeed"]], ids=["script", "module"])
def test_console_script_runs(config: Path, command: list[str]) -> None:
    program = Path(sys.executable).parent / "pressfeed" if command == ["pressfeed"] else None
    start = [str(program)] if program else [sys.executable, *command]
    done = subprocess.run(
        [*start, "--config", str(config), "scan", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_help_of_each_command_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["scan", "--help"])
    assert exit_info.value.code == 0
    assert "example: pressfeed scan" in capsys.readouterr().out


def test_subscribers_commands(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--config", str(config), "subscribers"]
    code, out, _ = run(
        capsys,
        *base,
        "add",
        "ana@example.org",
        "--topics",
        "libya,health",
        "--frequency",
        "weekly",
        "--weekday",
        "fri",
        "--hour",
        "17",
    )
    assert code == 0
    assert out.startswith("added: ana@example.org  libya,health  weekly at 17:00 on friday UTC")
    code, _, err = run(capsys, *base, "add", "bo@example.org", "--topics", "sport")
    assert code == 1
    assert "unknown topic 'sport'" in err
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("address,topics\nbo@example.org,health\nnope,health\n", encoding="utf-8")
    code, out, err = run(capsys, *base, "import", str(csv_file))
    assert code == 0
    assert out == (
        f"imported {csv_file}: 1 added, 0 already subscribed, 0 unsubscribed before, "
        "1 rows skipped\n"
    )
    assert f"{csv_file}:3: not an e-mail address: 'nope'" in err
    _, out, _ = run(capsys, *base, "list")
    assert [line.split()[0] for line in out.splitlines()] == [
        "address",
        "ana@example.org",
        "bo@example.org",
    ]
    assert run(capsys, *base, "remove", "ana@example.org")[0] == 0
    code, _, err = run(capsys, *base, "remove", "ana@example.org")
    assert code == 1
    assert "is not subscribed" in err
    csv_file.write_text("address\nana@example.org\nbo@example.org\n", encoding="utf-8")
    code, out, _ = run(capsys, *base, "import", str(csv_file))  # as `make run` does every start
    assert out == (
        f"imported {csv_file}: 0 added, 1 already subscribed (bo@example.org), "
        "1 unsubscribed before (ana@example.org), 0 rows skipped\n"
    )


def test_digest_dry_run_and_preview(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--config", str(config), "scan")  # the archive: no news
    run(capsys, "--config", str(config), "subscribers", "add", "ana@example.org")
    (tmp_path / "content" / "teaser.txt").write_text(TEASER, encoding="utf-8")
    run(capsys, "--config", str(config), "scan")
    code, out, _ = run(capsys, "--config", str(config), "digest", "--dry-run", "--now")
    assert code == 0
    assert out.strip() == "ana@example.org: 1 releases (Governance 1)"
    code, out, _ = run(
        capsys, "--config", str(config), "digest", "--now", "--preview", str(tmp_path / "preview")
    )
    assert out.strip() == f"wrote 1 digests to {tmp_path / 'preview'}"
    assert len(list((tmp_path / "preview").glob("*.eml"))) == 1
    code, out, _ = run(capsys, "--config", str(config), "digest", "--now")
    assert "1 recorded" in out
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


WEB_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Clinics reopen in the valley | Valley Health</title>
<meta property="article:published_time" content="2024-03-14T09:00:00+01:00"></head>
<body><nav><a href="/">Home</a> <a href="/news">News</a></nav><article>
<h1>Clinics reopen in the valley</h1><div class="share"><a href="#">Share</a></div>
<p>The health office reopened four clinics in the valley on Thursday, after the floods of last
month had closed them for almost three weeks.</p>
<p>Mobile teams will visit the villages that the roads do not reach yet, twice a week.</p>
</article><footer><p>© 2024 Valley Health</p></footer></body></html>
"""


def test_classify_json_gives_the_main_text_and_where_the_date_came_from(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "content" / "clinics.html"
    page.write_text(WEB_PAGE, encoding="utf-8")
    _, out, _ = run(capsys, "--config", str(config), "classify", "--json", str(page))
    record = json.loads(out)
    assert (record["title"], record["date"], record["date_source"]) == (
        "Clinics reopen in the valley",
        "2024-03-14",
        "meta",
    )
    assert record["paragraphs"] == 2
    assert record["body"] == (
        "The health office reopened four clinics in the valley on Thursday, after the floods of "
        "last month had closed them for almost three weeks.\n\nMobile teams will visit the "
        "villages that the roads do not reach yet, twice a week."
    )


def test_config_and_verbose_may_follow_the_command(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "scan", "--config", str(config))
    assert code == 0
    assert "2 releases added" in out
    code, out, _ = run(capsys, "topics", "diff", "--stored", "-v", "--config", str(config))
    assert code == 0
    assert "no release would change topics" in out


def test_config_before_the_command_is_kept_when_none_follows_it(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(capsys, "--config", str(config), "subscribers", "add", "ana@example.org")
    assert code == 0
    engine = store.open_store(load_settings(config, environ={}).database)
    with engine.connect() as connection:  # the store the settings file names
        assert [s.address for s in store.all_subscribers(connection)] == ["ana@example.org"]
    engine.dispose()


def test_config_after_the_command_wins_over_one_before_it(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "--config", str(config), "scan", "--config", str(tmp_path / "none.toml")
    )
    assert code == 1
    assert "none.toml: cannot read" in err


def test_examples_in_command_help_name_files_that_exist() -> None:
    from pressfeed import cli

    examples = [value for name, value in vars(cli).items() if name.startswith("EPILOG_")]
    paths = [word for text in examples for word in text.split() if word.startswith("content/")]
    assert paths
    assert all((ROOT / path).exists() for path in paths), paths


def test_a_reader_that_goes_away_ends_the_output_quietly(config: Path, tmp_path: Path) -> None:
    for n in range(30):
        (tmp_path / "content" / f"r{n}.txt").write_text(LISTING, encoding="utf-8")
    command = [sys.executable, "-m", "pressfeed.cli", "--config", str(config), "classify"]
    shell = " ".join([*command, str(tmp_path / "content"), "| head -1"])
    done = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True)
    assert "Traceback" not in done.stderr
    assert "BrokenPipeError" not in done.stderr
    assert done.stdout.count("\n") == 1


def test_subscribers_add_saves_a_search_query_and_refuses_a_broken_one(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ("--config", str(config), "subscribers")
    code, out, _ = run(
        capsys, *common, "add", "ben@example.org", "--query", '"coast  guard" -drill'
    )
    assert code == 0
    assert 'matching "coast guard" -drill' in out
    code, out, _ = run(capsys, *common, "list")
    assert 'ben@example.org  all matching "coast guard" -drill' in out
    code, _, err = run(capsys, *common, "add", "cy@example.org", "--query", '"coast guard')
    assert code != 0
    assert "quote" in err
    engine = store.open_store(load_settings(config, environ={}).database)
    with engine.connect() as connection:
        found = store.subscriber_by_address(connection, "ben@example.org")
        assert store.subscriber_by_address(connection, "cy@example.org") is None
    engine.dispose()
    assert found is not None
    assert found.query == '"coast guard" -drill'
