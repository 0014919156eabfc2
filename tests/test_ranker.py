"""The learned ranker: oracle labels by hand, features by hand, trigram blocking, the
ONNX graph against the network it was exported from, and the shipped model."""
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from summarizer.errors import CondenseError
from summarizer.documents.loaders import document_from_text
from summarizer.methods.ranker import (BASE_FEATURES, FEATURES, LEXICON_TOKENS, LearnedRanker,
                                       RankerConfig, budget_fraction, lexicon_tokens, load_ranker,
                                       sentence_features, trigram_order, trigrams)
from summarizer.nlp import tokenizer_for
from summarizer.evaluation.rouge import score_pair
from summarizer.types import Budget
from training.extractive import terms_path
from training.oracle import f1, greedy_oracle, ngrams, rouge_tokens


# -- oracle ----------------------------------------------------------------------------

def test_greedy_oracle_hand_computed():
    # reference a b c d. Step 1: s0 and s1 both give R1 0.667 + R2 0.5; s0 comes first.
    # Step 2: + s1 gives R1 1.0 + R2 0.8 (2 of the reference's 3 bigrams), + s2 only
    # 0.75 + 0.4. Step 3: + s2 would fall to 0.8 + 0.667, so the oracle stops at two.
    sents = [["a", "b"], ["c", "d"], ["a", "c"]]
    ref = ["a", "b", "c", "d"]
    assert greedy_oracle(sents, ref, max_sentences=3) == [0, 1]
    assert greedy_oracle(sents, ref, max_sentences=1) == [0]
    # a word budget stops once the selection has that many tokens
    assert greedy_oracle(sents, ref, max_sentences=3, max_words=2) == [0]
    # nothing overlapping: no label at all
    assert greedy_oracle([["x"], ["y"]], ref, max_sentences=2) == []


def test_oracle_picks_the_later_sentence_when_it_is_better():
    sents = [["x", "y", "z"], ["b", "c"], ["a", "b", "c"]]
    assert greedy_oracle(sents, ["a", "b", "c"], max_sentences=1) == [2]


@pytest.mark.parametrize("ref,cand", [
    ("The cats were running quickly.", "A cat runs quickly, and cats ran."),
    ("Prices rose 3.5% in May", "In May prices rose by 3.5%"),
    ("今天天气很好", "天气很好啊"),
])
def test_oracle_f1_equals_rouge_score_on_one_sentence(ref, cand):
    r, c = rouge_tokens(ref), rouge_tokens(cand)
    ours = [100 * f1(ngrams(c, n), ngrams(r, n)) for n in (1, 2)]
    theirs = score_pair(ref, cand)
    assert ours == pytest.approx([theirs["rouge1"].fmeasure, theirs["rouge2"].fmeasure])


# -- features and blocking ---------------------------------------------------------------

def test_features_by_hand():
    doc = document_from_text("Apple pie is sweet. Apple tart is sweeter? Rain falls 2 days.")
    tok = tokenizer_for(doc.lang)
    sents = tok.sentences(doc.text)
    f = sentence_features(sents, tok, Budget(sentences=1), lexicon={"appl": 1.0, "sweet": 0.5, "rain": -0.5})
    col = {name: f[:, i] for i, name in enumerate(FEATURES)}
    assert f.shape == (3, len(FEATURES)) and f.dtype == np.float32
    assert col["position"].tolist() == [0.0, 0.5, 1.0]
    assert col["inverse_position"] == pytest.approx([1, 1 / 2, 1 / 3])
    assert col["is_first"].tolist() == [1, 0, 0] and col["is_third"].tolist() == [0, 0, 1]
    assert col["is_fourth"].tolist() == [0, 0, 0]
    assert col["log_sentences"] == pytest.approx([np.log(3)] * 3)
    assert col["log_words"] == pytest.approx(np.log1p([4, 4, 4]))
    assert col["relative_length"].tolist() == [1, 1, 1]
    assert col["has_question"].tolist() == [0, 1, 0]
    assert col["has_digit"].tolist() == [0, 0, 1]
    assert col["dialogue"].tolist() == [0, 0, 0] and col["chinese"].tolist() == [0, 0, 0]
    assert col["selected_fraction"] == pytest.approx([1 / 3] * 3)
    # terms: [appl, pie, sweet], [appl, tart, sweeter], [rain, fall, 2, day]; only "appl"
    # occurs twice, so each of the first two shares 1 of 3 terms, the last none
    assert col["shared_terms"] == pytest.approx([1 / 3, 1 / 3, 0])
    # opening: cosine with sentence 0 (itself 1; sentence 1 shares one of three terms)
    assert col["opening_cosine"] == pytest.approx([1, 1 / 3, 0], abs=1e-6)
    # the third sentence links to nothing, so TextRank leaves it the teleport share only
    assert col["centrality"][2] < col["centrality"][0] == pytest.approx(col["centrality"][1])
    # ranks: 0 for the highest, ties by position, 1 for the lowest
    assert col["centrality_rank"].tolist() == [0.0, 0.5, 1.0]
    # salience: mean and max over known distinct terms (appl 1, sweet 0.5 | appl | rain)
    assert col["salience_mean"].tolist() == [0.75, 1.0, -0.5]
    assert col["salience_max"].tolist() == [1.0, 1.0, -0.5]


@pytest.mark.parametrize("text,lang,dialogue,want", [
    ("But we said the cats ran.", "en", False, ["but", "we", "said", "the", "cat", "ran", "^but"]),
    # the speaker's tag left out, a dialogue's tokens apart
    ("Amanda: I baked cookies", "en", True, ["d:i", "d:bake", "d:cooki", "d:^i"]),
    ("张三：我们明天去北京", "zh", True, ["d:我们", "d:明天", "d:去", "d:北京", "d:^我们"]),
    ("...", "en", False, []),
])
def test_lexicon_tokens(text, lang, dialogue, want):
    assert lexicon_tokens(text, tokenizer_for(lang), dialogue=dialogue) == want


def test_features_mark_dialogues():
    doc = document_from_text("Anna: Are you coming?\nBen: Yes, at 5.\nAnna: Great")
    tok = tokenizer_for(doc.lang)
    f = sentence_features(tok.sentences(doc.text), tok, Budget(ratio=0.5), lexicon={})
    assert f[:, FEATURES.index("dialogue")].tolist() == [1, 1, 1]
    assert f[:, FEATURES.index("selected_fraction")].tolist() == [0.5] * 3


@pytest.mark.parametrize("budget,n,words,want", [
    (Budget(sentences=3), 30, 600, 0.1), (Budget(sentences=5), 2, 20, 1.0),
    (Budget(ratio=0.4), 10, 200, 0.4), (Budget(words=50), 10, 200, 0.25),
    (Budget(words=500), 10, 200, 1.0),
    # auto: a tenth of 1,000 words is 100; of 100 words, the floor of 25
    (Budget(auto=True), 40, 1000, 0.1), (Budget(auto=True), 5, 100, 0.25),
])
def test_budget_fraction(budget, n, words, want):
    assert budget_fraction(budget, n, words) == pytest.approx(want)


def test_trigram_blocking_moves_repeats_behind():
    grams = [trigrams(s.split()) for s in ["a b c d", "x a b c", "p q r", "c d e"]]
    # 1 shares "a b c" with 0, 3 shares "c d e"? no: 0 has (b,c,d), 3 has (c,d,e): kept
    assert trigram_order(np.array([0.9, 0.8, 0.1, 0.5]), grams) == [0, 3, 2, 1]
    # share 0.5: 1 has 1 of its 2 trigrams, (a b c), in 0: not more than half, so kept
    assert trigram_order(np.array([0.9, 0.8, 0.1, 0.5]), grams, share=0.5) == [0, 1, 3, 2]
    # 2 of 2 shared is a repeat at any share below 1
    grams = [trigrams(s.split()) for s in ["a b c d", "a b c d", "p q r"]]
    assert trigram_order(np.array([0.9, 0.8, 0.1]), grams, share=0.5) == [0, 2, 1]


class FakeSession:
    """An onnxruntime stand-in that returns fixed scores and records its input."""

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=np.float32)
        self.seen = None

    def run(self, names, feeds):
        self.seen = feeds["features"]
        return [self.scores]


def test_ranker_blocks_repeats_in_short_summaries_only():
    text = ("The cat sat on the mat. The cat sat on the sofa. Dogs bark loudly. Birds sing. "
            + " ".join(f"Filler number {i}." for i in range(6)))
    scores = [0.9, 0.8, 0.1, 0.5] + [0.0] * 6
    fake = FakeSession(scores)
    s = LearnedRanker(session=fake)(document_from_text(text), Budget(sentences=2))
    # 2 of 10 sentences: sentence 1 repeats "the cat sat" of sentence 0, so it is blocked
    assert s.text == "The cat sat on the mat.\nBirds sing."
    assert fake.seen.shape == (10, len(FEATURES))
    # 3 of 10 is over block_below (0.25): only repeats are held back; sentence 1 has 3 of
    # its 4 trigrams in sentence 0 (over repeat_share, 0.5), so "Dogs bark loudly." comes in
    s = LearnedRanker(session=FakeSession(scores))(document_from_text(text), Budget(sentences=3))
    assert s.text == "The cat sat on the mat.\nDogs bark loudly.\nBirds sing."
    # a sentence that only reuses a phrase is no repeat: 1 of its 4 trigrams, "the cat sat"
    text2 = text.replace("The cat sat on the sofa.", "Then the cat sat down.")
    s = LearnedRanker(session=FakeSession(scores))(document_from_text(text2), Budget(sentences=3))
    assert s.text == "The cat sat on the mat.\nThen the cat sat down.\nBirds sing."
    plain = LearnedRanker(RankerConfig(trigram_blocking=False), session=FakeSession(scores))
    assert plain(document_from_text(text), Budget(sentences=2)).text == (
        "The cat sat on the mat.\nThe cat sat on the sofa.")


# -- the lexicon ---------------------------------------------------------------------------

def test_lexicon_learns_signs_and_cross_fitting_hides_a_documents_own_terms():
    from training.extractive import Rows, with_salience
    from training.lexicon import cross_fitted, fit_lexicon

    # "win" rows are picked, "said" rows are not; "zeta" occurs only in document 0
    lines = ["win game", "said coach", "win title", "said fans", "zeta win", "said zeta"] * 5
    labels = np.array([1, 0, 1, 0, 1, 0] * 5, dtype=float)
    doc = np.repeat(np.arange(5), 6)
    doc[:6] = 0
    weight = np.ones(len(lines))
    lex = fit_lexicon(lines, labels, weight, min_rows=2, l2=0.1)
    assert lex["win"] > 0 > lex["said"]
    # folds by document parity: document 0's rows are scored by the odd documents' lexicon
    only_doc0 = ["zeta x", "x"] * 3 + ["y"] * 24  # zeta marks document 0's picked rows
    two = cross_fitted(only_doc0, labels, weight, doc, min_rows=2, l2=0.1)
    assert "zeta" in two[0] and "zeta" not in two[1]
    rows = Rows(np.zeros((30, 0), np.float32), labels.astype(np.float32), doc,
                np.ones(5, np.float32), only_doc0)
    sal = with_salience(rows, two)
    assert sal[:6, :2].tolist() == [[0.0, 0.0]] * 6  # document 0 never sees its own "zeta"
    # ranks within each document, 0 for its highest: document 0's rows tie (by position)
    assert sal[:6, 2].tolist() == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])


def test_salience_ranks_are_within_one_document():
    from training.extractive import Rows, with_salience

    # two documents of three rows; "a" weighs 1, "b" 2, "c" -1
    rows = Rows(np.zeros((6, 0), np.float32), np.zeros(6, np.float32), np.repeat([0, 1], 3),
                np.ones(2, np.float32), ["a", "b", "c", "c", "a c", "b"])
    sal = with_salience(rows, [{"a": 1.0, "b": 2.0, "c": -1.0}])
    assert sal[:, 0].tolist() == [1.0, 2.0, -1.0, -1.0, 0.0, 2.0]  # mean
    assert sal[:, 2].tolist() == [0.5, 0.0, 1.0, 1.0, 0.5, 0.0]  # its rank, per document
    assert sal[:, 3].tolist() == [0.5, 0.0, 1.0, 1.0, 0.5, 0.0]  # max: a c -> 1
    # the same numbers as the summarizer computes for one document
    from summarizer.methods.ranker import salience, salience_ranks
    one = salience([["c"], ["a", "c"], ["b"]], {"a": 1.0, "b": 2.0, "c": -1.0})
    assert salience_ranks(one).tolist() == sal[3:, 2:].tolist()


# -- training and export -------------------------------------------------------------------

def _set(path, rng, docs, relevant):
    """Synthetic documents where the label marks the row with the largest ``relevant``
    feature; saved as prepare() saves them."""
    xs, ys, ds = [], [], []
    for d in range(docs):
        n = int(rng.integers(3, 8))
        x = rng.normal(size=(n, len(BASE_FEATURES))).astype(np.float32)
        y = np.zeros(n, dtype=np.float32)
        y[np.argmax(x[:, relevant])] = 1
        xs.append(x), ys.append(y), ds.append(np.full(n, d, dtype=np.int32))
    np.savez(path, x=np.concatenate(xs), y=np.concatenate(ys), doc=np.concatenate(ds))
    with gzip.open(terms_path(path), "wt", encoding="utf-8") as f:
        f.writelines("common words\n" for _ in np.concatenate(ys))  # says nothing of labels


def test_onnx_scores_equal_the_trained_networks(tmp_path):
    torch = pytest.importorskip("torch")
    import onnxruntime as ort

    from training.extractive import (ExtractiveConfig, fit, load_rows, make_mlp, score_numpy,
                                     to_onnx, with_salience)

    rng = np.random.default_rng(0)
    _set(tmp_path / "a.train.npz", rng, 200, 3)
    _set(tmp_path / "a.validation.npz", rng, 50, 3)
    fitted = fit([tmp_path / "a.train.npz"], [tmp_path / "a.validation.npz"],
                 ExtractiveConfig(hidden=(8,), epochs=30, batch_docs=32, lr=1e-2, workers=1,
                                  members=2))
    # it learned the rule: the labelled row scores highest in most validation documents
    d = load_rows([tmp_path / "a.validation.npz"])
    s = score_numpy(fitted, with_salience(d, [fitted.lexicon]))
    hits = [np.argmax(s[d.doc == k]) == np.argmax(d.y[d.doc == k]) for k in range(50)]
    assert np.mean(hits) > 0.7  # 0.86 when written; chance is about 0.2 (3 to 7 rows a document)
    to_onnx(fitted, tmp_path / "model.onnx")
    x = rng.normal(size=(9, len(FEATURES))).astype(np.float32)
    (onnx_scores,) = ort.InferenceSession(str(tmp_path / "model.onnx"),
                                          providers=["CPUExecutionProvider"]).run(None, {"features": x})
    # the same weights in torch networks, as during training; the score is their mean
    assert len(fitted.members) == 2
    outs = []
    for layers in fitted.members:
        net = make_mlp(len(FEATURES), (8,))
        linears = [m for m in net if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for m, (w, b) in zip(linears, layers):
                m.weight.copy_(torch.from_numpy(w.T)), m.bias.copy_(torch.from_numpy(b))
            outs.append(net(torch.from_numpy((x - fitted.mean) / fitted.std)).squeeze(-1).numpy())
    trained = (outs[0] + outs[1]) / 2
    assert not np.allclose(outs[0], outs[1])  # two seeds, two networks
    assert onnx_scores.shape == (9,)
    np.testing.assert_allclose(onnx_scores, trained, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(score_numpy(fitted, x), trained, rtol=1e-5, atol=1e-5)


def test_listwise_loss_by_hand():
    torch = pytest.importorskip("torch")
    from training.extractive import listwise_loss

    scores = torch.tensor([0.0, 0.0, 1.0, 2.0])
    labels = torch.tensor([1.0, 0.0, 1.0, 1.0])
    seg = torch.tensor([0, 0, 1, 1])
    # doc 0: -log(1/2); doc 1: -(0.5 log softmax(1) + 0.5 log softmax(2)) over (1, 2)
    lse = np.log(np.exp(1) + np.exp(2))
    want0, want1 = np.log(2), -(0.5 * (1 - lse) + 0.5 * (2 - lse))
    got = listwise_loss(scores, labels, seg, 2, torch.tensor([1.0, 3.0]))
    assert float(got) == pytest.approx((want0 + 3 * want1) / 4, rel=1e-6)


# -- the shipped model ---------------------------------------------------------------------

def test_shipped_model_loads_and_ranks():
    doc = document_from_text("Officials said on Monday the bridge will close for repairs. "
                             "It carries 40,000 cars a day. Drivers were told to use the ferry.")
    s = LearnedRanker()(doc, Budget(sentences=1))
    assert len(s.sentences) == 1 and np.isfinite(s.sentences[0].score)


def test_model_with_other_features_is_refused(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"")
    (tmp_path / "config.json").write_text(json.dumps(
        {"features": ["position"], "lexicon_tokens": LEXICON_TOKENS}))
    (tmp_path / "lexicon.json").write_text(json.dumps({"weights": {}}))
    with pytest.raises(CondenseError, match="trained on other features"):
        load_ranker(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"features": list(FEATURES)}))
    with pytest.raises(CondenseError, match="its lexicon is keyed by None"):
        load_ranker(str(tmp_path))
    with pytest.raises(CondenseError, match="no ranker model"):
        load_ranker(str(tmp_path / "missing"))
    (tmp_path / "lexicon.json").write_text('{"weights": [1, 2')
    with pytest.raises(CondenseError, match="is not a ranker's"):
        load_ranker(str(tmp_path))


@pytest.mark.parametrize("text,want", [
    ("One sentence only.", "One sentence only."),
    ("!!! ??? ...\n--- *** ---", None),  # no words at all: any one unit, no error
    ("张三：你好\n李四：你好，明天见", None),
])
def test_shipped_model_on_edge_documents(text, want):
    s = LearnedRanker()(document_from_text(text), Budget(sentences=1))
    assert len(s.sentences) == 1 and np.isfinite(s.sentences[0].score)
    if want is not None:
        assert s.text == want


def test_broken_or_mismatched_model_files_give_typed_errors(tmp_path):
    from training.extractive import FitResult, to_onnx

    shipped = Path(RankerConfig().model_dir)
    for name in ("config.json", "lexicon.json"):
        (tmp_path / name).write_bytes((shipped / name).read_bytes())
    (tmp_path / "model.onnx").write_bytes(b"not a graph")
    with pytest.raises(CondenseError, match="onnxruntime cannot load it"):
        load_ranker(str(tmp_path))
    # a graph of another training (3 features) beside this config (FEATURES)
    narrow = FitResult(np.zeros(3, np.float32), np.ones(3, np.float32),
                       [[(np.ones((3, 1), np.float32), np.zeros(1, np.float32))]], {},
                       [0], [0.0], [0.0], [[]])
    to_onnx(narrow, tmp_path / "model.onnx")
    with pytest.raises(CondenseError, match=r"not \(n, 26\)"):
        load_ranker(str(tmp_path), 2)


def test_shipped_lexicon_scores_real_words():
    _, lexicon = load_ranker(RankerConfig().model_dir, 1)
    doc = document_from_text("Police arrested two men after the robbery on Friday. "
                             "\"I was scared,\" she said. But he added that the shop reopened.")
    tok = tokenizer_for(doc.lang)
    f = sentence_features(tok.sentences(doc.text), tok, Budget(sentences=1), lexicon=lexicon)
    sal = f[:, FEATURES.index("salience_mean")]
    assert np.all(sal != 0)  # every sentence has words the lexicon knows
    assert len(set(sal.tolist())) == 3  # and they weigh differently


def test_dialogue_flag_is_the_documents_not_the_units():
    # one prose line that the splitter cuts into three "Word: ..." units is still prose
    fake = FakeSession([0.3, 0.2, 0.1])
    LearnedRanker(session=fake)(document_from_text("Update: rain. Note: cold. Source: radio."),
                                Budget(sentences=1))
    assert fake.seen.shape[0] == 3
    assert fake.seen[:, FEATURES.index("dialogue")].tolist() == [0, 0, 0]
