"""Real photos at CIFAR's scale (Tiny ImageNet), as `streamsee evaluate --real-photos` reports them."""

import numpy as np
import pytest

from streamsee.core.labels import CLASSES
from streamsee.datasets.tinyimagenet import NONE, TinyImageNetError, load_tinyimagenet, read_map
from streamsee.evaluation.realphotos import evaluate_real_photos, fpr_at_tpr

# The shipped models on the 1,050 mapped val images and the 8,800 'none' ones against CIFAR-10 test,
# minus a little: classifier (2026-12-07, trained on Tiny ImageNet's training photos of the classes too)
# right 0.829, AUROC 0.851, FPR95 0.686 (the one before it: 0.662, 0.850, 0.649); box model (2026-12-06,
# trained on Tiny ImageNet's training half too) right 0.698, called background 0.234, AUROC 0.989, FPR95 0.051.
FLOORS = {"classifier_int8.tflite": {"right": 0.81, "auroc": 0.83},
          "boxes_int8.tflite": {"right": 0.68, "auroc": 0.985}}
CEILINGS = {"classifier_int8.tflite": {"fpr95": 0.71}, "boxes_int8.tflite": {"fpr95": 0.07, "called_background": 0.26}}


def test_map_reads_classes_none_and_ambiguous():
    meaning = read_map('wnid,cifar10,words\nn1,cat,"tabby"\nn2,none,"bear"\nn3,ambiguous,"police van"\n')
    assert meaning == {"n1": CLASSES.index("cat"), "n2": NONE, "n3": None}


def test_fpr_at_tpr():
    in_scores = np.linspace(0.5, 1.0, 100)
    assert fpr_at_tpr(in_scores, np.zeros(50)) == 0.0
    assert fpr_at_tpr(in_scores, np.ones(50)) == 1.0


def test_missing_and_bad_archive_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.tar.gz"):
        load_tinyimagenet(tmp_path / "nowhere.tar.gz")
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not an archive")
    with pytest.raises(TinyImageNetError, match="bad.tar.gz"):
        load_tinyimagenet(bad)
    with pytest.raises(ValueError, match="'test'"):
        load_tinyimagenet(bad, "test")


@pytest.mark.slow
def test_shipped_models_on_real_photos(cifar_path, tiny_path):
    reports = {report.model.rsplit("/", 1)[-1]: report for report in evaluate_real_photos(cifar_path, tiny_path)}
    assert set(reports) == set(FLOORS)
    for name, report in reports.items():
        assert report.n_mapped == 1050 and report.n_none == 8800 and report.n_cifar == 10000
        assert set(report.per_class) == {"automobile", "bird", "cat", "dog", "frog", "ship", "truck"}
        for key, floor in FLOORS[name].items():
            assert getattr(report, key) >= floor, (name, key, getattr(report, key))
        for key, ceiling in CEILINGS[name].items():
            assert getattr(report, key) <= ceiling, (name, key, getattr(report, key))
    assert reports["classifier_int8.tflite"].called_background is None
