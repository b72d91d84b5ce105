"""The training record: defaults from the architecture, one-line errors before any work, what model.json keeps."""
import pytest

from har_core.errors import HarError
from har_core.learning.trainconfig import TrainConfig


def test_unset_settings_take_the_architecture_defaults():
    c = TrainConfig("lrcn").resolved()
    assert (c.epochs, c.batch_size, c.patience, c.image_size) == (50, 4, 15, 64)
    assert TrainConfig("lrcn", epochs=3, image_size=96).resolved().epochs == 3
    assert TrainConfig().resolved().arch == "imagenet_segments_lite2" and TrainConfig().resolved().image_size == 260


@pytest.mark.parametrize("config, message", [
    (TrainConfig("lrcn", epochs=0), "at least 1"),
    (TrainConfig("lrcn", image_size=1000), "out of range"),
    (TrainConfig("lrcn", augment="heavy"), "unknown augmentation"),
    (TrainConfig("imagenet_mean", augment="flip"), "use --augment none"),
    (TrainConfig("resnet"), "unknown architecture"),
])
def test_bad_settings_fail_as_one_line(config: TrainConfig, message: str):
    with pytest.raises(HarError, match=message):
        config.resolved()


def test_model_json_records_the_resolved_settings_and_what_the_architecture_fixes():
    lrcn = TrainConfig("lrcn", epochs=7).record()
    assert lrcn["epochs_max"] == 7 and lrcn["learning_rate"] == 1e-3 and lrcn["augment"]["name"] == "none"
    assert "class_weight" not in lrcn and "segments" not in lrcn
    head = TrainConfig("imagenet_motion_lite2").record()
    assert head["segments"] == 4 and head["centered"] and head["c"] == 0.1 and head["class_weight"] == "balanced"
