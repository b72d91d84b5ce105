"""Teach: name your activities, give each a few example clips, get a model in seconds with an honest score."""
from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import streamlit as st

from har_core.config import VIDEO_EXTENSIONS, settings
from har_core.datasets import sources
from har_core.datasets.dataset import DatasetIndex, scan
from har_core.errors import HarError
from har_core.learning.openset import KNOWN_ACCEPT
from har_core.learning.teach import KIND_TITLES, MIN_EXAMPLES, Limits
from har_core.models import report
from har_core.models.bundle import check_name
from studio import ui

ui.page_setup("Teach", ":material/school:")
cfg = settings()
limits = Limits.from_settings()
st.title(":material/school: Teach")
st.caption(f"Name two or more activities and give each at least {MIN_EXAMPLES} example clips (3 to 10 s each, "
           "5 or more is better). A frozen network reads every clip once (an ImageNet CNN for what is in view, "
           "BlazePose's body keypoints for how the body moves) and a small head learns your activities in "
           "seconds; each example is then scored by a model taught without it, so the accuracy shown is one you "
           "can expect on new clips like these.")


@st.cache_resource(show_spinner=False)
def teaching_lock() -> threading.Lock:
    """One teaching run at a time per server: it uses every core for a few seconds."""
    return threading.Lock()


@st.cache_data(ttl=60, show_spinner=False)
def dataset(roots: tuple[str, ...]) -> DatasetIndex | None:
    try:
        return scan(list(roots))
    except HarError:
        return None


state = st.session_state.setdefault("teach", {"activities": [{"id": 0, "examples": []}, {"id": 1, "examples": []}],
                                              "next_id": 2, "uploader": 0, "messages": {}})


def add_examples(activity: dict, paths: list[tuple[str, str]]) -> None:
    """Append (path, title) examples, each once."""
    have = {e["path"] for e in activity["examples"]}
    activity["examples"] += [{"path": p, "title": t} for p, t in paths if p not in have]


def uploads(activity: dict) -> None:
    key = f"teach_up_{activity['id']}_{state['uploader']}"
    files = st.file_uploader("Upload clips", accept_multiple_files=True, key=key,
                             max_upload_size=max(1, int(cfg.max_upload_mb)),
                             help=f"{', '.join(e.lstrip('.') for e in VIDEO_EXTENSIONS)}; at most "
                                  f"{limits.max_clip_seconds:.0f} s each. A name with _gNN_ (v_Wave_g01_c02.mp4) "
                                  "says which person or video it comes from, for a fairer score.")
    if not files:
        return
    saved, errors = [], []
    for f in files:
        try:
            path = sources.save_upload(ui.session_folder(), f.getvalue(), f.name)
            saved.append((str(path), f.name))
        except HarError as exc:
            errors.append(f"{f.name}: {exc}")
    add_examples(activity, saved)
    state["messages"][activity["id"]] = errors
    state["uploader"] += 1  # a fresh uploader: the files are ours now, shown below with remove buttons
    st.rerun()


def from_dataset(activity: dict, index: DatasetIndex) -> None:
    by_class = index.by_class()
    with st.popover("Pick from the dataset", icon=":material/video_library:"):
        label = st.selectbox("Class", sorted(by_class), key=f"teach_ds_class_{activity['id']}")
        clips = by_class[label]
        chosen = st.multiselect("Clips", [c.path.name for c in clips], key=f"teach_ds_clips_{activity['id']}",
                                placeholder="choose clips, or add them all")
        left, right = st.columns(2)
        if left.button("Add chosen", key=f"teach_ds_add_{activity['id']}", icon=":material/add:", disabled=not chosen):
            add_examples(activity, [(str(c.path), c.path.name) for c in clips if c.path.name in chosen])
            st.rerun()
        if right.button(f"Add all {len(clips)}", key=f"teach_ds_all_{activity['id']}", icon=":material/folder:"):
            add_examples(activity, [(str(c.path), c.path.name) for c in clips])
            st.rerun()


def examples_grid(activity: dict) -> None:
    items = activity["examples"]
    if not items:
        st.caption("No examples yet.")
        return
    per_row = 6
    for start in range(0, len(items), per_row):
        for col, item in zip(st.columns(per_row), items[start:start + per_row]):
            with col:
                path = Path(item["path"])
                try:
                    st.image(ui.thumbnail(str(path), item["title"][:28], path.stat().st_mtime), width="stretch")
                except (HarError, OSError) as exc:
                    st.warning(f"{item['title']}: {exc}")
                if st.button("Remove", key=f"teach_rm_{activity['id']}_{item['path']}", icon=":material/close:",
                             width="stretch"):
                    items.remove(item)
                    st.rerun()


def camera_takes() -> None:
    """One camera for the page: pick whose take, press Record, a 3-2-1 countdown runs on the video, then the
    take is added to that activity's examples."""
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    from har_core.media.takes import MAX_SECONDS, MIN_SECONDS, TakeRecorder
    from har_core.prediction.live import frame_callback, ice_servers

    recorder: TakeRecorder = st.session_state.setdefault("teach_recorder", TakeRecorder())

    try:
        ice = ice_servers(cfg)
    except HarError:
        ice = []
    if not st.toggle("Record takes with your camera", key="teach_camera_on",
                     help="A camera view appears: press START, choose whose take it is, press Record."):
        return
    with st.container(border=True):
        video, controls = st.columns([3, 2])
        with video:
            ctx = webrtc_streamer(key="teach_camera", mode=WebRtcMode.SENDRECV, rtc_configuration={"iceServers": ice},
                                  media_stream_constraints={"video": True, "audio": False},
                                  video_frame_callback=frame_callback(recorder.process), async_processing=True)
        names = {a["id"]: st.session_state.get(f"teach_name_{a['id']}", "").strip() or f"activity {i + 1}"
                 for i, a in enumerate(state["activities"])}
        whose = controls.selectbox("Take of", list(names), format_func=names.get, key="teach_take_of")
        seconds = controls.slider("Seconds", MIN_SECONDS, MAX_SECONDS, 4.0, 0.5, key="teach_take_seconds")
        if controls.button("Record a take", icon=":material/radio_button_checked:", key="teach_record",
                           disabled=recorder.busy):
            with ui.user_errors():
                if not ctx.state.playing:
                    raise HarError("the camera is off: press START under the video and allow the camera first")
                recorder.arm(whose, ui.session_folder().new_path("take", ".mp4"), seconds)

        @st.fragment(run_every=0.5 if recorder.busy else None)
        def collect() -> None:
            recorder.check_started()
            done = []
            while not recorder.finished.empty():
                done.append(recorder.finished.get())
            for item in done:
                if isinstance(item, str):
                    state["messages"]["camera"] = [item]
                    continue
                activity = next((a for a in state["activities"] if a["id"] == item.tag), None)
                if activity is not None:
                    n = sum(1 for e in activity["examples"] if e["title"].startswith("take ")) + 1
                    add_examples(activity, [(str(item.path), f"take {n} ({item.seconds:g} s)")])
            if done:
                st.rerun(scope="app")
            if recorder.busy:
                st.caption("Get ready: the countdown runs on the video, then the take is recorded.")

        with controls:
            collect()
            for message in state["messages"].pop("camera", []):
                st.error(message, icon=":material/error:")


kind = st.radio("What tells your activities apart?", list(KIND_TITLES), format_func=KIND_TITLES.get,
                key="teach_kind", horizontal=True,
                help="What is in view: the head reads the whole picture (a piano, a horse, a surfboard). How the "
                     "body moves: it finds the person's keypoints and reads how their arms move, relative to their "
                     "shoulders, so the room, the clothes and who it is do not count: gestures taught by one person "
                     "work for the next. Nobody in view, or nobody moving, is 'no known activity'.")
index = dataset(tuple(map(str, cfg.data_dirs)))
for activity in list(state["activities"]):
    with st.container(border=True):
        top, remove = st.columns([6, 1])
        top.text_input("Activity name", key=f"teach_name_{activity['id']}", placeholder="e.g. Wave",
                       max_chars=40)
        if len(state["activities"]) > 2 and remove.button("Delete", key=f"teach_del_{activity['id']}",
                                                          icon=":material/delete:"):
            state["activities"].remove(activity)
            st.rerun()
        left, right = st.columns([3, 1])
        with left:
            uploads(activity)
        with right:
            if index is not None:
                from_dataset(activity, index)
        for message in state["messages"].get(activity["id"], []):
            st.error(message, icon=":material/error:")
        examples_grid(activity)
if len(state["activities"]) < limits.max_activities and st.button("Add an activity", icon=":material/add:"):
    state["activities"].append({"id": state["next_id"], "examples": []})
    state["next_id"] += 1
    st.rerun()
camera_takes()

taught_here = st.session_state.setdefault("teach_models", [])
default_name = f"taught_{datetime.now():%m%d_%H%M}"
name = st.text_input("Model name", key="teach_model_name", placeholder=default_name).strip() or default_name
total = sum(len(a["examples"]) for a in state["activities"])
where = "kept for this browser session" if cfg.hosted else f"saved in `{cfg.weights_dir}`"
st.caption(f"{total} example(s); the model is {where}. Limits: {limits.max_activities} activities, "
           f"{limits.max_examples} examples, {limits.max_clip_seconds:.0f} s per clip"
           + (f", {cfg.teach_max_models} models per visit." if cfg.hosted else "."))


def teach_now() -> None:
    from har_core.learning.teach import teach

    examples: dict[str, list[Path]] = {}
    for activity in state["activities"]:
        label = st.session_state.get(f"teach_name_{activity['id']}", "").strip()
        if not label:
            raise HarError("an activity has no name")
        if label in examples:
            raise HarError(f"two activities are named {label!r}: give each its own name")
        examples[label] = [Path(e["path"]) for e in activity["examples"]]
    model = check_name(name)
    if cfg.hosted and len(taught_here) >= cfg.teach_max_models:
        raise HarError(f"this visit has taught {len(taught_here)} model(s), the most this server allows")
    out = ui.session_folder().new_path("taught", "") if cfg.hosted else ui.registry().path_for(model)
    if model in ui.session_models() or (not cfg.hosted and out.exists()):
        raise HarError(f"a model named {model!r} already exists; choose another name")
    bar = st.progress(0.0, text="Waiting for another visitor's teaching to finish…")
    with teaching_lock():
        result = teach(examples, out, kind=kind, limits=limits, progress=lambda share, what: bar.progress(
            min(1.0, share), text=f"{what[:1].upper()}{what[1:]}…"))
    bar.empty()
    if cfg.hosted:
        ui.session_models()[model] = result.bundle_dir
    taught_here.append(model)
    titles = {Path(e["path"]).name: e["title"] for a in state["activities"] for e in a["examples"]}
    st.session_state["teach_result"] = {"name": model, "meta": result.meta, "examples": result.examples,
                                        "titles": titles}
    ui.choose_next(model, "predict_model", "webcam_model")


if st.button("Teach", type="primary", icon=":material/school:", disabled=total == 0, key="teach_go"):
    st.session_state.pop("teach_result", None)
    with ui.user_errors():
        teach_now()

result = st.session_state.get("teach_result")
if result:
    meta, m = result["meta"], result["meta"]["metrics"]["teach"]
    st.success(f"**{result['name']}** knows {', '.join(meta['classes'])}; taught in "
               f"{meta['training']['seconds']:.1f} s.", icon=":material/check_circle:")
    st.metric("Accuracy on examples held out in turn", report.percent(m["accuracy"]),
              help="Each example was scored by a model taught without it (or without its whole group).")
    st.caption(f"{report.format_metric('teach', m)}. 'No known activity' below a score of "
               f"{meta['open_set']['threshold']:.2f}, where {KNOWN_ACCEPT:.0%} of these held-out examples pass.")
    left, right = st.columns(2)
    left.plotly_chart(ui.confusion_figure(m["confusion"], meta["classes"]), key="teach_confusion")
    wrong = [e for e in result["examples"] if e["predicted"] != e["activity"]]
    with right:
        if wrong:
            st.markdown("**Examples it would get wrong**: show more like these, or check they are what you meant.")
            st.dataframe([{"example": result["titles"].get(e["file"], e["file"]), "activity": e["activity"],
                           "taken for": e["predicted"], "score": e["score"]} for e in wrong],
                         hide_index=True, width="stretch")
        else:
            st.markdown("Every example was recognised by a model taught without it.")
    go_predict, go_webcam = st.columns(2)
    if go_predict.button("Try it on a video", icon=":material/movie:", width="stretch"):
        st.switch_page("pages/3_Predict.py")
    if go_webcam.button("Try it on the webcam", icon=":material/videocam:", width="stretch"):
        st.switch_page("pages/4_Webcam.py")
