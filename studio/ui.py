"""Streamlit helpers shared by HAR Studio's pages: page setup, the cached model registry, model picker,
thumbnails and charts, device label, per-session folder, error display.

Page convention (for everyone writing a page): `app.py` is the entry point; it builds the menu with
st.navigation from `PAGES` (Home, Dataset, Train, Teach, Predict, Webcam, each a script in pages/, whose URL is its
file name without the number). Each page script starts with `ui.page_setup(title, icon)`
(it calls st.set_page_config, so it must be the first Streamlit call), and wraps work that can fail
because of user input in `with ui.user_errors():` so a HarError becomes one st.error line and the rest of
the page keeps working. Nothing here imports TensorFlow/Keras until a model is actually loaded.

Stable API: page_setup, registry, load_model, session_models, model_picker, model_label, model_meta, choose_next,
thumbnail, confusion_figure, device_label, session_folder, user_errors, PAGES. What a model measured, and what a
prediction's confidence averages, is worded by `har_core.models.report`.
"""
from __future__ import annotations

import contextlib
import ctypes
import sys
from pathlib import Path
from typing import Any, Iterator

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

# Importing pylibsrtp (aiortc's SRTP, behind the Webcam page) after TensorFlow crashes the process with
# SIGSEGV here (`import keras; import pylibsrtp`); the other order is fine. Every page imports this module
# before any model loads, so the server always loads it first. Where TensorFlow is already loaded (a test
# process) importing it now would be the crash itself, so it is left alone.
if "tensorflow" not in sys.modules:
    try:
        import pylibsrtp  # noqa: F401
    except ImportError:  # no streamlit-webrtc: nothing to protect
        pass

# glibc raises its mmap threshold every time a large block is freed (up to 32 MiB); from then on frame-sized
# buffers (a webcam frame, the model's activations) come from its heaps, which keep what they once held. A server
# kept 3-4 MiB of RSS per webcam visitor that way while its in-use memory stayed flat (benchmarks.soak).
# Pinned at glibc's default of 128 KiB, such blocks are mapped on their own and given back when freed.
if sys.platform.startswith("linux"):
    try:
        ctypes.CDLL("libc.so.6").mallopt(-3, 128 * 1024)  # -3: M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # not glibc (musl): its allocator has no such threshold
        pass

from har_core.config import settings
from har_core.errors import HarError
from har_core.media.uploads import SessionFolder, sweep_stale
from har_core.models.bundle import BundleListing, ModelBundle
from har_core.models.registry import ModelRegistry, ranked
from har_core.models.report import measured_lines

# (script path relative to app.py, title, icon, blurb): app.py's menu, Home's links, in this order.
PAGES: tuple[tuple[str, str, str, str], ...] = (
    ("pages/0_Home.py", "Home", ":material/home:", "Try a clip, compare the models."),
    ("pages/1_Dataset.py", "Dataset", ":material/video_library:", "Browse UCF50: sample frames, clips, class counts; download it."),
    ("pages/2_Train.py", "Train", ":material/model_training:", "Train a head on ImageNet frames in seconds, or ConvLSTM and LRCN with live curves; split by groups."),
    ("pages/5_Teach.py", "Teach", ":material/school:", "Teach your own activities from a few clips each, in seconds."),
    ("pages/3_Predict.py", "Predict", ":material/movie:", "Classify an upload, a video link or a dataset clip."),
    ("pages/4_Webcam.py", "Webcam", ":material/videocam:", "Live recognition from your camera, label drawn on every frame."),
)

# Streamlit starts a server in its old multipage mode when a pages/ folder sits beside app.py, until app.py has
# called st.navigation once: a fresh server whose first visitor followed a link to /Predict ran the page bare,
# with Streamlit's own menu (an 'app' entry, no icons), for every such visit until someone opened Home. This
# module is imported by every script before its first Streamlit call, so the mode is switched off here, once
# per process, and the run that found it on is run again (page_setup).
_STARTED_BARE = bool(PagesManager.uses_pages_directory)
PagesManager.uses_pages_directory = False

def page_setup(title: str, icon: str) -> None:
    """First call of every page: wide layout, title and icon in the browser tab; tidies stale scratch."""
    _leave_pages_directory_mode()
    st.set_page_config(page_title=f"{title} · HAR Studio", page_icon=icon, layout="wide")
    # A visitor of a hosted demo gets no "Deploy" button or developer menu (Streamlit's viewer toolbar).
    st.set_option("client.toolbarMode", "viewer" if settings().hosted else "auto")
    _sweep_once()
    _keep_keras_state()


def _leave_pages_directory_mode() -> None:
    """Run this process's first script again, through app.py, when it ran a page bare (see _STARTED_BARE)."""
    global _STARTED_BARE
    if _STARTED_BARE:
        _STARTED_BARE = False
        st.rerun()


def _keep_keras_state() -> None:
    """Stop Streamlit from calling keras.backend.clear_session() after every script run (its
    script_runner._clean_problem_modules). That call replaces Keras' global state for every thread, so a
    model the training thread is building gets duplicate layer names ("The name 'time_distributed' is used
    2 times") and another session's model can lose state mid-trace. Our models load once per process and
    are shared (registry), so there is nothing to clear."""
    from streamlit.runtime.scriptrunner import script_runner

    script_runner._clean_problem_modules = lambda: None


@st.cache_resource(show_spinner=False)
def _sweep_once() -> int:
    """Remove session folders left by crashed servers, once per process."""
    return sweep_stale()


@st.cache_resource(show_spinner=False)
def _registry(weights_dir: str) -> ModelRegistry:
    return ModelRegistry(weights_dir)


def registry() -> ModelRegistry:
    """The process-wide registry for the configured weights folder (models load once, shared by sessions)."""
    return _registry(str(settings().weights_dir))


def session_models() -> dict[str, Path]:
    """Models imported in this browser session only (a hosted server keeps visitors' imports out of weights/):
    name -> bundle folder inside the session's scratch folder."""
    return st.session_state.setdefault("_har_session_models", {})


def load_model(name: str) -> ModelBundle:
    """Load (or reuse) bundle `name`, with a spinner the first time; raises HarError for a bad bundle."""
    with st.spinner(f"Loading model {name} (TensorFlow starts the first time, a few seconds)…"):
        if name in session_models():
            from har_core.models.bundle import load_bundle

            loaded = st.session_state.setdefault("_har_session_bundles", {})
            if name not in loaded:
                loaded[name] = load_bundle(session_models()[name])
            return loaded[name]
        return registry().load(name)


def model_label(listing: BundleListing) -> str:
    """'lrcn — LRCN, 4 classes' for select boxes."""
    meta = listing.meta or {}
    arch = str(meta.get("architecture", "?")).upper()
    where = " (this session only)" if listing.name in session_models() else ""
    return f"{listing.name} — {arch}, {len(meta.get('classes', []))} classes{where}"


def model_picker(key: str = "model", label: str = "Model") -> str | None:
    """A model select box plus its classes and measured accuracy; returns the chosen bundle's name (load it
    with `load_model` when needed), or None after an empty state saying how to get or choose a model."""
    from har_core.models.bundle import read_meta

    listings = registry().listings() + [BundleListing(n, p, read_meta(p), None) for n, p in session_models().items()]
    usable = ranked(listings)
    for b in listings:
        if b.error is not None:
            st.warning(f"Model folder {b.name!r} is skipped: {b.error}", icon=":material/warning:")
    if not usable:
        st.info(
            f"**No trained models yet.** Train one on the Train page, or put a model bundle "
            f"(a folder with `model.json` and its model files) into `{settings().weights_dir}`.",
            icon=":material/psychology:")
        return None
    names = [b.name for b in usable]
    by_name = {b.name: b for b in usable}
    if f"_{key}_next" in st.session_state and st.session_state[f"_{key}_next"] in names:
        st.session_state[key] = st.session_state.pop(f"_{key}_next")  # chosen on another page (choose_next)
    chosen_before = st.session_state.get(key) in names  # e.g. a model just imported: keep it, no default
    # required: no × to clear the menu (the browser enforces it; a cleared value is still handled below)
    name = st.selectbox(label, names, index=None if chosen_before else 0, key=key, required=True,
                        format_func=lambda n: model_label(by_name[n]), placeholder="Choose a model",
                        help="Listed as on Home, the default first: of the models measured at 90% or better "
                             "(k-fold over groups, else test accuracy), the one that knows the most activities.")
    if name is None:
        st.info("**Choose a model** in the menu above to go on.", icon=":material/psychology:")
        return None
    meta = by_name[name].meta or {}
    measured = "  \n".join(f"Measured: {line}" for line in measured_lines(meta)) or "No measured accuracy recorded."
    st.caption(f"Classes: {', '.join(meta.get('classes', []))}  \n{measured}")
    return name


def model_meta(name: str) -> dict[str, Any]:
    """The model.json of bundle `name`, from weights/ or this session's imports (cheap: no model loads)."""
    from har_core.models.bundle import read_meta

    return read_meta(session_models().get(name) or registry().path_for(name))


def choose_next(name: str, *keys: str) -> None:
    """Make `name` the chosen model of the pickers `keys` the next time their page runs (a widget's state can
    only be set before it is drawn)."""
    for key in keys:
        st.session_state[f"_{key}_next"] = name


@st.cache_data(show_spinner=False, max_entries=512)
def thumbnail(path: str, title: str, mtime: float, width: int = 240) -> Any:
    """A clip's first frame with its title (browse.title_frame), cached per file version."""
    from har_core.datasets.browse import title_frame

    return title_frame(path, title, width)


def confusion_figure(confusion: list[list[int]], classes: list[str]) -> Any:
    """A confusion matrix heatmap, true classes down, predicted across, counts written in."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Heatmap(z=confusion, x=classes, y=classes, colorscale="Blues", text=confusion,
                               texttemplate="%{text}",
                               hovertemplate="true %{y}<br>predicted %{x}: %{z}<extra></extra>"))
    fig.update_layout(xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed", height=380,
                      margin=dict(l=10, r=10, t=30, b=10))
    return fig


def device_label(bundle: ModelBundle | None = None) -> str:
    """Where predictions run: the loaded `bundle`'s runtime and device, or, before any model is loaded, where
    they will run (runtime.device's choice; no framework is started to say it)."""
    from har_core.runtime.device import gpu_present, wanted_runtime
    from har_core.runtime.litert import threads

    if bundle is not None:
        return bundle.predictor.device
    if wanted_runtime() == "litert":
        return f"CPU (LiteRT, XNNPACK, {threads()} threads)"
    return "GPU (Keras; the device is named when a model loads)" if gpu_present() else "CPU (Keras)"


def session_folder() -> SessionFolder:
    """This browser session's scratch folder (uploads, transcodes, annotated videos); removed with it."""
    folder = st.session_state.get("_har_session_folder")
    if folder is None or not folder.path.is_dir():
        folder = SessionFolder()
        st.session_state["_har_session_folder"] = folder
    return folder


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Show a HarError as one st.error line and carry on with the rest of the page."""
    try:
        yield
    except HarError as exc:
        st.error(str(exc), icon=":material/error:")
