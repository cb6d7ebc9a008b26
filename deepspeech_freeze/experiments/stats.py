"""Statistics over seeds and over test utterances, for the results tables of experiments run with several seeds.

* :func:`summarize`: mean, sample standard deviation (n - 1 in the denominator) and the 95 % confidence interval of
  the mean from Student's t-distribution with n - 1 degrees of freedom, over one value per seed.
* :func:`paired_bootstrap`: the difference in corpus error rate between two systems tested on the same utterances,
  its 95 % percentile interval and a two-sided p-value from a paired bootstrap over the utterances (Koehn 2004:
  resample the utterances with replacement, keep each utterance's errors of both systems together, recompute the
  difference). With several seeds per system the seeds are resampled too (a two-level bootstrap), so the interval
  and the p-value account for seed noise as well as for the choice of test utterances.
"""
import math

import numpy

CONFIDENCE = 0.95
RESAMPLES = 10000
BOOTSTRAP_SEED = 2021  # fixed, so a results table is reproducible from the same runs


def summarize(values, confidence=CONFIDENCE):
    """``{"n", "mean", "sd", "ci_low", "ci_high"}`` of ``values``; sd and the interval are None for one value."""
    from scipy import stats  # pylint: disable=import-outside-toplevel
    values = [float(value) for value in values]
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "ci_low": None, "ci_high": None}
    mean = math.fsum(values) / n
    if n == 1:
        return {"n": 1, "mean": mean, "sd": None, "ci_low": None, "ci_high": None}
    sd = math.sqrt(math.fsum((value - mean) ** 2 for value in values) / (n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def error_matrix(runs, distance="word_distance", length="word_length"):
    """``(wav names, errors, lengths)`` of one system: ``runs`` holds one list of per-sample records
    (:func:`deepspeech_freeze.metrics.score_sample`) per seed; ``errors[s, i]`` is seed s's edit distance on
    utterance i (names sorted) and ``lengths[i]`` its reference length. A ValueError when the seeds were tested on
    different utterances."""
    names, rows, lengths = None, [], None
    for samples in runs:
        by_name = {sample["wav_filename"]: sample for sample in samples}
        if names is None:
            names = sorted(by_name)
            lengths = numpy.array([by_name[name][length] for name in names], dtype=numpy.float64)
        elif sorted(by_name) != names:
            raise ValueError("the seeds were tested on different utterances")
        rows.append([by_name[name][distance] for name in names])
    return names or [], numpy.array(rows, dtype=numpy.float64), lengths


def paired_bootstrap(errors_a, errors_b, lengths, resamples=RESAMPLES, seed=BOOTSTRAP_SEED,
                     confidence=CONFIDENCE, cap=1.0):
    """Paired bootstrap of ``rate(a) - rate(b)`` over test utterances, with the seeds resampled too.

    ``errors_a`` and ``errors_b`` are (seeds x utterances) arrays of edit distances (a 1-D array is one seed), on
    the same utterances in the same order; ``lengths[i]`` is utterance i's reference length. A seed's rate is its
    summed errors over the summed lengths, capped at ``cap`` (1.0, as the corpus rates of
    :func:`deepspeech_freeze.metrics.corpus_rates`; None: uncapped); a system's rate is the mean over its seeds, so
    the observed difference is the difference of the tables' means. Each resample draws the utterances with
    replacement (the same draw for both systems: paired) and, independently for each system, its seeds with
    replacement, so the interval covers both the choice of test utterances and seed noise. Returns ``{"diff",
    "ci_low", "ci_high", "p", "resamples", "utterances", "seeds_a", "seeds_b"}``: the observed difference, the
    percentile interval of the resampled differences and the two-sided p-value
    ``min(1, 2 * min(P(d* <= 0), P(d* >= 0)))``; a p of 0 means below 1 / resamples.
    """
    errors_a, errors_b = (numpy.atleast_2d(numpy.asarray(x, dtype=numpy.float64)) for x in (errors_a, errors_b))
    lengths = numpy.asarray(lengths, dtype=numpy.float64)
    n = lengths.shape[0] if lengths.ndim == 1 else 0
    if not n or errors_a.ndim != 2 or errors_b.ndim != 2 or errors_a.shape[1] != n or errors_b.shape[1] != n:
        raise ValueError("paired_bootstrap needs (seeds x utterances) errors and one length per utterance")

    def rates(sums, total):
        """Per-seed corpus rates from summed errors (seeds x resamples) and summed lengths (resamples)."""
        safe = numpy.where(total > 0, total, 1.0)
        value = numpy.where(total > 0, sums / safe, numpy.where(sums > 0, sums, 0.0))
        return numpy.minimum(value, cap) if cap is not None else value

    whole = numpy.array([lengths.sum()])
    diff = rates(errors_a.sum(axis=1)[:, None], whole).mean() - rates(errors_b.sum(axis=1)[:, None], whole).mean()
    rng = numpy.random.RandomState(seed)
    seeds_a, seeds_b = errors_a.shape[0], errors_b.shape[0]
    differences = numpy.empty(resamples)
    chunk = max(1, 2000000 // n)
    for start in range(0, resamples, chunk):
        size = min(resamples, start + chunk) - start
        # How often each utterance is drawn when n are drawn with replacement: the same draw for both systems.
        counts = rng.multinomial(n, numpy.full(n, 1.0 / n), size=size).astype(numpy.float64)
        total = counts.dot(lengths)
        means = []
        for errors, count in ((errors_a, seeds_a), (errors_b, seeds_b)):
            per_seed = rates(errors.dot(counts.T), total)  # (seeds x resamples)
            chosen = rng.randint(0, count, size=(size, count))  # each system's seeds, drawn with replacement
            means.append(per_seed[chosen, numpy.arange(size)[:, None]].mean(axis=1))
        differences[start:start + size] = means[0] - means[1]
    tail = (1.0 - confidence) / 2.0
    low, high = numpy.percentile(differences, [100 * tail, 100 * (1 - tail)])
    p = min(1.0, 2.0 * min(numpy.mean(differences <= 0), numpy.mean(differences >= 0)))
    return {"diff": float(diff), "ci_low": float(low), "ci_high": float(high), "p": float(p),
            "resamples": int(resamples), "utterances": int(n), "seeds_a": int(seeds_a), "seeds_b": int(seeds_b)}
