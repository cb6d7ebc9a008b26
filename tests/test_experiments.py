"""Experiments as data: scheme loading and validation, the runner (skip, resume-by-test), results tables and plot,
and the synthetic corpora. The end-to-end test trains tiny models (n_hidden 32, 2 epochs) on 12 + 12 utterances."""
import csv
import io
import json
import os
import shutil

import pytest

from conftest import ROOT, run_module
from deepspeech_freeze.errors import UserError
from deepspeech_freeze.experiments import run as runner
from deepspeech_freeze.experiments import schemes, synth

PAPER = os.path.join(ROOT, "experiments", "eberhard2021")
DEMO = os.path.join(ROOT, "experiments", "demo")
ENGLISH = os.path.join(ROOT, "data", "alphabets", "english.txt")
GERMAN = os.path.join(ROOT, "data", "alphabets", "german.txt")

TABLE2 = [  # name, label, freeze_layers, epochs (None: common)
    ("baseline", "Baseline (from scratch)", None, None),
    ("transfer-0", "Transfer, 0 frozen", None, None),
    ("freeze-1", "Layer 1 frozen", "1", None),
    ("freeze-1-2", "Layers 1-2 frozen", "1-2", None),
    ("freeze-1-3", "Layers 1-3 frozen", "1-3", None),
    ("freeze-1-4", "Layers 1-4 frozen", "1-4", None),
    ("freeze-1-3-5", "Layers 1-3,5 frozen", "1-3,5", None),
    ("freeze-1-5", "Layers 1-5 frozen", "1-5", 15),
]


def copy_scheme(tmp_path, source=PAPER):
    target = tmp_path / "scheme"
    shutil.copytree(source, str(target))
    return target


def edit_json(path, change):
    with io.open(str(path), encoding="utf-8") as handle:
        data = json.load(handle)
    change(data)
    with io.open(str(path), "w", encoding="utf-8") as handle:
        json.dump(data, handle)


def load_error(path):
    with pytest.raises(UserError) as caught:
        schemes.load_scheme(str(path))
    return str(caught.value)


# ----------------------------------------------------------------------------------------------------------------
# Schemes


def test_paper_scheme_holds_table2_with_the_papers_values():
    scheme = schemes.load_scheme(PAPER)
    assert [(row.name, row.label) for row in scheme.rows] == [(name, label) for name, label, _, _ in TABLE2]
    assert dict(scheme.common) == {
        "train_batch_size": 24, "dev_batch_size": 36, "test_batch_size": 36, "learning_rate": 0.0005,
        "dropout_rate": 0.4, "n_hidden": 2048, "epochs": 30, "beam_width": 1024, "lm_alpha": 0.931289039105002,
        "lm_beta": 1.1834137581510284, "early_stop": False, "reduce_lr_on_plateau": False}
    for row, (_, _, frozen, epochs) in zip(scheme.rows, TABLE2):
        assert row.flags.get("freeze_layers") == frozen, row.name
        assert row.flags["epochs"] == (epochs or 30), row.name
        if row.name == "baseline":
            assert row.from_scratch and "drop_source_layers" not in row.flags
        else:
            assert not row.from_scratch and row.flags["drop_source_layers"] == 1, row.name


def test_demo_scheme_has_the_same_rows_with_demo_sized_settings():
    paper, demo = schemes.load_scheme(PAPER), schemes.load_scheme(DEMO)
    for a, b in zip(paper.rows, demo.rows):
        assert (a.name, a.label, a.order) == (b.name, b.label, b.order)
        row_only = {k: v for k, v in a.flags.items() if k not in paper.common or paper.common[k] != v}
        assert {k: b.flags[k] for k in row_only} == row_only, a.name
    assert len(demo.rows) == 8
    assert demo.common["n_hidden"] == 256 and demo.common["epochs"] == 15
    assert not demo.common["early_stop"] and not demo.common["reduce_lr_on_plateau"]


def test_unknown_top_level_key_is_rejected_naming_file_and_key(tmp_path):
    scheme = copy_scheme(tmp_path)
    edit_json(scheme / "freeze-1.json", lambda d: d.update(flgs={}))
    message = load_error(scheme)
    assert "freeze-1.json" in message and "unknown key 'flgs'" in message and "did you mean 'flags'" in message


def test_unknown_flag_is_rejected_with_a_suggestion(tmp_path):
    scheme = copy_scheme(tmp_path)
    edit_json(scheme / "freeze-1-3.json", lambda d: d["flags"].update(freeze_layer="1-3"))
    message = load_error(scheme)
    assert "freeze-1-3.json" in message and "'freeze_layer' is not a flag" in message
    assert "did you mean 'freeze_layers'" in message


def test_unknown_key_in_common_is_rejected(tmp_path):
    scheme = copy_scheme(tmp_path)
    edit_json(scheme / "common.json", lambda d: d["flags"].update(learning_rat=0.1))
    message = load_error(scheme)
    assert "common.json" in message and "'learning_rat'" in message
    edit_json(scheme / "common.json", lambda d: (d["flags"].pop("learning_rat"), d.update(hyper=1)))
    assert "unknown key 'hyper'" in load_error(scheme)


@pytest.mark.parametrize("name, value, expected", [
    ("train_files", "x.csv", "set by the runner from --data"),
    ("save_checkpoint_dir", "x", "set by the runner from --out"),
    ("epochs", "many", "cannot take 'many'"),
    ("early_stop", "maybe", "is a switch"),
    ("n_hidden", True, "takes a value of type int, not true"),
    ("dropout_rate", [0.1], "give a number, a string or true/false"),
])
def test_bad_flag_values_are_rejected(tmp_path, name, value, expected):
    scheme = copy_scheme(tmp_path)
    edit_json(scheme / "transfer-0.json", lambda d: d["flags"].update({name: value}))
    message = load_error(scheme)
    assert "transfer-0.json" in message and expected in message


def test_row_structure_is_checked(tmp_path):
    scheme = copy_scheme(tmp_path)
    edit_json(scheme / "freeze-1.json", lambda d: d.update(name="freeze-one"))
    assert "must be the file name without .json ('freeze-1')" in load_error(scheme)
    edit_json(scheme / "freeze-1.json", lambda d: d.update(name="freeze-1", order=0))
    assert "\"order\" 0 is also used by" in load_error(scheme)
    edit_json(scheme / "freeze-1.json", lambda d: (d.update(order=2), d.pop("label")))
    assert "missing key 'label'" in load_error(scheme)
    (scheme / "broken.json").write_text("{not json")
    assert "broken.json: not valid JSON" in load_error(scheme)


def test_overrides_win_and_are_checked():
    overrides = schemes.parse_overrides(["epochs=2", "train_cudnn=true", "load_cudnn=false"])
    scheme = schemes.load_scheme(PAPER, overrides)
    assert all(row.flags["epochs"] == 2 for row in scheme.rows)  # --set beats freeze-1-5's own 15
    command = runner.train_command(scheme.rows[-1], {s: "/d/{}.csv".format(s) for s in runner.SPLITS}, "/src",
                                   GERMAN, "", "/runs")
    assert "--epochs=2" in command and "--train_cudnn=true" in command and "--freeze_layers=1-5" in command
    assert "--load_checkpoint_dir=/src" in command and "--save_checkpoint_dir=/runs/freeze-1-5" in command
    assert "--load_evaluate=best" in command and "--test_output_file=/runs/freeze-1-5/test_samples.json" in command
    for bad, expected in (["epoch=2"], "did you mean 'epochs'"), (["--epochs=2"], "without dashes"), \
                         (["epochs"], "write key=value"), (["test_files=x"], "set by the runner"):
        with pytest.raises(UserError) as caught:
            schemes.parse_overrides(bad)
        assert expected in str(caught.value)


def test_baseline_starts_from_scratch_in_its_own_folder(tmp_path):
    baseline = schemes.load_scheme(PAPER).rows[0]
    files = {s: "/d/{}.csv".format(s) for s in runner.SPLITS}
    out = str(tmp_path / "runs")
    command = runner.train_command(baseline, files, "/src", GERMAN, "", out)
    folder = os.path.join(out, "baseline")
    assert "--load_train=init" in command and "--load_checkpoint_dir={}".format(folder) in command
    os.makedirs(folder)
    io.open(os.path.join(folder, "run.json"), "w").write(u"{}")
    # An interrupted baseline resumes from its own checkpoints instead of starting over.
    assert "--load_train=auto" in runner.train_command(baseline, files, "/src", GERMAN, "", out)


def test_only_names_unknown_rows():
    with pytest.raises(UserError) as caught:
        schemes.select_rows(schemes.load_scheme(PAPER), "baseline,freeze-13")
    assert "no row 'freeze-13'" in str(caught.value) and "freeze-1-3" in str(caught.value)


# ----------------------------------------------------------------------------------------------------------------
# Variant rows: repeatable flags as lists, shared flag sets, compare_with (experiments/heidelberg-digits)

DIGITS = os.path.join(ROOT, "experiments", "heidelberg-digits")
AUGMENT = ["pitch[p=0.3,pitch=1~0.1]", "tempo[p=0.3,factor=1~0.15]", "frequency_mask[p=0.3,n=1:2,size=1:3]",
           "time_mask[p=0.3,n=1:2,size=10:40]"]
SPECS = ", ".join(AUGMENT)
VARIANTS = [  # name, order, plain row, what the row adds to it
    ("baseline-augment", 8, "baseline", "augment"),
    ("transfer-0-augment", 9, "transfer-0", "augment"),
    ("freeze-1-2-augment", 10, "freeze-1-2", "augment"),
    ("transfer-0-reuse", 11, "transfer-0", "reuse"),
    ("freeze-1-3-reuse", 12, "freeze-1-3", "reuse"),
]
FILES = {split: "/d/{}.csv".format(split) for split in runner.SPLITS}


def test_digits_variant_rows_follow_the_plain_rows_and_name_their_counterparts():
    scheme = schemes.load_scheme(DIGITS)
    rows = {row.name: row for row in scheme.rows}
    assert [row.name for row in scheme.rows] == [name for name, _, _, _ in TABLE2] + [v[0] for v in VARIANTS]
    assert all(not rows[name].compare_with and "augment" not in rows[name].flags for name, _, _, _ in TABLE2)
    for name, order, plain, adds in VARIANTS:
        row, counterpart = rows[name], rows[plain]
        assert row.order == order and row.compare_with == plain, name
        extra = {k: v for k, v in row.flags.items() if counterpart.flags.get(k) != v}
        if adds == "augment":
            # The same flags as the plain row plus the one shared set; the label adds the specs by itself.
            assert extra == {"augment": AUGMENT}, name
            assert row.label == "{} + augment {}".format(counterpart.label, SPECS)
        else:
            assert extra == {"reuse_output_rows": True}, name
            assert row.label.startswith(counterpart.label + " + ") and "reused" in row.label
        assert row.from_scratch == counterpart.from_scratch
    # Written once: the rows name common.json's flag set instead of repeating the specs.
    with io.open(os.path.join(DIGITS, "common.json"), encoding="utf-8") as handle:
        assert json.load(handle)["flag_sets"] == {"augment": {"augment": AUGMENT}}
    for name, _, _, adds in VARIANTS:
        with io.open(os.path.join(DIGITS, name + ".json"), encoding="utf-8") as handle:
            data = json.load(handle)
        assert "augment" not in data["flags"] and "augment" not in data["label"]
        assert data.get("flag_sets", []) == (["augment"] if adds == "augment" else [])


def test_an_augmented_row_gets_one_augment_option_per_spec_in_order(tmp_path):
    rows = {row.name: row for row in schemes.load_scheme(DIGITS).rows}
    for name in ("baseline-augment", "transfer-0-augment", "freeze-1-2-augment"):
        command = runner.train_command(rows[name], FILES, "/src", GERMAN, "", str(tmp_path))
        assert [arg for arg in command if arg.startswith("--augment")] == ["--augment=" + s for s in AUGMENT]
        assert "--reuse_output_rows=true" not in command
    plain = runner.train_command(rows["freeze-1-2"], FILES, "/src", GERMAN, "", str(tmp_path))
    assert not [arg for arg in plain if arg.startswith("--augment")]
    # Only a row whose training finished and whose test did not runs the evaluation: without training options.
    test = runner.test_command(rows["transfer-0-augment"], FILES, GERMAN, "", str(tmp_path))
    assert not [arg for arg in test if arg.startswith("--augment")] and "--epochs=10" not in test


def test_a_reuse_row_gets_reuse_output_rows(tmp_path):
    rows = {row.name: row for row in schemes.load_scheme(DIGITS).rows}
    for name, plain in (("transfer-0-reuse", "transfer-0"), ("freeze-1-3-reuse", "freeze-1-3")):
        command = runner.train_command(rows[name], FILES, "/src", GERMAN, "", str(tmp_path))
        assert "--reuse_output_rows=true" in command and "--drop_source_layers=1" in command
        assert "--load_checkpoint_dir=/src" in command
        assert "--reuse_output_rows=true" not in runner.train_command(rows[plain], FILES, "/src", GERMAN, "",
                                                                      str(tmp_path))


def test_set_gives_a_repeatable_flag_as_a_list_that_replaces_the_rows_own():
    overrides = schemes.parse_overrides(["augment=tempo[p=0.5]", "epochs=2", "augment=pitch"])
    assert overrides["augment"] == ["tempo[p=0.5]", "pitch"]
    rows = {row.name: row for row in schemes.load_scheme(DIGITS, overrides).rows}
    for name in ("transfer-0", "transfer-0-augment"):
        command = runner.train_command(rows[name], FILES, "/src", GERMAN, "", "/runs")
        assert [arg for arg in command if arg.startswith("--augment")] == ["--augment=tempo[p=0.5]",
                                                                           "--augment=pitch"]
        assert rows[name].label.endswith(" + augment tempo[p=0.5], pitch")
    with pytest.raises(UserError) as caught:
        schemes.parse_overrides(["augment=tempo[factor=0:]"])
    assert "--set augment=tempo[factor=0:]" in str(caught.value) and "factor=0:" in str(caught.value)


@pytest.mark.parametrize("value, expected", [
    ([], "is repeatable: give a non-empty list of strings"),
    (["pitch[p=0.3]", 7], "item 2 of the list is 7"),
    (["pitch[p=0.3]", ""], 'item 2 of the list is ""'),
    ({"pitch": 0.3}, "is repeatable"),
    (["pitch[p=0.3]", "tempo[p=1.3]"], "--augment tempo[p=1.3]: p=1.3: p is a probability"),
    (["pich[p=0.3]"], "unknown augmentation 'pich' (did you mean pitch?)"),
    (["pitch[p=0.3],tempo"], "wrong format"),
])
def test_a_malformed_augment_list_is_rejected_at_load(tmp_path, value, expected):
    scheme = copy_scheme(tmp_path, DIGITS)
    edit_json(scheme / "common.json", lambda d: d["flag_sets"]["augment"].update(augment=value))
    message = load_error(scheme)
    assert "common.json (flag set 'augment')" in message and "'augment'" in message and expected in message, \
        message


def test_flag_sets_and_compare_with_are_checked(tmp_path):
    scheme = copy_scheme(tmp_path, DIGITS)
    edit_json(scheme / "transfer-0-augment.json", lambda d: d.update(compare_with="transfer-O"))
    message = load_error(scheme)
    assert "transfer-0-augment.json" in message and "\"compare_with\" names 'transfer-O'" in message
    assert "did you mean 'transfer-0'" in message and "not a row of scheme" in message
    for bad in ("transfer-0-augment", "", 3):
        edit_json(scheme / "transfer-0-augment.json", lambda d, bad=bad: d.update(compare_with=bad))
        assert "\"compare_with\" must name another row" in load_error(scheme)
    edit_json(scheme / "transfer-0-augment.json", lambda d: d.update(compare_with="transfer-0",
                                                                     flag_sets=["augmnt"]))
    message = load_error(scheme)
    assert "flag set 'augmnt' is not defined in" in message and "did you mean 'augment'" in message
    edit_json(scheme / "transfer-0-augment.json", lambda d: d.update(flag_sets="augment"))
    assert "\"flag_sets\" must be a list of flag set names" in load_error(scheme)
    # Without its flag set the row would show the plain row's label: tables could not tell them apart.
    edit_json(scheme / "transfer-0-augment.json", lambda d: d.update(flag_sets=[]))
    message = load_error(scheme)
    assert "label 'Transfer, 0 frozen'" in message and "transfer-0.json" in message
    edit_json(scheme / "transfer-0-augment.json", lambda d: d.update(flag_sets=["augment"]))
    edit_json(scheme / "common.json", lambda d: d["flag_sets"].update(fast={"epoch": 1}))
    message = load_error(scheme)
    assert "common.json (flag set 'fast')" in message and "did you mean 'epochs'" in message
    edit_json(scheme / "common.json", lambda d: d["flag_sets"].update(fast=["epochs=1"]))
    assert "the flag set must be a JSON object" in load_error(scheme)
    edit_json(scheme / "common.json", lambda d: d["flag_sets"].pop("fast"))
    assert len(schemes.load_scheme(str(scheme)).rows) == 13  # the repaired copy loads again


def write_seeded_variant_runs(root, scheme, wrong, seeds=(1, 2)):
    """The seed folders of ``wrong`` = {row name: words wrong of 4} as the runner writes them, the label, order,
    flags and compare_with taken from the scheme's rows (so the tables see what a real run records)."""
    from test_stats import WORDS, write_run
    rows = {row.name: row for row in scheme.rows}
    for seed in seeds:
        for name, count in wrong.items():
            row = rows[name]
            folder = root / "seed-{}".format(seed) / name
            write_run(folder, name, row.label, row.order, seed, count / 4.0, count / 4.0,
                      [(word, "x" if index < count else word) for index, word in enumerate(WORDS)],
                      dict(row.flags, random_seed=seed), row.flags.get("freeze_layers", "none"))
            edit_json(folder / "result.json", lambda d, row=row: d.update(compare_with=row.compare_with or None))


def counterpart_cells(markdown, label):
    table = markdown.split("against the row it varies")[1]
    line = next(l for l in table.splitlines() if l.startswith("| {} |".format(label)))
    return [cell.strip() for cell in line.split(" | ")[1:]]


def test_results_show_the_specs_and_compare_each_variant_with_its_counterpart(tmp_path):
    from conftest import run_module
    from deepspeech_freeze.experiments.tables import md_text
    scheme = schemes.load_scheme(DIGITS)
    labels = {row.name: row.label for row in scheme.rows}
    runs = tmp_path / "runs"
    # Chosen so that each difference to the counterpart differs from the one to the baseline and to transfer-0.
    write_seeded_variant_runs(runs, scheme, {"baseline": 4, "transfer-0": 1, "freeze-1-2": 3, "baseline-augment": 3,
                                             "transfer-0-augment": 0, "freeze-1-2-augment": 1,
                                             "transfer-0-reuse": 2})
    markdown = run_module("deepspeech_freeze.experiments.results", "--runs", runs).stdout
    augmented = md_text(labels["freeze-1-2-augment"])
    assert augmented == "Layers 1-2 frozen + augment " + SPECS.replace("~", "\\~")
    assert "| {} | 2 |".format(augmented) in markdown  # the seed table's row
    assert counterpart_cells(markdown, augmented)[0] == "Layers 1-2 frozen"
    assert counterpart_cells(markdown, augmented)[1].startswith("-.500 [")  # 1 vs 3 of 4 wrong
    assert counterpart_cells(markdown, md_text(labels["baseline-augment"]))[1].startswith("-.250 [")
    assert counterpart_cells(markdown, md_text(labels["transfer-0-augment"]))[1].startswith("-.250 [")
    reuse = counterpart_cells(markdown, labels["transfer-0-reuse"])
    assert reuse[0] == "Transfer, 0 frozen" and reuse[1].startswith("+.250 [")
    # The plain rows are compared with the references only.
    assert not [line for line in markdown.split("against the row it varies")[1].splitlines()
                if line.startswith("| Layers 1-2 frozen |")]
    with io.open(str(runs / "summary.csv"), encoding="utf-8") as handle:
        summary = {row["scheme"]: row for row in csv.DictReader(handle)}
    assert summary["freeze-1-2-augment"]["label"] == labels["freeze-1-2-augment"] and SPECS in \
        summary["freeze-1-2-augment"]["label"]
    assert summary["freeze-1-2-augment"]["compare_with"] == "freeze-1-2"
    assert float(summary["freeze-1-2-augment"]["wer_vs_counterpart_diff"]) == pytest.approx(-0.5)
    assert float(summary["freeze-1-2-augment"]["wer_vs_baseline_diff"]) == pytest.approx(-0.75)
    assert float(summary["freeze-1-2-augment"]["wer_vs_transfer_diff"]) == pytest.approx(0.0)
    assert summary["freeze-1-2"]["compare_with"] == "" and summary["freeze-1-2"]["wer_vs_counterpart_p"] == ""
    with io.open(str(runs / "results.csv"), encoding="utf-8") as handle:
        assert {row["label"] for row in csv.DictReader(handle)} == {labels[name] for name in summary}


def test_a_variant_whose_counterpart_did_not_run_is_listed_and_never_a_reference(tmp_path):
    from conftest import run_module
    from deepspeech_freeze.experiments.tables import md_text
    scheme = schemes.load_scheme(DIGITS)
    runs = tmp_path / "runs"
    write_seeded_variant_runs(runs, scheme, {"baseline": 4, "baseline-augment": 3, "transfer-0-augment": 0,
                                             "transfer-0-reuse": 2})
    markdown = run_module("deepspeech_freeze.experiments.results", "--runs", runs).stdout
    # transfer-0 did not run: neither variant of it becomes the "transfer, 0 frozen" reference.
    assert "No comparison against a transfer row with nothing frozen" in markdown
    assert "Δ WER vs Transfer" not in markdown
    assert "Not compared with their counterpart:" in markdown
    assert "(its counterpart transfer-0 has no results here)" in markdown
    augmented = md_text(next(row.label for row in scheme.rows if row.name == "baseline-augment"))
    assert counterpart_cells(markdown, augmented)[0] == "Baseline (from scratch)"


# ----------------------------------------------------------------------------------------------------------------
# Synthetic corpora


@pytest.mark.parametrize("language, alphabet", [("en", ENGLISH), ("de", GERMAN)])
def test_grammar_fits_the_alphabet(language, alphabet):
    from deepspeech_freeze.alphabet import Alphabet
    import random
    labels = Alphabet(alphabet)
    sentences = synth.make_sentences(language, 300, random.Random(7))
    assert len(set(sentences)) == 300
    assert all(not labels.missing_characters(sentence) for sentence in sentences)
    if language == "de":
        text = " ".join(sentences)
        assert all(char in text for char in "äöü") and "ß" not in text
    assert synth.make_sentences(language, 20, random.Random(7)) == sentences[:20]  # fixed seed, same corpus


# ----------------------------------------------------------------------------------------------------------------
# End to end: synth -> English source -> German rows -> results


TINY = ["--set", "n_hidden=32", "--set", "epochs=2", "--set", "train_batch_size=4", "--set", "beam_width=4"]


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    assert shutil.which("espeak-ng") and (shutil.which("sox") or shutil.which("ffmpeg")), \
        "espeak-ng and sox/ffmpeg synthesise the corpus: run bin/install.sh"
    work = tmp_path_factory.mktemp("experiments")
    for language in ("en", "de"):
        synth.build_corpus(language, str(work / language), 12, dev=2, test=2, seed=3)
    run_module("deepspeech_freeze.experiments.run", "--scheme", DEMO, "--only", "baseline", "--data", work / "en",
               "--alphabet", ENGLISH, "--out", work / "english", *TINY)
    german = ["--scheme", DEMO, "--data", work / "de", "--source", work / "english" / "baseline", "--alphabet",
              GERMAN, "--out", work / "german", "--only", "baseline,freeze-1-3"] + TINY
    first = run_module("deepspeech_freeze.experiments.run", *german)
    return work, german, first


def read_result(work, name):
    with io.open(str(work / "german" / name / "result.json"), encoding="utf-8") as handle:
        return json.load(handle)


@pytest.mark.slow
def test_runner_writes_results_for_each_row(tiny_runs):
    work, _, first = tiny_runs
    assert "training" in first.output and "frozen layers 1-3 unchanged (bit-identical)" in first.output
    assert sorted(os.listdir(str(work / "german"))) == ["baseline", "freeze-1-3"]
    for name, label in (("baseline", "Baseline (from scratch)"), ("freeze-1-3", "Layers 1-3 frozen")):
        result = read_result(work, name)
        assert result["scheme"] == name and result["label"] == label
        assert 0 <= result["wer"] <= 1 and 0 <= result["cer"] <= 1 and result["test_loss"] > 0
        assert result["test_samples"] == 2 and result["epochs_run"] == 2 and len(result["history"]) == 2
        assert result["best_dev_epoch"] in (0, 1)
        assert result["best_dev_loss"] == min(entry["dev_loss"] for entry in result["history"])
        assert result["train_seconds"] == pytest.approx(sum(entry["seconds"] for entry in result["history"]),
                                                        abs=0.01)
        assert result["audio_hours_per_hour"] == pytest.approx(
            result["train_audio_seconds"] * 2 / result["train_seconds"])
        assert result["flags"]["n_hidden"] == 32 and os.path.basename(result["tested_checkpoint"]).startswith(
            "best_dev-")
        assert os.path.isfile(str(work / "german" / name / "test_samples.json"))
    baseline, frozen = read_result(work, "baseline"), read_result(work, "freeze-1-3")
    assert baseline["source_checkpoint"] is None and baseline["weight_change"] is None
    assert frozen["frozen_layers"] == "1-3" and frozen["reinit_layers"] == "6"
    assert "unchanged (bit-identical)" in frozen["frozen_proof"]
    change = {row["layer"]: row for row in frozen["weight_change"]}
    assert [change[layer]["relative_change"] for layer in (1, 2, 3)] == [0.0, 0.0, 0.0]
    assert change[4]["relative_change"] > 0 and change[5]["relative_change"] > 0
    assert change[6]["relative_change"] is None and "re-initialised" in change[6]["note"]


@pytest.mark.slow
def test_rerun_skips_finished_rows_and_only_tests_a_trained_row(tiny_runs):
    work, german, _ = tiny_runs
    before = read_result(work, "freeze-1-3")
    second = run_module("deepspeech_freeze.experiments.run", *german)
    assert second.output.count("skipped") == 2 and "Finished training" not in second.output
    assert read_result(work, "freeze-1-3") == before
    # Training finished but the test did not: the rerun tests the best-dev checkpoint without training again.
    folder = work / "german" / "baseline"
    steps = json.load(io.open(str(folder / "run.json")))["epoch_end_steps"]
    os.remove(str(folder / "result.json"))
    os.remove(str(folder / "test_samples.json"))
    third = run_module("deepspeech_freeze.experiments.run", *german)
    assert "testing the best-dev checkpoint" in third.output and "Finished training" not in third.output
    again = read_result(work, "baseline")
    assert json.load(io.open(str(folder / "run.json")))["epoch_end_steps"] == steps
    assert again["epochs_run"] == 2 and again["test_samples"] == 2


@pytest.mark.slow
def test_results_table_csv_and_plot(tiny_runs):
    work = tiny_runs[0]
    out = work / "report"
    result = run_module("deepspeech_freeze.experiments.results", "--runs", work / "german", "--out", out,
                        "--note", "in-domain test set")
    assert "| Scheme | WER | CER | best dev loss (epoch) | train time | audio h / h |" in result.stdout
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert "| Baseline (from scratch) |" in markdown and "| Layers 1-3 frozen |" in markdown
    assert markdown.index("Baseline") < markdown.index("Layers 1-3 frozen") and "in-domain test set" in markdown
    assert "| Layers 1-3 frozen | 0 | 0 | 0 |" in markdown  # the weight-change table
    with io.open(str(out / "results.csv"), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["scheme"] for row in rows] == ["baseline", "freeze-1-3"]
    assert float(rows[1]["change_layer_1"]) == 0.0 and rows[0]["change_layer_1"] == ""
    png = (out / "learning_curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10000


def test_results_without_runs_is_a_clear_error(tmp_path):
    result = run_module("deepspeech_freeze.experiments.results", "--runs", tmp_path, check=False)
    assert result.returncode == 2 and "no result.json under" in result.stderr


@pytest.mark.slow
def test_one_command_from_raw_common_voice(tiny_runs, tmp_path):
    """bin/run-german.sh on a raw Common Voice layout (TSVs + mp3 clips): it imports, then runs the row."""
    import subprocess
    work = tiny_runs[0]
    raw, clips = tmp_path / "cv-de", tmp_path / "cv-de" / "clips"
    clips.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        with io.open(str(work / "de" / (split + ".csv")), encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        lines = ["client_id\tpath\tsentence\tup_votes\tdown_votes\n"]
        for index, row in enumerate(rows):
            name = "{}_{}.mp3".format(split, index)
            subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i",
                            str(work / "de" / row["wav_filename"]), str(clips / name)], check=True)
            lines.append("c{}\t{}\t{}\t2\t0\n".format(index, name, row["transcript"].capitalize() + "."))
        (raw / (split + ".tsv")).write_text("".join(lines), encoding="utf-8")
    runs = tmp_path / "runs"
    command = [os.path.join(ROOT, "bin", "run-german.sh"), str(raw), str(work / "english" / "baseline"),
               "freeze-1-3"] + TINY + ["--set", "load_cudnn=false"]
    result = subprocess.run(command, cwd=ROOT, env=dict(os.environ, DSF_RUNS=str(runs),
                                                        DSF_VENV_PYTHON=__import__("sys").executable),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "== importing" in result.stdout
    assert (runs / "data" / "train.csv").exists()
    with io.open(str(runs / "freeze-1-3" / "result.json"), encoding="utf-8") as handle:
        assert json.load(handle)["scheme"] == "freeze-1-3"
    assert (runs / "results.md").exists()


def test_every_shipped_scheme_loads():
    """Each folder of experiments/ is a scheme the runner accepts (a typo in any row's flags fails here, not hours
    into a run); the real-speech augmentation scheme varies only --augment, with the digits experiment's set."""
    folders = sorted(name for name in os.listdir(os.path.join(ROOT, "experiments"))
                     if os.path.isfile(os.path.join(ROOT, "experiments", name, schemes.COMMON_FILE)))
    assert {"eberhard2021", "heidelberg-digits", "demo", "mixed-precision", "augmentation"} <= set(folders)
    loaded = {name: schemes.load_scheme(os.path.join(ROOT, "experiments", name)) for name in folders}
    rows = {row.name: row for row in loaded["augmentation"].rows}
    assert sorted(rows) == ["augmented", "plain"]
    plain, augmented = dict(rows["plain"].flags), dict(rows["augmented"].flags)
    digits = {row.name: row for row in loaded["heidelberg-digits"].rows}
    assert augmented.pop("augment") == digits["transfer-0-augment"].flags["augment"]
    assert augmented == plain and "augment" not in plain


def test_a_broken_shipped_scheme_is_named(tmp_path):
    """The same load on a copy with a misspelt flag stops with the file and the flag named."""
    copy = tmp_path / "augmentation"
    shutil.copytree(os.path.join(ROOT, "experiments", "augmentation"), str(copy))
    row = json.loads((copy / "plain.json").read_text())
    row["flags"]["epoch"] = 3
    (copy / "plain.json").write_text(json.dumps(row))
    with pytest.raises(UserError, match=r"plain\.json.*'epoch'.*did you mean 'epochs'"):
        schemes.load_scheme(str(copy))
