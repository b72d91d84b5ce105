"""HAR Studio home: what the app does, the available models with their measured accuracy, device, data."""
from __future__ import annotations

import streamlit as st

from har_core import ui
from har_core.architectures import ARCHITECTURES
from har_core.augment import AUGMENT_LABELS, recorded
from har_core.config import PROJECT_DIR, settings
from har_core.dataset import scan
from har_core.errors import HarError
from har_core.registry import preference

ui.page_setup("Home", ":material/directions_run:")

st.title(":material/directions_run: HAR Studio")
st.markdown(
    "Recognise human activities in video. The default model reads every frame with a frozen ImageNet CNN "
    "(EfficientNet-Lite2), knows eleven activities (four UCF50 and seven UCF101 classes) and says **no known "
    "activity** when a video shows none of them; beside it are the two networks of the paper *Human Activity "
    "Recognition Using CNN and LSTM Methods*, **LRCN** (a CNN per frame, then an LSTM) and **ConvLSTM**, trained "
    "from scratch. Browse the dataset, train a model, and classify an uploaded video, a video link or your "
    "webcam live."
)

cfg = settings()
left, right = st.columns(2)
device, _, detail = ui.device_label().partition(" (")
left.metric("Predictions run on", device)
if detail:
    left.caption(detail.rstrip(")"))
try:
    index = scan(cfg.data_dirs)
    right.metric("Dataset", f"{len(index.clips)} clips · {len(index.classes)} classes")
    right.caption("from " + ", ".join(f"`{d}`" for d in cfg.data_dirs))
except HarError as exc:
    right.metric("Dataset", "not found")
    right.caption(f"{exc}. The Dataset page explains how to get UCF50.")

st.subheader("Models")
listings = ui.registry().listings()
if not listings:
    st.info(f"**No trained models yet.** Train one on the Train page, or put a model bundle "
            f"(`model.keras` + `model.json`) into `{cfg.weights_dir}`.", icon=":material/psychology:")
for listing in sorted(listings, key=lambda b: preference(b.meta or {}), reverse=True):  # the default first
    with st.container(border=True):
        if listing.meta is None:
            st.markdown(f"**{listing.name}** — not usable")
            st.error(listing.error, icon=":material/error:")
            continue
        meta = listing.meta
        st.markdown(f"**{listing.name}** · {str(meta.get('architecture', '?')).upper()} · "
                    f"{meta.get('parameters', '?'):,} parameters" if isinstance(meta.get("parameters"), int)
                    else f"**{listing.name}** · {str(meta.get('architecture', '?')).upper()}")
        st.markdown("Classes: " + " ".join(f"`{c}`" for c in meta["classes"]))
        augment = recorded(meta)
        if meta.get("backbone"):
            arch = ARCHITECTURES.get(str(meta.get("architecture")))
            st.caption(f"{arch.title if arch else meta['backbone']['name']}: the ImageNet network is frozen and "
                       f"reads {meta['backbone']['image_size']} px frames; only the head was trained")
        elif augment:
            st.caption(f"Training augmentation: {AUGMENT_LABELS.get(augment, augment)}")
        open_set = meta.get("open_set") or {}
        measured = open_set.get("crossval") or open_set.get("test") or {}
        if "unknown_rejected" in measured:
            st.caption(f"No known activity: {measured['known_accepted']:.1%} of {measured['n_known']} known clips "
                       f"accepted, {measured['unknown_rejected']:.1%} of {measured['n_unknown']} clips of other "
                       f"activities rejected, AUROC {measured['auroc']:.3f} — {measured['protocol']}")
        rows = ui.metric_rows(meta)
        if rows:
            st.dataframe(rows, hide_index=True, width="stretch")
            recalls = ui.recall_line(meta)
            if recalls:
                st.caption(recalls)
        else:
            st.caption("No measured accuracy recorded for this model.")

st.subheader("Pages")
present = [p for p in ui.PAGES if (PROJECT_DIR / p[0]).is_file()]
cols = st.columns(max(1, len(present)))
for col, (path, label, icon, blurb) in zip(cols, present):
    with col.container(border=True):
        st.page_link(path, label=label, icon=icon)
        st.caption(blurb)
