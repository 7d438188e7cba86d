"""Large text read in pieces under a progress bar gives exactly what one read gives, and reports every byte."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wxb.cli.errors import InputError
from wxb.cli.read import largetext
from wxb.cli.read.largetext import parse_large_text
from wxb.cli.read.textparse import Where, parse_text

cells = st.sampled_from(["1", "-2.5", "3e-7", "nan", "inf", "0.1", "x", "", "1,5", "  4 "])


@given(st.binary(max_size=200), st.integers(1, 40))
def test_chunks_cover_the_data_and_end_on_newlines(data: bytes, size: int) -> None:
    pieces = list(largetext._chunks(data, size))
    assert b"".join(data[start:end] for start, end in pieces) == data
    assert all(data[end - 1 : end] == b"\n" for _, end in pieces[:-1])


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(1, 4).flatmap(lambda n: st.lists(st.lists(cells, min_size=n, max_size=n), min_size=1, max_size=8)),
    delimiter=st.sampled_from([",", ";", "\t", " "]),
    extras=st.sampled_from(["", "# c\n", "\n", "h1,h2\n"]),
    chunk=st.integers(1, 30),
)
def test_reading_in_pieces_agrees_with_one_read(rows: list[list[str]], delimiter: str, extras: str, chunk: int) -> None:
    data = (extras + "\n".join(delimiter.join(row) for row in rows) + "\n").encode()
    where = Where("-X", "t.csv")
    done: list[int] = []
    outcomes = []
    for reader in (lambda: parse_text(data, where), lambda: parse_large_text(data, where, advance=done.append)):
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(largetext, "CHUNK", chunk)
                outcomes.append(reader())
        except InputError as exc:
            outcomes.append(str(exc))
    careful, pieces = outcomes
    if isinstance(careful, str):
        assert pieces == careful
    else:
        assert isinstance(pieces, np.ndarray)
        np.testing.assert_array_equal(pieces.view(np.uint64), careful.view(np.uint64))
        assert sum(done) <= len(data)  # all of it, unless polars gave up on a piece and the careful parser decided


def test_a_clean_file_reports_every_byte_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(largetext, "CHUNK", 64)
    values = np.arange(600.0).reshape(200, 3) / 7
    data = "".join(",".join(repr(v) for v in row) + "\n" for row in values.tolist()).encode()
    done: list[int] = []
    result = parse_large_text(data, Where("-X", "t.csv"), advance=done.append)
    np.testing.assert_array_equal(result, values)
    assert len(done) > 10 and sum(done) == len(data)
