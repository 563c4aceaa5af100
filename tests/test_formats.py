"""Plate formats: regex expansion and probability-driven resolution of look-alikes."""
import numpy as np
import pytest

from plate_edge.config import ConfigError, PlateFormat, parse_config
from plate_edge.formats import ALNUM, FormatSet, expansions, parse_pattern, settle_group_types

LABELS = list(ALNUM)


def _probs(rows: list[dict[str, float]]) -> np.ndarray:
    """(N, 36) probabilities: the given labels get their mass, the rest share what is left."""
    out = np.zeros((len(rows), len(LABELS)), np.float32)
    for i, r in enumerate(rows):
        rest = (1.0 - sum(r.values())) / (len(LABELS) - len(r))
        out[i] = rest
        for k, v in r.items():
            out[i, LABELS.index(k)] = v
    return out


def test_parse_and_expand():
    items = parse_pattern("^[A-Z]{2,3}-?[0-9]{3}$")
    assert [(lo, hi) for _, lo, hi in items] == [(2, 3), (0, 1), (3, 3)]
    assert items[0][0] == frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    exp6 = expansions(items, 6)
    assert len(exp6) == 2   # AA-123 and AAA123
    assert expansions(items, 9) == []


def test_look_alikes_resolved_by_position():
    fs = FormatSet([PlateFormat("br", "^[A-Z]{3}[0-9]{4}$")], LABELS)
    # read as "0B5 8I2S"-ish: the argmax is wrong at every ambiguous position
    probs = _probs([{"0": 0.6, "O": 0.35}, {"8": 0.55, "B": 0.4}, {"5": 0.5, "S": 0.45},
                    {"B": 0.6, "8": 0.3}, {"I": 0.7, "1": 0.25}, {"Z": 0.5, "2": 0.45}, {"S": 0.55, "5": 0.4}])
    plain = FormatSet([], LABELS).decode(probs)
    assert plain.text == "085BIZS" and plain.format is None
    dec = fs.decode(probs)
    assert dec.text == "OBS8125" and dec.format == "br"
    # conditional on a letter standing there: O had 0.35 of the letters' total mass
    letters_mass = 0.35 + 0.05 / 34 * 25
    assert dec.char_probs[0] == pytest.approx(0.35 / letters_mass, rel=1e-4)


def test_best_format_wins_and_unmatched_length_falls_back():
    fs = FormatSet([PlateFormat("old", "^[A-Z]{3}[0-9]{4}$"), PlateFormat("eu", "^[A-Z]{2}[0-9]{3}[A-Z]{2}$")],
                   LABELS)
    probs = _probs([{"R": 0.9}, {"K": 0.9}, {"4": 0.9}, {"9": 0.9}, {"2": 0.9}, {"A": 0.9}, {"U": 0.9}])
    assert fs.decode(probs).format == "eu"
    five = _probs([{"1": 0.9}] * 5)
    dec = fs.decode(five)
    assert dec.format is None and dec.text == "11111"


def test_formats_with_labels_the_model_lacks_do_not_match():
    digits = list("0123456789")
    fs = FormatSet([PlateFormat("letters", "^[A-Z]{3}$")], digits)
    probs = np.full((3, 10), 0.1, np.float32)
    assert fs.decode(probs).format is None


def test_unsupported_regex_still_rejects():
    fs = FormatSet([PlateFormat("alt", "^(AB|CD)[0-9]{2}$")], LABELS)
    good = _probs([{"A": 0.9}, {"B": 0.9}, {"1": 0.9}, {"2": 0.9}])
    bad = _probs([{"A": 0.9}, {"D": 0.9}, {"1": 0.9}, {"2": 0.9}])
    assert fs.decode(good).format == "alt"
    assert fs.decode(bad).format is None


def test_bad_pattern_is_a_config_error():
    with pytest.raises(ConfigError, match="formats"):
        parse_config({"reader": {"formats": [{"name": "x", "pattern": "[A-Z"}]}})


def test_a_position_no_allowed_label_scored_is_uncertain_not_impossible():
    """Quantized models output exact zeros: a letter read where the format wants a digit gives
    that position an even chance among the digits, so the reading survives with a low score."""
    probs = np.zeros((7, len(LABELS)), np.float32)
    for i, ch in enumerate("ABC123I"):
        probs[i, LABELS.index(ch)] = 1.0
    dec = FormatSet([PlateFormat("br", "^[A-Z]{3}[0-9]{4}$")], LABELS).decode(probs)
    assert dec.format == "br" and dec.text[:6] == "ABC123" and dec.text[6].isdigit()
    assert dec.char_probs[:6] == pytest.approx([1.0] * 6, abs=1e-4)
    assert dec.char_probs[6] == pytest.approx(0.1)


def _sure(text):
    return [{ch: 0.99} for ch in text]


def test_group_types_settle_look_alikes_without_a_format():
    # ABC 1234 read as ABC 12O4 and A8C 1234-ish: each ambiguous member follows its group
    probs = _probs(_sure("ABC12") + [{"O": 0.6, "0": 0.35}] + _sure("4"))
    dec = settle_group_types(probs, LABELS, [[0, 1, 2], [3, 4, 5, 6]])
    assert dec.text == "ABC1204" and dec.format is None
    assert dec.char_probs[5] == pytest.approx(0.35 / (0.35 + 0.05 / 34 * 9), rel=1e-3)
    probs = _probs([{"A": 0.99}, {"8": 0.7, "B": 0.25}, {"C": 0.99}] + _sure("1234"))
    assert settle_group_types(probs, LABELS, [[0, 1, 2], [3, 4, 5, 6]]).text == "ABC1234"


def test_group_types_leave_confident_and_mixed_alone():
    groups = [[0, 1, 2], [3, 4, 5, 6]]
    # a confident O among digits is read as O: a tie-break, not an override
    confident = _probs(_sure("ABC12") + [{"O": 0.97, "0": 0.02}] + _sure("4"))
    assert settle_group_types(confident, LABELS, groups).text == "ABC12O4"
    # inside a mixed group (Mercosur ABC1D23) there is no one type to follow
    mixed = _probs(_sure("ABC") + [{"I": 0.6, "1": 0.35}] + _sure("D23"))
    assert settle_group_types(mixed, LABELS, [list(range(7))]).text == "ABCID23"


def test_group_ends_follow_their_neighbour():
    # UK AB12 CDE: the last character of AB12 follows the digit before it
    uk = _probs(_sure("AB1") + [{"Z": 0.6, "2": 0.35}] + _sure("CDE"))
    assert settle_group_types(uk, LABELS, [[0, 1, 2, 3], [4, 5, 6]]).text == "AB12CDE"
    # SK NO 450AM: a two-letter district code
    sk = _probs(_sure("N") + [{"0": 0.6, "O": 0.3}] + _sure("450AM"))
    assert settle_group_types(sk, LABELS, [[0, 1], [2, 3, 4, 5, 6]]).text == "NO450AM"
    # a settled neighbour of the other type is needed: an ambiguous one gives no lead
    vague = _probs([{"0": 0.6, "O": 0.3}, {"Z": 0.5, "2": 0.4}] + _sure("1234"))
    assert settle_group_types(vague, LABELS, [[0, 1], [2, 3, 4, 5]]).text == "0Z1234"


def test_group_ratio_ignores_the_label_smoothing_floor():
    # every class keeps ~0.3% (label smoothing): ten digits sum past 3%, yet K is a sure letter
    floor = 0.003
    probs = np.full((7, len(LABELS)), floor, np.float32)
    for i, (ch, p) in enumerate(zip("OKK7448", [0.6, 0.89, 0.89, 0.8, 0.9, 0.9, 0.8])):
        probs[i, LABELS.index(ch)] = p
    probs[0, LABELS.index("0")], probs[0, LABELS.index("O")] = 0.6, 0.3
    assert settle_group_types(probs, LABELS, [[0, 1, 2], [3, 4, 5, 6]]).text == "OKK7448"
    # without letters in the model there is nothing to settle
    digits = np.full((3, 10), 0.1, np.float32)
    assert settle_group_types(digits, list("0123456789"), [[0, 1, 2]]).text == "000"
