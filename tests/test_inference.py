"""classify, annotate and the streaming classifier agree; annotate writes H.264 with labels drawn."""
from dataclasses import replace

import numpy as np
import pytest
from clock import ManualClock, wait_until
from synth import make_video

from har_core.media.sampling import ClipSampler
from har_core.media.video import iter_frames, probe, sample_clip, to_model_frame, video_codec
from har_core.models.bundle import load_bundle
from har_core.prediction.inference import StreamClassifier, annotate, classify, window_probs


@pytest.fixture(scope="module")
def bundle(synth_bundle):
    return load_bundle(synth_bundle)


@pytest.fixture
def video(tmp_path):
    # 160 frames at 25 fps = 6.4 s: exactly one training-like window (step 8)
    return make_video(tmp_path / "right.avi", "Right", n=160, fps=25.0, seed=11)


def test_frame_encoder_split_equals_the_whole_model(bundle):
    assert bundle.predictor.per_frame  # the LRCN's CNN runs on each frame: split into encoder and head
    frames = np.random.default_rng(1).integers(0, 255, (30, 64, 64, 3), dtype=np.uint8)
    fast = window_probs(bundle, frames)
    slow = bundle.predictor.clips(np.stack([frames[ClipSampler().window_members(k)] for k in range(30)]))
    assert np.allclose(fast, slow, atol=1e-5)


def test_classify_annotate_and_stream_agree(bundle, video, tmp_path):
    pred, facts = classify(bundle, video)
    ann = annotate(bundle, video, tmp_path / "out.mp4", smooth=1)
    one = replace(bundle.sampler, smooth=1)  # no averaging over earlier windows
    with StreamClassifier(bundle, rate_hz=50, sampler=one) as stream:
        for i, frame in enumerate(iter_frames(video)):
            stream.push(frame, i / 25.0)
        streamed = stream.predict_now()
    assert pred.label == ann.prediction.label == streamed.label == "Right"
    # the stream's last window holds exactly the frames of annotate's last window
    sampled = np.stack([to_model_frame(f) for i, f in enumerate(iter_frames(video)) if i % ann.step == 0])
    last_window = window_probs(bundle, sampled)[-1]
    assert np.allclose(streamed.probs, last_window, atol=1e-5)
    assert np.allclose(list(ann.timeline[-1]["probs"].values()), last_window, atol=1e-3)
    # and classify's clip is the same span, offset by half a step
    assert np.allclose(pred.probs, last_window, atol=0.1)


def test_annotate_writes_browser_playable_h264_with_labels(bundle, video, tmp_path):
    out = tmp_path / "out.mp4"
    progress = []
    ann = annotate(bundle, video, out, progress=lambda f, s: progress.append(f))
    assert video_codec(out) == "h264"
    src, dst = probe(video), probe(out)
    assert (dst.frames, dst.width, dst.height) == (src.frames, src.width, src.height)
    assert dst.fps == pytest.approx(src.fps, abs=0.01)
    assert ann.frames == 160 and ann.step == 8 and len(ann.timeline) == 20
    assert progress[0] == 0.0 and progress[-1] == 1.0
    first_in, first_out = next(iter_frames(video)), next(iter_frames(out))
    band = first_out[2:12, 2:40].astype(int)
    assert band.mean() < first_in[2:12, 2:40].mean() - 30, "the dark label band is drawn"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".partial")] == []


def test_annotate_short_video_still_labels_every_frame(bundle, tmp_path):
    ann = annotate(bundle, make_video(tmp_path / "s.avi", "Up", n=12), tmp_path / "s.mp4")
    assert ann.frames == 12 and probe(tmp_path / "s.mp4").frames == 12


def test_stream_keeps_frames_by_time_and_predicts_off_the_frame_path(bundle, video):
    frames = list(iter_frames(video))
    stream = StreamClassifier(bundle, rate_hz=20).start()
    try:
        kept = [stream.push(f, i / 50.0) for i, f in enumerate(frames)]  # 50 fps input: keep every 16th
        assert sum(kept) == len(range(0, 160, 16))
        wait_until(lambda: stream.state().predictions >= 1, what="a prediction")
        state = stream.state()
        assert state.predictions >= 1 and state.frames_in == 160 and state.error is None
        assert state.prediction.label == "Right"
    finally:
        stream.stop()


def test_a_stream_whose_frames_stop_ends_its_worker_and_drops_its_frames(bundle, video):
    """A closed browser tab sends no 'goodbye': the worker must notice the silence by itself. Its clock is the
    test's: 6.4 s of frames against a 2 s limit keep it alive only if each frame restarts the silence."""
    clock = ManualClock()
    stream = StreamClassifier(bundle, rate_hz=20, idle_stop_s=2.0, clock=clock).start()
    try:
        for i, frame in enumerate(iter_frames(video)):
            clock.advance(1 / 25)
            stream.push(frame, i / 25.0)
        wait_until(lambda: stream.state().predictions >= 1, what="a prediction")
        assert stream.alive
        clock.advance(2.1)
        stream._thread.join(timeout=30)
        assert not stream.alive and stream.state().predictions >= 1
        assert not stream._frames and not stream._features
    finally:
        stream.stop()


def test_sample_clip_and_classify_share_the_sampler(bundle, video):
    clip = sample_clip(video)
    direct = bundle.predictor.clips(clip.frames[None])[0]
    assert np.allclose(classify(bundle, video)[0].probs, direct, atol=1e-6)


def test_the_live_annotator_starts_a_new_worker_when_frames_come_back(bundle, video):
    from har_core.prediction.live import LiveAnnotator

    clock = ManualClock()
    annotator = LiveAnnotator(clock=clock)
    annotator.use(bundle)
    first = annotator._classifier
    frames = list(iter_frames(video))
    annotator.process(frames[0], 0.0)
    clock.advance(first.idle_stop_s + 1)
    first._thread.join(timeout=30)
    assert not first.alive and annotator.running
    annotator.process(frames[1], 1.0)
    assert annotator._classifier is not first and annotator._classifier.alive
    annotator.stop()
    assert not annotator._classifier.alive and not annotator._classifier._frames  # its frames are let go
