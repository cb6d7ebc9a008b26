"""Word and character error rates and the test report, with DeepSpeech 0.7's definitions.

Per sample: the edit (Levenshtein) distance between reference and hypothesis, over characters and over
whitespace-separated words, divided by the reference's length. These per-sample rates are not capped: a hypothesis
with more words than the reference can reach a WER of 2 or 3. Per data set: the summed distances divided by the
summed reference lengths, capped at 1.0.

DeepSpeech divides by zero on an empty reference; here a rate over an empty reference is 0 when the hypothesis is
empty too, otherwise the plain distance (as if the reference had length 1).
"""
import io
import json
import math

import editdistance

REPORT_RULE = "-" * 80


def _as_ids(sequence, table):
    """Small integers standing for the items of ``sequence`` (equal items, equal ids), so that ``editdistance``
    compares exact values rather than hashes."""
    return [table.setdefault(item, len(table)) for item in sequence]


def edit_distance(reference, hypothesis):
    """Levenshtein distance between two sequences of hashable items (characters of a string, or words)."""
    table = {}
    return editdistance.eval(_as_ids(reference, table), _as_ids(hypothesis, table))


def _rate(distance, length):
    if length:
        return distance / length
    return 0.0 if distance == 0 else float(distance)


def score_sample(wav_filename, src, res, loss):
    """One sample's record: the inputs plus char/word distances and lengths, CER and WER (uncapped)."""
    char_distance = edit_distance(src, res)
    reference_words, hypothesis_words = src.split(), res.split()
    word_distance = edit_distance(reference_words, hypothesis_words)
    return {
        "wav_filename": wav_filename,
        "src": src,
        "res": res,
        "loss": float(loss),
        "char_distance": char_distance,
        "char_length": len(src),
        "word_distance": word_distance,
        "word_length": len(reference_words),
        "cer": _rate(char_distance, len(src)),
        "wer": _rate(word_distance, len(reference_words)),
    }


def corpus_rates(samples):
    """(WER, CER) of a data set: summed distances over summed reference lengths, each capped at 1.0."""
    wer = _rate(sum(s["word_distance"] for s in samples), sum(s["word_length"] for s in samples))
    cer = _rate(sum(s["char_distance"] for s in samples), sum(s["char_length"] for s in samples))
    return min(wer, 1.0), min(cer, 1.0)


def score_samples(records):
    """Score ``records``: each a (wav_filename, src, res, loss) tuple or a dict with those keys.

    Returns (samples, corpus_wer, corpus_cer, mean_loss): the per-sample records of :func:`score_sample` in input
    order, the capped corpus rates, and the mean of the per-sample losses (NaN for no records).
    """
    samples = []
    for record in records:
        if isinstance(record, dict):
            record = (record["wav_filename"], record["src"], record["res"], record["loss"])
        samples.append(score_sample(*record))
    wer, cer = corpus_rates(samples)
    mean_loss = math.fsum(s["loss"] for s in samples) / len(samples) if samples else float("nan")
    return samples, wer, cer, mean_loss


def sort_for_report(samples):
    """A copy of ``samples`` in DeepSpeech's report order: by loss descending, then (stable) by WER ascending
    (DeepSpeech's UTF-8 mode sorts by CER; --utf8 is not supported here). Among samples with equal error rate the
    most confident (lowest loss) come last, which puts confident but wrong transcriptions at the end of the "worst"
    list."""
    ordered = sorted(samples, key=lambda s: s["loss"], reverse=True)
    ordered.sort(key=lambda s: s["wer"])
    return ordered


def report_sections(samples, report_count=5):
    """(best, median, worst) lists of samples as the report shows them.

    The slices are DeepSpeech's: best is the first ``report_count``, worst the last ``report_count`` and median the
    ``report_count`` around index len/2. With fewer samples than ``report_count`` the median slice can start at a
    negative index and then, as in DeepSpeech, shows only the tail of the list. A ``report_count`` of 0 shows no
    samples (DeepSpeech's ``samples[-0:]`` would list every sample as "worst").
    """
    ordered = sort_for_report(samples)
    median_index = int(len(ordered) / 2)
    median_left = int(report_count / 2)
    median_right = report_count - median_left
    best = ordered[:report_count]
    median = ordered[median_index - median_left:median_index + median_right]
    worst = ordered[-report_count:] if report_count else []
    return best, median, worst


def format_report(dataset_name, samples, wer, cer, loss, report_count=5):
    """The text DeepSpeech 0.7 prints after testing one CSV (without a final newline: ``print()`` it).

    A header line "Test on <dataset_name> - WER: ..., CER: ..., loss: ...", a rule of 80 dashes, then the sections
    "Best WER:", "Median WER:" and "Worst WER:" (DeepSpeech prints these with a trailing space), each followed by a
    rule and by its samples, each sample as its rates and loss, file:// path, reference and hypothesis, then a rule.
    """
    lines = ["Test on %s - WER: %f, CER: %f, loss: %f" % (dataset_name, wer, cer, loss), REPORT_RULE]
    best, median, worst = report_sections(samples, report_count)
    for title, section in (("Best WER:", best), ("Median WER:", median), ("Worst WER:", worst)):
        lines.append(title + " ")
        lines.append(REPORT_RULE)
        for sample in section:
            lines.append("WER: %f, CER: %f, loss: %f" % (sample["wer"], sample["cer"], sample["loss"]))
            lines.append(" - wav: file://%s" % sample["wav_filename"])
            lines.append(' - src: "%s"' % sample["src"])
            lines.append(' - res: "%s"' % sample["res"])
            lines.append(REPORT_RULE)
    return "\n".join(lines)


def write_json(path, samples):
    """Write ``samples`` (records of :func:`score_sample`) as the ``--test_output_file`` JSON list, in UTF-8 with
    non-ASCII characters kept as they are."""
    with io.open(path, "w", encoding="utf-8") as handle:
        json.dump(list(samples), handle, default=float, ensure_ascii=False, indent=2)
        handle.write("\n")
