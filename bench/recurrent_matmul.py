#!/usr/bin/env python
"""The LSTM recurrence's per-step matmul in each form, on the stack running this script.

Each step of the recurrence multiplies a small ``[batch, k]`` operand by a large kernel half: ``h @ W_h`` (forward,
``[B, n] x [n, 4n]``) and ``dgates @ W_h^T`` (backward, ``[B, 4n] x [4n, n]``). The same product can be asked of
the matmul library in three forms (:func:`deepspeech_freeze.lstm.recurrent_product`): ``nn`` as written, ``nt``
from the kernel stored transposed, ``tt`` as ``(M^T @ rows^T)^T``. Libraries pick very different kernels for them.
Each form runs as a ``while_loop`` of ``--steps`` dependent steps (the output feeds the next step, as in the LSTM);
the table gives ms per step, GFLOP/s and the speed-up over ``nn``, and marks the form this stack uses
(:data:`deepspeech_freeze.tfcompat.RECURRENT_MATMUL`).

    python bench/recurrent_matmul.py                       # n_hidden 2048, batch 24, 100 steps, 3 rounds
    python bench/recurrent_matmul.py --n_hidden 64 --steps 5 --rounds 1 --output r.json

All forms run in this one process (TF's thread pools are process-wide but the same for every form). Run it with
each stack's interpreter to compare stacks.
"""
import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
from deepspeech_freeze.tfcompat import tf  # noqa: E402

from deepspeech_freeze import lstm, tfcompat  # noqa: E402
from report import write_report  # noqa: E402  (the bench folder is on sys.path)

FORMS = ("nn", "nt", "tt")


def time_form(direction, form, n_hidden, batch, steps, rounds, threads):
    """Median seconds per step of ``steps`` dependent recurrent products in ``form``, and the last output."""
    rng = np.random.RandomState(1)
    k, n = (n_hidden, 4 * n_hidden) if direction == "forward" else (4 * n_hidden, n_hidden)
    graph = tf.Graph()
    with graph.as_default():
        matrix = tf.Variable(rng.uniform(-0.01, 0.01, (k, n)).astype(np.float32))
        matrix_t = tf.transpose(a=matrix) if form != "nn" else None  # once per run, as in the LSTM
        start = tf.constant(rng.uniform(-1, 1, (batch, k)).astype(np.float32))

        def step(t, rows):
            product = lstm.recurrent_product(rows, matrix, matrix_t, form)
            # Back to k columns with a cheap element-wise op, so the next step depends on this one.
            return t + 1, tf.tanh(tf.tile(product, [1, k // n]) if k > n else
                                  tf.add_n(tf.split(product, n // k, axis=1)))

        _, last = tf.compat.v1.while_loop(lambda t, _: t < steps, step, [0, start], back_prop=False)
        config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1)
        with tf.compat.v1.Session(graph=graph, config=config) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            session.run(last)  # warm-up
            times = []
            for _ in range(rounds):
                started = time.time()
                value = session.run(last)
                times.append((time.time() - started) / steps)
    return float(np.median(times)), value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n_hidden", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=24)
    parser.add_argument("--steps", type=int, default=100, help="dependent steps per timed run")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per form (the median is reported)")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: TF's default)")
    parser.add_argument("--output", default="", help="write the results as JSON here")
    args = parser.parse_args(argv)
    print("Recurrent matmul on {}: n_hidden {}, batch {}, {} steps, median of {}".format(
        tfcompat.describe(), args.n_hidden, args.batch, args.steps, args.rounds))
    flops = 2.0 * args.batch * args.n_hidden * 4 * args.n_hidden
    results = {}
    print("{:<9} {:<5} {:>10} {:>9} {:>8}  {}".format("direction", "form", "ms/step", "GFLOP/s", "x vs nn", ""))
    for direction in ("forward", "backward"):
        reference, rows = None, {}
        for form in FORMS:
            seconds, value = time_form(direction, form, args.n_hidden, args.batch, args.steps, args.rounds,
                                       args.threads)
            reference = value if reference is None else reference
            # Same maths in every form: a form whose product differs is a bug, not a speed-up.
            if not np.allclose(value, reference, rtol=1e-4, atol=1e-5):
                raise SystemExit("{} {}: its result differs from nn's".format(direction, form))
            rows[form] = seconds
        chosen = tfcompat.RECURRENT_MATMUL[direction]
        for form in FORMS:
            print("{:<9} {:<5} {:>10.2f} {:>9.1f} {:>7.2f}x  {}".format(
                direction, form, rows[form] * 1e3, flops / rows[form] / 1e9, rows["nn"] / rows[form],
                "<- this stack uses it" if form == chosen else ""))
        fastest = min(rows, key=rows.get)
        results[direction] = {"ms_per_step": {f: rows[f] * 1e3 for f in FORMS}, "used": chosen,
                              "fastest": fastest}
    write_report(args.output, {"stack": tfcompat.STACK, "describe": tfcompat.describe(),
                               "config": vars(args), "results": results})


if __name__ == "__main__":
    main()
