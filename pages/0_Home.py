"""HAR Studio's front door: try a clip in one click, then the models side by side, then the rest of the app."""
from __future__ import annotations

import streamlit as st

from har_core.config import settings
from har_core.datasets import sources
from har_core.datasets.augment import AUGMENT_LABELS, recorded
from har_core.errors import HarError
from har_core.media.examples import Example, examples
from har_core.models import report
from har_core.models.architectures import ARCHITECTURES
from har_core.models.registry import ranked
from studio import ui

ui.page_setup("Home", ":material/home:")
cfg = settings()

st.title(":material/directions_run: HAR Studio")
st.markdown("Recognise human activities in video: the label is drawn on every frame, and a video of none of "
            "the model's activities is called **no known activity**. Try it on a clip, your own video, a link "
            "or your webcam.")


def go_predict(source: str, example: Example | None = None) -> None:
    """Open Predict with `source` chosen (and, for an example, the clip chosen and recognised at once)."""
    st.session_state["predict_source"] = source
    if example is not None:
        st.session_state["predict_example"] = example.path.name
        st.session_state["predict_autorun"] = True
    st.switch_page("pages/3_Predict.py")


listings = ui.registry().listings()
usable = ranked(listings)
weak = report.weak_classes(usable[0].meta) if usable else {}  # the default model's, from its k-fold

st.subheader("Try it")
clips = examples()
if clips:
    st.caption("Example clips from groups the default model never trained on: click one to see what it says. "
               f"Where the k-fold over groups recalled a class less than {report.WEAK_RECALL:.0%} of the time, its "
               "clip says so.")
    per_row = 6
    for start in range(0, len(clips), per_row):
        cols = st.columns(per_row)
        for col, clip in zip(cols, clips[start:start + per_row]):
            with col:
                try:
                    st.image(ui.thumbnail(str(clip.path), clip.label, clip.path.stat().st_mtime), width="stretch")
                except HarError as exc:
                    st.warning(str(exc))
                    continue
                if st.button("Recognise", key=f"try_{clip.path.stem}", icon=":material/play_arrow:",
                             help=f"{clip.title}: open Predict with this clip", width="stretch"):
                    go_predict("Example clip", clip)
                if clip.label in weak:
                    st.caption(weak[clip.label])
else:
    st.info("No example clips in this installation (the `examples/` folder is missing).", icon=":material/inbox:")
own, link, cam = st.columns(3)
if own.button("Upload a video", icon=":material/upload:", width="stretch"):
    go_predict("Upload")
if link.button("Paste a video link", icon=":material/language:", width="stretch"):
    go_predict("Video link")
if cam.button("Open the webcam", icon=":material/videocam:", width="stretch"):
    st.switch_page("pages/4_Webcam.py")

st.subheader("Models")
for broken in (b for b in listings if b.error is not None):
    st.error(f"Model folder {broken.name!r} is not usable: {broken.error}", icon=":material/error:")
if not usable:
    st.info(f"**No trained models yet.** Train one on the Train page, or put a model bundle "
            f"(a folder with `model.json` and its model files) into `{cfg.weights_dir}`.", icon=":material/psychology:")
else:
    st.caption("The first is the default everywhere: of the models measured at 90% or better, the one that knows "
               "the most activities. Every figure comes with its protocol under *Details*.")
    st.dataframe(report.comparison_rows([b.meta for b in usable], [b.name for b in usable]), hide_index=True,
                 width="stretch")
for listing in usable:
    meta = listing.meta
    with st.expander(f"Details: {listing.name}"):
        st.markdown("Activities: " + " ".join(f"`{c}`" for c in meta["classes"]))
        augment = recorded(meta)
        if meta.get("backbone"):
            arch = ARCHITECTURES.get(str(meta.get("architecture")))
            st.caption(f"{arch.title if arch else meta['backbone']['name']}: the ImageNet network is frozen and "
                       f"reads {meta['backbone']['image_size']} px frames; only the head was trained")
        elif augment:
            st.caption(f"Training augmentation: {AUGMENT_LABELS.get(augment, augment)}")
        measured = report.open_set_figures(meta)
        if "unknown_rejected" in measured:
            st.caption(f"No known activity: {measured['known_accepted']:.1%} of {measured['n_known']} known clips "
                       f"accepted, {measured['unknown_rejected']:.1%} of {measured['n_unknown']} clips of other "
                       f"activities rejected, AUROC {measured['auroc']:.3f} — {measured['protocol']}")
        rows = report.metric_rows(meta)
        if rows:
            st.table(rows, hide_index=True)  # static: a long protocol wraps instead of pushing the table sideways
            recalls = report.recall_line(meta)
            if recalls:
                st.caption(recalls)
        else:
            st.caption("No measured accuracy recorded for this model.")

st.subheader("This installation")
left, right = st.columns(2)
device, _, detail = ui.device_label().partition(" (")
left.metric("Predictions run on", device)
if detail:
    left.caption(detail.rstrip(")"))
try:
    index = sources.dataset()
    right.metric("Dataset", f"{len(index.clips)} clips · {len(index.classes)} classes")
    right.caption("from " + ", ".join(f"`{d}`" for d in cfg.data_dirs))
except HarError as exc:
    right.metric("Dataset", "not found")
    right.caption(f"{exc}. The Dataset page explains how to get UCF50; the example clips above need none.")

cols = st.columns(len(ui.PAGES) - 1)
for col, (path, label, icon, blurb) in zip(cols, ui.PAGES[1:]):
    with col.container(border=True, height="stretch"):  # one height for the row, whatever the blurb's length
        st.page_link(path, label=label, icon=icon)
        st.caption(blurb)
