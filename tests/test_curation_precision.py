"""docs/curation.md shows the precision benchmarks/curation_precision.py measures on the labelled examples, and the
curation filters keep the precision the docs promise."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def evaluation():
    pytest.importorskip("factory_ko")
    spec = importlib.util.spec_from_file_location("curation_precision", ROOT / "benchmarks" / "curation_precision.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_docs_show_what_the_labelled_examples_measure(evaluation):
    measured = evaluation.tables()
    assert evaluation.shown_in_docs() == measured, "run: python benchmarks/curation_precision.py --update-docs"


def test_the_curation_filters_drop_no_good_record_of_the_labelled_sets(evaluation):
    results = evaluation.measure_filters()
    for name in ("copied_demonstration", "decontaminate", "near_duplicate"):
        for language in ("en", "ko"):
            counts = results[(name, language)]
            assert counts.fp == 0 and counts.tp >= 2, (name, language, counts)
    code, exact, texts = evaluation.measure_code_spans()
    assert code.precision >= 0.95 and code.recall >= 0.85 and exact >= texts - 4
    assert evaluation.measure_judge_replies() == (14, 14)
