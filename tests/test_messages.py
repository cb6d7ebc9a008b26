"""Messages a user can act on: advice never recommends a flag the user already gave or a value already set.

Each message that can recommend a flag is checked with and without that flag: the advice changes. The pure ones
(``deepspeech_freeze.advice``) are called directly; the rest through the CLI a user runs."""
import os
import shutil

import pytest

from conftest import GERMAN, run_module
from test_flags import config_errors
from deepspeech_freeze import advice
from deepspeech_freeze.prefix_cache import check_cacheable
from deepspeech_freeze.errors import UserError
from deepspeech_freeze.run_record import RunRecord

ENGLISH_LABELS = list(" abcdefghijklmnopqrstuvwxyz'")
GERMAN_LABELS = ENGLISH_LABELS + list("äöüß")


def english_run(source_checkpoint=None, reinit="none"):
    return RunRecord(source_checkpoint=source_checkpoint, reinit_layers=reinit, alphabet=ENGLISH_LABELS,
                     n_hidden=100)


# ----------------------------------------------------------------------------------------------------------------
# A save directory that holds a run, and a command that asks for a transfer


def test_transfer_asked_into_a_folder_holding_a_run_says_what_happened_and_the_way_out(tmp_path):
    en = str(tmp_path / "en")
    message = advice.resume_conflict(en, english_run(), en, frozenset({6}), GERMAN_LABELS)
    assert "already holds a training run, which this command would resume" in message
    assert "re-initialising layer(s) 6" in message and "an alphabet of 32 labels (the run's has 28)" in message
    assert "--load_checkpoint_dir {} --save_checkpoint_dir {}_transfer".format(en, en) in message
    assert "--drop_source_layers" not in message  # the flag the user gave is not the way out
    # Another alphabet alone (no layers dropped) is a transfer too; the way out is the same.
    assert "--save_checkpoint_dir" in advice.resume_conflict(en, english_run(), en, frozenset(), GERMAN_LABELS)


def test_rerunning_the_command_that_started_the_run_resumes_it(tmp_path):
    en, de = str(tmp_path / "en"), str(tmp_path / "de")
    started = english_run(source_checkpoint=os.path.join(en, "best_dev-12"), reinit="6")
    assert advice.resume_conflict(de, started, en, frozenset({6}), ENGLISH_LABELS) is None
    assert advice.resume_conflict(de, started, de, frozenset(), ENGLISH_LABELS) is None  # --checkpoint_dir de
    assert advice.resume_conflict(en, english_run(), en, frozenset(), ENGLISH_LABELS) is None


def test_another_load_directory_does_not_repeat_it_as_advice(tmp_path):
    en, de = str(tmp_path / "en"), str(tmp_path / "de")
    message = advice.resume_conflict(de, english_run(), en, frozenset(), ENGLISH_LABELS)
    assert "loading from {}".format(en) in message
    assert "choose a --save_checkpoint_dir that holds no run (e.g. {}_transfer)".format(de) in message
    assert "--load_checkpoint_dir" not in message  # given already, with this value


def test_the_issue_command_gets_the_transfer_advice_and_leaves_the_model_intact(tmp_path, english_model, ldc_dir):
    # The issue's command: DeepSpeech's fine-tuning habit (--checkpoint_dir on the model) plus a transfer.
    en = tmp_path / "en"
    shutil.copytree(str(english_model), str(en))
    def model_files():  # the checkpoints and the run record (flags.txt and the lock are the command's own)
        return {name: os.path.getmtime(str(en / name)) for name in os.listdir(str(en))
                if name not in ("flags.txt", ".lock")}
    before = model_files()
    result = run_module("deepspeech_freeze.train", "--checkpoint_dir", en, "--drop_source_layers", "1",
                        "--alphabet_config_path", GERMAN, "--train_files", ldc_dir / "ldc93s1.csv", "--epochs", "1",
                        "--n_hidden", "100", "--noshow_progressbar", check=False)
    assert result.returncode == 2 and "Traceback" not in result.output, result.output[-3000:]
    error = result.output.strip().splitlines()[-1]
    assert error.startswith("ERROR: ") and "would resume" in error, result.output[-3000:]
    assert "--load_checkpoint_dir {} --save_checkpoint_dir".format(en) in error
    assert "pass --drop_source_layers" not in result.output
    assert model_files() == before
    print(error)


# ----------------------------------------------------------------------------------------------------------------
# Each message that recommends a flag: give the flag, the advice changes


def test_output_layer_mismatch_advice_follows_the_reinit_flag_given():
    from test_restore_plan import graph_vars  # pylint: disable=import-outside-toplevel
    from deepspeech_freeze.checkpoints import plan_restore  # pylint: disable=import-outside-toplevel
    ckpt = {"layer_1/bias": [4], "layer_6/bias": [5], "global_step": [], "beta2_power": []}
    with pytest.raises(UserError, match="pass --drop_source_layers 1"):
        plan_restore(graph_vars(), ckpt, "ckpt-2")
    with pytest.raises(UserError) as raised:  # --reinit_layers 5: the flags exclude each other
        plan_restore(graph_vars(), ckpt, "ckpt-2", reinit_layers={5})
    assert "--reinit_layers 5-6" in str(raised.value) and "--drop_source_layers" not in str(raised.value)


def test_freezing_without_a_source_names_what_was_given(tmp_path):
    en, de = str(tmp_path / "en"), str(tmp_path / "de")
    plain = advice.freeze_without_source("1-3", de, de, "auto", False)
    assert "set --load_checkpoint_dir to the source model" in plain
    given = advice.freeze_without_source("1-3", en, de, "auto", False)
    assert "--load_checkpoint_dir {} holds no checkpoint".format(en) in given and "set --load_checkpoint_dir" \
        not in given
    init = advice.freeze_without_source("1-3", en, de, "init", True)
    assert "drop --load_train init to load them from {}".format(en) in init and "--load_checkpoint_dir" not in init


def test_nothing_to_load_points_at_the_checkpoint_that_is_there(tmp_path):
    en, de = str(tmp_path / "en"), str(tmp_path / "de")
    assert "use --load_train last (or auto)" in advice.nothing_to_load("best", en, de, True)
    assert "use --load_train best (or auto)" in advice.nothing_to_load("last", en, de, True)
    neither = advice.nothing_to_load("best", en, de, False)
    assert neither.startswith("All initialization methods failed (['best'])")
    assert "point --load_checkpoint_dir at another folder" in neither
    assert "at the folder of a checkpoint" in advice.nothing_to_load("best", de, de, False)


def test_batch_advice_never_says_lower_a_batch_of_one():
    assert advice.batch_too_large(3, 4, 1, 1).endswith("lower --train_batch_size to 3")
    one = advice.batch_too_large(1, 1, 2, 1)
    assert "--train_batch_size is already 1" in one and "lower --train_batch_size" not in one
    assert "even --train_batch_size 1 needs 4 samples" in advice.batch_too_large(3, 2, 2, 2)


def test_prefix_cache_advice_names_only_the_rates_not_yet_zero():
    rates = (0.05, 0.05, 0.05, 0.0, 0.0, 0.05)
    with pytest.raises(UserError) as all_set:
        check_cacheable({1, 2, 3, 4, 5}, rates)
    assert "set --dropout_rate 0 --dropout_rate2 0 --dropout_rate3 0 --dropout_rate6 0" in str(all_set.value)
    with pytest.raises(UserError) as one_left:  # --dropout_rate 0 given; layer 5's rate still applies
        check_cacheable({1, 2, 3, 4, 5}, (0.0, 0.0, 0.0, 0.0, 0.0, 0.05))
    assert "set --dropout_rate6 0 to use" in str(one_left.value) and "--dropout_rate 0" not in str(one_left.value)


def test_reinitialising_every_layer_with_load_train_init_is_not_told_to_use_it():
    cases = [["--reinit_layers", "1-6"], ["--reinit_layers", "1-6", "--load_train", "init"]]
    plain, with_init = config_errors(cases)
    assert "use --load_train init" in plain
    assert "already initialises every layer; drop --reinit_layers" in with_init and "use --load_train" not in with_init


@pytest.mark.parametrize("module, given, missing", [
    ("deepspeech_freeze.weight_change", ["--source", "a"], "--target"),
    ("deepspeech_freeze.topdown", ["--load_checkpoint_dir", "a"], "--save_checkpoint_dir"),
])
def test_tools_ask_only_for_the_flags_still_missing(module, given, missing):
    result = run_module(module, *given, check=False)
    assert result.returncode == 2 and "Traceback" not in result.output, result.output[-2000:]
    error = result.output.strip().splitlines()[-1]
    assert missing in error and given[0] not in error, error
