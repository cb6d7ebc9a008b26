"""The frozen-prefix activation cache: same losses as without it, refused where it would not be exact, reused."""
import shutil

import pytest

from conftest import ENGLISH, LDC_TRANSCRIPT, run_module, write_csv

BASE = ["--n_hidden", "32", "--noshow_progressbar", "--alphabet_config_path", ENGLISH]


@pytest.fixture(scope="module")
def two_samples(tmp_path_factory, ldc_dir):
    folder = tmp_path_factory.mktemp("two")
    for name in ("a.wav", "b.wav"):
        shutil.copy(str(ldc_dir / "LDC93S1.wav"), str(folder / name))
    csv = write_csv(folder / "two.csv", [("a.wav", 93638, LDC_TRANSCRIPT), ("b.wav", 93638, LDC_TRANSCRIPT)])
    run_module("deepspeech_freeze.train", "--train_files", csv, "--checkpoint_dir", folder / "src", "--summary_dir",
               folder / "s", "--epochs", "2", *BASE)
    return folder, csv


def transfer(folder, csv, target, *extra, check=True):
    return run_module("deepspeech_freeze.train", "--load_checkpoint_dir", folder / "src", "--save_checkpoint_dir",
                      target, "--summary_dir", str(target) + "_s", "--train_files", csv, "--dev_files", csv,
                      "--epochs", "3", "--dropout_rate", "0", *BASE, *extra, check=check)


def losses(output):
    return [float(line.rsplit(" ", 1)[1]) for line in output.splitlines() if line.startswith("I Finished")]


@pytest.mark.slow
@pytest.mark.parametrize("spec, depth", [("1-3", 3), ("1-5", 5)])
def test_cached_run_has_the_same_losses(tmp_path, two_samples, spec, depth):
    folder, csv = two_samples
    plain = transfer(folder, csv, tmp_path / "plain", "--freeze_layers", spec)
    cached = transfer(folder, csv, tmp_path / "cached", "--freeze_layers", spec, "--frozen_prefix_cache",
                      tmp_path / "cache")
    assert "Computing layers 1-{} once for 2 samples".format(depth) in cached.output
    assert len(losses(cached.output)) == 6  # 3 train + 3 dev
    assert losses(cached.output) == pytest.approx(losses(plain.output), rel=1e-5)
    assert "frozen layers {} unchanged (bit-identical)".format(spec) in cached.output
    again = transfer(folder, csv, tmp_path / "again", "--freeze_layers", spec, "--frozen_prefix_cache",
                     tmp_path / "cache")
    assert "is up to date (layers 1-{})".format(depth) in again.output and "Computing layers" not in again.output


def test_fp16_cache_is_close(tmp_path, two_samples):
    folder, csv = two_samples
    plain = transfer(folder, csv, tmp_path / "plain", "--freeze_layers", "1-3")
    half = transfer(folder, csv, tmp_path / "half", "--freeze_layers", "1-3", "--frozen_prefix_cache",
                    tmp_path / "cache16", "--frozen_prefix_cache_fp16")
    assert losses(half.output) == pytest.approx(losses(plain.output), rel=1e-2)


@pytest.mark.slow
def test_refused_with_dropout_on_frozen_layers_or_layer_1_training(tmp_path, two_samples):
    folder, csv = two_samples
    paper = transfer(folder, csv, tmp_path / "a", "--freeze_layers", "1-3", "--frozen_prefix_cache",
                     tmp_path / "c", "--dropout_rate", "0.4", check=False)
    assert paper.returncode == 2 and "Traceback" not in paper.output
    assert "frozen layer(s) 1,2,3 apply dropout" in paper.output and "train without" in paper.output
    top = transfer(folder, csv, tmp_path / "b", "--freeze_layers", "4-6", "--frozen_prefix_cache", tmp_path / "c",
                   check=False)
    assert top.returncode == 2 and "layer 1 trains here" in top.output
