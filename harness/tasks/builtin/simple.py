"""Builtin tasks, category ``simple``: small utility functions with a precise spec."""

from __future__ import annotations

from harness.tasks.builtin._common import make_task
from harness.tasks.types import Task

__all__ = ["TASKS"]

_CAT = "simple"

# --- chunked ---------------------------------------------------------------------------------

_CHUNKED_PROMPT = """
Write a function `chunked(items: list, size: int) -> list[list]` that splits `items` into
consecutive chunks of exactly `size` elements, in order. The last chunk holds the remaining
elements and may be shorter. An empty input gives an empty list. Each chunk is a new `list`;
`items` itself must not be modified. If `size` is less than 1, raise `ValueError`.

Example: `chunked([1, 2, 3, 4, 5], 2)` returns `[[1, 2], [3, 4], [5]]`.
"""

_CHUNKED_REF = r'''
def chunked(items: list, size: int) -> list[list]:
    """Split ``items`` into consecutive chunks of ``size`` (the last may be shorter)."""
    if size < 1:
        raise ValueError("size must be at least 1")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
'''

_CHUNKED_TESTS = r"""
def test_even_split():
    assert chunked([1, 2, 3, 4], 2) == [[1, 2], [3, 4]]


def test_remainder_chunk():
    assert chunked([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert chunked(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]


def test_size_one():
    assert chunked(["a", "b", "c"], 1) == [["a"], ["b"], ["c"]]


def test_size_larger_than_input():
    assert chunked([1, 2], 5) == [[1, 2]]
    assert chunked([1, 2, 3], 3) == [[1, 2, 3]]


def test_empty_input():
    assert chunked([], 3) == []


def test_invalid_size():
    for bad in (0, -1, -10):
        try:
            chunked([1, 2, 3], bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"size={bad} should raise ValueError")


def test_input_untouched_and_chunks_are_new_lists():
    data = [1, 2, 3, 4]
    out = chunked(data, 4)
    assert out == [[1, 2, 3, 4]]
    out[0].append(99)
    assert data == [1, 2, 3, 4]
"""

# --- snake_to_camel --------------------------------------------------------------------------

_CAMEL_PROMPT = """
Write a function `snake_to_camel(name: str) -> str` that converts a snake_case identifier to
lowerCamelCase:

- split `name` on underscores and ignore empty parts (so leading, trailing and repeated
  underscores disappear);
- the first part is lower-cased completely;
- every following part has its first character upper-cased and the rest lower-cased;
- if there are no parts at all (empty string or only underscores), return `""`.

Examples: `"user_id"` -> `"userId"`, `"HTTP_response_code"` -> `"httpResponseCode"`,
`"__private__name_"` -> `"privateName"`, `"version_2_beta"` -> `"version2Beta"`.
"""

_CAMEL_REF = r'''
def snake_to_camel(name: str) -> str:
    """Convert snake_case to lowerCamelCase (see the task for the exact rules)."""
    parts = [part for part in name.split("_") if part]
    if not parts:
        return ""
    head = parts[0].lower()
    tail = "".join(part[:1].upper() + part[1:].lower() for part in parts[1:])
    return head + tail
'''

_CAMEL_TESTS = r"""
def test_basic():
    assert snake_to_camel("user_id") == "userId"
    assert snake_to_camel("a_b_c") == "aBC"


def test_single_word():
    assert snake_to_camel("already") == "already"
    assert snake_to_camel("Title") == "title"


def test_case_normalised():
    assert snake_to_camel("HTTP_response_code") == "httpResponseCode"
    assert snake_to_camel("get_URL") == "getUrl"


def test_extra_underscores():
    assert snake_to_camel("__private__name_") == "privateName"
    assert snake_to_camel("a__b") == "aB"


def test_digits():
    assert snake_to_camel("version_2_beta") == "version2Beta"
    assert snake_to_camel("x_1y") == "x1y"


def test_empty():
    assert snake_to_camel("") == ""
    assert snake_to_camel("___") == ""
"""

# --- rle_encode ------------------------------------------------------------------------------

_RLE_PROMPT = """
Write a function `rle_encode(text: str) -> str` that run-length encodes a string: every maximal
run of the same character becomes the run's length in decimal followed by the character.
Characters are compared exactly (case-sensitive). The empty string encodes to `""`.

Examples: `rle_encode("aaabcc")` returns `"3a1b2c"`; `rle_encode("aA")` returns `"1a1A"`;
`rle_encode("x" * 12)` returns `"12x"`.
"""

_RLE_REF = r'''
def rle_encode(text: str) -> str:
    """Run-length encode ``text`` as <count><char> pairs."""
    if not text:
        return ""
    pieces: list[str] = []
    current = text[0]
    count = 1
    for ch in text[1:]:
        if ch == current:
            count += 1
        else:
            pieces.append(f"{count}{current}")
            current = ch
            count = 1
    pieces.append(f"{count}{current}")
    return "".join(pieces)
'''

_RLE_TESTS = r"""
def test_example():
    assert rle_encode("aaabcc") == "3a1b2c"


def test_single_chars():
    assert rle_encode("abc") == "1a1b1c"
    assert rle_encode("z") == "1z"


def test_case_sensitive():
    assert rle_encode("aA") == "1a1A"
    assert rle_encode("AAaa") == "2A2a"


def test_long_run():
    assert rle_encode("x" * 12) == "12x"
    assert rle_encode("ab" + "b" * 99 + "c") == "1a100b1c"


def test_repeated_runs_not_merged():
    assert rle_encode("aabaa") == "2a1b2a"


def test_empty_and_spaces():
    assert rle_encode("") == ""
    assert rle_encode("  x") == "2 1x"
"""

# --- median ----------------------------------------------------------------------------------

_MEDIAN_PROMPT = """
Write a function `median(values: list[float]) -> float` returning the median of `values`:
the middle element of the sorted values when their count is odd, and the arithmetic mean of
the two middle elements when it is even. `values` is not necessarily sorted and must not be
modified. Raise `ValueError` for an empty list.

Examples: `median([3, 1, 2])` is `2`; `median([4, 1, 3, 2])` is `2.5`.
"""

_MEDIAN_REF = r'''
def median(values: list[float]) -> float:
    """Median of ``values`` (mean of the two middle values for an even count)."""
    if not values:
        raise ValueError("median of an empty list")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2 == 1:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2
'''

_MEDIAN_TESTS = r"""
def test_odd():
    assert median([3, 1, 2]) == 2
    assert median([7]) == 7
    assert median([5, 9, 1, 3, 7]) == 5


def test_even():
    assert median([4, 1, 3, 2]) == 2.5
    assert median([10, 20]) == 15
    assert median([1, 1, 2, 100]) == 1.5


def test_negative_and_float():
    assert median([-5.5, 2.0, -1.0]) == -1.0
    assert median([-3, -1]) == -2


def test_input_not_modified():
    data = [3, 1, 2, 5]
    median(data)
    assert data == [3, 1, 2, 5]


def test_empty_raises():
    try:
        median([])
    except ValueError:
        return
    raise AssertionError("median([]) should raise ValueError")
"""

# --- top_words -------------------------------------------------------------------------------

_TOP_PROMPT = """
Write a function `top_words(text: str, n: int) -> list[tuple[str, int]]` that returns the `n`
most frequent words of `text` as `(word, count)` pairs.

- A word is a maximal run of ASCII letters (`A`-`Z`, `a`-`z`); everything else separates words
  (so `"don't"` is the two words `"don"` and `"t"`).
- Words are counted case-insensitively and reported in lower case.
- Order by count, highest first; equal counts are ordered alphabetically.
- Return at most `n` pairs (fewer if the text has fewer distinct words); if `n` is less than
  1, return an empty list.

Example: `top_words("b a B c a b", 2)` returns `[("b", 3), ("a", 2)]`.
"""

_TOP_REF = r'''
import re
from collections import Counter


def top_words(text: str, n: int) -> list[tuple[str, int]]:
    """The ``n`` most frequent ASCII words of ``text`` (lower-cased), ties alphabetical."""
    if n < 1:
        return []
    counts = Counter(word.lower() for word in re.findall(r"[A-Za-z]+", text))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:n]
'''

_TOP_TESTS = r"""
def test_example():
    assert top_words("b a B c a b", 2) == [("b", 3), ("a", 2)]


def test_ties_alphabetical():
    assert top_words("pear apple fig apple fig pear", 3) == [
        ("apple", 2),
        ("fig", 2),
        ("pear", 2),
    ]


def test_separators_and_case():
    text = "Don't stop! DON'T... stop-stop; 42 go"
    assert top_words(text, 10) == [("stop", 3), ("don", 2), ("t", 2), ("go", 1)]


def test_n_larger_than_vocabulary():
    assert top_words("one two", 5) == [("one", 1), ("two", 1)]


def test_n_one_and_zero():
    assert top_words("x y x", 1) == [("x", 2)]
    assert top_words("x y x", 0) == []
    assert top_words("x y x", -3) == []


def test_no_words():
    assert top_words("123 -- !!", 3) == []
    assert top_words("", 3) == []
"""

TASKS: list[Task] = [
    make_task(
        category=_CAT,
        name="chunked",
        difficulty=-1.6,
        entry_point="chunked",
        instructions=_CHUNKED_PROMPT,
        reference=_CHUNKED_REF,
        tests=_CHUNKED_TESTS,
        tags=["lists", "validation"],
    ),
    make_task(
        category=_CAT,
        name="snake_to_camel",
        difficulty=-1.3,
        entry_point="snake_to_camel",
        instructions=_CAMEL_PROMPT,
        reference=_CAMEL_REF,
        tests=_CAMEL_TESTS,
        tags=["strings"],
    ),
    make_task(
        category=_CAT,
        name="rle_encode",
        difficulty=-1.2,
        entry_point="rle_encode",
        instructions=_RLE_PROMPT,
        reference=_RLE_REF,
        tests=_RLE_TESTS,
        tags=["strings", "loops"],
    ),
    make_task(
        category=_CAT,
        name="median",
        difficulty=-1.4,
        entry_point="median",
        instructions=_MEDIAN_PROMPT,
        reference=_MEDIAN_REF,
        tests=_MEDIAN_TESTS,
        tags=["math", "lists"],
    ),
    make_task(
        category=_CAT,
        name="top_words",
        difficulty=-1.0,
        entry_point="top_words",
        instructions=_TOP_PROMPT,
        reference=_TOP_REF,
        tests=_TOP_TESTS,
        tags=["strings", "sorting", "regex"],
    ),
]
