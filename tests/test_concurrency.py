"""Summarizers are safe to call from many threads at once (the app's sessions share them)."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from summarizer.registry import get_summarizer
from summarizer.types import Budget, Document

EN = ("The council approved the new budget on Monday. The budget raises school spending. "
      "Teachers welcomed the rise. Critics said the council ignored roads. Road repairs were cut. ")
ZH = "今天天气很好。我们去公园散步。公园里有很多人。天气好的时候人们喜欢去公园。孩子们在草地上玩。"
DOCS = [Document(EN * (1 + i % 3) + f"Item {i} ends here.", "en") for i in range(12)] + [
    Document(ZH * (1 + i % 2), "zh") for i in range(6)]


@pytest.mark.parametrize("method", ["textrank", "pacsum", "lexrank", "kl"])
def test_threads_give_the_same_results_as_one_thread(method):
    summarizer = get_summarizer(method)  # one shared instance, as the app shares them
    budget = Budget(sentences=2)
    expected = [summarizer(d, budget).to_dict() for d in DOCS]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            got = list(pool.map(lambda d: summarizer(d, budget).to_dict(), DOCS))
            assert got == expected
