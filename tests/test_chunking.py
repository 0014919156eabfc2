"""Token-budgeted chunking with overlap, on counts given by hand."""
import pytest

from summarizer.abstractive.chunking import pack, split_long


def test_pack_with_one_sentence_overlap():
    # budget 10: [0,1,2]=9; next starts at 2 (overlap) -> [2,3]=8 (+5 would be 13); [3,4]=10
    assert pack([3, 3, 3, 5, 5], 10, overlap=1) == [[0, 1, 2], [2, 3], [3, 4]]


def test_pack_without_overlap_and_single_chunk():
    assert pack([3, 3, 3, 5, 5], 10, overlap=0) == [[0, 1, 2], [3, 4]]
    assert pack([1, 2, 3], 10) == [[0, 1, 2]]
    assert pack([], 10) == []


def test_overlap_shrinks_when_it_leaves_no_room():
    # after [0,1] (4+5), overlapping sentence 1 (5) + sentence 2 (6) = 11 > 10: no overlap
    assert pack([4, 5, 6], 10, overlap=1) == [[0, 1], [2]]


def test_every_sentence_appears_and_chunks_fit():
    counts = [7, 1, 9, 2, 2, 8, 3, 3, 10, 1]
    chunks = pack(counts, 12, overlap=2)
    assert sorted({i for c in chunks for i in c}) == list(range(len(counts)))
    assert all(sum(counts[i] for i in c) <= 12 for c in chunks)
    assert all(c == list(range(c[0], c[-1] + 1)) for c in chunks)


def test_pack_refuses_sentences_over_budget():
    with pytest.raises(ValueError):
        pack([3, 11], 10)


def _count_words(texts):
    return [len(t.split()) for t in texts]


def test_split_long_at_spaces():
    text = "one two three four five six seven"
    assert split_long(text, 3, _count_words) == ["one two three", "four five six", "seven"]


def test_split_long_chinese_by_characters():
    pieces = split_long("今天天气很好我们去公园", 4, lambda ts: [len(t) for t in ts])
    assert pieces == ["今天天气", "很好我们", "去公园"]
