"""Experiments around the library: compare runs, sweep hyperparameters, find a learning rate.

    kerasbert compare runs/*                       # one table + plots of every run
    kerasbert sweep --config sweep.yaml            # an Optuna study over TrainConfig fields
    kerasbert lr-find --data bbc-headlines         # a learning-rate range test

Each trial of a sweep is a real run directory (`kerasbert.training.rundir`), trained by `kerasbert.training.fit.fit_run`; this
package reads runs through `RunDir` and `ExportDir` and never spells their files. The library never
imports it (an import-linter contract in pyproject.toml). TensorFlow and Optuna are imported inside
the functions that need them, so the CLI's `--help` stays light.
"""
