"""Seed statistics and the paired bootstrap against hand-computed values, and proof that the checks reject
plausible wrong implementations (population sd, a normal instead of a t interval, an unpaired bootstrap, seeds
pooled without resampling)."""
import math

import numpy
import pytest

from deepspeech_freeze.experiments import stats

# t(0.975, df=2) = 4.302653 (any t table); the interval of [0.1, 0.2, 0.3] is 0.2 +- 4.302653 * 0.1 / sqrt(3).
HALF_WIDTH = 4.302653 * 0.1 / math.sqrt(3)


def check_summary(summarize):
    """Raises AssertionError unless ``summarize`` gives the hand-computed values."""
    three = summarize([0.1, 0.2, 0.3])
    assert three["n"] == 3 and three["mean"] == pytest.approx(0.2)
    assert three["sd"] == pytest.approx(0.1)
    assert (three["ci_low"], three["ci_high"]) == (pytest.approx(0.2 - HALF_WIDTH, abs=1e-6),
                                                   pytest.approx(0.2 + HALF_WIDTH, abs=1e-6))
    # Two values 0.3 and 0.5: mean 0.4, sd sqrt(0.02) = 0.141421, t(0.975, 1) = 12.706205.
    two = summarize([0.3, 0.5])
    assert two["sd"] == pytest.approx(math.sqrt(0.02))
    assert two["ci_high"] - two["mean"] == pytest.approx(12.706205 * math.sqrt(0.02) / math.sqrt(2), abs=1e-5)
    one = summarize([0.25])
    assert one["mean"] == 0.25 and one["sd"] is None and one["ci_low"] is None


def test_summary_matches_hand_computed_values():
    check_summary(stats.summarize)


def _population_sd(values):
    result = stats.summarize(values)
    if result["sd"] is not None:
        n = len(values)
        result["sd"] *= math.sqrt((n - 1) / float(n))
    return result


def _normal_interval(values):
    result = stats.summarize(values)
    if result["sd"] is not None:
        half = 1.959964 * result["sd"] / math.sqrt(len(values))
        result["ci_low"], result["ci_high"] = result["mean"] - half, result["mean"] + half
    return result


def _t_with_n_degrees(values):
    from scipy import stats as scipy_stats
    result = stats.summarize(values)
    if result["sd"] is not None:
        half = scipy_stats.t.ppf(0.975, len(values)) * result["sd"] / math.sqrt(len(values))
        result["ci_low"], result["ci_high"] = result["mean"] - half, result["mean"] + half
    return result


@pytest.mark.parametrize("broken", [_population_sd, _normal_interval, _t_with_n_degrees])
def test_summary_check_rejects_wrong_implementations(broken):
    with pytest.raises(AssertionError):
        check_summary(broken)


def check_bootstrap(bootstrap):
    """Raises AssertionError unless ``bootstrap`` gives the hand-computed values.

    1. Two utterances of length 1; A makes 1 error on the first, B none. A resample of two utterances is (1,1),
       (1,2), (2,1) or (2,2) with probability 1/4 each: differences 1, 0.5, 0.5, 0. So P(d <= 0) = 1/4,
       P(d >= 0) = 1, p = 2 * 1/4 = 0.5, and the 95 % interval is [0, 1].
    2. Both systems make the same errors: every resampled difference is 0 (p = 1, interval [0, 0]), which an
       unpaired bootstrap misses.
    3. One utterance, A's two seeds make 0 and 1 errors, B's one seed 0: resampled seed pairs give a mean of 0, 0.5,
       0.5 or 1, so again p = 0.5 and [0, 1]; pooling the seeds without resampling them would give p = 0.
    """
    first = bootstrap([[1, 0]], [[0, 0]], [1, 1])
    assert first["diff"] == 0.5 and first["utterances"] == 2
    assert first["p"] == pytest.approx(0.5, abs=0.03)
    assert (first["ci_low"], first["ci_high"]) == (0.0, 1.0)
    same = bootstrap([[1, 0, 2]], [[1, 0, 2]], [1, 1, 3])
    assert same["diff"] == 0 and same["p"] == 1.0 and (same["ci_low"], same["ci_high"]) == (0.0, 0.0)
    seeds = bootstrap([[0], [1]], [[0]], [1])
    assert seeds["diff"] == 0.5
    assert seeds["p"] == pytest.approx(0.5, abs=0.03) and (seeds["ci_low"], seeds["ci_high"]) == (0.0, 1.0)
    # Corpus rates are capped at 1 (as in the tables): 3 errors in 1 word and 1 error in 1 word are both 1.0.
    capped = bootstrap([[3]], [[1]], [1])
    assert capped["diff"] == 0 and capped["p"] == 1.0
    # A better on every utterance, with one seed each: no resample reverses the sign.
    clear = bootstrap([[0, 0, 0, 0]], [[1, 2, 1, 1]], [2, 2, 2, 2])
    assert clear["diff"] == pytest.approx(-5 / 8.0) and clear["p"] == 0.0 and clear["ci_high"] < 0


def test_bootstrap_matches_hand_computed_values():
    check_bootstrap(stats.paired_bootstrap)


def _unpaired(errors_a, errors_b, lengths, resamples=stats.RESAMPLES, seed=stats.BOOTSTRAP_SEED):
    """Resamples the utterances of A and B independently (wrong: the systems were tested on the same ones)."""
    a, b = numpy.atleast_2d(errors_a).mean(axis=0), numpy.atleast_2d(errors_b).mean(axis=0)
    lengths = numpy.asarray(lengths, dtype=float)
    rng = numpy.random.RandomState(seed)
    n = len(lengths)
    picks_a, picks_b = rng.randint(0, n, (resamples, n)), rng.randint(0, n, (resamples, n))
    d = a[picks_a].sum(1) / lengths[picks_a].sum(1) - b[picks_b].sum(1) / lengths[picks_b].sum(1)
    low, high = numpy.percentile(d, [2.5, 97.5])
    return {"diff": (a.sum() - b.sum()) / lengths.sum(), "ci_low": low, "ci_high": high, "utterances": n,
            "p": min(1.0, 2 * min(numpy.mean(d <= 0), numpy.mean(d >= 0)))}


def _seeds_pooled(errors_a, errors_b, lengths, resamples=stats.RESAMPLES, seed=stats.BOOTSTRAP_SEED):
    """Averages the seeds first and resamples only the utterances (wrong: seed noise disappears)."""
    return stats.paired_bootstrap(numpy.atleast_2d(errors_a).mean(axis=0), numpy.atleast_2d(errors_b).mean(axis=0),
                                  lengths, resamples, seed)


def _uncapped(errors_a, errors_b, lengths):
    """Rates not capped at 1: the differences would not be those of the tables' means."""
    return stats.paired_bootstrap(errors_a, errors_b, lengths, cap=None)


@pytest.mark.parametrize("broken", [_unpaired, _seeds_pooled, _uncapped])
def test_bootstrap_check_rejects_wrong_implementations(broken):
    with pytest.raises(AssertionError):
        check_bootstrap(broken)


def test_bootstrap_is_reproducible_and_checks_its_input():
    rng = numpy.random.RandomState(0)
    a, b = rng.randint(0, 3, (3, 50)), rng.randint(0, 3, (2, 50))
    lengths = rng.randint(1, 4, 50)
    assert stats.paired_bootstrap(a, b, lengths) == stats.paired_bootstrap(a, b, lengths)
    result = stats.paired_bootstrap(a, b, lengths)
    assert result["seeds_a"] == 3 and result["seeds_b"] == 2
    assert result["diff"] == pytest.approx((a.mean(0).sum() - b.mean(0).sum()) / lengths.sum())
    assert result["ci_low"] <= result["diff"] <= result["ci_high"]
    with pytest.raises(ValueError):
        stats.paired_bootstrap(a, b[:, :49], lengths)
    with pytest.raises(ValueError):
        stats.paired_bootstrap([[]], [[]], [])


def test_error_matrix_aligns_utterances_by_name():
    def sample(name, distance, length):
        return {"wav_filename": name, "word_distance": distance, "word_length": length}
    seed1 = [sample("b.wav", 1, 2), sample("a.wav", 0, 1)]
    seed2 = [sample("a.wav", 1, 1), sample("b.wav", 2, 2)]
    names, errors, lengths = stats.error_matrix([seed1, seed2])
    assert names == ["a.wav", "b.wav"]
    assert errors.tolist() == [[0, 1], [1, 2]] and lengths.tolist() == [1, 2]
    with pytest.raises(ValueError):
        stats.error_matrix([seed1, [sample("a.wav", 0, 1)]])


# ----------------------------------------------------------------------------------------------------------------
# The seed tables, from result.json / test_samples.json files as the runner writes them


def write_run(folder, scheme, label, order, seed, wer, cer, hypotheses, flags, frozen):
    """One row's result.json and test_samples.json; ``hypotheses`` maps each test reference to its transcript."""
    import io
    import json
    folder.mkdir(parents=True)
    samples = [{"wav_filename": "/data/{}.wav".format(index), "src": src, "res": res, "loss": 1.0}
               for index, (src, res) in enumerate(hypotheses)]
    (folder / "test_samples.json").write_text(json.dumps(samples), encoding="utf-8")
    result = {"scheme": scheme, "label": label, "order": order, "wer": wer, "cer": cer, "test_loss": 1.0,
              "best_dev_loss": 10.0 + seed, "best_dev_epoch": 1, "epochs_run": 2, "train_seconds": 60.0,
              "frozen_layers": frozen, "reinit_layers": None, "frozen_proof": None, "weight_change": None,
              "history": [{"epoch": 0, "dev_loss": 20.0 + seed}, {"epoch": 1, "dev_loss": 10.0 + seed}],
              "flags": flags, "seed": seed}
    with io.open(str(folder / "result.json"), "w", encoding="utf-8") as handle:
        json.dump(result, handle)


WORDS = ["null", "eins", "zwei", "drei"]


def seeded_runs(root, seeds):
    """Baseline: all four test words wrong; transfer-0: one wrong; freeze-1: none wrong (per seed)."""
    for seed in seeds:
        base = root / "seed-{}".format(seed)
        write_run(base / "baseline", "baseline", "Baseline (from scratch)", 0, seed, {1: 1.0, 2: 0.5}[seed], 0.5,
                  [(w, "x" if seed == 1 or i < 2 else w) for i, w in enumerate(WORDS)], {"load_train": "init"},
                  "none")
        write_run(base / "transfer-0", "transfer-0", "Transfer, 0 frozen", 1, seed, 0.25, 0.2,
                  [(w, "x" if i == 0 else w) for i, w in enumerate(WORDS)], {"drop_source_layers": 1}, "none")
        write_run(base / "freeze-1", "freeze-1", "Layer 1 frozen", 2, seed, 0.0, 0.0, [(w, w) for w in WORDS],
                  {"drop_source_layers": 1, "freeze_layers": "1"}, "1")


def test_seed_tables_from_two_seeds(tmp_path):
    from conftest import run_module
    seeded_runs(tmp_path / "runs", (1, 2))
    result = run_module("deepspeech_freeze.experiments.results", "--runs", tmp_path / "runs")
    markdown = (tmp_path / "runs" / "results.md").read_text(encoding="utf-8")
    assert markdown == result.stdout.strip() + "\n"
    # Baseline WER 1.0 and 0.5: mean .750, sd sqrt(0.125) = .354; CI .75 +- 12.706205 * .353553 / sqrt(2) =
    # [-2.426, 3.926], shown clipped to the range of a rate.
    assert "| Baseline (from scratch) | 2 | .750 ± .354 | [.000, 1.000] |" in markdown
    assert "| Transfer, 0 frozen | 2 | .250 ± .000 | [.250, .250] |" in markdown
    # freeze-1 vs the baseline: 0 errors against (4 + 2) / 2 = 3 of 4 words: -.750; vs transfer-0: -.250.
    line = next(l for l in markdown.splitlines() if l.startswith("| Layer 1 frozen | -"))
    cells = [cell.strip() for cell in line.split("|")[2:-1]]
    assert cells[0].startswith("-.750 [") and cells[2].startswith("-.250 [")
    assert "| Baseline (from scratch) | (reference) | (reference) |" in markdown
    assert "paired bootstrap over the test utterances" in markdown and "Seeds per row: 2" in markdown
    assert (tmp_path / "runs" / "learning_curves.png").read_bytes().startswith(b"\x89PNG")


def test_one_seed_keeps_the_single_run_table(tmp_path):
    from conftest import run_module
    seeded_runs(tmp_path / "runs", (1,))
    markdown = run_module("deepspeech_freeze.experiments.results", "--runs", tmp_path / "runs").stdout
    assert "| Scheme | WER | CER | best dev loss (epoch) | train time | audio h / h |" in markdown
    assert "mean ± sd" not in markdown and "Δ WER vs Transfer, 0 frozen" in markdown


def test_seeds_on_different_test_sets_are_an_error(tmp_path):
    import json
    from conftest import run_module
    seeded_runs(tmp_path / "runs", (1, 2))
    path = tmp_path / "runs" / "seed-2" / "freeze-1" / "test_samples.json"
    samples = json.loads(path.read_text(encoding="utf-8"))[:3]
    path.write_text(json.dumps(samples), encoding="utf-8")
    result = run_module("deepspeech_freeze.experiments.results", "--runs", tmp_path / "runs", check=False)
    assert result.returncode == 2 and "row freeze-1: the seeds were tested on different utterances" in \
        result.stderr and "Traceback" not in result.output
