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
from pydantic import field_validator

from .settings import Settings, Text

ALNUM = string.digits + string.ascii_uppercase
SMOOTHING = 1e-7   # added to every probability before formats weigh them


@dataclass
class Decoded:
    text: str
    char_probs: list[float]
    format: str | None       # name of the matching format, None if none matched / none given
    layout: str | None = None  # regions of the common plate layout the text follows (plate_edge.layouts)


def settle_group_types(probs: np.ndarray, labels: list[str], groups: list[list[int]],
                       min_ratio: float = 0.1) -> Decoded:
    """Best text for (N, C) probabilities when no plate format applies, using the grouping of
    the characters. Only characters that could be either a letter or a digit change, to the best
    label of the type their context asks for:

    - a group whose settled members are all one type (at least one, and a third of the group)
      is read as that type: most plate systems keep letters and digits apart (ABC 1234, AB-123-CD);
    - the first or last character of a group takes the type of its settled neighbour: a lone
      letter or digit at the end of a group is rare (UK AB12 CDE, Mercosur ABC1D23, SK BA 302OZ).

    A character is settled as a letter when the best digit scores less than `min_ratio` of the
    best letter (and the other way round), and ambiguous otherwise: a ratio, because label
    smoothing leaves every class a probability floor. A switched character's probability is
    conditional on its type, as with formats.
    """
    idx = probs.argmax(axis=1)
    char_probs = [float(probs[r, i]) for r, i in enumerate(idx)]
    is_letter = np.array([lab.isalpha() for lab in labels])
    if is_letter.all() or not is_letter.any():
        return Decoded("".join(labels[i] for i in idx), char_probs, None)
    best_letter, best_digit = probs[:, is_letter].max(axis=1), probs[:, ~is_letter].max(axis=1)
    settled = np.where(best_digit < min_ratio * best_letter, 1,
                       np.where(best_letter < min_ratio * best_digit, 0, -1))  # 1 letter, 0 digit

    def follow(r: int, letter: bool) -> None:
        want = is_letter if letter else ~is_letter
        if settled[r] < 0 and not want[idx[r]]:
            idx[r] = np.where(want, probs[r], -1.0).argmax()
            char_probs[r] = float(probs[r, idx[r]] / probs[r, want].sum())

    for group in groups:
        kinds = set(settled[group][settled[group] >= 0].tolist())
        n_settled = int((settled[group] >= 0).sum())
        if len(group) >= 3 and len(kinds) == 1 and n_settled >= len(group) / 3:
            letter = kinds.pop() == 1
            for r in group:
                follow(r, letter)
        if len(group) >= 2:
            for end, neighbour in ((group[0], group[1]), (group[-1], group[-2])):
                if settled[neighbour] >= 0:
                    follow(end, bool(settled[neighbour]))
    return Decoded("".join(labels[i] for i in idx), char_probs, None)


class UnsupportedPattern(ValueError):
    pass


class PlateFormat(Settings):
    """One plate format (`reader.formats[]`): a name and a regex, e.g. ^[A-Z]{3}[0-9]{4}$."""
    name: Text = ""
    pattern: Text                         # required

    def __init__(self, name: str = "", pattern: str = "", /, **data):
        # PlateFormat("br", "^[A-Z]{3}[0-9]{4}$") as well as PlateFormat(name=..., pattern=...)
        super().__init__(**({"name": name} if name else {}), **({"pattern": pattern} if pattern else {}), **data)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        if not pattern:
            raise ValueError("must not be empty")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a valid regex: {exc}") from None
        return pattern


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
    out: set[str] = set()
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
        self._items: dict[str, list[tuple[frozenset[str], int, int]] | None] = {}
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
        if not self.formats:
            return plain
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
