"""Greedy CTC decoding and CTC likelihoods of the learned plate reader on hand-made probability
tables (no TF)."""
import itertools

import numpy as np
import pytest

from plate_edge.recognise import ctc_greedy, ctc_log_likelihood, prepare

LABELS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
K = len(LABELS) + 1     # class 0 = blank
T = 10                  # frames per row in these tables


def table(row0: list, row1: list | None = None, p: float = 0.9) -> np.ndarray:
    """(2*T, K) probabilities: each entry a label character, '-' for blank, per frame."""
    row1 = row1 if row1 is not None else ["-"] * T
    out = np.full((2 * T, K), (1 - p) / (K - 1), np.float32)
    for t, ch in enumerate(list(row0) + list(row1)):
        c = 0 if ch == "-" else LABELS.index(ch) + 1
        out[t, :] = (1 - p) / (K - 1)
        out[t, c] = p
    return out


def test_collapses_repeats_and_drops_blanks():
    r = ctc_greedy(table("-AA-B--B1-"), LABELS)
    assert r.text == "ABB1"
    assert r.rows == [0, 0, 0, 0] and not r.two_row
    assert r.probs.shape == (4, len(LABELS))
    np.testing.assert_allclose(r.probs.sum(1), 1.0, rtol=1e-5)
    assert all(abs(p - 0.9) < 1e-6 for p in r.char_probs)


def test_repeated_letter_needs_a_blank_between():
    assert ctc_greedy(table("--77--7---"), LABELS).text == "77"
    assert ctc_greedy(table("--777-----"), LABELS).text == "7"


def test_empty_and_all_blank():
    r = ctc_greedy(table("-" * T), LABELS)
    assert r.text == "" and r.probs.shape == (0, len(LABELS)) and r.positions == [] and not r.two_row


def test_two_rows_reading_order_and_rows():
    r = ctc_greedy(table("--AB------", "-1-2-3----"), LABELS)
    assert r.text == "AB123"
    assert r.rows == [0, 0, 1, 1, 1] and r.two_row


def test_positions_span_the_run_widened_by_half_a_frame():
    r = ctc_greedy(table("-AAA----B-", "--C-------"), LABELS)
    (ra, a0, a1), (rb, b0, b1), (rc, c0, c1) = r.positions
    assert (ra, rb, rc) == (0, 0, 1)
    assert a0 == pytest.approx(0.5 / T) and a1 == pytest.approx(4.5 / T)     # frames 1..3
    assert b0 == pytest.approx(7.5 / T) and b1 == pytest.approx(9.5 / T)     # frame 8
    assert c0 == pytest.approx(1.5 / T) and c1 == pytest.approx(3.5 / T)
    boxes = r.boxes(100, 40)    # two-row: the top half for row 0, the bottom half for row 1
    assert boxes[0][1] == 0 and boxes[0][3] == 20 and boxes[2][1] == 20
    one = ctc_greedy(table("-A--------"), LABELS).boxes(100, 40)
    assert one[0][1] == 0 and one[0][3] == 40    # one-row plate: the whole height


def test_first_frame_clamped_to_zero():
    r = ctc_greedy(table("A---------"), LABELS)
    assert r.positions[0][1] == 0.0


def test_char_row_from_best_frame_renormalised_over_non_blanks():
    probs = table("-BB-------")
    probs[1] = 0.0
    probs[1, LABELS.index("B") + 1], probs[1, LABELS.index("8") + 1], probs[1, 0] = 0.5, 0.3, 0.2
    probs[2] = 0.0
    probs[2, LABELS.index("B") + 1], probs[2, LABELS.index("8") + 1], probs[2, 0] = 0.7, 0.1, 0.2
    r = ctc_greedy(probs, LABELS)
    assert r.text == "B" and r.frames == [(0, 2)]
    assert r.char_probs == [pytest.approx(0.7)]
    assert r.probs[0, LABELS.index("B")] == pytest.approx(0.7 / 0.8)
    assert r.probs[0, LABELS.index("8")] == pytest.approx(0.1 / 0.8)


def test_blank_last():
    probs = table("-A-B------")
    probs = np.concatenate([probs[:, 1:], probs[:, :1]], axis=1)    # blank moved to the last class
    assert ctc_greedy(probs, LABELS, blank=K - 1).text == "AB"


def test_prepare_gray_fixed_size():
    bgr = np.random.default_rng(0).integers(0, 255, (90, 300, 3), np.uint8)
    assert prepare(bgr, (48, 160)).shape == (48, 160)
    assert prepare(bgr[:20, :50, 0], (48, 160)).shape == (48, 160)
    assert prepare(bgr, (48, 160)).dtype == np.uint8


def test_ctc_log_likelihood_sums_every_path_that_collapses_to_the_sequence():
    """The forward algorithm against brute force: every frame path of a tiny table whose collapse
    (repeats merged, blanks dropped) is the sequence; for several tables and sequences at once."""
    rng = np.random.default_rng(3)
    frames = rng.random((2, 5, 4))
    frames /= frames.sum(axis=2, keepdims=True)
    seqs = [[1], [1, 1], [1, 2, 1], [3, 2], []]

    def collapse(path):
        out = [c for i, c in enumerate(path) if c != 0 and (i == 0 or path[i - 1] != c)]
        return out

    got = ctc_log_likelihood(frames, seqs)
    assert got.shape == (2, len(seqs))
    for n in range(2):
        for m, seq in enumerate(seqs):
            total = sum(np.prod([frames[n, t, c] for t, c in enumerate(path)])
                        for path in itertools.product(range(4), repeat=5) if collapse(list(path)) == seq)
            assert got[n, m] == pytest.approx(np.log(total), rel=1e-9)
    # four 1s need seven frames (a blank between each two): impossible in five
    assert np.isneginf(ctc_log_likelihood(frames[:1], [[1, 1, 1, 1]])[0, 0])


def _bars(k: float) -> np.ndarray:
    """A 48 x 160 cut of dark upright bars, sheared so that their feet lie k px right per px down."""
    import cv2
    img = np.full((48, 160), 220, np.uint8)
    for x in range(20, 150, 18):
        cv2.line(img, (x, 8), (x, 40), 30, 3)
    m = np.float32([[1, k, -k * 24], [0, 1, 0]])
    return cv2.warpAffine(img, m, (160, 48), borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("k", [-0.25, -0.1, 0.0, 0.15, 0.3])
def test_lean_measures_how_far_the_characters_lean(k):
    from plate_edge.recognise import lean
    assert lean(_bars(k)) == pytest.approx(k, abs=0.03)


def test_lean_of_a_cut_without_strokes_is_zero():
    from plate_edge.recognise import lean
    assert lean(np.full((48, 160), 128, np.uint8)) == 0.0
