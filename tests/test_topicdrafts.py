"""The draft topics file: compared with the live one, then installed atomically."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from pressfeed.cli import main
from tests.conftest import TOPICS, write_settings
from tests.smtp_servers import free_port
from tests.test_publish import HEALTH
from tests.test_scan import LISTING
from tests.test_service import Running, titles

STRICT_HEALTH = ('title = "Health"\n', 'title = "Health"\nthreshold = 1000.0\n')
CLINIC = "Clinic opens for new arrivals"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Settings with their own live topics file, a copy of the project's, and two files."""
    path = write_settings(tmp_path)
    live = tmp_path / "topics.toml"
    live.write_bytes(TOPICS.read_bytes())
    path.write_text(path.read_text("utf-8").replace(TOPICS.as_posix(), "topics.toml"), "utf-8")
    (tmp_path / "content" / "listing.txt").write_text(LISTING, encoding="utf-8")
    (tmp_path / "content" / "health.txt").write_text(HEALTH, encoding="utf-8")
    return path


def cli(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def write_draft(config: Path, old: str = "", new: str = "") -> Path:
    draft = config.parent / "topics.draft.toml"
    draft.write_text(TOPICS.read_text("utf-8").replace(old, new), "utf-8")
    return draft


def test_diff_previews_the_draft_and_apply_installs_it(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = config.parent / "topics.toml"
    original = live.read_bytes()
    cli(capsys, config, "scan")
    write_draft(config)
    assert cli(capsys, config, "topics", "diff")[1] == "no release would change topics\n"
    draft = write_draft(config, *STRICT_HEALTH)
    code, out, _ = cli(capsys, config, "topics", "diff")
    assert code == 0
    assert "-health" in out
    assert CLINIC in out
    assert out.splitlines()[-1] == "health +0 -2"
    assert live.read_bytes() == original  # a diff changes nothing
    code, out, _ = cli(capsys, config, "topics", "apply")
    assert code == 0
    assert out == f"4 topics installed in {live}; the previous one is {live}.bak\n"
    assert live.read_bytes() == draft.read_bytes()
    assert (config.parent / "topics.toml.bak").read_bytes() == original
    assert cli(capsys, config, "topics", "diff")[1] == "no release would change topics\n"
    assert cli(capsys, config, "topics", "diff", "--stored")[1].endswith("health +0 -2\n")


def test_a_broken_draft_is_refused_with_file_line_and_reason(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = config.parent / "topics.toml"
    original = live.read_bytes()
    draft = write_draft(config, *STRICT_HEALTH)
    draft.write_text(draft.read_text("utf-8").replace("threshold = 1000.0", 'threshold = "x"'))
    line = draft.read_text("utf-8").splitlines().index('threshold = "x"') + 1
    for action in ("diff", "apply"):
        code, _, err = cli(capsys, config, "topics", action)
        assert code == 1
        assert f"{draft}:{line}: topics.health.threshold: expected" in err
    assert live.read_bytes() == original
    assert not (config.parent / "topics.toml.bak").exists()


def test_a_missing_draft_is_named(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, config, "topics", "apply")
    assert code == 1
    assert "topics.draft.toml: no draft topics file; copy topics.toml here" in err


def test_topics_draft_setting_names_another_file(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text(config.read_text("utf-8") + 'topics_draft = "next.toml"\n', "utf-8")
    (config.parent / "next.toml").write_text(TOPICS.read_text("utf-8").replace(*STRICT_HEALTH))
    cli(capsys, config, "scan")
    assert cli(capsys, config, "topics", "diff")[1].endswith("health +0 -2\n")


@pytest.fixture
def service(config: Path) -> Iterator[Running]:
    text = config.read_text("utf-8")
    config.write_text(text + "[service]\nscan_interval = 3600\n", "utf-8")
    running = Running(config, free_port())
    try:
        running.wait_for_log(r"service: serving http://")
        yield running
    finally:
        running.stop(signal.SIGKILL if running.process.poll() is None else signal.SIGTERM)


def test_the_service_ignores_the_draft_until_it_is_applied(
    service: Running, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service.wait_until(lambda: CLINIC in titles(service, "health.atom"))
    write_draft(config, *STRICT_HEALTH)
    # A reload of the settings file reads the live topics again, not the draft.
    config.write_text(config.read_text("utf-8").replace("[service]", 'site_title = "N"\n[service]'))
    service.wait_for_log(r"config reloaded")
    service.wait_for_log(r"scan done \(config changed\)")
    assert CLINIC in titles(service, "health.atom")
    assert cli(capsys, config, "topics", "apply")[0] == 0
    service.wait_until(lambda: CLINIC not in titles(service, "health.atom"))
