"""Experiments as data: Table 2 schemes (``experiments/<scheme>/``), the runner, results tables and plots, and the
synthetic-speech corpora of the demo."""
