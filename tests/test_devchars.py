"""The dev-set errata: corrections apply only where the data set's label is the one they correct."""
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
