"""Answer-code extraction: fences, prose, CRLF, cut-off answers, HumanEval completions."""

from __future__ import annotations

from harness.tasks.extract import defines, extract_code
from harness.tasks.humaneval import load_humaneval
from harness.tasks.types import Task

FN = Task(
    task_id="builtin/simple/add",
    suite="builtin",
    category="simple",
    prompt="Write add(a, b).",
    entry_point="add",
    reference="def add(a, b):\n    return a + b\n",
    tests="def test_add():\n    assert add(1, 2) == 3\n",
    test_style="functions",
)
HE = load_humaneval(limit=1)[0]  # has_close_elements; its prompt imports List


def test_single_python_fence_with_prose_around() -> None:
    answer = (
        "Sure! Here it is:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nHope it helps."
    )
    assert extract_code(answer, FN) == "def add(a, b):\n    return a + b\n"


def test_crlf_and_bare_fence() -> None:
    answer = "Answer:\r\n```\r\ndef add(a, b):\r\n    return a + b\r\n```\r\n"
    assert extract_code(answer, FN) == "def add(a, b):\n    return a + b\n"


def test_prefers_the_block_defining_the_entry_point_over_a_longer_one() -> None:
    usage = "```python\n" + "print(add(1, 2))  # a long usage example\n" * 10 + "```"
    sol = "```python\ndef add(a, b):\n    return a + b\n```"
    assert extract_code(f"{usage}\n\n{sol}", FN).startswith("def add(a, b):")
    assert extract_code(f"{sol}\n\n{usage}", FN).startswith("def add(a, b):")


def test_longest_block_when_none_defines_it_and_python_over_other_languages() -> None:
    answer = (
        "```bash\npip install nothing-at-all-but-a-very-long-command-line\n```\n"
        "```python\nx = 1\n```\n```py\ny = 2\nz = 3\n```"
    )
    assert extract_code(answer, FN) == "y = 2\nz = 3\n"


def test_unterminated_fence_runs_to_the_end() -> None:
    answer = "Here:\n```python\ndef add(a, b):\n    return a + b"
    assert extract_code(answer, FN) == "def add(a, b):\n    return a + b\n"


def test_think_section_and_tilde_fence() -> None:
    answer = "<think>maybe ```python\nwrong()\n``` no</think>\n"
    answer += "~~~python\ndef add(a, b):\n    return a + b\n~~~"
    assert extract_code(answer, FN) == "def add(a, b):\n    return a + b\n"


def test_raw_text_and_leading_prose_without_fences() -> None:
    assert extract_code("def add(a, b):\n    return a + b\n", FN) == FN.reference
    prose = "The function below adds.\nIt is simple.\nimport math\ndef add(a, b):\n    return a + b"
    assert extract_code(prose, FN) == "import math\ndef add(a, b):\n    return a + b\n"


def test_no_code() -> None:
    assert extract_code("", FN) == ""
    assert extract_code("   \n\r\n", FN) == ""
    assert extract_code("```python\n\n```", FN) == ""
    assert extract_code("I cannot help with that.\nSorry.", FN) == ""
    assert extract_code("I cannot help with that.", HE) == "", "no prompt is prepended to nothing"


def test_humaneval_completion_gets_the_prompt_prepended() -> None:
    body = "    return any(abs(a - b) < threshold for i, a in enumerate(numbers)"
    body += " for b in numbers[i + 1 :])\n"
    code = extract_code(f"```python\n{body}```", HE)
    assert code == HE.prompt + body
    compile(code, "x", "exec")


def test_humaneval_full_function_keeps_the_prompt_imports() -> None:
    # The model dropped `from typing import List`; the prompt's stub and imports come first.
    fn = "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
    fn += "    return False\n"
    code = extract_code(f"```python\n{fn}```", HE)
    assert code.startswith(HE.prompt.rstrip("\n")) and code.endswith(fn)
    namespace: dict[str, object] = {}
    exec(compile(code, "x", "exec"), namespace)
    assert namespace["has_close_elements"]([1.0], 0.5) is False, "the model's definition wins"


def test_defines() -> None:
    assert defines("def add(a, b): pass", "add")
    assert defines("class Foo:\n    pass", "Foo")
    assert defines("    async def add(x):\n        pass", "add")
    assert not defines("def adder(a): pass", "add")
    assert not defines("add = lambda a, b: a + b", "add")
