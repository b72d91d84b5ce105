"""Train page: train ConvLSTM or LRCN in the background with live curves, split by UCF50 groups, save a
bundle under a name the user picks, and compare the saved models side by side.

Training runs in the process-wide `TrainingJobs` (st.cache_resource): it survives reruns and page
switches, one job at a time, and every visitor sees the same progress, polled by a fragment.
"""
from __future__ import annotations

import time
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from har_core.config import settings
from har_core.datasets.augment import AUGMENT_LABELS, recorded
from har_core.datasets.dataset import scan
from har_core.errors import HarError
from har_core.learning.jobs import CANCELLED, FAILED, JobStatus, TrainingJobs, TrainRequest
from har_core.learning.trainconfig import TrainConfig
from har_core.models import report
from har_core.models.registry import ranked
from studio import ui

ui.page_setup("Train", ":material/model_training:")
POLL_SECONDS = 1.0  # while a job runs
IDLE_POLL_SECONDS = 5.0  # otherwise, to notice a job another visitor starts
SPEED_BATCH = 8
MIN_DEFAULT_CLIPS = 20


@st.cache_resource(show_spinner=False)
def training_jobs(weights_dir: str) -> TrainingJobs:
    """The one job runner of this server process for this weights folder."""
    return TrainingJobs(weights_dir)


@st.cache_data(ttl=30, show_spinner="Scanning the dataset…")
def dataset_summary(roots: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Per class: clips and the sorted list of its groups (cheap: a directory listing)."""
    index = scan(roots)
    return {label: {"clips": len(clips), "groups": sorted({c.group for c in clips})}
            for label, clips in index.by_class().items()}


def curves(history: list[dict[str, float]]) -> tuple[go.Figure, go.Figure]:
    """Loss and accuracy per epoch, training and validation."""
    epochs = [h["epoch"] for h in history]
    figs = []
    for metric, title in (("loss", "Loss"), ("accuracy", "Accuracy")):
        fig = go.Figure()
        for key, name in ((metric, "training"), (f"val_{metric}", "validation")):
            fig.add_trace(go.Scatter(x=epochs, y=[h.get(key) for h in history], mode="lines+markers", name=name))
        fig.update_layout(title=title, xaxis_title="epoch", height=300, margin=dict(l=10, r=10, t=40, b=10),
                          xaxis=dict(rangemode="tozero"), legend=dict(orientation="h", y=-0.25))
        figs.append(fig)
    return figs[0], figs[1]


def show_curves(status: JobStatus) -> None:
    loss, acc = curves(status.history)
    left, right = st.columns(2)
    left.plotly_chart(loss, key="train_loss_chart")
    right.plotly_chart(acc, key="train_acc_chart")


def show_result(status: JobStatus) -> None:
    """The end of a job: where the bundle is, accuracy on held-out groups with its protocol, confusion."""
    req = status.request
    if status.state == FAILED:
        st.error(f"Training {req.name!r} failed: {status.error}. No bundle was written.",
                 icon=":material/error:")
        return
    if status.state == CANCELLED:
        st.warning(f"Training {req.name!r} was cancelled: {status.error}. No bundle was written.",
                   icon=":material/stop_circle:")
        return
    meta = status.meta or {}
    training = meta.get("training", {})
    st.success(f"Saved model **{req.name}** ({req.config.arch.upper()}) to `{status.bundle}` — "
               f"{training.get('epochs_run', '?')} epochs in {training.get('seconds', 0):.0f} s, "
               f"best weights from epoch {training.get('best_epoch', '?')}.", icon=":material/check_circle:")
    if training.get("cancelled"):
        st.info(f"Cancelled after epoch {training.get('epochs_run')}: the best weights so far were kept.")
    elif training.get("stopped_early"):
        st.caption(f"Stopped early: validation loss did not improve for {training.get('patience')} epochs.")
    for name, entry in (meta.get("metrics") or {}).items():
        st.markdown(f"**{report.format_metric(name, entry)}**")
    test = (meta.get("metrics") or {}).get("test")
    if test and test.get("confusion"):
        st.plotly_chart(ui.confusion_figure(test["confusion"], meta["classes"]), key="train_confusion")
        st.dataframe([{"class": c, **{k: round(v, 3) if isinstance(v, float) else v for k, v in m.items()}}
                      for c, m in test.get("per_class", {}).items()], hide_index=True)
    else:
        st.caption("No test groups were held out, so only the validation accuracy exists; it steered early "
                   "stopping, so it is optimistic.")


jobs = training_jobs(str(settings().weights_dir))
st.title(":material/model_training: Train")
st.caption("A head on frozen ImageNet frame features (seconds to train), or the paper's ConvLSTM and LRCN from scratch; "
           "always split by UCF50 groups, so no source video is on both sides.")

interrupted = jobs.interrupted()
if interrupted is not None:
    req = interrupted.request
    written = (jobs.registry.root / req.name / "model.json").is_file()
    intact = [b.name for b in ui.registry().usable()]
    st.warning(
        f"The last training ({req.name}, {req.config.arch.upper()}, started at {interrupted.started_at}) was "
        f"interrupted at epoch {interrupted.epoch} of {interrupted.epochs} (the server stopped). "
        + (f"A bundle {req.name!r} exists from before. " if written else "No bundle was written; ")
        + (f"existing bundles are intact: {', '.join(intact)}." if intact else "there were no other bundles."),
        icon=":material/warning:")


def suggest_name(arch: str, jobs: TrainingJobs) -> None:
    """Fill in '<arch>-<time>' unless the user typed a name; refresh it when the arch changes or it got taken."""
    auto, name = st.session_state.get("_train_auto"), st.session_state.get("train_name")
    if name is None or (name == auto and (not name.startswith(f"{arch}-") or (jobs.registry.root / name).exists())):
        auto = f"{arch}-{time.strftime('%Y%m%d-%H%M%S')}"
        st.session_state["_train_auto"] = st.session_state["train_name"] = auto


def start_form(jobs: TrainingJobs) -> None:
    """The settings of a new training; starting validates everything before any work is done."""
    from har_core.models.architectures import DEFAULT_ARCH, TRAINABLE

    s = settings()
    folders = st.text_area("Dataset folders, one per line (UCF50 layout: <folder>/<Class>/v_<Class>_gNN_cMM.avi)",
                           value="\n".join(map(str, s.data_dirs)), key="train_data_dir", height=80,
                           help="A class found in several folders is one class.")
    roots = [line.strip() for line in folders.splitlines() if line.strip()]
    try:
        summary = dataset_summary(tuple(roots))
    except HarError as exc:
        st.error(f"{exc}. Point to a folder of class subfolders with videos.", icon=":material/folder_off:")
        return
    names = list(summary)
    # Classes with enough clips to hold whole groups out (the eleven of the shipped default on the shared data)
    default = [c for c in names if summary[c]["clips"] >= MIN_DEFAULT_CLIPS] or names
    classes = st.multiselect(
        "Classes", names, default=sorted(default), key="train_classes",
        format_func=lambda c: f"{c} ({summary[c]['clips']} clips, {len(summary[c]['groups'])} groups)")
    names_ = list(TRAINABLE)
    arch = st.selectbox("Architecture", names_, index=names_.index(DEFAULT_ARCH), key="train_arch",
                        format_func=lambda a: f"{a}: {TRAINABLE[a].title}")
    rec = TRAINABLE[arch]
    epochs = batch_size = patience = None
    augment, outlier_dirs = "none", None
    if rec.backbone and rec.head == "mean":
        st.caption(f"Frames go through the frozen ImageNet {rec.backbone} once and are cached; the head is a "
                   "logistic regression fitted in one step (no epochs): seconds once the frames are encoded.")
    else:
        c2, c3, c4 = st.columns(3)
        epochs = int(c2.number_input("Max epochs", 1, 500, min(rec.epochs, 100), key=f"train_epochs_{arch}"))
        batch_size = int(c3.number_input("Batch size", 1, 64, rec.batch_size, key=f"train_batch_{arch}"))
        patience = int(c4.number_input("Early-stopping patience", 1, 200, rec.patience, key=f"patience_{arch}",
                                       help="Default: the architecture's (the paper's for its two networks)"))
    a1, a2 = st.columns([3, 1])
    if rec.backbone:
        others = [c for c in names if c not in classes]
        if a1.checkbox("Learn 'no known activity' from the other classes of these folders", value=bool(others),
                       key="train_outliers", disabled=not others,
                       help="Clips of the classes not chosen above teach the model an 'other' answer, so that "
                       "videos of none of its activities are called 'no known activity'."):
            outlier_dirs = roots
    else:
        augment = a1.selectbox("Training augmentation", list(AUGMENT_LABELS), format_func=AUGMENT_LABELS.get,
                               key="train_augment", help="Varies the training clips each epoch; validation and "
                               "test clips are never augmented.")
    image_size = a2.selectbox("Frame size (pixels)", list(rec.sizes), key=f"train_size_{arch}",
                              help=f"{rec.image_size} is the architecture's default. Larger frames show more "
                              "detail and cost more time per frame.")
    groups = sorted({g for c in classes for g in summary[c]["groups"]})
    protocol = st.radio("Held-out groups", ["random", "explicit"], horizontal=True, key="train_protocol",
                        format_func={"random": "Random groups (seeded)", "explicit": "Choose groups"}.get)
    val_groups = test_groups = None
    seed, test_fraction = 27, 0.2
    if protocol == "random":
        r1, r2 = st.columns(2)
        seed = int(r1.number_input("Seed", 0, 10**6, 27, key="train_seed"))
        test_fraction = r2.slider("Share of groups held out for test", 0.0, 0.5, 0.2, 0.05, key="train_test_share",
                                  help="Validation takes another 15% of the groups (early stopping).")
    else:
        g1, g2 = st.columns(2)
        val_groups = g1.multiselect("Validation groups (early stopping)", groups, key="train_val_groups")
        test_groups = g2.multiselect("Test groups (the reported accuracy)", [g for g in groups if g not in val_groups],
                                     key="train_test_groups")
        if not val_groups:
            st.info("Choose at least one validation group.")
    suggest_name(arch, jobs)
    name = st.text_input("Model name (a folder under the weights folder; letters, digits, _ - .)", key="train_name")
    running = jobs.running()
    blocked = running or (protocol == "explicit" and not val_groups)
    if st.button("Start training", type="primary", key="train_start", disabled=blocked):
        with ui.user_errors():
            if len(classes) < 2:
                raise HarError("choose at least two classes: a classifier needs two")
            config = TrainConfig(arch=arch, epochs=epochs, batch_size=batch_size, patience=patience, seed=seed,
                                 augment=augment, image_size=image_size)
            jobs.start(TrainRequest(name=name.strip(), data_dir=roots, config=config, classes=classes,
                                    val_groups=val_groups, test_groups=test_groups, test_fraction=test_fraction,
                                    outlier_dirs=outlier_dirs))
            st.rerun()
    if running:
        st.caption("A training job is running (below); a new one can start when it ends.")


def job_panel(jobs: TrainingJobs) -> None:
    """Progress of the current job, polled while it runs; its result when it has ended."""
    status = jobs.current()
    seen = st.session_state.get("_train_seen")
    now = (status.request.name, status.state) if status else None
    if seen is not None and now != seen:
        st.session_state["_train_seen"] = now
        st.rerun(scope="app")  # the form and the model table change when a job starts or ends
    st.session_state["_train_seen"] = now
    if status is None:
        st.caption("No training has run on this server since it started.")
        return
    req = status.request
    st.subheader(f"{req.name} · {req.config.arch.upper()} · {', '.join(req.classes or [])}")
    if status.running:
        if status.epoch:
            text = f"epoch {status.epoch}/{status.epochs} · batch {status.batch}/{status.batches}"
        else:  # extracting clips, or building the model and tracing TensorFlow before the first batch
            text = status.message + (f" {status.batch}/{status.batches}" if status.batches else " (first epoch)")
        if status.cancel_requested and status.epoch:
            text += " · cancelling after this batch"
        fraction = status.batch / status.batches if status.batches else 0.0
        st.progress(min(1.0, fraction), text=f"{text} · {status.elapsed:.0f} s")
        st.button("Cancel (keeps the best weights so far)", on_click=jobs.cancel,
                  disabled=status.cancel_requested, key="cancel_training")
    else:
        st.caption(f"Started {status.started_at}, ended {status.updated_at} ({status.state}).")
    if status.history:
        last = status.history[-1]
        st.caption(f"epoch {last['epoch']}/{status.epochs}: " + ", ".join(
            f"{k} {v:.3f}" for k, v in last.items() if k != "epoch"))
        show_curves(status)
    elif status.running:
        st.caption("The curves appear when the first epoch ends.")
    if not status.running:
        show_result(status)


def training_summary(training: dict[str, Any]) -> str:
    """'474 s, 14 epochs (best 4)': how long a model took to train and where its kept weights came from."""
    seconds = training.get("seconds")
    took = f"{seconds:.0f} s" if isinstance(seconds, (int, float)) else "? s"
    runs, best = training.get("epochs_run", "?"), training.get("best_epoch", "?")
    return f"{took}, {runs} epoch{'' if runs == 1 else 's'}" + ("" if runs == best == 1 else f" (best {best})")


def model_kind(meta: dict[str, Any]) -> str:
    """'CONVLSTM, augmentation: horizontal flips': what the table leaves out to fit the page."""
    augment = recorded(meta)
    arch = str(meta.get("architecture", "?")).upper()
    if not augment or meta.get("backbone"):  # a frozen backbone's head trains on cached features, never augmented
        return arch
    return f"{arch}, augmentation: {AUGMENT_LABELS.get(augment, augment)}"


def comparison() -> None:
    """Saved models side by side: accuracy with its protocol, parameters, training time, speed."""
    st.header("Saved models side by side")
    listings = ui.registry().listings()
    for b in listings:
        if b.error is not None:
            st.warning(f"Model folder {b.name!r} is skipped: {b.error}", icon=":material/warning:")
    usable = ranked(listings)  # as on Home and in the model menus: the default first
    if not usable:
        st.info(f"No saved models yet in `{settings().weights_dir}`. Train one above.", icon=":material/inbox:")
        return
    speeds: dict[str, dict[str, Any]] = st.session_state.setdefault("_train_speeds", {})
    rows = []
    for b in usable:
        meta = b.meta or {}
        training = meta.get("training") or {}
        speed = speeds.get(b.name)
        rows.append({
            "model": b.name,
            "classes": len(meta.get("classes", [])),
            "input": "{sequence_length} × {image_size} px".format(**meta["sampler"]),
            "accuracy": report.headline_short(meta) or "not measured",
            "parameters": meta.get("parameters"),
            "training": training_summary(training),
            "clips/s": round(speed["clips_per_s"], 1) if speed else None,
        })
    # Seven columns fit the page at 1280 px; the architecture, augmentation and protocols follow in words.
    st.dataframe(rows, hide_index=True, width="stretch", placeholder="—", column_config={
        "input": st.column_config.TextColumn(help="frames per clip × frame size"),
        "parameters": st.column_config.NumberColumn(format="localized"),
        "clips/s": st.column_config.NumberColumn(help=f"predict_on_batch on random batches of {SPEED_BATCH}: "
                                                      "press Measure inference speed below")})
    st.caption("  \n".join(f"**{b.name}** ({model_kind(b.meta or {})}): "
                           f"{report.headline_metric(b.meta or {}) or 'no measured accuracy'}" for b in usable))
    chosen = st.multiselect("Models to time", [b.name for b in usable], default=[b.name for b in usable][:4],
                            key="speed_models")
    if st.button("Measure inference speed", disabled=not chosen, key="speed_measure"):
        with ui.user_errors():
            bar = st.progress(0.0, text="timing…")
            for i, name in enumerate(chosen):
                bar.progress(i / len(chosen), text=f"timing {name}…")
                speeds[name] = ui.load_model(name).predictor.speed(SPEED_BATCH)
            bar.empty()
            st.rerun()
    if speeds:
        st.caption(f"Speed: clips per second of predict_on_batch on random batches of {SPEED_BATCH} on "
                   f"{ui.device_label(ui.load_model(chosen[0]) if chosen else None)}; the machine may be busy with other work, so compare within one run.")


if settings().allow_training:
    with st.expander("New training", expanded=jobs.current() is None):  # folded to show a job's progress
        start_form(jobs)
else:
    st.info("Training is turned off on this server (a hosted demo). Run HAR Studio yourself with "
            "`HAR_ALLOW_TRAINING=1` to train; the saved models can still be compared below.", icon=":material/lock:")

st.header("Current training")
poll = POLL_SECONDS if jobs.running() else IDLE_POLL_SECONDS if settings().allow_training else None
st.fragment(job_panel, run_every=poll)(jobs)
comparison()
