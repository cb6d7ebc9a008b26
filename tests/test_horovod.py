"""Horovod on CPU, on either stack: two processes under horovodrun train a frozen transfer; both end with
bit-identical weights, rank 0 alone writes, and the frozen layers are proved unchanged."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ENGLISH, LDC_TRANSCRIPT, ROOT, run_module, write_csv

BASE = ["--n_hidden", "32", "--noshow_progressbar", "--alphabet_config_path", ENGLISH]


@pytest.mark.slow
def test_two_ranks_identical_weights_and_frozen_layers(tmp_path, ldc_dir):
    for name in ("a.wav", "b.wav"):
        shutil.copy(str(ldc_dir / "LDC93S1.wav"), str(tmp_path / name))
    csv = write_csv(tmp_path / "two.csv", [("a.wav", 93638, LDC_TRANSCRIPT), ("b.wav", 93638, LDC_TRANSCRIPT)])
    run_module("deepspeech_freeze.train", "--train_files", csv, "--checkpoint_dir", tmp_path / "src",
               "--summary_dir", tmp_path / "s0", "--epochs", "2", *BASE)
    horovodrun = os.path.join(os.path.dirname(sys.executable), "horovodrun")
    command = [horovodrun, "-np", "2", "-H", "localhost:2", "--gloo", sys.executable, "-m",
               "deepspeech_freeze.train", "--horovod", "--load_checkpoint_dir", str(tmp_path / "src"),
               "--save_checkpoint_dir", str(tmp_path / "dst"), "--summary_dir", str(tmp_path / "s1"),
               "--train_files", csv, "--dev_files", csv, "--epochs", "3", "--freeze_layers", "1-3"] + BASE
    result = subprocess.run(command, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
    digests = dict(re.findall(r"rank (\d) of 2: weights sha256 ([0-9a-f]{64})", result.stdout))
    assert set(digests) == {"0", "1"} and digests["0"] == digests["1"]
    assert "Weights identical on all 2 ranks" in result.stdout
    assert "frozen layers 1-3 unchanged (bit-identical)" in result.stdout
    # Each rank trained on its own sample: one optimizer step per epoch for the pair.
    assert "best_dev-7" in result.stdout and os.path.exists(str(tmp_path / "dst" / "train-7.index"))
    # Only rank 0 logs its progress.
    assert "[0]<stderr>:I Finished training epoch 2" in result.stdout
    assert "[1]<stderr>:I Finished training epoch" not in result.stdout


# ----------------------------------------------------------------------------------------------------------------
# Augmentation across ranks: each rank builds the same epoch order and keeps its own share (distributed.rank_shard);
# every sample's seed comes from --random_seed, the epoch and its index in the whole set, so no two ranks augment
# alike, and a rerun repeats itself.


def rank_features(frame, config, size, rank):
    """The features rank ``rank`` of ``size`` trains on in epoch 0 (batch 1): the training pipeline as the loop
    builds it, with Horovod's shard."""
    from deepspeech_freeze import data, distributed
    from deepspeech_freeze.tfcompat import tf
    with tf.Graph().as_default():
        inputs = data.PlainInputs(config)
        inputs.samples_per_step = size
        dataset = inputs.dataset("train", frame, 1, True, shard=lambda d: distributed.rank_shard(d, size, rank))
        inputs.start_epoch(0)
        batch = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
        features = []
        with tf.compat.v1.Session() as session:
            while True:
                try:
                    features.append(session.run(batch[1]))
                except tf.errors.OutOfRangeError:
                    return features


def test_ranks_augment_their_samples_differently_and_reruns_repeat(tmp_path, ldc_dir):
    """Four copies of one recording, two ranks: without --augment both ranks see the same features (the audio is
    the same), so any difference is the augmentation's; with it every batch of rank 0 differs from every batch of
    rank 1, in the sample domain (numpy) and in the graph, and a rerun with the same seed gives the same batches."""
    from test_sample_db import config_for
    from deepspeech_freeze import data
    import numpy as np
    names = ["{}.wav".format(letter) for letter in "abcd"]
    for name in names:
        shutil.copy(str(ldc_dir / "LDC93S1.wav"), str(tmp_path / name))
    csv = write_csv(tmp_path / "four.csv", [(name, 93638, LDC_TRANSCRIPT) for name in names])
    plain = config_for(train_files=(csv,))
    frame = data.load_samples([csv], plain)
    unaugmented = [rank_features(frame, plain, 2, rank) for rank in (0, 1)]
    assert all(np.array_equal(a, b) for a, b in zip(*unaugmented))
    for spec in ("volume[dbfs=-20~10]", "add[stddev=2]"):
        augmented = config_for(train_files=(csv,), augment=(spec,))
        rank0, rank1 = (rank_features(frame, augmented, 2, rank) for rank in (0, 1))
        assert len(rank0) == len(rank1) == 2
        assert not any(np.array_equal(a, b) for a in rank0 for b in rank1), spec
        assert all(np.array_equal(a, b) for a, b in zip(rank_features(frame, augmented, 2, 0), rank0)), spec
        reseeded = config_for(random_seed=1, train_files=(csv,), augment=(spec,))
        assert not np.array_equal(rank_features(frame, reseeded, 2, 0)[0], rank0[0]), spec


def test_two_ranks_train_with_augment(tmp_path, ldc_dir):
    """A real two-rank run with --augment (sample and graph domains) finishes with equal weights on both ranks."""
    names = ["{}.wav".format(letter) for letter in "abcd"]
    for name in names:
        shutil.copy(str(ldc_dir / "LDC93S1.wav"), str(tmp_path / name))
    csv = write_csv(tmp_path / "four.csv", [(name, 93638, LDC_TRANSCRIPT) for name in names])
    horovodrun = os.path.join(os.path.dirname(sys.executable), "horovodrun")
    command = [horovodrun, "-np", "2", "-H", "localhost:2", "--gloo", sys.executable, "-m",
               "deepspeech_freeze.train", "--horovod", "--checkpoint_dir", str(tmp_path / "ck"),
               "--summary_dir", str(tmp_path / "s"), "--train_files", csv, "--epochs", "1",
               "--augment", "volume[dbfs=-20~10]", "--augment", "frequency_mask[n=2,size=3]"] + BASE
    result = subprocess.run(command, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Weights identical on all 2 ranks" in result.stdout
    assert "[0]<stderr>:I Finished training epoch 0" in result.stdout
    # Each rank took two of the four samples: two steps of batch 1 for the pair.
    assert os.path.exists(str(tmp_path / "ck" / "train-2.index")), sorted(os.listdir(str(tmp_path / "ck")))
