"""Plate layouts: how common each letter/digit layout is, as a prior that settles look-alikes.

Most plates follow a national layout (Brazil ABC1234 and ABC1D23, France/Italy/Slovakia AB123CD,
UK AB12CDE, Spain 1234ABC ...). A character the classifier finds ambiguous (0/O, 1/I, 8/B, 5/S,
2/Z, 6/G: a look-alike scoring at least `min_ratio` of the best label) may take the label that
makes the reading a layout; where several layouts could be reached, the one with the higher
prior times likelihood wins. The prior of a layout is the number of vehicles registered under it
(millions, rounded public figures) spread over the strings it can spell: a layout used by many
vehicles over few strings (ABC1234) beats a rare, permissive one (Polish ABC12D4). Plates outside
the table (foreign, vanity, special) get a share of the prior too, spread over every string, so
a reading that needs several doubtful changes to become a layout is kept as it was read. O and 0
are twins (TWINS): many plate faces draw them alike, so where a layout rules one out it takes half
of that one's probability (Brazil's OZG3580 read 0ZG3580 is no longer decided between D and O by
the model's scraps of doubt), and letter classes keep out the letters a country never issues (Spain
no vowels, France and Italy no O), so that a twin does not make a plate some other country's.

The table holds current and recent layouts of most countries of Europe, South America and North
America (the standard serials of the largest US states and Canadian provinces), written with
L for a letter, N for a digit, [..] for a class and {n,m} for a repeat. Layouts that allow
almost anything (Austria, the smaller US states' mixed serials, vanity plates) are left out: they
would settle nothing.
Configured plate formats (reader.formats) take precedence over these layouts. The learned reader
also weighs whole readings with the prior (LayoutPrior.listed, log_prior) to trim a stray end
character that leaves a plate no layout spells (reader.trim).
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from .formats import Decoded, expansions, parse_pattern

MAX_LENGTH = 12
LOOK_ALIKE_RATIO = 0.1  # a label within this share of the best is a look-alike the prior may pick
UNLISTED_SHARE = 0.1   # foreign, vanity, old, trade and special plates: outside every layout here
TWINS = ("0O",)   # drawn alike on many plates (US states, Brazil's grey plates), apart on others (the
TWIN_SHARE = 0.5  # EU's FE-Schrift): a twin the layout rules out lends this share of its probability
# to the one it allows, so the model's certainty which of the two it saw counts for half
# the letters some countries issue (the others are never on their plates; convert/worldplates.py
# draws its plates with these): Spain no vowels, Q or Ñ; France no I, O, U; Italy no I, O, Q, U; the
# Netherlands these consonants; Bulgaria, Ukraine and Russia only the letters Latin and Cyrillic share
ISSUED_LETTERS = {"es": "BCDFGHJKLMNPRSTVWXYZ", "fr": "ABCDEFGHJKLMNPQRSTVWXYZ", "it": "ABCDEFGHJKLMNPRSTVWXYZ",
                  "nl": "BDFGHJKLNPRSTVXZ", "bg": "ABCEHKMOPTXY", "ua": "ABCEHIKMOPTX", "ru": "ABCEHKMOPTXY"}
ES, FR, IT, NL, BG, UA, RU = (f"[{ISSUED_LETTERS[c]}]" for c in ("es", "fr", "it", "nl", "bg", "ua", "ru"))
# region -> [(layout, millions of vehicles using it)]
LAYOUTS: dict[str, list[tuple[str, float]]] = {
    "al": [("LLNNNLL", 0.6)],
    "ar": [("LLLNNN", 9), ("LLNNNLL", 5)],
    "be": [("NLLLNNN", 4), ("LLLNNN", 2)],
    "bg": [(f"{BG}{BG}NNNN{BG}{BG}", 2), (f"{BG}NNNN{BG}{BG}", 1)],
    "br": [("LLLNNNN", 70), ("LLLNLNN", 45)],
    "by": [("NNNNLLN", 3)],
    "ch": [("LLN{1,6}", 5)],
    "cl": [("LLLLNN", 4), ("LLNNNN", 2)],
    "co": [("LLLNNN", 8)],
    "cz": [("NLNNNNN", 4), ("NLLNNNN", 2)],
    "de": [("L{2,5}N{1,4}", 49)],
    "digits": [("N{4,8}", 50)],   # digits only: older plates of many countries, trade, motorcycle
    "dk": [("LL[1-9]NNNN", 3)],   # serials 10000-99999, as Norway's
    "ee": [("NNNLLL", 0.9)],
    "es": [(f"NNNN{ES}{ES}{ES}", 22), ("L{1,2}NNNNL{1,2}", 3)],
    "fi": [("LLLNNN", 2.5), ("LLNNN", 0.5)],
    "fr": [(f"{FR}{FR}NNN{FR}{FR}", 39)],
    "gb": [("LLNNLLL", 35)],
    "gr": [("LLLNNNN", 5)],
    "hr": [("LLNNNL", 0.5), ("LLNNNLL", 0.5), ("LLNNNNL", 0.5), ("LLNNNNLL", 0.5)],
    "hu": [("LLLNNN", 3), ("LLLLNNN", 1)],
    "ie": [("N{2,3}L{1,2}N{1,6}", 2.5)],
    "it": [(f"{IT}{IT}NNN{IT}{IT}", 40)],
    "lt": [("LLLNNN", 1.5)],
    "lu": [("LLNNNN", 0.5)],
    "lv": [("LLNNNN", 0.9)],
    "nl": [(s.replace("L", NL), 9 / 14) for s in ("LLNNNN", "NNNNLL", "NNLLNN", "LLNNLL", "LLLLNN", "NNLLLL",
                                                  "NNLLLN", "NLLLNN", "LLNNNL", "LNNNLL", "LLLNNL", "LNNLLL",
                                                  "NLLNNN", "NNNLLN")],
    "no": [("LL[1-9]NNNN", 3)],
    "pl": [(s, 26 / 11) for s in ("LLNNNNN", "LLNNNNL", "LLNNNLL", "LLNLNNN", "LLNLLNN",
                                  "LLLLNNN", "LLLNNLL", "LLLNLNN", "LLLNNLN", "LLLNLLN", "LLLLLNN")],
    "pt": [(s, 1.5) for s in ("LLNNLL", "NNLLNN", "NNNNLL", "LLNNNN")],
    "py": [("LLLLNNN", 1), ("LLLNNN", 1)],
    "ro": [("LLNNLLL", 6), ("LNNLLL", 1), ("LNNNLLL", 1)],
    "rs": [("LLNNNLL", 2)],
    "ru": [(f"{RU}NNN{RU}{{2}}N{{2,3}}", 50)],
    "se": [("LLLNNN", 4), ("LLLNNL", 1)],
    "sk": [("LLNNNLL", 2.5)],
    "tr": [("NNL{1,3}N{2,4}", 14)],
    "ua": [(f"{UA}{UA}NNNN{UA}{UA}", 10)],
    "uy": [("LLLNNNN", 2)],
    # North America: the standard serials of the largest states and provinces (vanity and
    # specialty plates fall to the unlisted share). 3 letters + 4 digits: NY, PA, TX, OH, GA, NC,
    # MI, VA, AZ, WA, MD, MN; California 1ABC234; Illinois AB 12345; New Jersey A12 BCD; Florida
    # ABC D12 / 123 4AB; Massachusetts 1AB 234; New York commercial 12345 AB; NYC for-hire T123456C
    # and yellow cabs Y123456C.
    "us": [("LLLNNNN", 100), ("NLLLNNN", 30), ("LLNNNNN", 8), ("LNNLLL", 6), ("LLLLNN", 6),
           ("NNNNLL", 4), ("NLLNNN", 4), ("NNNLLL", 4), ("LLLNNN", 6), ("NNNNNLL", 1),
           ("[TY]NNNNNNC", 0.1)],
    "ca": [("LLLLNNN", 9), ("LLLNNN", 4), ("NNNLLL", 3), ("LLNNNL", 3.5), ("LLLNNNN", 3)],
}


def layout_regex(layout: str) -> str:
    """The regex of a layout: L -> [A-Z], N -> [0-9] outside classes, anchored."""
    return "^" + re.sub(r"\[[^\]]*\]|[LN]", lambda m: {"L": "[A-Z]", "N": "[0-9]"}.get(m.group(0), m.group(0)),
                        layout) + "$"


@dataclass
class Spellings:
    """Every layout spelling n characters, identical spellings merged (fr, it, sk: AB123CD)."""
    regions: list[str]     # per spelling, the regions using it, comma-separated
    sets: np.ndarray       # (E, n) index into LayoutPrior's allowed-label sets, per position
    log_prior: np.ndarray  # (E,) log(vehicles / strings the spelling can spell)


class LayoutPrior:
    """The layouts of some regions, prepared once for one classifier's label set."""

    def __init__(self, regions: list[str], labels: list[str], min_ratio: float = LOOK_ALIKE_RATIO):
        self.labels = list(labels)
        self.min_ratio = min_ratio
        self._index = {lab: i for i, lab in enumerate(self.labels)}
        names = sorted(LAYOUTS) if "all" in regions else list(regions)
        layouts = [(name, parse_pattern(layout_regex(layout)), weight)
                   for name in names for layout, weight in LAYOUTS[name]]
        if not (any(lab.isalpha() for lab in labels) and any(lab.isdigit() for lab in labels)):
            layouts = []   # a digits-only model has no look-alikes to settle
        self._enabled = bool(layouts)
        vehicles = sum(weight for _, _, weight in layouts)
        self._log_unlisted_vehicles = math.log(UNLISTED_SHARE * vehicles) if vehicles else 0.0
        self._by_length, allowed = _spellings(layouts, labels)
        self._allowed = np.array([[lab in s for lab in self.labels] for s in allowed], bool).reshape(-1, len(labels))
        self._twin = np.arange(len(labels))   # each label's twin (TWINS), itself where it has none
        for pair in (p for p in TWINS if set(p) <= set(self._index)):
            a, b = self._index[pair[0]], self._index[pair[1]]
            self._twin[a], self._twin[b] = b, a
        # per allowed-label set: the labels that take their twin's probability (the set rules the twin out)
        self._lends = self._allowed & ~self._allowed[:, self._twin]

    def __bool__(self) -> bool:
        return self._enabled

    def decode(self, probs: np.ndarray, unlisted: Decoded) -> Decoded:
        """The more probable of `unlisted` (the reading as no layout would have it) and the best
        reading that is a layout and differs from the classifier only in ambiguous characters."""
        n = len(probs)
        sp = self._by_length.get(n)
        if sp is None:
            return unlisted
        plausible = probs >= self.min_ratio * probs.max(axis=1, keepdims=True)
        # per allowed-label set: each label's probability, with its twin's where the set rules the twin out
        lent = np.where(self._lends[:, None, :], TWIN_SHARE * probs[:, self._twin][None], 0.0)
        own = np.where(self._allowed[:, None, :], probs[None] + lent, 0.0)                   # (S, n, C)
        # per allowed-label set and position: the best plausible label's log probability
        usable = self._allowed[:, None, :] & (plausible[None] | (lent > 0) & plausible[:, self._twin][None])
        scores = np.where(usable, np.log(np.maximum(own, 1e-12)), -np.inf)
        best_in_set, choice = scores.max(axis=2), scores.argmax(axis=2)
        rows = np.arange(n)
        total = best_in_set[sp.sets, rows].sum(axis=1) + sp.log_prior
        best = int(np.argmax(total))
        # a plate outside the layouts: UNLISTED_SHARE of the vehicles over every string of n labels
        logp = np.log(np.maximum(probs, 1e-12))
        unlisted_score = logp[rows, [self._index[ch] for ch in unlisted.text]].sum() + \
            self._log_unlisted_vehicles - n * math.log(len(self.labels))
        if not total[best] > unlisted_score:
            return unlisted
        sets = sp.sets[best]
        picked = choice[sets, rows]
        mass = own[sets, rows].sum(axis=1)    # the reading's probability given the layout
        return Decoded("".join(self.labels[i] for i in picked),
                       (own[sets, rows, picked] / mass).tolist(), None, sp.regions[best])

    def log_prior(self, text: str) -> float:
        """log P(text) up to a constant shared by every text: the unlisted share over every string
        of its length, plus its most common listed spelling's vehicles over the strings that
        spelling can spell (the two scores LayoutPrior.decode weighs)."""
        unlisted = self._log_unlisted_vehicles - len(text) * math.log(len(self.labels))
        listed = self.listed(text)
        return unlisted if listed is None else float(np.logaddexp(unlisted, listed))

    def listed(self, text: str) -> float | None:
        """log(vehicles / strings spelt) of the most common listed spelling of `text`; None if no
        layout spells it."""
        sp = self._by_length.get(len(text))
        if sp is None or any(ch not in self._index for ch in text):
            return None
        idx = np.array([self._index[ch] for ch in text])
        fits = self._allowed[sp.sets, idx[None, :]].all(axis=1)
        return float(sp.log_prior[fits].max()) if fits.any() else None


def _spellings(layouts: list, labels: list[str]) -> tuple[dict[int, Spellings], list[frozenset[str]]]:
    """Spellings by length of (region, parsed layout, vehicles), and the distinct allowed-label
    sets their positions index. A variable layout (de: L{2,5}N{1,4}) shares its vehicles among
    all its spellings."""
    merged: dict[int, dict[tuple, list]] = defaultdict(lambda: defaultdict(lambda: [[], 0.0]))
    for name, items, weight in layouts:
        by_length = {n: expansions(items, n) for n in range(1, MAX_LENGTH + 1)}
        share = weight / sum(len(v) for v in by_length.values())
        for n, spellings in by_length.items():
            for sets in spellings:
                entry = merged[n][tuple(sets)]
                if name not in entry[0]:
                    entry[0].append(name)
                entry[1] += share
    index: dict[frozenset[str], int] = {}
    out: dict[int, Spellings] = {}
    for n, by_sets in merged.items():
        out[n] = Spellings([",".join(names) for names, _ in by_sets.values()],
                           np.array([[index.setdefault(s, len(index)) for s in sets] for sets in by_sets], int),
                           np.array([math.log(weight) - sum(math.log(len(s)) for s in sets)
                                     for sets, (_, weight) in by_sets.items()]))
    return out, list(index)
