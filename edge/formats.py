"""Plate formats: use known plate patterns to settle look-alikes and reject impossible readings.

A format is a regex such as ``^[A-Z]{3}[0-9]{4}$``. For a reading of N characters each format
is expanded into the sequences of per-position allowed characters of length N; per position the
most probable allowed label is taken from the classifier's probability vector, and the format
(and expansion) with the highest joint probability wins. So an O/0, I/1, B/8, S/5 or Z/2
confusion is resolved by where the character stands, not by a substitution table. The character
probabilities reported are conditional on the format (renormalised over the allowed labels).

Supported regex subset: ^ $, literals, [...] classes with ranges, \\d, \\w, ., and the
quantifiers {n}, {n,m}, ?, *, + (the last two bounded by the reading's length). Anything else
(groups, alternation) is still honoured for rejection: the best unconstrained reading is
checked with re.fullmatch.
"""
from __future__ import annotations

import itertools
import re
import string
from dataclasses import dataclass

import numpy as np

ALNUM = string.digits + string.ascii_uppercase
SMOOTHING = 1e-7   # added to every probability before formats weigh them


@dataclass
class Decoded:
    text: str
    char_probs: list[float]
    format: str | None       # name of the matching format, None if none matched / none given


def settle_group_types(probs: np.ndarray, labels: list[str], groups: list[list[int]],
                       min_share: float = 0.05) -> Decoded:
    """Best text for (N, C) probabilities when no plate format applies, using the grouping of
    the characters: most plate systems keep letters and digits in separate groups (ABC 1234,
    AB-123-CD, M AB 1234), so in a group of three or more whose settled members are all one type,
    a member that could be either type reads as the best label of the group's type.

    A character is settled when the other type has less than `min_share` of its probability,
    and ambiguous otherwise. A group needs at least two settled members, half of it or more, and
    no settled member of the other type (mixed groups such as UK AB12 or Mercosur ABC1D23 are
    left alone). A switched character's probability is conditional on its type, as with formats.
    """
    idx = probs.argmax(axis=1)
    char_probs = [float(probs[r, i]) for r, i in enumerate(idx)]
    is_letter = np.array([lab.isalpha() for lab in labels])
    letter_mass = probs[:, is_letter].sum(axis=1)
    digit_mass = probs[:, ~is_letter].sum(axis=1)
    settled = np.where(digit_mass < min_share, 1, np.where(letter_mass < min_share, 0, -1))  # 1 letter, 0 digit
    for group in groups:
        types = settled[group]
        kinds = set(types[types >= 0].tolist())
        n_settled = int((types >= 0).sum())
        if len(group) < 3 or len(kinds) != 1 or n_settled < max(2, len(group) / 2):
            continue
        want = is_letter if kinds.pop() == 1 else ~is_letter
        for r in group:
            if settled[r] < 0 and not want[idx[r]]:
                choice = np.where(want, probs[r], -1.0).argmax()
                idx[r] = choice
                char_probs[r] = float(probs[r, choice] / probs[r, want].sum())
    return Decoded("".join(labels[i] for i in idx), char_probs, None)


class UnsupportedPattern(ValueError):
    pass


def parse_pattern(pattern: str) -> list[tuple[frozenset[str], int, int]]:
    """The pattern as (allowed characters, min count, max count) items; raises UnsupportedPattern."""
    p = pattern
    if p.startswith("^"):
        p = p[1:]
    if p.endswith("$") and not p.endswith("\\$"):
        p = p[:-1]
    items: list[tuple[frozenset[str], int, int]] = []
    i = 0
    while i < len(p):
        c = p[i]
        if c == "[":
            j = p.find("]", i + 2 if p[i + 1:i + 2] == "]" else i + 1)
            if j < 0:
                raise UnsupportedPattern(f"unclosed [ in {pattern!r}")
            chars = _class_chars(p[i + 1:j], pattern)
            i = j + 1
        elif c == "\\":
            esc = p[i + 1:i + 2]
            chars = {"d": frozenset(string.digits), "w": frozenset(ALNUM)}.get(esc, frozenset(esc))
            i += 2
        elif c == ".":
            chars, i = frozenset(ALNUM), i + 1
        elif c in "()|":
            raise UnsupportedPattern(f"groups and alternation are not expanded: {pattern!r}")
        else:
            chars, i = frozenset(c.upper()), i + 1
        lo = hi = 1
        m = re.match(r"\{(\d+)(,(\d*))?\}|[?*+]", p[i:])
        if m:
            q = m.group(0)
            if q == "?":
                lo, hi = 0, 1
            elif q == "*":
                lo, hi = 0, 99
            elif q == "+":
                lo, hi = 1, 99
            else:
                lo = int(m.group(1))
                hi = lo if m.group(2) is None else (int(m.group(3)) if m.group(3) else 99)
            i += len(q)
        items.append((chars, lo, hi))
    return items


def _class_chars(body: str, pattern: str) -> frozenset[str]:
    if body.startswith("^"):
        raise UnsupportedPattern(f"negated classes are not expanded: {pattern!r}")
    out = set()
    k = 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            out.update(chr(o) for o in range(ord(body[k]), ord(body[k + 2]) + 1))
            k += 3
        elif body[k] == "\\" and k + 1 < len(body):
            out.update(string.digits if body[k + 1] == "d" else body[k + 1])
            k += 2
        else:
            out.add(body[k])
            k += 1
    return frozenset(ch.upper() for ch in out)


def expansions(items: list[tuple[frozenset[str], int, int]], n: int) -> list[list[frozenset[str]]]:
    """Every way the pattern can spell exactly n characters, as per-position allowed sets."""
    ranges = [range(lo, min(hi, n) + 1) for _, lo, hi in items]
    out = []
    for counts in itertools.product(*ranges):
        if sum(counts) == n:
            out.append([chars for (chars, _, _), k in zip(items, counts) for _ in range(k)])
        if len(out) > 64:   # pathological patterns: enough alternatives
            break
    return out


class FormatSet:
    """The configured plate formats, prepared for one classifier's label set."""

    def __init__(self, formats: list, labels: list[str]):
        self.labels = list(labels)
        self.formats = [(f.name or f.pattern, f.pattern, re.compile(f.pattern)) for f in formats]
        self._items = {}
        for name, pattern, _ in self.formats:
            try:
                self._items[name] = parse_pattern(pattern)
            except UnsupportedPattern:
                self._items[name] = None
        self._masks: dict[frozenset[str], np.ndarray] = {}

    def __bool__(self) -> bool:
        return bool(self.formats)

    def decode(self, probs: np.ndarray) -> Decoded:
        """Best text for (N, C) probabilities: constrained by the formats if any is given and
        one fits; otherwise the plain argmax with format None."""
        idx = probs.argmax(axis=1)
        plain = Decoded("".join(self.labels[i] for i in idx), [float(probs[r, i]) for r, i in enumerate(idx)], None)
        best, best_score = None, -np.inf
        # additive smoothing: quantized models output exact zeros, and a position where every
        # allowed label scored zero must read as "any of them, equally likely", not impossible
        smooth = (probs + SMOOTHING) / (1.0 + SMOOTHING * probs.shape[1])
        logp = np.log(smooth)
        for name, _, regex in self.formats:
            items = self._items[name]
            if items is None:
                if regex.fullmatch(plain.text):
                    score = float(logp[np.arange(len(idx)), idx].sum())
                    if score > best_score:
                        best, best_score = Decoded(plain.text, plain.char_probs, name), score
                continue
            for sets in expansions(items, len(probs)):
                masked = logp + np.stack([self._mask(s) for s in sets])
                choice = masked.argmax(axis=1)
                score = float(masked[np.arange(len(choice)), choice].sum())
                if score > best_score and np.isfinite(score):
                    text = "".join(self.labels[i] for i in choice)
                    if regex.fullmatch(text):
                        best_score = score
                        # the probability of each choice given that the format holds there
                        allowed = np.isfinite(masked)
                        mass = np.where(allowed, smooth, 0.0).sum(axis=1)
                        best = Decoded(text, [float(smooth[r, i] / mass[r])
                                              for r, i in enumerate(choice)], name)
        return best if best is not None else plain

    def _mask(self, allowed: frozenset[str]) -> np.ndarray:
        """0 for labels allowed at a position, -inf for the others."""
        m = self._masks.get(allowed)
        if m is None:
            m = np.array([0.0 if lab.upper() in allowed else -np.inf for lab in self.labels])
            self._masks[allowed] = m
        return m
