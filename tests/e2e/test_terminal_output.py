"""What a person reads: the design card's command, through a pipe and in a terminal.

Each step line once, the feature's header once, its description apart from its tags, the progress
line never left over a step line, and the verdict last.
"""

from __future__ import annotations

import subprocess
import sys

from behave.parser import parse_file

from tests.behave_run import ROOT, behave_env
from tests.terminal import Screen, run_in_terminal


def step_sentences(feature: str) -> list[str]:
    parsed = parse_file(str(ROOT / feature))
    return [f"{step.keyword} {step.name}" for scenario in parsed.walk_scenarios() for step in scenario.steps]


def test_through_a_pipe_each_line_is_printed_once(tmp_path):
    done = subprocess.run([sys.executable, "-m", "behave", "features/quick.feature"], cwd=ROOT,
                          env=behave_env(tmp_path / "reports", None, "pipe"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert sum(line.startswith("Feature: Quick checks") for line in lines) == 1
    assert all("@" not in line for line in lines if "are there machines for rent?" in line)   # description apart
    sentences = step_sentences("features/quick.feature")
    for sentence in sentences:
        assert sum(line.strip().startswith(sentence) for line in lines) == sentences.count(sentence), sentence
    assert lines[-1].startswith("✅ PASSED: 1 journey(s) passed")


def test_in_a_terminal_each_step_line_is_left_on_screen_as_often_as_the_scenario_has_it(tmp_path):
    # The instance journey waits long enough for the live progress line to be drawn many times.
    code, screen = run_in_terminal([sys.executable, "-m", "behave", "features/instance.feature"], ROOT,
                                   behave_env(tmp_path / "reports", None, "terminal"), width=80)
    lines = screen.lines()
    assert code == 0, "\n".join(lines[-40:])
    sentences = step_sentences("features/instance.feature")
    for sentence in sentences:
        shown = sum(line.strip().startswith(sentence) for line in lines)
        assert shown == sentences.count(sentence), (sentence, "\n".join(lines))
    # A feature with a Background: behave's own pretty formatter printed its header a second time.
    assert sum("Feature: Instance lifecycle" in line for line in lines) == 1
    assert not any("⏳" in line for line in lines), "a progress line was left on screen"
    assert [line for line in lines if line.strip()][-1].startswith("✅ PASSED")


def test_the_screen_model_wraps_and_erases_like_a_terminal():
    screen = Screen(width=10)
    screen.feed("step one\n")
    screen.feed("\r\x1b[K" + "x" * 15)        # a live line longer than the terminal wraps onto a second row
    screen.feed("\r\x1b[K")                   # erasing clears only the row the cursor is on
    assert screen.lines() == ["step one", "xxxxxxxxxx", ""]
    screen.feed("\x1b[2A\x1b[32mstep ONE\x1b[0m\n")
    assert screen.lines()[0] == "step ONE"
