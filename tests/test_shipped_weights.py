"""The bundles shipped in weights/: they load, their model.json says what they contain, and each still
scores what its model.json claims on its held-out groups of the real data."""
from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from har_core.config import PROJECT_DIR
from har_core.models.bundle import MODEL_FILE, load_bundle, read_meta

WEIGHTS = PROJECT_DIR / "weights"
FOUR = ["HorseRace", "PizzaTossing", "PlayingPiano", "PlayingViolin"]
PAPER_FAITHFUL = {"lrcn": 73_060, "convlstm": 44_524}  # the paper's parameter counts for four classes
SHIPPED = sorted(p.name for p in WEIGHTS.iterdir() if (p / MODEL_FILE).is_file()) if WEIGHTS.is_dir() else []


def test_both_paper_architectures_are_shipped() -> None:
    assert {"lrcn", "convlstm"} <= set(SHIPPED)
    for name, params in PAPER_FAITHFUL.items():
        meta = read_meta(WEIGHTS / name)
        assert meta["architecture"] == name and meta["parameters"] == params


@pytest.mark.parametrize("name", SHIPPED)
def test_bundle_loads_and_model_json_agrees_with_it(name: str) -> None:
    from har_core.models.builders import build

    bundle = load_bundle(WEIGHTS / name)
    meta = bundle.meta
    assert set(FOUR) <= set(bundle.classes) and (bundle.classes == FOUR or meta.get("backbone"))
    outputs = len(bundle.classes) + bool((meta.get("open_set") or {}).get("other_output"))
    assert meta["parameters"] == bundle.model.count_params() == build(meta["architecture"], outputs).count_params()
    assert (WEIGHTS / name / MODEL_FILE).stat().st_size < (25 if meta.get("backbone") else 2) * 2**20
    assert meta["training"]["command"].startswith("python -m har_core train ")
    assert f"--out weights/{name}" in meta["training"]["command"]


@pytest.mark.parametrize("name", SHIPPED)
def test_metrics_name_their_protocol_and_never_saw_their_test_groups(name: str) -> None:
    meta = read_meta(WEIGHTS / name)
    test = meta["metrics"]["test"]
    held = set(test["held_out_groups"])
    assert held and held == set(meta["split"]["test_groups"])
    assert not held & (set(meta["split"]["train_groups"]) | set(meta["split"]["val_groups"]))
    assert all(g in test["protocol"] for g in held)
    assert 0 < test["n"]
    assert sum(map(sum, test["confusion"])) == test["n"]
    assert test["accuracy"] == pytest.approx(sum(row[i] for i, row in enumerate(test["confusion"])) / test["n"])
    cv = meta["metrics"]["crossval"]
    assert cv["k"] == len(cv["accuracies"]) == len(cv["folds"]) >= 2
    assert cv["mean"] == pytest.approx(statistics.mean(cv["accuracies"]), abs=1e-3)
    assert cv["std"] == pytest.approx(statistics.stdev(cv["accuracies"]), abs=1e-3)
    assert "fold over groups" in cv["protocol"] and cv["command"].startswith("python -m har_core crossval ")
    tested = sorted(g for f in cv["folds"] for g in f["test_groups"])
    assert len(tested) == len(set(tested)), "a group was tested in two folds"
    if "per_class" in cv:  # each clip tested once: the pooled confusion holds every clip of the data once
        confusion = cv["confusion"]
        assert sum(f["n"] for f in cv["folds"]) == sum(map(sum, confusion))
        # its diagonal is the folds' right answers, and each class's recall is its row's
        assert sum(row[i] for i, row in enumerate(confusion)) == sum(round(f["accuracy"] * f["n"]) for f in cv["folds"])
        assert cv["per_class"] == {c: {"recall": pytest.approx(row[i] / sum(row)), "support": sum(row)}
                                   for i, (c, row) in enumerate(zip(meta["classes"], confusion))}


@pytest.mark.realdata
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_reproduces_its_test_accuracy_on_held_out_groups(name: str, shared_data: Path) -> None:
    from har_core.datasets.dataset import extract, scan
    from har_core.learning.training import evaluate

    bundle = load_bundle(WEIGHTS / name)
    test, data = bundle.meta["metrics"]["test"], bundle.meta["data"]
    roots = [shared_data.parent / Path(root).name for root in data.get("roots") or [data["root"]]]
    clips = [c for c in scan(roots).select(bundle.classes).clips if c.group in test["held_out_groups"]]
    ex = extract(clips, size=bundle.sampler.image_size)
    assert len(ex.clips) == test["n"]
    ev = evaluate(bundle.model, ex.paths, [bundle.classes.index(c.label) for c in ex.clips], bundle.classes)
    assert ev.accuracy >= 0.6, f"{name} no longer recognises clips from groups it never saw"
    assert abs(ev.accuracy - test["accuracy"]) * ev.n <= 2, "model.json's test accuracy is not what these weights give"


def _figures(meta: dict) -> list[str]:
    """The test accuracy and the k-fold mean ± std as the app writes them."""
    from har_core.models.report import percent

    test, cv = meta["metrics"]["test"], meta["metrics"]["crossval"]
    return [percent(test["accuracy"]), percent(cv["mean"], cv["std"])]


@pytest.mark.parametrize("name", SHIPPED)
def test_readmes_and_home_page_show_the_numbers_in_model_json(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    figures = _figures(read_meta(WEIGHTS / name))
    for readme, marker in ((PROJECT_DIR / "README.md", f"`weights/{name}`"), (WEIGHTS / "README.md", f"`{name}`")):
        rows = [line for line in readme.read_text().splitlines() if line.startswith(f"| {marker}")]
        assert len(rows) == 1, f"{readme.name} needs one table row for {marker}"
        assert all(f in rows[0] for f in figures), f"{readme.name} disagrees with {name}/model.json: {figures}"
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(WEIGHTS))
    at = AppTest.from_file(str(PROJECT_DIR / "app.py"), default_timeout=60).run()
    row = next(r for r in at.dataframe[0].value.to_dict("records") if r["model"] == name)
    assert [row["test groups"], row["k-fold over groups"]] == figures, f"Home's comparison disagrees for {name}"


@pytest.mark.slow
def test_the_default_model_calls_still_scenes_no_known_activity(tmp_path: Path) -> None:
    """15 clips of photographs under a moving virtual camera, a class the default never learnt: 14 measured."""
    from benchmarks.stills import write
    from har_core.cli import cmd_evaluate, parser
    from har_core.models.registry import default_bundle

    write(tmp_path)
    model = default_bundle(WEIGHTS)
    assert len(read_meta(model)["classes"]) == 11
    result = cmd_evaluate(parser().parse_args(["evaluate", str(tmp_path), "--model", str(model)]))
    assert "accuracy" not in result and result["unknown_rejected"] >= 13 / 15
