#!/usr/bin/env python
"""What checking a scorer package costs on top of loading it, for a package of about 1 GB.

1. Build (once; an existing package in ``--work_dir`` is reused): a corpus of ``--tokens`` words drawn from
   ``--vocabulary`` generated words, ``lmplz --order 3`` and ``build_binary probing`` (KenLM's largest format per
   n-gram, so the fewest n-grams reach the size), packaged with ds_ctcdecoder's ``fill_dictionary`` /
   ``save_dictionary`` as ``python -m deepspeech_freeze.lm`` does.
2. Time, each load in a process of its own (ds_ctcdecoder and KenLM keep process-wide state), alternating for
   ``--rounds`` rounds after one warm-up read of the file (so the page cache is warm for all):
   ``plain``: ``ds_ctcdecoder.Scorer(alpha, beta, path, alphabet)`` alone, what DeepSpeech 0.7 does (KenLM maps
   the file lazily, so this takes about a millisecond);
   ``checked``: ``decoding.load_scorer`` of each checkout ``--code`` (default this one; give it again for another
   checkout, e.g. one with an older check): its checks, then the same in-process load. The difference of the
   medians is what the checks add; with several checkouts, the ratios compare their checks in one run.

    python bench/scorer_check.py --work_dir /tmp/scorer-bench                            # ~1 GB package
    python bench/scorer_check.py --work_dir /tmp/scorer-bench --code . --code ../old     # two checkouts' checks
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from deepspeech_freeze import lm  # noqa: E402
from deepspeech_freeze.alphabet import Alphabet  # noqa: E402

ENGLISH = os.path.join(ROOT, "data", "alphabets", "english.txt")
LETTERS = "abcdefghijklmnopqrstuvwxyz"

# One timed load; argv: mode (plain|checked), package, alphabet. Prints wall seconds and CPU seconds (this process
# and the checking child) as JSON.
TIMED_LOAD = """
import json, resource, sys, time
mode, path, alphabet_path = sys.argv[1:4]
from deepspeech_freeze.alphabet import Alphabet
alphabet = Alphabet(alphabet_path)
import ds_ctcdecoder
from deepspeech_freeze import decoding
def cpu():
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime
started, cpu_started = time.perf_counter(), cpu()
if mode == "plain":
    scorer = ds_ctcdecoder.Scorer(1.0, 1.0, path, alphabet)
else:
    scorer = decoding.load_scorer(path, alphabet, 1.0, 1.0)
print(json.dumps({"seconds": time.perf_counter() - started, "cpu_seconds": cpu() - cpu_started}))
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work_dir", required=True, help="folder for the corpus, the LM and the package")
    parser.add_argument("--tokens", type=int, default=24000000, help="corpus words (default 24M: about 1 GB)")
    parser.add_argument("--vocabulary", type=int, default=500000, help="distinct words (default 500k, the "
                                                                       "paper's top_k)")
    parser.add_argument("--memory", default="20%", help="lmplz -S and build_binary -S (default 20%%)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (plain, checked) loads (default 3)")
    parser.add_argument("--code", action="append", help="checkout whose decoding.load_scorer is timed (repeat "
                                                         "for several; default: this one)")
    parser.add_argument("--output", help="write the report as JSON to this file")
    args = parser.parse_args(argv)
    args.code = [os.path.abspath(code) for code in args.code or [ROOT]]
    return args


def make_words(count, rng):
    """``count`` distinct lower-case words of 3-10 letters (all in the English alphabet)."""
    words, seen = [], set()
    while len(words) < count:
        for length in rng.randint(3, 11, size=count):
            word = "".join(LETTERS[i] for i in rng.randint(0, 26, size=length))
            if word not in seen:
                seen.add(word)
                words.append(word)
    return words[:count]


def write_corpus(path, words, tokens, rng):
    """Sentences of 5-24 words; word ids are skewed (the square of a uniform draw) so frequent words repeat."""
    written = 0
    with open(path, "w") as handle:
        while written < tokens:
            ids = (len(words) * rng.random_sample(200000) ** 2).astype(np.int64)
            cuts = np.cumsum(rng.randint(5, 25, size=len(ids) // 5))
            start = 0
            lines = []
            for end in cuts:
                if end > len(ids):
                    break
                lines.append(" ".join(words[i] for i in ids[start:end]))
                start = end
            handle.write("\n".join(lines) + "\n")
            written += start


def build_package(args):
    """The package in ``--work_dir`` (built when missing) and the seconds each step took."""
    os.makedirs(args.work_dir, exist_ok=True)
    package = os.path.join(args.work_dir, "big.scorer")
    if os.path.isfile(package):
        return package, {}
    rng = np.random.RandomState(20210601)
    steps = {}
    started = time.perf_counter()
    words = make_words(args.vocabulary, rng)
    corpus = os.path.join(args.work_dir, "corpus.txt")
    write_corpus(corpus, words, args.tokens, rng)
    steps["corpus_s"] = time.perf_counter() - started
    arpa, binary = os.path.join(args.work_dir, "lm.arpa"), os.path.join(args.work_dir, "lm.binary")
    started = time.perf_counter()
    # --discount_fallback: generated text has no 1-grams of adjusted count 1, which Kneser-Ney discounts need.
    subprocess.run([lm.find_tool("lmplz"), "--order", "3", "--discount_fallback", "-S", args.memory,
                    "-T", args.work_dir + "/",
                    "--text", corpus, "--arpa", arpa], check=True, stdin=subprocess.DEVNULL)
    steps["lmplz_s"] = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run([lm.find_tool("build_binary"), "-S", args.memory, "-T", args.work_dir + "/", "-v", "probing",
                    arpa, binary], check=True, stdin=subprocess.DEVNULL)
    steps["build_binary_s"] = time.perf_counter() - started
    os.remove(corpus)
    os.remove(arpa)
    from deepspeech_freeze.scorer_package import write_scorer_package
    started = time.perf_counter()
    write_scorer_package(binary, words, Alphabet(ENGLISH), package + ".part", lm.DEFAULT_ALPHA, lm.DEFAULT_BETA)
    os.rename(package + ".part", package)
    os.remove(binary)
    steps["package_s"] = time.perf_counter() - started
    return package, steps


def timed_load(mode, package, code):
    environment = dict(os.environ, PYTHONPATH=code)
    result = subprocess.run([sys.executable, "-c", TIMED_LOAD, mode, package, ENGLISH], env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    if result.returncode != 0:
        raise SystemExit("the {} load failed:\n{}".format(mode, result.stderr[-3000:]))
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return answer["seconds"], answer["cpu_seconds"]


def main(argv=None):
    args = parse_args(argv)
    package, steps = build_package(args)
    size = os.path.getsize(package)
    with open(package, "rb") as handle:  # warm the page cache for every variant
        while handle.read(1 << 24):
            pass
    variants = [("plain", ROOT)] + [("checked", code) for code in args.code]
    times, cpus = [[] for _ in variants], [[] for _ in variants]
    for _ in range(args.rounds):
        for index, (mode, code) in enumerate(variants):
            wall, cpu = timed_load(mode, package, code)
            times[index].append(wall)
            cpus[index].append(cpu)
    medians = [statistics.median(runs) for runs in times]
    cpu_medians = [statistics.median(runs) for runs in cpus]
    print("Scorer package {} ({:.0f} MB), {} rounds".format(package, size / 1e6, args.rounds))
    print("  plain ds_ctcdecoder.Scorer load: median {:.3f} s, {:.3f} CPU s".format(medians[0], cpu_medians[0]))
    rows = []
    for index in range(1, len(variants)):
        added, added_cpu = medians[index] - medians[0], cpu_medians[index] - cpu_medians[0]
        rows.append({"code": variants[index][1], "times_s": times[index], "cpu_s": cpus[index],
                     "median_s": medians[index], "median_cpu_s": cpu_medians[index], "added_s": added,
                     "added_cpu_s": added_cpu, "ratio_to_first": added / (medians[1] - medians[0]),
                     "cpu_ratio_to_first": added_cpu / (cpu_medians[1] - cpu_medians[0])})
        print("  load_scorer of {}: the checks add {:.3f} s ({:.2f}x the first), {:.3f} CPU s ({:.2f}x); wall {}"
              .format(variants[index][1], added, rows[-1]["ratio_to_first"], added_cpu,
                      rows[-1]["cpu_ratio_to_first"], ", ".join("{:.3f}".format(t) for t in times[index])))
    if args.output:
        with open(args.output, "w") as handle:
            json.dump({"package": package, "bytes": size, "build": steps, "rounds": args.rounds,
                       "plain_times_s": times[0], "plain_cpu_s": cpus[0], "plain_median_s": medians[0],
                       "checked": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
