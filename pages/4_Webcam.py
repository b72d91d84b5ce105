"""Webcam: live recognition over WebRTC; the label and confidence are drawn on every returned frame."""
from __future__ import annotations

import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from har_core.config import settings
from har_core.errors import HarError
from har_core.models import report
from har_core.prediction.live import LiveAnnotator, frame_callback, ice_servers
from studio import ui

ui.page_setup("Webcam", ":material/videocam:")
cfg = settings()
st.title(":material/videocam: Webcam")
st.caption("Press START and allow the camera. Frames are sampled on time like the training clips (as many as "
           "a training clip has, over the model's window); a worker thread classifies the latest window a few "
           "times a second, and the frame path only draws the latest result, so the video stays smooth.")

model_name = ui.model_picker(key="webcam_model")
if model_name is None:
    st.stop()

try:
    ice = ice_servers(cfg)
except HarError as exc:
    st.error(f"{exc}. Using no ICE servers (works only when the browser is on this machine or network).",
             icon=":material/error:")
    ice = []

annotator: LiveAnnotator = st.session_state.setdefault("webcam_annotator", LiveAnnotator())
reads_pose = bool(ui.model_meta(model_name).get("pose"))
annotator.skeleton = st.toggle("Draw the body's skeleton", key="webcam_skeleton", value=reads_pose,
                               disabled=not reads_pose,
                               help="The keypoints a body-pose model reads, drawn on the video" if reads_pose else
                               "Only body-pose models read the body's keypoints: teach one on the Teach page with "
                               "'How the body moves'.") and reads_pose


on_frame = frame_callback(annotator.process)  # WebRTC thread; the annotator is the only shared state (lock inside)


video_col, stats_col = st.columns([3, 2])
with video_col:
    ctx = webrtc_streamer(key="webcam", mode=WebRtcMode.SENDRECV, rtc_configuration={"iceServers": ice},
                          media_stream_constraints={"video": True, "audio": False},
                          video_frame_callback=on_frame, async_processing=True,
                          on_video_ended=annotator.stop)  # the peer hung up: the worker and its model go
playing = bool(ctx.state.playing)
moment = "the latest windows"  # what the label averages, named once the model is loaded
if playing:
    with ui.user_errors():
        bundle = ui.load_model(model_name)
        moment = report.moment_basis(bundle.sampler.smooth)
        with st.spinner("Warming up the model…"):
            annotator.use(bundle)
elif annotator.running:
    annotator.stop()


@st.fragment(run_every=1.0 if playing else None)  # poll only while streaming; START/STOP rerun the page
def live_stats() -> None:
    s = annotator.stats()
    if not ctx.state.playing:
        st.info("**No camera stream.** Press START (left, under the video) and allow camera access. If the browser "
                "denied it, allow the camera for this site (the icon in the address bar) and press START again; "
                "the camera also needs HTTPS or localhost.", icon=":material/videocam:")
        if s.frames_in:
            st.caption(f"Last session: {s.frames_in} frames, {s.predictions} predictions.")
        return
    if s.seconds_since_frame is None or s.seconds_since_frame > 5:
        st.warning("Connected, but no frames are arriving yet. If this lasts, the camera is blocked or the network "
                   "needs a TURN server (set HAR_ICE_SERVERS).", icon=":material/hourglass_empty:")
    if s.error:
        st.error(f"Classification stopped: {s.error}", icon=":material/error:")
    if s.prediction is not None:
        st.metric("Action", s.prediction.shown, help=f"As drawn on the video: {moment}")
        if s.prediction.known:
            st.progress(s.prediction.confidence, text=f"{s.prediction.confidence:.0%} confidence, {moment}")
        else:
            st.caption(f"Best guess {s.prediction.label} at {s.prediction.confidence * 100:.0f}%: too unsure to "
                       "call it one of the model's activities.")
        st.caption(" · ".join(f"{label} {p * 100:.0f}%" for label, p in s.prediction.top_k))
    else:
        st.caption("Collecting frames for the first window…")
    a, b, c = st.columns(3)
    a.metric("Processing fps", f"{s.fps:.1f}")
    b.metric("Frames", s.frames_in)
    c.metric("Predictions", s.predictions)
    st.caption(f"Model {s.model}; last prediction took {s.latency_ms:.0f} ms on {s.device}.")


with stats_col:
    live_stats()
