"""benchmarks.device names what it ran on: the GPU, or the CPU by model, and a GPU left unused with why."""
from __future__ import annotations

from pathlib import Path

from benchmarks.device import hardware, ran_on


def fake_machine(tmp_path: Path) -> dict:
    """/proc as an NVIDIA driver and an x86 CPU write it, with one GPU."""
    gpu = tmp_path / "gpus" / "0000:01:00.0"
    gpu.mkdir(parents=True)
    (gpu / "information").write_text("Model: \t\t NVIDIA H200\nIRQ:   \t\t 42\n")
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9654\n")
    return hardware(tmp_path / "gpus", tmp_path / "cpuinfo")


def test_the_machine_is_named(tmp_path: Path) -> None:
    machine = fake_machine(tmp_path)
    assert machine["cpu"] == "AMD EPYC 9654" and machine["gpus"] == ["NVIDIA H200"] and machine["cores"] >= 1
    assert machine["tensorflow"]  # this environment has TensorFlow, under one name or the other
    assert hardware(tmp_path / "no-driver", tmp_path / "cpuinfo")["gpus"] == []


def test_a_run_says_which_device_and_why_a_gpu_went_unused(tmp_path: Path) -> None:
    machine = fake_machine(tmp_path)
    cores = machine["cores"]
    assert ran_on("GPU: NVIDIA H200 (tensorflow)", "tensorflow", machine) == "GPU: NVIDIA H200 (tensorflow)"
    cpu_build = {**machine, "tensorflow": {"tensorflow-cpu": "2.21.0"}}
    assert ran_on("CPU (tensorflow)", "tensorflow", cpu_build) == (
        f"CPU: AMD EPYC 9654, {cores} cores (tensorflow); not used: NVIDIA H200 (tensorflow-cpu never uses a GPU; "
        "install requirements-gpu.txt)")
    assert ran_on("CPU (torch)", "torch", machine).endswith(
        "not used: NVIDIA H200 (torch found no usable GPU: check its CUDA build, libraries and the driver)")
    assert ran_on("CPU (jax)", "jax", {**machine, "gpus": []}) == f"CPU: AMD EPYC 9654, {cores} cores (jax)"
