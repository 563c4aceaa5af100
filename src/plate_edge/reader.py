"""The reading pipeline: frame -> find plates -> recognise -> decode -> readings (Reader._read).

The hand-written localizer finds plate outlines (lines of characters); with the learned reader, a
learned detector (plate_edge.detect, `reader.detector`) finds them first, a verifier
(plate_edge.verify) keeps those that are plates, and the localizer runs only on frames where the
detector finds none (`localizer: fallback`; or "beside" it on every frame, or "off"). A
recogniser turns each plate into per-character probabilities: the learned stage reads the whole
plate with one model (LearnedRecogniser, a `decoder: ctc` model), the classic stage cuts
characters out with the segmenter and classifies them in one batch (SegmentingRecogniser). The
plate formats - or, with none matching, the common plate layouts weighed against the letter/digit
groups of the plate - turn probabilities into text.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Protocol

import cv2
import numpy as np
from pydantic import Field, field_validator

from .classify import Classifier, open_model, resolve_model_path
from .detect import Detection, DetectorConfig, PlateDetector, rectify, spans
from .formats import FormatSet, PlateFormat, settle_group_types
from .layouts import LAYOUTS, LOOK_ALIKE_RATIO, LayoutPrior
from .localize import LocalizeConfig, Localizer, in_zones
from .recognise import PlateRecogniser, RawReading, ctc_log_likelihood, lean, prepare, smooth
from .segment import SegmentConfig, char_groups, segment
from .settings import Settings
from .types import Box, CharCrop, PlateCandidate, PlateReading
from .verify import PlateVerifier

Zone = Sequence[tuple[float, float]]

# The views of one plate the learned stage reads and votes over (LearnedConfig.views): its outline
# (left, top, right, bottom) grown by these shares of its width and height: as cut, tighter,
# looser, shifted left and right. A reader trained on crops of every margin still errs on some
# cut of a plate; the cuts seldom err alike.
VIEWS = ((0.0, 0.0, 0.0, 0.0), (-0.04, -0.08, -0.04, -0.08), (0.05, 0.1, 0.05, 0.1),
         (-0.03, 0.0, 0.03, 0.0), (0.03, 0.0, -0.03, 0.0))
DETECTED_CROP_H = 48  # px: the rectified crop a detected plate carries to a recogniser that reads_crops
MAX_CUT_SCALE = 8   # a plate is cut at its own resolution up to this many times the model input (then
# area-scaled by prepare; 2 until session 31 left a bigger plate to warpPerspective's bilinear sampling:
# US crops 90.5 -> 90.7%, dev crops 93.2 -> 93.7, dev scenes 92.3 -> 92.8, loose 2x 87.8 -> 88.7)
Confidence = Annotated[float, Field(ge=0, le=1)]


def _known_layouts(regions: list[str] | None) -> list[str] | None:
    unknown = [r for r in regions or [] if r != "all" and r not in LAYOUTS]
    if unknown:
        raise ValueError(f"unknown region(s) {', '.join(map(repr, unknown))}; "
                         f"known: all, {', '.join(sorted(LAYOUTS))}")
    return regions


class LearnedConfig(Settings):
    """The learned reader's stage (`reader.learned`): how a found plate is cut for the model."""
    crop_margin_x: float = Field(0.06, ge=0, le=1)   # the finder's plate outline grown by this share
    crop_margin_y: float = Field(0.15, ge=0, le=2)   # of its width (each side) and height (above, below)
    whole_margin_x: float = Field(0.02, ge=0, le=0.5)  # a crop read whole is cut this share of its
    # width wider each side, its edge pixels repeated: a character touching its edge sits inside a
    # margin, as on every rendered crop the model learned from
    input_blur: float = Field(0.8, ge=0, le=3)       # Gaussian sigma, model-input pixels, over each cut:
    # real plates carry fine detail (grain, embossing, JPEG) the rendered ones it learned from lack (0: off)
    look_alike_ratio: float = Field(0.01, gt=0, le=1)  # the layout prior may swap a character for a
    # look-alike scoring at least this share of the best label (CTC outputs are peaky: the
    # classifiers' 0.1 would leave the prior almost nothing to settle)
    char_temperature: float = Field(1.0, ge=1, le=20)  # each character's probabilities are softened
    # (p ** (1/T)) before formats and layouts decode them: CTC outputs are over-confident
    views: int = Field(3, ge=1, le=len(VIEWS))       # cuts of a plate read and voted over (reader.VIEWS):
    # 1 reads each plate once; each further view costs one more model run per plate that reads
    sure_char_prob: float = Field(1.0, gt=0, le=1)   # a first cut whose every character scores above
    # this is not read again: the views' model runs go to the doubtful plates (1: every plate)
    deslant: float = Field(0.06, ge=0, le=1)         # a plate whose first cut's characters lean by at least
    # this shear (model-input px across per px down, recognise.lean) is read upright in its further views (0: never)
    trim_to_layout: bool = True                      # the voted reading less its first or last character
    # (or its second row) wins where the layout prior times the model's likelihood says so
    min_chars: int = Field(2, ge=1, le=12)           # readings with fewer or more characters are dropped
    max_chars: int = Field(10, ge=1, le=16)
    min_frame_chars: int = Field(4, ge=1, le=12)     # ... and in a frame (not a crop read whole) fewer
    # than this: a badge, sticker or the EU band's country code a finder took for a plate


class ReaderConfig(Settings):
    """Reading settings (`reader`): what makes a reading, and the stages' own settings."""
    min_confidence: Confidence = 0.5       # plate readings below this are dropped
    min_char_confidence: Confidence = 0.0
    formats: list[PlateFormat] = Field(default_factory=list)
    reject_unmatched: bool = False         # with formats: drop readings that match none
    layouts: list[str] = Field(default_factory=lambda: ["all"])  # regions of plate_edge.layouts (or all)
    max_frame_side: int = Field(4096, ge=64, le=16384)  # larger frames are downscaled to this (longer side)
    localize: LocalizeConfig = Field(default_factory=LocalizeConfig)
    segment: SegmentConfig = Field(default_factory=SegmentConfig)
    learned: LearnedConfig = Field(default_factory=LearnedConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)

    _layouts = field_validator("layouts")(_known_layouts)

    def with_override(self, override: ReaderOverride | None) -> ReaderConfig:
        """These settings with a camera's overrides (`cameras.<name>.reader`) applied."""
        if override is None:
            return self
        update = {k: v for k, v in override if v is not None}
        return self.model_copy(update=update) if update else self


class ReaderOverride(Settings):
    """Per-camera reader settings (`cameras.<name>.reader`); unset keys follow the `reader` section."""
    formats: list[PlateFormat] | None = None
    layouts: list[str] | None = None
    min_confidence: Confidence | None = None

    _layouts = field_validator("layouts")(_known_layouts)

PlateFinder = Callable[[np.ndarray, float], list[PlateCandidate]]


@dataclass
class FrameResult:
    """What one read gives: the plates, best first, and how long each stage took (seconds)."""
    plates: list[PlateReading]
    timings_s: dict[str, float] = field(default_factory=dict)   # localize, segment, classify, total

    @property
    def timings_ms(self) -> dict[str, float]:
        return {k: v * 1000.0 for k, v in self.timings_s.items()}


class Reader:
    """Reads plates: find -> recognise -> decode, each a swappable stage. The recogniser is the
    model's: a learned whole-plate reader (recognise.PlateRecogniser, `decoder: ctc` in its
    metadata) or the classic segmenter + character classifier (classify.Classifier). The
    package's public face is PlateReader (this class): PlateReader.from_model("plate").read(image)."""

    def __init__(self, cfg: ReaderConfig, model: Classifier | PlateRecogniser,
                 detector: PlateDetector | None = None, verifier: PlateVerifier | None = None):
        self.cfg = cfg
        self.model = model
        self.localizer = Localizer(cfg.localize)
        # the learned detector, the first finder (reader.detector), and the verifier of what it
        # finds: with the learned reader only; a detector passed in comes with its own verifier or none
        learned = isinstance(model, PlateRecogniser)
        if detector is None and learned and cfg.detector.model:
            detector = PlateDetector.from_config(cfg.detector)
            if verifier is None and cfg.detector.verifier:
                verifier = PlateVerifier.from_config(cfg.detector)
        self.detector = detector if learned else None
        self.verifier = verifier if self.detector is not None else None
        self.formats = FormatSet(cfg.formats, model.labels)
        ratio = cfg.learned.look_alike_ratio if learned else LOOK_ALIKE_RATIO
        self.layouts = LayoutPrior(cfg.layouts, model.labels, min_ratio=ratio)
        # the layout prior may also trim the learned reading, unless configured formats rule
        trim = self.layouts if self.layouts and not self.formats and cfg.learned.trim_to_layout else None
        self.recogniser: Recogniser = (LearnedRecogniser(model, cfg.learned, cfg.min_confidence, trim)
                                       if isinstance(model, PlateRecogniser)   # narrows the type
                                       else SegmentingRecogniser(model, cfg, self.localizer))

    @property
    def classifier(self) -> Classifier | PlateRecogniser:
        return self.model

    def with_config(self, cfg: ReaderConfig) -> Reader:
        """A reader with other settings sharing this one's model (per-camera overrides)."""
        if cfg == self.cfg:
            return self
        same = cfg.detector == self.cfg.detector
        return Reader(cfg, self.model, self.detector if same else None, self.verifier if same else None)

    @classmethod
    def from_model(cls, name_or_path: str | Path = "plate", config: ReaderConfig | None = None,
                   threads: int = 1) -> Reader:
        """A reader with a shipped model (`plate`: the learned reader; `digits`, `alnum`: character
        classifiers) or a .tflite file exported by convert/, and reading settings (default:
        ReaderConfig())."""
        return cls(config or ReaderConfig(), load_model(resolve_model_path(str(name_or_path)), threads))

    def read(self, image: np.ndarray, zones: Sequence[Zone] | None = None) -> list[PlateReading]:
        """Plates in a full frame (BGR, BGRA or grayscale), best first; same as read_frame."""
        return self.read_frame_timed(image, zones).plates

    def read_frame(self, image: np.ndarray, zones: Sequence[Zone] | None = None) -> list[PlateReading]:
        """Plates in a BGR, BGRA or grayscale frame (optionally only inside `zones`), best first."""
        return self.read_frame_timed(image, zones).plates

    def read_frame_timed(self, image: np.ndarray, zones: Sequence[Zone] | None = None,
                         extra_looks: bool = True, settled: Collection[str] = ()) -> FrameResult:
        """read_frame, with the time each stage took. The detector's extra looks (`extra_looks`;
        not for a daemon's motion-gated camera, whose regions are zoomed on what moves): a frame
        outside `zones` that is a plate crop (PlateDetector.frame_plate) is read as
        read_crop reads it; with detector.tiles "unread", a frame where nothing reads is looked
        at again with the detector's tiles (small plates). `settled`: texts the caller has settled
        on already (a daemon camera's published plates still in view): a plate whose first reading
        is one of them is not read again (Recogniser.recognise)."""
        first: list[Detection] = []        # the detector's whole-frame look, made once
        tried: set[tuple] = set()           # the plates the first reading read (or did not)

        def find(gray: np.ndarray, scale: float) -> list[PlateCandidate]:
            scaled = _scaled_zones(zones, scale)
            if self.detector is None:
                return self.localizer.find(gray, scaled)
            first[:] = self.detector.look(gray)
            if self.cfg.detector.localizer == "beside":
                found = self.localizer.find(gray, scaled)
                return found + self._verified(gray, self._detected(gray, found, scaled, first=first))
            plates = self._detected(gray, [], scaled, first=first)
            detected = self._verified(gray, plates)
            tried.update(_outline(p) for p in detected)
            if plates or self.cfg.detector.localizer == "off":
                return detected
            return self.localizer.find(gray, scaled)          # fallback: the detector found none

        def find_tiled(gray: np.ndarray, scale: float) -> list[PlateCandidate]:
            # the first look's plates read to nothing before: only what the tiles add is read
            plates = self._detected(gray, [], _scaled_zones(zones, scale), tiles=True, first=first)
            return [p for p in self._verified(gray, plates) if _outline(p) not in tried]

        t0 = time.perf_counter()
        gray, scale = to_gray(image, self.cfg.max_frame_side)
        plate = self.detector.frame_plate(gray) if (extra_looks and not zones and gray is not None
                                                     and self.detector is not None) else None
        if plate is not None:                                     # a plate crop
            return self._read_looked(image, (gray, scale, t0), plate, settled)
        result = self._read(image, find, prepared=(gray, scale, t0), settled=settled)
        if result.plates or not extra_looks or self.detector is None or self.cfg.detector.tiles != "unread":
            return result
        again = self._read(image, find_tiled, prepared=(gray, scale, time.perf_counter()), settled=settled)
        return FrameResult(again.plates, {k: v + again.timings_s.get(k, 0.0) for k, v in result.timings_s.items()})

    def _detected(self, gray: np.ndarray, found: list[PlateCandidate], zones: list | None,
                  tiles: bool | None = None, first: list[Detection] | None = None) -> list[Detection]:
        """The detector's plates (in zones; with its tiles as `tiles` says and its whole-frame look
        `first` if made, see PlateDetector.detect) that no plate the localizer found overlaps."""
        assert self.detector is not None
        return [d for d in self.detector.detect(gray, tiles, first)
                if in_zones(d.box, zones) and not any(d.box.iou(c.box) > self.cfg.detector.overlap for c in found)]

    def _verified(self, gray: np.ndarray, plates: list[Detection]) -> list[PlateCandidate]:
        """The detected plates the verifier (if any) takes for plates, as the recogniser takes them."""
        if self.verifier is not None:
            plates = self.verifier.keep(gray, plates)
        return [self._candidate(gray, d) for d in plates]

    def _candidate(self, gray: np.ndarray, d: Detection) -> PlateCandidate:
        """A detected plate as the recogniser takes it: its outline widened by detector.crop_margin_x
        (and its rectified crop, for a recogniser that reads those)."""
        mx = self.cfg.detector.crop_margin_x
        quad = view_quad(np.asarray(d.quad, np.float64), (mx, 0.0, mx, 0.0))
        crop = rectify(gray, d.quad, DETECTED_CROP_H) if self.recogniser.reads_crops else np.zeros((0, 0), np.uint8)
        return PlateCandidate(box=d.box, polygon=[(float(x), float(y)) for x, y in quad], crop=crop, score=d.score)

    def read_found(self, image: np.ndarray, found: list[Detection]) -> list[PlateReading | None]:
        """Each plate another finder found in the frame (a Detection: its quadrilateral in frame
        pixels) read as the detector's plates are (cut with detector.crop_margin_x), unverified:
        its reading, or None where it reads none."""
        gray, scale = to_gray(image, self.cfg.max_frame_side)
        if gray is None:
            return [None] * len(found)
        out = []
        for d in found:
            quad = [(x * scale, y * scale) for x, y in d.quad]
            plate = self._candidate(gray, Detection(_scale_box(d.box, scale), quad, d.score))
            plates = self._read(image, _these([plate]), prepared=(gray, scale, time.perf_counter())).plates
            out.append(plates[0] if plates else None)
        return out

    def read_crop(self, image: np.ndarray) -> PlateReading | None:
        """The plate in an image that is already a plate; with the detector, a loose one too (a car's
        rear, a vehicle detector's box: read_crop_timed)."""
        readings = self.read_crop_timed(image).plates
        return readings[0] if readings else None

    def read_crop_timed(self, image: np.ndarray) -> FrameResult:
        """read_crop, with the time each stage took: at most one plate. With the detector, the crop
        is first looked at zoomed out (PlateDetector.crop_look) and read as that look saw it
        (_read_looked)."""
        t0 = time.perf_counter()
        gray, scale = to_gray(image, self.cfg.max_frame_side)
        plate = None
        if self.detector is not None and gray is not None:
            # a plate too small for the zoomed-out look (a crop much looser than the plate) is the
            # size the detector learned in its frame look
            plate = self.detector.crop_look(gray) or next(iter(self.detector.look(gray)), None)
        return self._read_looked(image, (gray, scale, t0), plate)

    def _read_looked(self, image: np.ndarray, prepared: tuple[np.ndarray | None, float, float],
                     plate: Detection | None, settled: Collection[str] = ()) -> FrameResult:
        """A plate crop read as its crop look saw it (`plate`: the look's plate, if any): whole; and
        where the plate does not span the crop (detect.spans: a loose crop, such as a car's rear or
        a vehicle detector's box), that plate too, refined and cut out as a plate found in a frame
        is, its reading kept if it is the more confident. `prepared`, `settled`: as _read takes them."""
        gray = prepared[0]
        whole = self._read_crop(image, prepared, settled)
        if plate is not None and gray is not None and self.detector is not None \
                and not spans(plate, gray.shape[1], gray.shape[0]):
            found = [self._candidate(gray, self.detector.refine(gray, plate))]
            cut = self._read(image, _these(found), prepared=(gray, prepared[1], time.perf_counter()), settled=settled)
            if cut.plates and (not whole.plates or cut.plates[0].confidence > whole.plates[0].confidence):
                del cut.plates[1:]
                return FrameResult(cut.plates, {k: v + whole.timings_s[k] for k, v in cut.timings_s.items()})
        return whole

    def _read_crop(self, image: np.ndarray, prepared: tuple[np.ndarray | None, float, float] | None = None,
                   settled: Collection[str] = ()) -> FrameResult:
        """The image read whole as one plate (`prepared`, `settled`: as _read takes them)."""
        result = self._read(image, lambda gray, scale: self.recogniser.crop_candidates(gray), True, prepared,
                            settled)
        del result.plates[1:]
        return result

    def _read(self, image: np.ndarray, find_plates: PlateFinder, whole: bool = False,
              prepared: tuple[np.ndarray | None, float, float] | None = None,
              settled: Collection[str] = ()) -> FrameResult:
        """The pipeline: find -> recognise -> decode (`whole`: the image is the plate). `prepared`:
        the image's to_gray and the time that began; `settled`: as read_frame_timed takes it."""
        t0 = time.perf_counter()
        gray, scale, t0 = prepared or (*to_gray(image, self.cfg.max_frame_side), t0)
        plates = find_plates(gray, scale) if gray is not None else []
        t1 = time.perf_counter()
        chars = self.recogniser.recognise(image, gray, plates, 1.0 / scale, whole, settled) if gray is not None else []
        t2 = time.perf_counter()
        readings = [r for p, c in zip(plates, chars) if c is not None
                    for r in [self._decode(p, c, 1.0 / scale)] if r is not None]
        readings.sort(key=lambda r: -r.confidence)
        t3 = time.perf_counter()
        return FrameResult(readings, {"find": t1 - t0, "recognise": t2 - t1, "decode": t3 - t2,
                                      "total": t3 - t0})

    def _decode(self, plate: PlateCandidate, chars: PlateChars, unscale: float) -> PlateReading | None:
        """Text from the per-character probabilities: a configured format, else the layout prior
        over the letter/digit groups' reading; None below the confidence settings."""
        cfg, probs = self.cfg, chars.probs
        dec = self.formats.decode(probs)
        if self.formats and dec.format is None and cfg.reject_unmatched:
            return None
        if dec.format is None:
            dec = self.layouts.decode(probs, settle_group_types(probs, self.model.labels, chars.groups))
        conf = mean_confidence(np.asarray(dec.char_probs) * chars.presence)
        if conf < cfg.min_confidence or min(dec.char_probs) < cfg.min_char_confidence:
            return None
        top = np.argsort(-probs, axis=1)[:, :3]
        labels = self.model.labels
        alternatives = [[(labels[j], row[j]) for j in best] for best, row in zip(top.tolist(), probs.tolist())]
        return PlateReading(
            text=dec.text, confidence=conf, char_confidences=dec.char_probs,
            box=_scale_box(plate.box, unscale), polygon=[(x * unscale, y * unscale) for x, y in plate.polygon],
            char_boxes=chars.boxes, model_id=self.model.model_id, format=dec.format, layout=dec.layout,
            alternatives=alternatives)


@dataclass
class PlateChars:
    """What a recogniser read on one plate: each character's probabilities over the model's labels,
    its box in frame coordinates, and the letter/digit groups (indices) the decoder may settle."""
    probs: np.ndarray
    boxes: list[Box]
    groups: list[list[int]]
    presence: np.ndarray | float = 1.0    # how sure the model is each character is there at all


class Recogniser(Protocol):
    """The recognise stage: plate candidates -> characters (None: nothing readable). `image` is
    the frame as given, `gray` its to_gray copy (scaled by 1 / unscale). `reads_crops`: whether it
    reads the candidates' rectified crops (else their outlines only: found plates come without).
    `settled`: texts the caller knows already; a stage may spend less on a plate that reads one."""
    reads_crops: bool

    def crop_candidates(self, gray: np.ndarray) -> list[PlateCandidate]: ...
    def recognise(self, image: np.ndarray, gray: np.ndarray, plates: list[PlateCandidate], unscale: float,
                  whole: bool = False, settled: Collection[str] = ()) -> list[PlateChars | None]: ...


class SegmentingRecogniser:
    """The classic stage: hand-written segmentation of each plate crop, then one batched call of a
    character classifier for every character of the frame (in colour frames without a leading EU
    band: its blue gives it away)."""
    reads_crops = True

    def __init__(self, classifier: Classifier, cfg: ReaderConfig, localizer: Localizer):
        self.classifier, self.cfg, self.localizer = classifier, cfg, localizer

    def crop_candidates(self, gray: np.ndarray) -> list[PlateCandidate]:
        # one candidate, or one per polarity when that is in doubt: the more confident reading wins
        return self.localizer.crop_candidates(gray)

    def recognise(self, image: np.ndarray, gray: np.ndarray, plates: list[PlateCandidate], unscale: float,
                  whole: bool = False, settled: Collection[str] = ()) -> list[PlateChars | None]:
        chars = self._characters(plates, image, unscale)
        probs = self.classifier.predict([c.patch for cs in chars for c in cs])
        out: list[PlateChars | None] = []
        start = 0
        for plate, cs in zip(plates, chars):
            p, start = probs[start:start + len(cs)], start + len(cs)
            boxes = [_scale_box(b, unscale) for b in _to_frame([c.box for c in cs], plate.to_frame)]
            out.append(PlateChars(p, boxes, char_groups(cs)) if cs else None)
        return out

    def _characters(self, plates: list[PlateCandidate], image: np.ndarray, unscale: float) -> list[list[CharCrop]]:
        """Each plate's characters; in colour frames, without an EU band taken for a character."""
        colour = image if image.ndim == 3 and image.shape[2] in (3, 4) and image.dtype == np.uint8 else None
        out = []
        for p in plates:
            chars = segment(p.crop, self.cfg.segment, self.cfg.localize.crop_char_height)
            if colour is not None and len(chars) > self.cfg.segment.min_chars:
                boxes = [_scale_box(b, unscale) for b in _to_frame([c.box for c in chars[:6]], p.to_frame)]
                spare = len(chars) - self.cfg.segment.min_chars
                chars = chars[band_blobs([blue_share(colour, b) for b in boxes], spare):]
            out.append(chars)
        return out


class LearnedRecogniser:
    """The learned stage: each plate's quadrilateral, grown by the crop margins, is cut out at its
    own resolution and resized to the model's input exactly as the training crops were
    (recognise.prepare), then read whole (recognise.PlateRecogniser): characters, their count,
    rows and positions all come from the model. A plate whose first cut reads as one (min_chars -
    in a frame min_frame_chars - to max_chars characters, confident enough to be kept:
    `min_confidence`) is read again from `views` cuts (a crop read whole keeps its sides in each),
    unless it reads a text the caller has settled on (a daemon's plate published and still in
    view: the views would only confirm it); the reading the cuts together make most likely is
    kept (vote), and the layout prior may trim a stray end character or second row from it (trim)."""

    reads_crops = False     # it cuts each plate out of the frame itself, at the plate's own resolution

    def __init__(self, model: PlateRecogniser, cfg: LearnedConfig, min_confidence: float = 0.0,
                 prior: LayoutPrior | None = None):
        self.model, self.cfg, self.min_confidence, self.prior = model, cfg, min_confidence, prior

    def crop_candidates(self, gray: np.ndarray) -> list[PlateCandidate]:
        # the image is the plate: read it whole, as the model was trained
        h, w = gray.shape[:2]
        quad = [(0.0, 0.0), (float(w), 0.0), (float(w), float(h)), (0.0, float(h))]
        return [PlateCandidate(box=Box(0, 0, w, h), polygon=quad, crop=gray, score=1.0)]

    def recognise(self, image: np.ndarray, gray: np.ndarray, plates: list[PlateCandidate], unscale: float,
                  whole: bool = False, settled: Collection[str] = ()) -> list[PlateChars | None]:
        if not plates:
            return []
        mx, my, wx = self.cfg.crop_margin_x, self.cfg.crop_margin_y, self.cfg.whole_margin_x
        margin = (wx, 0.0, wx, 0.0) if whole else (mx, my, mx, my)
        quads = [view_quad(np.array(p.polygon, np.float64) * unscale, margin) for p in plates]
        # cut from the frame's gray copy, at full resolution (a frame over max_frame_side was shrunk)
        full = gray if unscale == 1.0 else to_gray(image, max(image.shape[:2]))[0]
        if full is None:
            return [None] * len(plates)
        cuts = [self._cut(full, q) for q in quads]
        first = self.model.recognise([c for c, _ in cuts])
        # every further view only for the plates whose first cut reads as a plate, and as none the
        # caller has settled on already
        least = self.cfg.min_chars if whole else max(self.cfg.min_chars, self.cfg.min_frame_chars)
        again = [i for i, raw in enumerate(first)
                 if self._plausible(raw, least) and mean_confidence(raw.char_probs) >= self.min_confidence
                 and min(raw.char_probs) <= self.cfg.sure_char_prob and raw.text not in settled]
        # a plate whose characters lean in its first cut is read upright in every further view
        upright = {i: self._upright(cuts[i][0]) for i in again}
        more = [(i, self._cut(full, view_quad(quads[i], _within(VIEWS[v], whole), upright[i])))
                for i in again for v in range(1, self.cfg.views)]
        views: list[list[tuple[RawReading, np.ndarray]]] = [[(raw, back)] for raw, (_, back) in zip(first, cuts)]
        for (i, (_, back)), raw in zip(more, self.model.recognise([c for _, (c, _) in more])):
            views[i].append((raw, back))
        voted = [vote(v, self.model.rows) for v in views]
        if self.prior is not None:
            voted = [(trim(raw, [r for r, _ in v], self.model.rows, self.prior), back)
                     for (raw, back), v in zip(voted, views)]
        return [self._chars(raw, back) if self._plausible(raw, least) else None for raw, back in voted]

    def _upright(self, cut: np.ndarray) -> float:
        """The lean (shares of the cut's width per its height) that stands the characters of a
        first cut upright (view_quad), or 0 where they lean less than `deslant`."""
        if self.cfg.deslant == 0:
            return 0.0
        k = lean(cut)
        if abs(k) < self.cfg.deslant:
            return 0.0
        in_h, in_w = self.model.input_size
        return k * in_h / in_w

    def _plausible(self, raw: RawReading, least: int) -> bool:
        return least <= len(raw.text) <= self.cfg.max_chars

    def _cut(self, image: np.ndarray, quad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The plate cut out at its own resolution (capped) and prepared for the model, and the
        homography from model input back to the image."""
        in_h, in_w = self.model.input_size
        w = max(np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[3]))
        h = max(np.linalg.norm(quad[3] - quad[0]), np.linalg.norm(quad[2] - quad[1]))
        cw = int(np.clip(round(w), 1, MAX_CUT_SCALE * in_w))
        ch = int(np.clip(round(h), 1, MAX_CUT_SCALE * in_h))
        corners = np.array([(0, 0), (cw, 0), (cw, ch), (0, ch)], np.float32)
        m = cv2.getPerspectiveTransform(quad.astype(np.float32), corners)
        cut = smooth(prepare(cv2.warpPerspective(image, m, (cw, ch), flags=cv2.INTER_LINEAR,
                                                 borderMode=cv2.BORDER_REPLICATE), (in_h, in_w)),
                     self.cfg.input_blur)
        to_input = np.diag([in_w / cw, in_h / ch, 1.0]) @ m
        return cut, np.linalg.inv(to_input)

    def _chars(self, raw: RawReading, back: np.ndarray) -> PlateChars:
        in_h, in_w = self.model.input_size
        boxes = [_box_to_frame(b, back) for b in raw.boxes(in_w, in_h)]
        presence = np.asarray(raw.char_probs) / np.maximum(raw.probs.max(axis=1), 1e-9)
        return PlateChars(soften(raw.probs, self.cfg.char_temperature), boxes,
                          [[i] for i in range(len(raw.text))], np.clip(presence, 0.0, 1.0))


def vote(views: list[tuple[RawReading, np.ndarray]], rows: int = 1) -> tuple[RawReading, np.ndarray]:
    """The view whose reading the views together make most likely: each distinct reading is scored
    by its CTC log-likelihood summed over every view's frames (`rows` rows of frames: a sure cut
    outweighs two unsure ones). Without frames (a stand-in model), by the number of views that
    read it. Among equals, the most confident view (product of its characters' probabilities); an
    empty reading loses."""
    def key(raw: RawReading) -> tuple:
        return tuple(zip(raw.rows, raw.text))
    read = {key(raw): raw for raw, _ in views if raw.text}
    frames = [raw.frame_probs for raw, _ in views if raw.frame_probs is not None]
    support: dict[tuple, float]
    if len(read) < 2 or len(frames) < len(views):
        support = dict(Counter(key(raw) for raw, _ in views if raw.text))
    else:
        support = dict(zip(read, views_log_likelihood(frames, rows, list(read.values())).tolist()))
    return max(views, key=lambda v: (support[key(v[0])], float(np.prod(v[0].char_probs)))
               if v[0].text else (-np.inf, 0.0))


def trim(raw: RawReading, views: list[RawReading], rows: int, prior: LayoutPrior) -> RawReading:
    """A voted reading that no layout spells, or it less its first or last character (a two-row
    reading: less its second row) where that is a layout, whichever the views' summed CTC
    log-likelihood plus the layout prior's log prior makes most probable: a frame edge, bolt or
    stacked type code read as a character costs the model little and makes the plate a layout
    nobody issues."""
    n = len(raw.text)
    frames = [v.frame_probs for v in views if v.frame_probs is not None]
    if n < 2 or len(frames) < len(views) or prior.listed(raw.text) is not None:
        return raw
    keep = ([[i for i in range(n) if raw.rows[i] == 0]] if raw.two_row else [list(range(1, n)), list(range(n - 1))])
    cands = [raw] + [c for c in (_keep(raw, k) for k in keep if k) if prior.listed(c.text) is not None]
    if len(cands) == 1:
        return raw
    score = views_log_likelihood(frames, rows, cands) + [prior.log_prior(c.text) for c in cands]
    return cands[int(np.argmax(score))]


def views_log_likelihood(frames: list[np.ndarray], rows: int, readings: list[RawReading]) -> np.ndarray:
    """Each reading's CTC log-likelihood summed over every view's frames ((rows * T, K) each), row
    by row, up to a constant shared by all: a row every reading spells alike is skipped."""
    per_row = np.stack(frames).reshape(len(frames), rows, -1, frames[0].shape[-1])   # (V, rows, T, K)
    total = np.zeros(len(readings))
    for r in range(rows):
        seqs = [[c for c, row in zip(x.classes, x.rows) if row == r] for x in readings]
        if any(q != seqs[0] for q in seqs):
            total += ctc_log_likelihood(per_row[:, r], seqs).sum(axis=0)
    return total


def _keep(raw: RawReading, idx: list[int]) -> RawReading:
    """The reading of only the characters at `idx`."""
    rows = [raw.rows[i] for i in idx]
    return RawReading("".join(raw.text[i] for i in idx), raw.probs[idx], [raw.char_probs[i] for i in idx],
                      [raw.positions[i] for i in idx], rows, any(r > 0 for r in rows),
                      [raw.frames[i] for i in idx], [raw.classes[i] for i in idx], raw.frame_probs)


def _within(view: tuple[float, float, float, float], whole: bool) -> tuple[float, float, float, float]:
    """A view of a crop read whole never cuts into its sides: the crop's left and right edges are
    where whoever cut it saw the plate end, and a tighter cut there loses its end characters (a
    found plate's outline has its margin added first, so its tighter view only trims margin)."""
    left, top, right, bottom = view
    return (max(left, 0.0), top, max(right, 0.0), bottom) if whole else view


def view_quad(quad: np.ndarray, view: tuple[float, float, float, float], lean: float = 0.0) -> np.ndarray:
    """The quadrilateral (clockwise from top-left) grown by (left, top, right, bottom) shares of
    its width and height, through its own perspective: a negative share cuts tighter. `lean`
    (shares of its width per its height) shears it so that characters leaning so stand upright
    in the cut: its top edge moves left by half of it, its bottom edge right (about its middle)."""
    left, top, right, bottom = view
    a, b = lean * (0.5 + top), lean * (0.5 + bottom)     # about the plate's middle
    unit = np.array([(0, 0), (1, 0), (1, 1), (0, 1)], np.float32)
    h = cv2.getPerspectiveTransform(unit, quad.astype(np.float32))
    pts = np.array([[(-left - a, -top), (1 + right - a, -top), (1 + right + b, 1 + bottom), (-left + b, 1 + bottom)]],
                   np.float64)
    return cv2.perspectiveTransform(pts, h)[0]


def mean_confidence(char_probs) -> float:
    """A reading's confidence: the geometric mean of its characters' probabilities."""
    return float(np.exp(np.mean(np.log(np.clip(char_probs, 1e-9, 1.0)))))


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Each row's probabilities at a temperature (p ** (1 / T), renormalised): the order of the
    labels stays, the gaps shrink for T > 1."""
    if temperature == 1.0 or not len(probs):
        return probs
    p = np.power(np.maximum(probs, 1e-30), 1.0 / temperature)
    return p / p.sum(axis=1, keepdims=True)


def _box_to_frame(box: tuple[int, int, int, int], back: np.ndarray) -> Box:
    x, y, w, h = box
    pts = cv2.perspectiveTransform(np.array([[(x, y), (x + w, y), (x, y + h), (x + w, y + h)]], np.float64), back)[0]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return Box(int(round(lo[0])), int(round(lo[1])), int(round(hi[0] - lo[0])), int(round(hi[1] - lo[1])))


def load_model(path: str | Path, threads: int = 1) -> Classifier | PlateRecogniser:
    """The model file as the stage its metadata names: a learned plate reader (`decoder: ctc`) or a
    character classifier."""
    interp, meta = open_model(path, threads, lambda m: "labels" in m and "input_size" in m and "kind" not in m,
                              "a reader's labels and input_size", "python -m convert.train_reader or convert.export")
    stage = PlateRecogniser if meta.get("decoder") == "ctc" else Classifier
    return stage(interp, meta, str(path))


def load_configured(cfg, override: str | None = None) -> Classifier | PlateRecogniser:
    """The model of a configuration (`model.path`, relative to the config file's folder)."""
    return load_model(resolve_model_path(override or cfg.model.path, _folder(cfg)), threads=cfg.model.threads)


def load_reader(cfg, override: str | None = None) -> Reader:
    """The reader of a configuration: its model (`override` instead of model.path) and, with the
    learned reader, its detector (reader.detector.model) and that one's verifier
    (reader.detector.verifier), each found relative to the config file's folder first. A
    ModelError's key names the setting at fault."""
    model = load_configured(cfg, override)
    dcfg = cfg.reader.detector
    detector = (PlateDetector.from_config(dcfg, _folder(cfg))
                if isinstance(model, PlateRecogniser) and dcfg.model else None)
    verifier = PlateVerifier.from_config(dcfg, _folder(cfg)) if detector is not None and dcfg.verifier else None
    return Reader(cfg.reader, model, detector, verifier)


def _folder(cfg) -> Path | None:
    """The folder of the file a configuration came from (None: built-in defaults)."""
    return Path(cfg.source_file).parent if cfg.source_file else None


def band_blobs(shares: list[float], most: int = 2) -> int:
    """How many leading characters are an EU band (or the country code on it), from the blue
    share of each character's box: at most two (and `most`), each mostly blue where the characters
    after it are not. That comparison keeps plates with blue ink, or under blue light, whole."""
    n = 0
    while n < min(most, 2, len(shares) - 2):
        rest = float(np.median(shares[n + 1:n + 5]))
        if shares[n] < 0.5 or shares[n] - rest < 0.4:
            break
        n += 1
    return n


def blue_share(bgr: np.ndarray, box: Box) -> float:
    """Share of the box's pixels that are a saturated blue (an EU band); HSV of that box only."""
    x0, y0 = max(0, box.x), max(0, box.y)
    patch = bgr[y0:box.y + box.h, x0:box.x + box.w, :3]
    if patch.size == 0:
        return 0.0
    hsv = cv2.cvtColor(np.ascontiguousarray(patch), cv2.COLOR_BGR2HSV)
    blue = cv2.inRange(hsv, (95, 80, 40), (135, 255, 255))
    return cv2.countNonZero(blue) / float(blue.size)


def to_gray(image, max_side: int) -> tuple[np.ndarray | None, float]:
    """A uint8 grayscale copy of a BGR/BGRA/gray image, downscaled so its longer side is at most
    `max_side`; (None, 1.0) for images too small to hold a plate. Raises ValueError for things
    that are not images."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image).__name__}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(f"image must be HxW, HxWx3 (BGR) or HxWx4 (BGRA), got shape {image.shape}")
    if image.shape[0] < 8 or image.shape[1] < 8:
        return None, 1.0
    if image.dtype != np.uint8:
        if image.dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)
        elif np.issubdtype(image.dtype, np.floating):
            img = np.nan_to_num(image.astype(np.float32))
            image = np.clip(img * (255.0 if img.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        else:
            image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    scale = min(1.0, max_side / max(image.shape[:2]))
    if scale < 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return image, scale


def _outline(plate: PlateCandidate) -> tuple:
    """A found plate's box and outline: two looks that cut a plate alike read it alike."""
    return (plate.box.x, plate.box.y, plate.box.w, plate.box.h, tuple(plate.polygon))


def _scaled_zones(zones: Sequence[Zone] | None, scale: float) -> list | None:
    """Zones (frame pixels) in the pixels of the frame scaled by `scale`; None: everywhere."""
    return [[(x * scale, y * scale) for x, y in z] for z in zones] if zones else None


def _to_frame(boxes: list[Box], affine: np.ndarray | None) -> list[Box]:
    """Frame boxes around crop boxes mapped by the crop's 2x3 affine (all boxes in one product)."""
    if affine is None:
        return list(boxes)
    corners = np.array([[(b.x, b.y, 1), (b.x + b.w, b.y, 1), (b.x, b.y + b.h, 1), (b.x + b.w, b.y + b.h, 1)]
                        for b in boxes], np.float64).reshape(-1, 4, 3)
    pts = corners @ affine.T
    lo, hi = pts.min(axis=1), pts.max(axis=1)
    return [Box(*xywh) for xywh in np.rint(np.concatenate([lo, hi - lo], axis=1)).astype(int).tolist()]


def _these(plates: list[PlateCandidate]) -> PlateFinder:
    """A finder that finds these plates in any frame."""
    return lambda gray, scale: plates


def _scale_box(box: Box, f: float) -> Box:
    if f == 1.0:
        return box
    return Box(int(round(box.x * f)), int(round(box.y * f)), int(round(box.w * f)), int(round(box.h * f)))


PlateReader = Reader   # the public name (plate_edge.PlateReader)
