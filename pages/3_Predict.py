"""Predict: classify an uploaded video, a video link or a dataset clip; show the annotated video and charts."""
from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from har_core.config import VIDEO_EXTENSIONS, settings
from har_core.datasets import sources
from har_core.errors import HarError
from har_core.media.examples import examples
from har_core.models import report
from studio import ui

ui.page_setup("Predict", ":material/movie:")
cfg = settings()
st.title(":material/movie: Predict")
st.caption("Classify a whole video: the model scores sliding windows sampled like its training clips, the label "
           "is drawn on every frame, and the charts show how sure it is and how that changes over time.")


def add_model() -> None:
    """Import a model trained elsewhere (the paper's tutorial code), preview it on an example clip, keep it."""
    from har_core.media.examples import examples as example_clips
    from har_core.models.bundle import check_name, load_bundle
    from har_core.models.importer import import_model
    from har_core.prediction.inference import classify

    with st.expander("Add a model trained elsewhere (.keras, or a tf.keras .h5 or SavedModel such as the paper's "
                     "tutorial writes)", icon=":material/upload_file:"):
        up = st.file_uploader("Model file", key="import_file", max_upload_size=max(1, int(cfg.max_import_mb)),
                              help=f".keras, .h5, or a SavedModel folder zipped; up to {cfg.max_import_mb:g} MB. Only "
                                   "standard Keras layers are read; nothing in the file is run.")
        classes_text = st.text_area("Its classes, in the order of its outputs (one per line)", key="import_classes",
                                    height=110)
        c1, c2 = st.columns(2)
        name = c1.text_input("Name", key="import_name", placeholder="my_lrcn")
        rgb = c2.checkbox("Trained on RGB frames", key="import_rgb",
                          help="The tutorial reads frames with OpenCV, which gives BGR: leave this off for its models.")
        sampling = "even" if c2.checkbox("Pick frames the app's way", key="import_even", help=(
            "Off: a clip's frames as the tutorial's frames_extraction picks them (every n/20-th frame from the "
            "first, linear resize), what its models learnt from. On: spread evenly, area resize.")) else "tutorial"
        if st.button("Import and try it", icon=":material/science:", disabled=up is None, key="import_go"):
            st.session_state.pop("import_preview", None)
            with ui.user_errors():
                name = check_name(name.strip())
                if name in ui.session_models() or (not cfg.hosted and ui.registry().path_for(name).exists()):
                    raise HarError(f"a model named {name!r} already exists; choose another name")
                classes = [c.strip() for c in classes_text.splitlines() if c.strip()]
                source = sources.save_model_upload(ui.session_folder(), up.getvalue(), up.name)
                staged = ui.session_folder().new_path("imported", "")
                with st.spinner("Reading the model…"):
                    import_model(source, staged, classes, bgr=not rgb, sampling=sampling)
                    clip = next(iter(example_clips()), None)
                    imported = load_bundle(staged)
                    pred = classify(imported, clip.path)[0] if clip else None
                st.session_state.import_preview = {"name": name, "staged": str(staged), "source": str(source),
                                                   "classes": classes, "rgb": rgb, "sampling": sampling,
                                                   "clip": clip.title if clip else None,
                                                   "pred": (pred.label, pred.confidence) if pred else None,
                                                   "frames": imported.sampler.frames}
        preview = st.session_state.get("import_preview")
        if not preview:
            return
        if preview["pred"]:
            st.success(f"Imported. On the example clip *{preview['clip']}* it says **{preview['pred'][0]}** "
                       f"({preview['pred'][1]:.1%} on {report.clip_basis(preview['frames'])}).",
                       icon=":material/check_circle:")
        where = "for this browser session only" if cfg.hosted else f"in `{cfg.weights_dir}`"
        if st.button(f"Keep {preview['name']} ({where})", type="primary", key="import_keep"):
            with ui.user_errors():
                if cfg.hosted:
                    ui.session_models()[preview["name"]] = Path(preview["staged"])
                else:
                    import_model(preview["source"], ui.registry().path_for(preview["name"]), preview["classes"],
                                 bgr=not preview["rgb"], sampling=preview["sampling"])
                st.session_state.pop("import_preview")
                ui.choose_next(preview["name"], "predict_model")
                st.rerun()


model_name = ui.model_picker(key="predict_model")
add_model()
if model_name is None:
    st.stop()


def uploaded_video() -> tuple[Path, str] | None:
    # No `type=` filter: Streamlit would reject other files with its own exception; save_upload explains instead.
    up = st.file_uploader(f"Video file ({', '.join(e.lstrip('.') for e in VIDEO_EXTENSIONS)})", key="predict_upload",
                          max_upload_size=max(1, int(cfg.max_upload_mb)),
                          help=f"mp4, avi, mov, mkv or webm; up to {cfg.max_upload_mb:.0f} MB and "
                               f"{cfg.max_video_seconds:.0f} s")
    if up is None:
        return None
    saved = st.session_state.get("predict_saved_upload")
    if not saved or saved[0] != up.file_id:
        path = sources.save_upload(ui.session_folder(), up.getvalue(), up.name)
        st.session_state.predict_saved_upload = (up.file_id, str(path))
        saved = st.session_state.predict_saved_upload
    return Path(saved[1]), up.name


def linked_video() -> tuple[Path, str] | None:
    hosts = f" Allowed sites: {', '.join(cfg.allowed_url_hosts)}." if cfg.hosted else ""
    url = st.text_input("Link to a video", key="predict_url", placeholder="https://www.youtube.com/watch?v=…",
                        help="A YouTube link or a direct link to a video file." + hosts).strip()
    if st.button("Fetch the video", icon=":material/language:", disabled=not url):
        bar = st.progress(0.0, text="Contacting the site…")
        path = sources.fetch_link(url, progress=lambda f, what: bar.progress(
            f, text=f"{what.capitalize()}… {f * 100:.0f}%"))
        bar.empty()
        st.session_state.predict_link = (url, str(path))
    fetched = st.session_state.get("predict_link")
    if fetched and fetched[0] == url:
        return Path(fetched[1]), url
    return None


def example_video() -> tuple[Path, str] | None:
    clips = {c.path.name: c for c in examples()}
    if not clips:
        st.info("No example clips in this installation (the `examples/` folder is missing).", icon=":material/inbox:")
        return None
    name = st.selectbox("Example clip", list(clips), key="predict_example", format_func=lambda n: clips[n].title,
                        help="Short clips shipped with the app (examples/README.md says where they come from).")
    label = clips[name].label
    weak = report.weak_classes(ui.model_meta(model_name))
    if label in weak:  # as on Home's card of this clip: what to expect before pressing the button
        st.caption(f"This model on {label}: {weak[label]}.")
    return clips[name].path, name


def dataset_video() -> tuple[Path, str] | None:
    try:
        index = sources.dataset()
    except HarError as exc:
        st.info(f"**No dataset to pick from.** {exc}. The Dataset page says how to get UCF50.", icon=":material/inbox:")
        return None
    by_class = index.by_class()
    a, b = st.columns(2)
    label = a.selectbox("Class", index.classes, key="predict_class")
    clips = by_class[label]
    i = b.selectbox("Clip", range(len(clips)), key="predict_clip",
                    format_func=lambda k: f"{clips[k].path.name} ({clips[k].group})")
    return clips[i].path, clips[i].path.name


PICKERS = {"Example clip": example_video, "Upload": uploaded_video, "Video link": linked_video,
           "Dataset clip": dataset_video}
source = st.radio("Video from", list(PICKERS), horizontal=True, key="predict_source")
chosen = None
with ui.user_errors():
    picked = PICKERS[source]()
    if picked is not None:
        sources.check_video(picked[0], Path(picked[1]).name)
        chosen = picked
if chosen is None:
    st.stop()
video, title = chosen

reads_pose = bool(ui.model_meta(model_name).get("pose"))
skeleton = st.toggle("Draw the body's skeleton", key="predict_skeleton", disabled=not reads_pose,
                     help="The keypoints a body-pose model reads (models taught with 'how the body moves')"
                     if reads_pose else "Only body-pose models read the body's keypoints: teach one on the Teach "
                     "page with 'How the body moves'.")
key = (str(video), model_name, skeleton)
autorun = st.session_state.pop("predict_autorun", False)  # Home's "Recognise" on an example clip
if st.button("Recognise the action", type="primary", icon=":material/play_arrow:") or autorun:
    st.session_state.pop("predict_result", None)
    with ui.user_errors():
        from har_core.prediction.inference import annotate

        bundle = ui.load_model(model_name)
        bar = st.progress(0.0, text="Starting…")
        out = ui.session_folder().new_path("annotated", ".mp4")
        ann = annotate(bundle, video, out, max_seconds=cfg.max_video_seconds, skeleton=skeleton and reads_pose,
                       progress=lambda f, what: bar.progress(min(1.0, f), text=f"{what.capitalize()}…"))
        bar.empty()
        st.session_state.predict_result = {"key": key, "ann": ann, "title": title, "classes": bundle.classes,
                                           "threshold": bundle.threshold, "sampler": bundle.sampler}

result = st.session_state.get("predict_result")
if not result or result["key"] != key:
    st.stop()

ann = result["ann"]
pred = ann.prediction
classes: list[str] = result["classes"]
sampler = result["sampler"]
# The verdict first, right under the button, so that it is in view where the button was pressed.
averages = report.video_basis(ann.full_windows, sampler.window_seconds)
verdict, why = st.columns([2, 3], vertical_alignment="center")  # room for "no known activity"
verdict.metric("Predicted action", pred.shown)
with why:
    if pred.known:
        st.markdown(f"**{pred.confidence:.1%}** confidence: {averages}.")
    else:
        st.markdown(f"None of the model's activities: its best guess, **{pred.label}**, has only "
                    f"{pred.confidence:.1%} ({averages}), under the {result['threshold']:.0%} it needs.")
    if ann.person_windows == 0:
        st.warning("No person was found in the video: this body-pose model needs someone in view.",
                   icon=":material/person_off:")
    unknown_windows = sum(not w["known"] for w in ann.timeline)
    if unknown_windows and pred.known:
        st.caption(f"{unknown_windows} of {len(ann.timeline)} windows show no known activity.")
left, right = st.columns([3, 2])
with left:
    st.video(str(ann.out_path))
    drawn = [w["probs"][pred.label] for w in ann.timeline]
    st.caption(f"Drawn on the video: each moment's label and confidence, {report.moment_basis(sampler.smooth)} "
               f"({pred.label}: {min(drawn):.0%} to {max(drawn):.0%}), as in the chart below.")
    st.download_button("Download the annotated video", data=ann.out_path.read_bytes(), icon=":material/download:",
                       file_name=f"{Path(result['title']).stem or 'video'}-{pred.shown.replace(' ', '-')}.mp4",
                       mime="video/mp4")
with right:
    ranked = sorted(zip(classes, pred.probs), key=lambda cp: cp[1])[-5:]
    bars = go.Figure(go.Bar(x=[p for _, p in ranked], y=[c for c, _ in ranked], orientation="h",
                            text=[f"{p * 100:.1f}%" for _, p in ranked], textposition="auto"))
    bars.update_layout(title="Top classes, as the answer above", height=260, margin=dict(l=10, r=10, t=40, b=10),
                       xaxis=dict(range=[0, 1], tickformat=".0%"))
    st.plotly_chart(bars, width="stretch")
    st.caption(f"{result['title']}: {ann.frames} frames, {ann.seconds:.1f} s at {ann.fps:.1f} fps; a window "
               f"every {ann.step} frames; computed on {ann.device}.")

timeline = go.Figure()
times = [w["time"] for w in ann.timeline]
for c in classes:
    timeline.add_trace(go.Scatter(x=times, y=[w["probs"][c] for w in ann.timeline], name=c, mode="lines"))
if result["threshold"] is not None:
    timeline.add_hline(y=result["threshold"], line_dash="dot", line_color="grey",
                       annotation_text="no known activity while every class is below this line")
timeline.update_layout(title=f"Class probabilities over the video (each moment: {report.moment_basis(sampler.smooth)})",
                       height=320, xaxis_title="seconds", yaxis=dict(range=[0, 1], tickformat=".0%"),
                       margin=dict(l=10, r=10, t=40, b=10))
st.plotly_chart(timeline, width="stretch")
