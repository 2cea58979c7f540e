"""call-keywords: which words in a sales call come before a won deal, and will this call be won?

Transcripts are Japanese, so words are found with a morphological analyser (matsuri.templates.japanese).
Words that nearly always come together (社内 + 稟議 + 回す) are merged into one phrase, so a single
idea is one feature with one clear weight.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from matsuri.templates import extras, japanese, loaded
from matsuri.templates.contract import ThemeTables

NEEDS = ThemeTables(__name__)  # the tables and columns it reads: the theme's data contract

LOAD_SQL = """\
-- Labelled calls (won = true/false) and the holdout calls to predict (won = NULL).
SELECT call_id, rep_id, called_at, duration_sec, transcript, outcome = 'won' AS won
FROM sales_calls
UNION ALL
SELECT call_id, rep_id, called_at, duration_sec, transcript, NULL AS won
FROM holdout_sales_calls
ORDER BY called_at, call_id
"""

# What LOAD_SQL returns: the model reads these by name. A column added to the query (in the
# starter's SQL cell) is an extra feature the model reads too (extra_columns, make_model).
COLUMNS = ["call_id", "rep_id", "called_at", "duration_sec", "transcript", "won"]

# What a sales manager might write down before looking at any data: the baseline to beat.
HAND_WRITTEN = {
    "positive": ["前向き", "導入", "資料", "事例", "ぜひ"],
    "negative": ["検討", "難しい", "高い"],
}
JOIN = "・"


def tokenize_all(texts: Iterable[str], progress: bool = True) -> list[list[str]]:
    """Content words of every transcript (about 2,000 calls a second), with a progress bar."""
    from tqdm import tqdm

    texts = list(texts)
    return [japanese.words(t) for t in tqdm(texts, desc="Finding words", unit="call", disable=not progress)]


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["won"].notna()].astype({"won": bool})


def to_predict(frame: pd.DataFrame) -> pd.DataFrame:
    """The holdout calls (won = NULL); stops if there are none, or a call_id twice."""
    return loaded.holdout_rows(frame, "won", __name__)


class PhraseVectorizer(TransformerMixin, BaseEstimator):
    """Which phrases each call contains (1/0). A phrase is a word, or words that appear together
    in at least `together` of the calls that have either (Jaccard), merged in reading order."""

    def __init__(self, min_calls: int = 5, together: float = 0.9, max_words: int = 5000):
        self.min_calls, self.together, self.max_words = min_calls, together, max_words

    def fit(self, word_lists, y=None) -> PhraseVectorizer:
        word_lists = list(word_lists)
        seen: dict[str, int] = {}
        for ws in word_lists:  # first-seen order, so merged phrases read in text order
            for w in ws:
                seen.setdefault(w, len(seen))
        counts = pd.Series(Counter(w for ws in word_lists for w in set(ws)))
        kept = counts[counts >= self.min_calls].nlargest(self.max_words, keep="first")
        vocab = sorted(kept.index, key=seen.__getitem__)
        X = self._matrix(word_lists, {w: i for i, w in enumerate(vocab)}, len(vocab))
        both = (X.T @ X).tocoo()
        df = np.asarray(X.sum(axis=0)).ravel()
        jaccard = both.data / (df[both.row] + df[both.col] - both.data)
        close: dict[int, list[int]] = {}
        for i, j in zip(both.row[jaccard >= self.together], both.col[jaccard >= self.together], strict=True):
            close.setdefault(int(i), []).append(int(j))
        group = np.full(len(vocab), -1)
        phrases: list[tuple[str, ...]] = []
        for i in range(len(vocab)):
            if group[i] < 0:
                members = sorted(j for j in close.get(i, [i]) if group[j] < 0)
                group[members] = len(phrases)
                phrases.append(tuple(vocab[j] for j in members))
        self.phrases_ = phrases
        self.index_ = {w: int(g) for w, g in zip(vocab, group, strict=True)}
        self.calls_ = np.asarray(self._matrix(word_lists, self.index_, len(phrases)).sum(axis=0)).ravel()
        return self

    def transform(self, word_lists) -> sparse.csr_matrix:
        return self._matrix(list(word_lists), self.index_, len(self.phrases_))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.array([JOIN.join(p) for p in self.phrases_], dtype=object)

    @staticmethod
    def _matrix(word_lists, index: dict[str, int], width: int) -> sparse.csr_matrix:
        rows, cols = [], []
        for r, ws in enumerate(word_lists):
            hit = {index[w] for w in ws if w in index}
            rows.extend([r] * len(hit))
            cols.extend(hit)
        data = np.ones(len(rows), dtype=np.float64)
        return sparse.csr_matrix((data, (rows, cols)), shape=(len(word_lists), width))


def extra_columns(frame: pd.DataFrame) -> dict[str, str]:
    """The columns a participant added to LOAD_SQL, each with its kind (number, category, text, time)."""
    return extras.found(frame, [*COLUMNS, "words"], needed=COLUMNS, taken=["words"])


def make_model(strength: float = 0.3, extra: dict[str, str] | None = None):
    """The ML baseline: phrases + call length + rep, then a logistic regression whose weights are
    the words' effects. extra: {column: kind} of columns added to the query (extra_columns)."""
    extra = dict(extra or {})
    columns = make_column_transformer(
        (PhraseVectorizer(), "words"),
        (StandardScaler(), ["duration_sec"]),
        (OneHotEncoder(handle_unknown="ignore", min_frequency=5), ["rep_id"]),
        *([(extras.encoder(extra), list(extra))] if extra else []),
    )
    return make_pipeline(columns, LogisticRegression(C=strength, max_iter=2000))


class KeywordRules(ClassifierMixin, BaseEstimator):
    """The hand-written baseline: +1 per good word in the call, -1 per bad word. Learns nothing."""

    def __init__(self, positive=tuple(HAND_WRITTEN["positive"]), negative=tuple(HAND_WRITTEN["negative"])):
        self.positive, self.negative = positive, negative

    def fit(self, frame: pd.DataFrame, won=None) -> KeywordRules:
        self.classes_ = np.array([False, True])
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        good, bad = set(self.positive), set(self.negative)
        points = np.array([len(good & set(ws)) - len(bad & set(ws)) for ws in frame["words"]], dtype=float)
        p = 1 / (1 + np.exp(-points))
        return np.column_stack([1 - p, p])

    def keywords(self) -> list[str]:
        return [*self.positive, *self.negative]


def word_effects(model) -> pd.DataFrame:
    """Every phrase with its weight (log-odds of winning) and how many training calls contain it."""
    columns, regression = model[0], model[-1]
    vectorizer = columns.named_transformers_["phrasevectorizer"]
    n = len(vectorizer.phrases_)
    return pd.DataFrame({
        "phrase": vectorizer.get_feature_names_out(),
        "effect": regression.coef_[0][:n],
        "calls": vectorizer.calls_,
    }).assign(strength=lambda f: f["effect"].abs()).sort_values("strength", ascending=False, ignore_index=True)


def top_keywords(model) -> list[str]:
    """Every phrase, strongest tie to winning or losing first (write_keywords keeps the first k)."""
    return word_effects(model)["phrase"].tolist()


def highlight(text: str, model) -> str:
    """The transcript as HTML, each word tinted by its effect: green helps, red hurts."""
    vectorizer = model[0].named_transformers_["phrasevectorizer"]
    effect = word_effects(model).set_index("phrase")["effect"].to_dict()
    scale = max([1e-9, *map(abs, effect.values())])
    text = japanese.normalise(text)
    out, pos = [], 0
    for token in japanese.tokens(text):
        out.append(html.escape(text[pos:token.start]))
        pos = token.start + len(token.surface)
        phrase = vectorizer.index_.get(token.word)
        value = effect.get(JOIN.join(vectorizer.phrases_[phrase]), 0.0) if phrase is not None else 0.0
        piece = html.escape(token.surface)
        if abs(value) >= 0.15 * scale:
            colour = "46,139,87" if value > 0 else "192,57,43"
            alpha = 0.2 + 0.6 * min(1.0, abs(value) / scale)
            piece = (f"<span class='word' title='{value:+.2f}' style='background:rgba({colour},{alpha:.2f});"
                     f"border-radius:3px'>{piece}</span>")
        out.append(piece)
    out.append(html.escape(text[pos:]))
    return "".join(out).replace("\n", "<br>")


def effects_in(model, text: str, top: int = 12) -> pd.Series:
    """The phrases of this text the model knows, with their effects (strongest first)."""
    vectorizer = model[0].named_transformers_["phrasevectorizer"]
    present = {vectorizer.index_[w] for w in japanese.words(text) if w in vectorizer.index_}
    effects = word_effects(model).set_index("phrase")["effect"]
    names = [JOIN.join(vectorizer.phrases_[i]) for i in present]
    chosen = effects.reindex(names).dropna()
    return chosen.reindex(chosen.abs().sort_values(ascending=False).index).head(top)


def win_probability(model, text: str, call=None) -> float:
    """Win probability of one transcript; `call` (a row with duration_sec, rep_id) if it is a known
    call, otherwise an average-length call by an unknown rep."""
    scaler = model[0].named_transformers_["standardscaler"]
    row = pd.DataFrame({
        "words": [japanese.words(text)],
        "duration_sec": [call["duration_sec"] if call is not None else float(scaler.mean_[0])],
        "rep_id": [call["rep_id"] if call is not None else _unknown_rep(model)],
    })
    return float(model.predict_proba(row)[0, 1])


def _unknown_rep(model):
    """A rep id no call had, of the type the model's rep ids are (whole numbers or text)."""
    known = model[0].named_transformers_["onehotencoder"].categories_[0]
    return -1 if known.dtype.kind in "iuf" else ""


# --- Hand-off (matsuri.handoff): how a trained model of this theme is served -------------------
HANDOFF = {
    "model": "model",
    "baseline": "rules",
    "query": "load_sql",               # the query the starter's SQL cell ran, and the columns it added
    "extra": "extra",
    "baseline_kind": "human",          # the words a sales manager wrote down (HAND_WRITTEN)
    "baseline_name": {"ja": "営業マネージャーが書いたキーワード", "en": "the sales manager's keywords"},
    "inputs": ["call_id", "rep_id", "duration_sec", "transcript"],
    "time": "called_at",
    "label": "won",
}


def serving_rows(con, query: str | None = None) -> pd.DataFrame:
    """Every call a model can score (its words found in `prepare`); `query`: the team's own load
    query, else LOAD_SQL."""
    from matsuri.templates.tables import read

    return read(con, query or LOAD_SQL)


def prepare(rows: pd.DataFrame) -> pd.DataFrame:
    """The words of each transcript: what the model reads."""
    return rows.assign(words=tokenize_all(rows["transcript"].fillna(""), progress=False))
