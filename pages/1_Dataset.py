"""Dataset: browse a UCF50-layout folder (samples, clips, counts), or get UCF50 when there is none."""
from __future__ import annotations

import random
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from har_core.config import settings
from har_core.datasets import browse, ucf50
from har_core.datasets.dataset import DatasetIndex, scan
from har_core.errors import HarError
from har_core.media.video import probe
from studio import ui

ui.page_setup("Dataset", ":material/video_library:")
cfg = settings()
st.title(":material/video_library: Dataset")

folders = st.text_area("Data folders, one per line", value="\n".join(map(str, cfg.data_dirs)), height=80,
                       help="UCF50-layout folders: <folder>/<Class>/v_<Class>_gNN_cMM.avi; a class found in "
                            "several folders is one class. The default comes from HAR_DATA_DIR.")
roots = [line.strip() for line in folders.splitlines() if line.strip()]
data_dir = Path(roots[0]).expanduser() if roots else cfg.data_dirs[0]


def empty_state(reason: str) -> None:
    """No data here: say how to get UCF50 and offer to download and extract it in the app."""
    st.info(f"**No dataset here yet.** {reason}", icon=":material/inbox:")
    st.markdown(
        f"UCF50 is the dataset the models learn from: 50 actions, 6,676 clips cut from YouTube videos, "
        f"grouped into 25 groups per action (clips of one group come from the same source video). "
        f"Get it from the official page, **{ucf50.OFFICIAL_URL}** (a RAR archive of several GB; the download "
        f"shows its exact size), extract it, and "
        f"point HAR_DATA_DIR or the field above at the folder. Expected layout:")
    st.code(ucf50.LAYOUT.replace(" — ", "\n"), language=None)
    with st.container(border=True):
        st.subheader("Download UCF50 here")
        url = ucf50.source_url()
        downloads = cfg.cache_dir / "downloads"
        tool = ucf50.find_rar_tool()
        st.caption(f"From `{url}` into `{downloads}`, then extracted into `{data_dir}`.")
        if tool:
            st.caption(f"Extraction uses `{tool[0]}` ({tool[1]}).")
        else:
            st.warning(f"The download will work, but {ucf50.INSTALL_HINT}.", icon=":material/build:")
        if not st.button("Download UCF50", icon=":material/download:", type="primary"):
            return
        bar = st.progress(0.0, text="Connecting…")
        shown = [-1]

        def progress(done: int, total: int | None) -> None:
            mb = done / 1e6
            if total:
                pct = int(100 * done / total)
                if pct != shown[0]:
                    shown[0] = pct
                    bar.progress(done / total, text=f"Downloading… {mb:,.0f} of {total / 1e6:,.0f} MB")
            elif int(mb) != shown[0]:
                shown[0] = int(mb)
                bar.progress(0.0, text=f"Downloading… {mb:,.0f} MB")

        with ui.user_errors():
            archive = ucf50.download(url, downloads, progress=progress)
            bar.progress(1.0, text=f"Downloaded {archive.name} ({archive.stat().st_size / 1e6:,.1f} MB)")
            if tool is None:
                raise HarError(ucf50.INSTALL_HINT)
            with st.spinner(f"Extracting {archive.name} with {tool[0]}…"):
                ucf50.extract(archive, data_dir, tool)
            st.success(f"UCF50 is ready in `{data_dir}`.", icon=":material/check_circle:")
            st.button("Browse it", icon=":material/refresh:")


try:
    index = scan(roots)
except HarError as exc:
    empty_state(str(exc))
    st.stop()

counts = index.counts()
a, b, c = st.columns(3)
a.metric("Classes", len(index.classes))
b.metric("Clips", len(index.clips))
c.metric("Groups (source videos)", sum(v["groups"] for v in counts.values()))

st.subheader("A random clip of each class")
if "dataset_seed" not in st.session_state:
    st.session_state.dataset_seed = 27
if st.button("Shuffle", icon=":material/shuffle:"):
    st.session_state.dataset_seed = random.randrange(1 << 30)
st.caption("Each clip's first frame, its class written on it; under it the rest of its file name "
           "(v_<Class>_gNN_cMM: group, then clip).")
samples = browse.sample_clips(index, len(index.classes), st.session_state.dataset_seed)
per_row = 4
for start in range(0, len(samples), per_row):  # a row of columns at a time, so that pictures line up
    for col, clip in zip(st.columns(per_row), samples[start:start + per_row]):
        with col:
            try:
                st.image(ui.thumbnail(str(clip.path), clip.label, clip.path.stat().st_mtime, width=320),
                         caption=clip.path.name.removeprefix(f"v_{clip.label}_"), width="stretch")
            except HarError as exc:
                st.warning(f"{clip.label}: {exc}")


def class_chart(index: DatasetIndex) -> go.Figure:
    names = index.classes
    fig = go.Figure([
        go.Bar(name="clips", x=names, y=[counts[n]["clips"] for n in names]),
        go.Bar(name="groups", x=names, y=[counts[n]["groups"] for n in names]),
    ])
    # The title on the left and the legend on the right of one line above the bars; the class names, slanted,
    # get the room they need below them.
    fig.update_layout(barmode="group", height=400, margin=dict(l=10, r=10, t=50, b=10),
                      title=dict(text="Clips and groups per class", x=0, xanchor="left"),
                      legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
                      xaxis=dict(tickangle=-45, automargin=True))
    return fig


st.subheader("Play a clip")
left, right = st.columns([3, 2])
by_class = index.by_class()
with right:
    label = st.selectbox("Class", index.classes)
    clips = by_class[label]
    chosen = st.selectbox("Clip", range(len(clips)), format_func=lambda i: f"{clips[i].path.name} ({clips[i].group})")
    clip = clips[chosen]
    with ui.user_errors():
        info = probe(clip.path)
        # The file and its group are in the menu above; a static table wraps instead of cutting text off.
        st.table([("frames decoded", str(info.frames)), ("frames the container claims", str(info.frames_reported)),
                  ("fps", f"{info.fps:.2f}"), ("size", f"{info.width}×{info.height}"),
                  ("duration", f"{info.duration:.2f} s"), ("file size", f"{clip.path.stat().st_size / 1e6:.2f} MB")],
                 hide_header=True, hide_index=True)
with left:
    with ui.user_errors():
        with st.spinner("Converting the clip to H.264 for the browser…"):
            mp4 = browse.preview(clip.path, cfg.cache_dir)
        st.video(str(mp4))

st.plotly_chart(class_chart(index), width="stretch")
sources = index.sources()
st.dataframe([{"class": n, "clips": counts[n]["clips"], "groups": counts[n]["groups"], "origin": sources[n]["origin"],
               "folder": sources[n]["folders"]} for n in index.classes], hide_index=True, width="stretch")
