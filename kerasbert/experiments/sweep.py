"""`run_sweep`: an Optuna study over `TrainConfig` fields that survives being killed.

    kerasbert sweep --config sweep.yaml [--output sweeps/NAME] [--trials 8] [--minutes 30]

Each trial is a real run directory trained by `train.fit_run`, which never touches the test split:
the objective is read from the run's validation history at its kept epoch (by default the
metric the run keeps that epoch by: macro-F1, or micro-F1 for multi-label). A `PruningCallback`
reports every epoch's objective, so a weak trial stops early. The
study lives in SQLite inside the sweep folder (`SweepDir`); started again, a sweep skips every
finished trial, re-runs a killed one with the same parameters (continuing from its last saved
epoch) and stops when its budget of trials or minutes is spent. Then, once: the best trial is
evaluated on the test split and exported, and the trials are compared in a table and plots.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kerasbert.common.errors import InputError
from kerasbert.common.files import write_json
from kerasbert.experiments.compare import Comparison, compare_runs
from kerasbert.experiments.space import SweepSpec
from kerasbert.experiments.sweepdir import SweepDir
from kerasbert.training.recipe import METRIC_NAMES, PREDICTED_METRICS, kept_index, kept_metric
from kerasbert.training.rundir import RunDir

logger = logging.getLogger(__name__)

STUDY_NAME = "kerasbert-sweep"
# Trials run before pruning starts, and random proposals before TPE models the results: too few
# and a lucky first trial prunes every later one.
PRUNING_STARTUP_TRIALS = 2
RANDOM_STARTUP_TRIALS = 4


@dataclass
class SweepResult:
    """What a sweep left in its folder (`SweepDir`)."""

    folder: Path
    # Trials completed or pruned in this session (interrupted ones re-run included).
    trials_run_now: int
    counts: dict[str, int]
    best: dict[str, Any] | None = None
    comparison: Comparison | None = None
    restarted: list[int] = field(default_factory=list)


def default_sweep_dir(config_path: str | Path) -> Path:
    return Path("sweeps") / Path(config_path).stem


def run_sweep(spec: SweepSpec, output: str | Path) -> SweepResult:
    """Run (or resume) the sweep in `output` until its budget is spent, then finish it.

    Finishing evaluates the best trial on the test split (once: a trial with test metrics is not
    evaluated again), exports it to `output/exported`, writes `best.json`, the comparison of the
    trials and Optuna's plots. Raises `InputError` if `output` holds a sweep with other settings.
    """
    import optuna

    folder = SweepDir(output)
    folder.check_settings(spec.study_settings())
    with folder.lock():
        storage = optuna.storages.RDBStorage(folder.storage_url)
        study = _open_study(storage, spec)
        restarted = restart_interrupted_trials(study, storage)
        before = len(done_trials(study))
        remaining = spec.trials - before
        seconds = None if spec.minutes is None else spec.minutes * 60 - spent_seconds(study)
        if remaining > 0 and (seconds is None or seconds > 0):
            logger.info("Sweep %s: %d trial(s) to run.", folder.path, remaining)
            study.optimize(
                lambda trial: objective(trial, spec, folder),
                n_trials=remaining,
                timeout=seconds,
                gc_after_trial=True,
            )
        else:
            logger.info("Sweep %s: budget spent; finishing.", folder.path)
        result = SweepResult(folder.path, len(done_trials(study)) - before, state_counts(study))
        result.restarted = restarted
        result.best, result.comparison = finish_sweep(study, folder, spec.export)
        return result


def _open_study(storage, spec: SweepSpec):
    import optuna

    # A resumed sweep seeds its sampler past the trials it already has: the same seed again would
    # propose the first trials' random parameters a second time.
    existing = optuna.study.get_all_study_names(storage)
    count = (
        len(optuna.load_study(study_name=STUDY_NAME, storage=storage).trials)
        if STUDY_NAME in existing
        else 0
    )
    sampler = optuna.samplers.TPESampler(
        seed=spec.seed + count, n_startup_trials=RANDOM_STARTUP_TRIALS
    )
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=PRUNING_STARTUP_TRIALS)
        if spec.pruning
        else optuna.pruners.NopPruner()
    )
    return optuna.create_study(
        study_name=STUDY_NAME,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction=spec.direction,
        load_if_exists=True,
    )


def objective(trial, spec: SweepSpec, folder: SweepDir) -> float:
    """Train one trial's run directory and return its validation objective.

    A retried trial (`retry_of`, set by `restart_interrupted_trials`) reuses the interrupted
    trial's directory: a run killed after an epoch resumes from it, a finished one is read back.
    """
    import optuna

    from kerasbert.experiments.pruning import PruningCallback
    from kerasbert.training.fit import fit_run
    from kerasbert.training.tfkeras import keras

    params = {dimension.name: dimension.suggest(trial) for dimension in spec.space}
    retry = "retry_of" in trial.user_attrs
    run = RunDir(folder.trial(trial.user_attrs.get("retry_of", trial.number)))
    trial.set_user_attr("run_dir", run.path.relative_to(folder.path).as_posix())
    # Only a retry may find its directory: a new trial's must not exist (fit_run refuses it).
    finished = retry and run.model.is_dir() and run.history.is_file() and not run.is_resumable()
    config = spec.trial_config(
        params,
        output_dir=str(run.path),
        export_dir=str(folder.export),
        export=False,
        plots=False,
        # A directory the interrupted trial left before its first epoch holds nothing to resume.
        overwrite=retry and run.exists() and not run.is_resumable() and not finished,
    )
    pruning = PruningCallback(trial, spec.metric) if spec.pruning else None
    if finished:
        logger.info(
            "Trial %d: %s finished before the interruption; reading it.", trial.number, run.path
        )
    else:
        _report_past_epochs(trial, run, spec.metric)
        try:
            fit_run(config, callbacks=[pruning] if pruning else [])
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            raise
        finally:
            keras.backend.clear_session()  # each trial builds a new model: free the last one
    history = run.read_history() or {}
    metric = kept_metric(run.read_recipe())
    key = spec.metric or metric
    if history.get("epoch") and key not in history:
        raise InputError(
            f"The sweep's objective {key} is not in trial {trial.number}'s history "
            f"({run.history}): its run keeps its epoch by {metric}. Use objective auto or {metric}."
        )
    value, epoch = kept_epoch_value(history, key, metric)
    trial.set_user_attr("epochs", len(history.get("epoch", [])))
    kept = {
        name: kept_epoch_value(history, name, metric)[0]
        for name in ("val_loss", "val_accuracy", *PREDICTED_METRICS)
    }
    for name, kept_value in kept.items():
        if kept_value is not None:
            trial.set_user_attr(name, kept_value)
    if pruning and pruning.pruned_at:
        raise optuna.TrialPruned(
            f"{METRIC_NAMES[key]} after epoch {pruning.pruned_at} lags the others"
        )
    if value is None or kept["val_loss"] is None:
        raise optuna.TrialPruned("no finite validation loss: training diverged")
    logger.info(
        "Trial %d: %s %.4f at epoch %d of %s.",
        trial.number,
        key,
        value,
        epoch,
        run.path,
    )
    return value


def _report_past_epochs(trial, run: RunDir, key: str | None) -> None:
    """Give a retried trial the objective values its interrupted run already reported (`key`
    None: the metric its recipe keeps the epoch by)."""
    if not run.is_resumable():
        return
    history = run.read_history() or {}
    key = key or kept_metric(run.read_recipe())
    for epoch, value in zip(history.get("epoch", []), history.get(key, [])):
        if value is not None and math.isfinite(value):
            trial.report(float(value), step=int(epoch))


def kept_epoch_value(
    history: dict[str, list], key: str, metric: str = "val_loss"
) -> tuple[float | None, int | None]:
    """`history[key]` at the epoch whose weights the run kept (the best `metric`, the run's
    recipe's: `kerasbert.training.recipe.kept_index`), with that epoch's number; (None, None)
    if no epoch has a finite `metric` or `key` there."""
    index = kept_index(history, metric)
    values = history.get(key) or []
    if index is None or index >= len(values) or values[index] is None:
        return None, None
    if not math.isfinite(values[index]):
        return None, None
    return float(values[index]), int(history["epoch"][index])


def restart_interrupted_trials(study, storage) -> list[int]:
    """Mark trials a killed sweep left running as failed, and queue each interrupted trial again
    with the same parameters (once). Returns the numbers of the trials queued again."""
    from optuna.trial import TrialState

    study_id = storage.get_study_id_from_name(study.study_name)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        storage.set_trial_user_attr(trial_id, "interrupted", True)
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
        logger.warning(
            "Trial %d was interrupted by the end of its sweep; it will run again.", trial.number
        )
    trials = study.get_trials(deepcopy=False)
    restarted = []
    for trial in trials:
        if trial.state != TrialState.FAIL or not trial.user_attrs.get("interrupted"):
            continue
        run_number = trial.user_attrs.get("retry_of", trial.number)
        if any(
            later.number > trial.number and later.user_attrs.get("retry_of") == run_number
            for later in trials
        ):
            continue
        study.enqueue_trial(trial.params, user_attrs={"retry_of": run_number})
        restarted.append(trial.number)
    return restarted


def done_trials(study) -> list:
    """Trials the budget counts: completed or pruned (interrupted and failed ones are not)."""
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def spent_seconds(study) -> float:
    """Wall time of the trials the budget counts, across every session of the sweep."""
    return sum(
        (trial.datetime_complete - trial.datetime_start).total_seconds()
        for trial in done_trials(study)
        if trial.datetime_start and trial.datetime_complete
    )


def state_counts(study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in study.trials:
        counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
    return counts


def finish_sweep(
    study, folder: SweepDir, export: bool = True
) -> tuple[dict[str, Any] | None, Comparison | None]:
    """Evaluate (and `export`) the best trial, compare the trials, draw Optuna's plots."""
    from optuna.trial import TrialState

    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    best = _finish_best(study, folder, export) if completed else None
    if best is None:
        logger.warning("No trial of %s completed; nothing to evaluate or export.", folder.path)
    trials = [
        trial
        for trial in done_trials(study)
        if (folder.path / trial.user_attrs.get("run_dir", "-")).is_dir()
    ]
    comparison = None
    if trials:
        extra = {
            folder.path / trial.user_attrs["run_dir"]: {
                "trial": trial.number,
                "state": trial.state.name.lower(),
                "objective": trial.value,
            }
            for trial in sorted(trials, key=lambda trial: trial.number)
        }
        comparison = compare_runs(list(extra), folder.comparison, extra=extra)
    write_optuna_plots(study, folder.optuna_plots)
    return best, comparison


def _finish_best(study, folder: SweepDir, export_best: bool) -> dict[str, Any]:
    from kerasbert.inference.exportdir import ExportDir

    trial = study.best_trial
    run = RunDir(folder.path / trial.user_attrs["run_dir"])
    # The test split is read here and only here, for the one trial the validation chose.
    if run.metrics.is_file():
        metrics = run.read_metrics()
    else:
        from kerasbert.evaluation.evaluate import (
            evaluate_run,  # TensorFlow: only when there is work
        )

        logger.info("Evaluating the best trial, %d, on the test split.", trial.number)
        metrics = evaluate_run(run.path, plots=True)
    export = ExportDir(folder.export)
    exported_run = export.read_info().source_run if export.metadata.is_file() else None
    if export_best and exported_run != run.name:
        from kerasbert.export.export import export_run

        export_run(run.path, export.path, overwrite=exported_run is not None)
    best = {
        "trial": trial.number,
        "params": trial.params,
        "direction": study.direction.name.lower(),
        "value": trial.value,
        "run_dir": run.path.as_posix(),
        "test": {key: metrics.get(key) for key in ("accuracy", "macro_f1", "lift", "num_examples")},
        "baseline": {
            key: (metrics.get("baseline") or {}).get(key) for key in ("accuracy", "macro_f1")
        },
        "export": export.path.as_posix() if export_best else None,
        "finished": datetime.now().isoformat(timespec="seconds"),
    }
    write_json(folder.best, best)
    return best


def write_optuna_plots(study, output: Path) -> list[Path]:
    """Optuna's optimization history, parameter importances and intermediate values, as PNGs.

    A plot Optuna cannot draw yet (importances need two completed trials that differ) is skipped
    with a log line.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as optuna_plots

    output.mkdir(parents=True, exist_ok=True)
    written = []
    names = ["optimization_history", "param_importances"]
    if any(trial.intermediate_values for trial in study.trials):
        names.append("intermediate_values")  # the epochs' validation losses pruning acted on
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                axes = getattr(optuna_plots, f"plot_{name}")(study)
            except (ValueError, RuntimeError, ZeroDivisionError) as error:
                logger.info("Optuna's %s plot skipped: %s", name, error)
                continue
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
        figure.set_size_inches(8, 5)
        figure.tight_layout()
        path = output / f"{name}.png"
        figure.savefig(path, dpi=120)
        plt.close(figure)
        written.append(path)
    return written
