"""What a model measured, in words and table rows that always carry their protocol: the one place that formats
model.json's metrics, for the pages, the command line and the READMEs alike (no Streamlit here). Also what a
prediction's confidence averages: one video gets three different figures (one clip over the whole video, the
mean of its sliding windows, each moment's last few windows), so each is worded here, once, with what it is."""
from __future__ import annotations

from typing import Any

from .registry import accuracy_of

# Order in which model.json metrics are shown; unknown keys follow.
_METRIC_ORDER = ("test", "crossval", "validation")
WEAK_RECALL = 0.90  # a class recalled less often than this in k-fold gets a note where its clips are offered


def format_metric(name: str, entry: dict[str, Any]) -> str:
    """One line: '87.5% test accuracy on 40 clips — <protocol>'. Never a number without its protocol."""
    acc = accuracy_of(entry)
    head = percent(acc, entry.get("std"))
    what = f"{name} accuracy"
    n = entry.get("n")
    if isinstance(n, int):
        what += f" on {n} clips"
    elif isinstance(entry.get("k"), int):
        what += f" over {entry['k']} folds"
    protocol = entry.get("protocol") or "protocol not recorded"
    held = entry.get("held_out_groups")
    if held and isinstance(held, list) and not str(protocol).count(str(held[0])):
        protocol = f"{protocol} (held out: {', '.join(map(str, held))})"
    return f"{head} {what} — {protocol}"


def percent(acc: float | None, std: Any = None) -> str:
    """'72.0%', or '72.0% ± 13.5' for a k-fold mean with its spread over folds."""
    if acc is None:
        return "n/a"
    return f"{acc * 100:.1f}%" + (f" ± {std * 100:.1f}" if isinstance(std, (int, float)) else "")


def metric_rows(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for a table of a bundle's metrics: which, accuracy, clips, held-out groups, protocol."""
    metrics = meta.get("metrics") or {}
    names = [k for k in _METRIC_ORDER if k in metrics] + [k for k in metrics if k not in _METRIC_ORDER]
    rows = []
    for name in names:
        entry = metrics[name]
        if not isinstance(entry, dict):
            continue
        acc = accuracy_of(entry)
        clips, held = _held_out(entry)
        rows.append({
            "metric": name,
            "accuracy": percent(acc, entry.get("std")),
            "clips": clips,
            "held-out groups": held,
            "protocol": entry.get("protocol") or "not recorded",
        })
    return rows


def open_set_figures(meta: dict[str, Any]) -> dict[str, Any]:
    """The 'no known activity' rates a bundle records: k-fold when measured, else its test groups' ({} if none)."""
    open_set = meta.get("open_set") or {}
    return open_set.get("crossval") or open_set.get("test") or {}


def comparison_rows(metas: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """One short row per model for Home's comparison (protocols are in each model's details)."""
    rows = []
    for name, meta in zip(names, metas):
        metrics = meta.get("metrics") or {}
        cv, test = metrics.get("crossval") or {}, metrics.get("test") or {}
        measured = open_set_figures(meta)
        rows.append({
            "model": name,
            "activities": len(meta.get("classes") or []),
            "k-fold over groups": percent(accuracy_of(cv), cv.get("std")) if cv else "not measured",
            "test groups": percent(accuracy_of(test)) if test else "not measured",
            "other activities rejected": (f"{measured['unknown_rejected']:.1%}" if "unknown_rejected" in measured
                                          else "not measured"),
        })
    return rows


def recall_line(meta: dict[str, Any]) -> str | None:
    """Each class's recall over the k folds, best first: where a model is weak (None when not recorded)."""
    cv = (meta.get("metrics") or {}).get("crossval") or {}
    per_class = cv.get("per_class") or {}
    if not per_class:
        return None
    ranked = sorted(per_class.items(), key=lambda kv: -kv[1]["recall"])
    return (f"Recall per class, {cv.get('k', '?')}-fold over groups: "
            + ", ".join(f"{c} {v['recall']:.0%}" for c, v in ranked))


def weak_classes(meta: dict[str, Any], below: float = WEAK_RECALL) -> dict[str, str]:
    """A note for each class the k-fold found weak (recall under `below`), for whoever tries a clip of it, e.g.
    CricketBowling: '52% recall in k-fold, mostly taken for CricketShot (9 of 11 misses)'. Empty when the bundle
    records no k-fold recall per class."""
    cv = (meta.get("metrics") or {}).get("crossval") or {}
    classes = list(meta.get("classes") or [])
    confusion = cv.get("confusion") or []
    notes = {}
    for name, entry in (cv.get("per_class") or {}).items():
        if entry["recall"] >= below:
            continue
        notes[name] = f"{entry['recall']:.0%} recall in k-fold"
        if name in classes and len(confusion) == len(classes):
            i = classes.index(name)
            row = confusion[i]
            misses = sum(row) - row[i]
            j = max((j for j in range(len(row)) if j != i), key=row.__getitem__)
            if row[j]:
                often = "mostly" if 2 * row[j] > misses else "most often"
                notes[name] += f", {often} taken for {classes[j]} ({row[j]} of {misses} misses)"
    return notes


def clip_basis(frames: int) -> str:
    """What `classify`'s confidence reads: one clip sampled over the whole video."""
    return f"one clip of {frames} frames spread over the whole video"


def video_basis(full_windows: int, window_seconds: float) -> str:
    """What `annotate`'s and the Predict page's confidence averages: the sliding windows that span their full
    length (a video's first seconds are left out: those windows repeat the little they have seen), or for a
    video shorter than one window, that one window over all of it."""
    if full_windows == 0:
        return f"one window over the whole video (shorter than the model's {window_seconds:g} s)"
    return f"the mean of {full_windows} sliding window{'s' if full_windows != 1 else ''} of {window_seconds:g} s"


def moment_basis(smooth: int) -> str:
    """What the label drawn on a video, or on the webcam's frames, averages at each moment."""
    return f"the mean of the last {smooth} window{'s' if smooth != 1 else ''}"


def _held_out(entry: dict[str, Any]) -> tuple[int | None, str]:
    """How many clips a metric was measured on, and on which groups. A k-fold run records them per fold:
    each group is held out by one fold, so its clips add up over the folds."""
    folds = [f for f in entry.get("folds") or [] if isinstance(f, dict)]
    if folds:
        groups = sorted({str(g) for f in folds for g in f.get("test_groups") or []})
        clips = sum(f["n"] for f in folds if isinstance(f.get("n"), int))
        return clips or None, f"each of {_group_list(groups)} by one of {len(folds)} folds" if groups else ""
    held = entry.get("held_out_groups")
    return entry.get("n"), ", ".join(map(str, held)) if isinstance(held, list) else ""


def _group_list(groups: list[str]) -> str:
    """'g01–g23' for an unbroken run of UCF50 groups, else the groups one by one."""
    numbers = [int(g[1:]) for g in groups if g[:1] == "g" and g[1:].isdigit()]
    if len(groups) > 2 and numbers == list(range(numbers[0], numbers[0] + len(groups))):
        return f"{groups[0]}–{groups[-1]}"
    return ", ".join(groups)


def _headline(meta: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The most telling metric of a bundle: test, else cross-validation, else validation, else any."""
    metrics = meta.get("metrics") or {}
    names = [k for k in _METRIC_ORDER if k in metrics] + [k for k in metrics if k not in _METRIC_ORDER]
    for name in names:
        if isinstance(metrics[name], dict) and accuracy_of(metrics[name]) is not None:
            return name, metrics[name]
    return None


def headline_metric(meta: dict[str, Any]) -> str | None:
    """The most telling metric of a bundle as one line, with its protocol."""
    found = _headline(meta)
    return format_metric(*found) if found else None


def headline_short(meta: dict[str, Any]) -> str | None:
    """The same metric in a few characters for a table cell, e.g. '72.6% test' or '95.0% ± 1.8 k-fold'."""
    found = _headline(meta)
    if found is None:
        return None
    name, entry = found
    return f"{percent(accuracy_of(entry), entry.get('std'))} {'k-fold' if name == 'crossval' else name}"


def _crossval(meta: dict[str, Any]) -> dict[str, Any] | None:
    """A bundle's k-fold entry, where one with a measured mean was recorded."""
    entry = (meta.get("metrics") or {}).get("crossval")
    return entry if isinstance(entry, dict) and accuracy_of(entry) is not None else None


def measured_lines(meta: dict[str, Any]) -> list[str]:
    """The headline metric and, since the menu ranks by it, the k-fold mean too: each line with its protocol."""
    found = _headline(meta)
    if found is None:
        return []
    lines = [format_metric(*found)]
    crossval = _crossval(meta)
    if found[0] != "crossval" and crossval is not None:
        lines.append(format_metric("k-fold", crossval))
    return lines
