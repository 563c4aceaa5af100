import numpy as np
import pytest

from plate_edge.formats import ALNUM, Decoded, expansions, parse_pattern
from plate_edge.layouts import LAYOUTS, MAX_LENGTH, LayoutPrior, layout_regex

LABELS = list(ALNUM)


def probs_for(text: str, doubts: dict[int, tuple[str, float, float]] | None = None) -> np.ndarray:
    """Probabilities reading `text` at 0.9 per character; doubts[i] = (other label, p(text[i]), p(other))."""
    out = np.full((len(text), len(LABELS)), 0.001, np.float32)
    for i, ch in enumerate(text):
        out[i, LABELS.index(ch)] = 0.9
    for i, (other, p_own, p_other) in (doubts or {}).items():
        out[i, LABELS.index(text[i])] = p_own
        out[i, LABELS.index(other)] = p_other
    return out / out.sum(axis=1, keepdims=True)


def decode(probs: np.ndarray, regions=("all",)) -> Decoded:
    plain = Decoded("".join(LABELS[i] for i in probs.argmax(axis=1)), probs.max(axis=1).tolist(), None)
    return LayoutPrior(list(regions), LABELS).decode(probs, plain)


def test_layout_notation_becomes_an_anchored_regex():
    assert layout_regex("LLNNNLL") == "^[A-Z][A-Z][0-9][0-9][0-9][A-Z][A-Z]$"
    assert layout_regex("LLN{1,6}") == "^[A-Z][A-Z][0-9]{1,6}$"
    assert layout_regex("[ABEK]NNN") == "^[ABEK][0-9][0-9][0-9]$"   # classes are left alone


def test_every_listed_layout_spells_plate_lengths():
    for region, rows in LAYOUTS.items():
        for layout, vehicles in rows:
            items = parse_pattern(layout_regex(layout))
            lengths = [n for n in range(1, MAX_LENGTH + 1) if expansions(items, n)]
            assert vehicles > 0 and lengths and 3 <= min(lengths) and max(lengths) < MAX_LENGTH, (region, layout)


def test_an_ambiguous_character_takes_the_look_alike_its_layout_needs():
    # Brazilian ABC1234 read with an O among the digits, the 0 a close second
    dec = decode(probs_for("MXQ16O1", {5: ("0", 0.45, 0.32)}))
    assert dec.text == "MXQ1601" and "br" in dec.layout.split(",")
    assert dec.char_probs[5] > 0.9   # conditional on the layout: the digits' share at that place
    # Slovak AB123CD read with a 1 for the last I (France and Italy issue no I: their AB123CD is out)
    dec = decode(probs_for("RK708A1", {6: ("I", 0.48, 0.41)}))
    assert dec.text == "RK708AI" and "sk" in dec.layout.split(",") and not {"fr", "it"} & set(dec.layout.split(","))


def test_a_new_york_cab_plate_keeps_its_digits():
    # a yellow cab's Y200758C, its 2 read as a Z beside the Y (a letter pair no US layout has)
    dec = decode(probs_for("YZ00758C", {1: ("2", 0.55, 0.35)}), ["us"])
    assert dec.text == "Y200758C" and dec.layout == "us"


def test_a_clear_character_is_never_changed():
    # the 1 scores under a tenth of the I: not a look-alike here, so no layout is reached
    dec = decode(probs_for("MXQ16I1", {5: ("1", 0.8, 0.05)}))
    assert dec.text == "MXQ16I1"   # (which happens to be a Polish layout)


def test_o_and_0_are_twins_whose_layout_decides():
    # Brazil's grey-plate O read as a 0, D and O scraps of doubt: the 0 lends the O half its
    # probability, and the layout takes the O, not whichever letter the scraps favoured
    probs = probs_for("0ZG3580", {0: ("D", 0.85, 0.06)})
    probs[0, LABELS.index("O")] = 0.05
    dec = decode(probs / probs.sum(axis=1, keepdims=True))
    assert dec.text == "OZG3580" and "br" in dec.layout.split(",")
    # a clear O among Brazil's digits is read as the 0 the layout asks for
    assert decode(probs_for("MXQ16O1", {5: ("0", 0.8, 0.05)})).text == "MXQ1601"
    # ... but the model's certainty still counts for half: a Slovak AB123CD read sure of its 0 is not
    # made the (per string more common) British AB12CDE by a twin O
    assert decode(probs_for("RK340AO", {4: ("O", 0.97, 0.02)})).text == "RK340AO"
    # letters a country never issues keep its layout out: Spain's 1234BCD has no vowels
    assert "es" not in (decode(probs_for("4314OMJ", {4: ("0", 0.6, 0.35)})).layout or "")


def test_a_common_layout_beats_a_rare_one_that_fits_the_classifier_better():
    # ABC12IO is a (rare) Polish layout as read; ABC1210 a Brazilian one two close look-alikes away
    dec = decode(probs_for("ABC12IO", {5: ("1", 0.45, 0.35), 6: ("0", 0.45, 0.35)}))
    assert dec.text == "ABC1210" and "br" in dec.layout.split(",")
    # with only Poland configured, Brazil's layout is not offered
    assert decode(probs_for("ABC12IO", {5: ("1", 0.45, 0.35), 6: ("0", 0.45, 0.35)}), ["pl"]).layout == "pl"


def test_digits_only_plates_stay_digits():
    dec = decode(probs_for("4071358", {1: ("O", 0.69, 0.23)}))
    assert dec.text == "4071358" and dec.layout == "digits"


def test_a_plate_outside_the_layouts_is_kept_when_reaching_one_costs_too_much():
    # three characters that would each have to drop to about a tenth of their score
    weak = {i: (d, 0.8, 0.085) for i, d in ((3, "1"), (4, "2"), (5, "3"))}
    dec = decode(probs_for("ABCIZEK", weak))
    assert dec.text == "ABCIZEK" and dec.layout is None
    # the same change from close look-alikes is taken (Greek / Brazilian ABC1234 needs 4 digits)
    close = {i: (d, 0.5, 0.4) for i, d in ((3, "1"), (4, "2"), (5, "3"), (6, "4"))}
    assert decode(probs_for("ABCIZEA", close)).text == "ABC1234"


def test_a_digits_only_model_has_nothing_to_settle():
    prior = LayoutPrior(["all"], list("0123456789"))
    probs = np.eye(10, dtype=np.float32)[[4, 0, 7]]
    plain = Decoded("407", [1.0] * 3, None)
    assert not prior and prior.decode(probs, plain) is plain


def test_off_means_off():
    probs = probs_for("MXQ16O1", {5: ("0", 0.45, 0.32)})
    assert decode(probs, []).text == "MXQ16O1"


@pytest.mark.parametrize("region", sorted(LAYOUTS))
def test_each_region_reads_its_own_layouts_as_they_are(region):
    rng = np.random.default_rng(len(region))
    for layout, _ in LAYOUTS[region]:
        sets = next(e for n in range(4, 11) for e in expansions(parse_pattern(layout_regex(layout)), n))
        # O and 0 aside: their layout decides which of the twins a reading holds (test above)
        text = "".join(sorted(s - {"O", "0"})[rng.integers(len(s - {"O", "0"}))] for s in sets)
        dec = decode(probs_for(text), [region])
        assert dec.text == text and region in dec.layout.split(",")
