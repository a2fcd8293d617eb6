"""Task requirements: complexity, needs, token estimates, families, logged-body text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.tasks.requirements import (
    CATEGORY_NEEDS,
    DEFAULT_CHARS_PER_TOKEN,
    chars_per_token,
    complexity,
    estimate_tokens,
    load_chars_per_token,
    model_family,
    request_text_chars,
    requirements,
)
from harness.tasks.types import Task


def _task(**kw) -> Task:
    base = dict(task_id="t", suite="builtin", category="simple", prompt="p" * 100, entry_point="f")
    base.update(kw)
    return Task(reference="", tests="", **base)  # type: ignore[arg-type]


def test_complexity_is_logistic_of_difficulty_unless_given() -> None:
    assert complexity(_task(difficulty=0.0)) == 0.5
    assert complexity(_task(difficulty=2.0)) == pytest.approx(0.8808, abs=1e-4)
    assert complexity(_task(difficulty=5.0, metadata={"complexity": 0.1})) == 0.1
    assert complexity(_task(metadata={"complexity": 7})) == 1.0


def test_needs_follow_category_and_shift_with_complexity() -> None:
    easy = requirements(_task(category="security", difficulty=-2.0))
    hard = requirements(_task(category="security", difficulty=2.0))
    assert hard.needs.reasoning == 1.0 and easy.needs.reasoning < 1.0
    simple = requirements(_task(category="simple"))
    assert simple.needs == CATEGORY_NEEDS["simple"]
    long = requirements(_task(category="code_generation", metadata={"long_context": True}))
    assert long.needs.long_context == 1.0


def test_token_estimate_counts_system_prompt_and_overhead() -> None:
    req = requirements(_task(prompt="x" * 350), extra_chars=50)
    assert req.prompt_chars == 400
    assert req.input_tokens(4.0) == 100 + 8
    assert estimate_tokens(401, 4.0, n_messages=1) == 101 + 4


@pytest.mark.parametrize(
    ("model_id", "key", "family"),
    [
        ("claude-3-5-sonnet-20241022", "", "claude"),
        ("gpt-4o-2024-08-06", "", "gpt"),
        ("qwen/qwen-2.5-coder-32b-instruct", "", "qwen"),
        ("meta-llama/llama-3-70b-instruct", "", "llama"),
        ("gemini-1.5-pro-002", "", "gemini"),
        ("some-model", "deepseek-coder", "deepseek"),
        ("mystery", "", "default"),
    ],
)
def test_model_family(model_id: str, key: str, family: str) -> None:
    assert model_family(model_id, key) == family


def test_chars_per_token_overrides_defaults() -> None:
    assert chars_per_token("claude") == DEFAULT_CHARS_PER_TOKEN["claude"]
    assert chars_per_token("claude", {"claude": 3.1}) == 3.1
    assert chars_per_token("unknown") == DEFAULT_CHARS_PER_TOKEN["default"]


def test_request_text_chars_reads_each_protocol() -> None:
    openai = {"model": "m", "messages": [{"role": "system", "content": "abc"},
                                         {"role": "user", "content": "de\nf"}]}  # fmt: skip
    assert request_text_chars(json.dumps(openai)) == (7, 2)
    anthropic = {
        "system": [{"type": "text", "text": "abcd"}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "xyz"}]}],
    }
    assert request_text_chars(json.dumps(anthropic)) == (7, 2)
    gemini = {
        "systemInstruction": {"parts": [{"text": "ab"}]},
        "contents": [{"role": "user", "parts": [{"text": "cde"}]}],
    }
    assert request_text_chars(json.dumps(gemini)) == (5, 2)
    assert request_text_chars("not json") is None
    assert request_text_chars("{}") is None


def test_load_chars_per_token(tmp_path: Path) -> None:
    f = tmp_path / "fitted.yaml"
    f.write_text("router: task_map\nchars_per_token:\n  claude: 3.49\n  gpt: 4\n")
    assert load_chars_per_token(f) == {"claude": 3.49, "gpt": 4.0}
    f.write_text("chars_per_token: {claude: -1}\n")
    with pytest.raises(ConfigError, match="positive"):
        load_chars_per_token(f)
    with pytest.raises(ConfigError, match="does not exist"):
        load_chars_per_token(tmp_path / "nope.yaml")
