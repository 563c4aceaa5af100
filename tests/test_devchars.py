"""The dev-set errata: corrections apply only where the data set's label is the one they correct."""
import csv

import pytest
from conftest import ROOT, SHARED

from convert.devchars import load_errata


def test_errata_apply_only_to_the_label_they_correct(tmp_path):
    path = tmp_path / "errata.csv"
    path.write_text("image,label,corrected,reason\n"
                    "eu/a.jpg,RKO99AN,RK099AN,digits there\n"
                    "eu/b.jpg,ABC123,ABC128,another data set's label\n", encoding="utf-8")
    labels = {"eu/a.jpg": "rko99an", "eu/b.jpg": "XYZ999", "eu/c.jpg": "RKO99AN"}
    assert load_errata(path, labels) == {"eu/a.jpg": "RK099AN"}


def test_no_errata_file_means_no_corrections(tmp_path):
    assert load_errata(tmp_path / "missing.csv", {"eu/a.jpg": "AB123"}) == {}


def test_every_errata_row_corrects_a_label_its_data_set_has():
    """Both errata files: each row's label is the one its set gives that image (else the row would
    silently stop applying), and each corrects it to another text."""
    for errata, labels_csv, key in ((ROOT / "bench" / "plates-dev-errata.csv", SHARED / "plates-dev" / "labels.csv",
                                     "image"),
                                    (ROOT / "bench" / "plates-us-dev-errata.csv",
                                     SHARED / "plates-us-dev" / "labels.csv", "file")):
        if not labels_csv.is_file():
            pytest.skip(f"{labels_csv} absent")
        labels = {r[key]: r["plate"] for r in csv.DictReader(labels_csv.open(encoding="utf-8"))}
        rows = list(csv.DictReader(errata.open(encoding="utf-8")))
        assert rows and all(r["corrected"] != r["label"] for r in rows)
        assert load_errata(errata, labels) == {r["image"]: r["corrected"] for r in rows}
