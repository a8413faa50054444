"""The distillation job: train the student (`kerasbert.training.distill`), evaluate, report and
export it like any run, and check its exported predictor; what `kerasbert distill` runs before
the comparison (`kerasbert.benchmark.distill`)."""

from __future__ import annotations

from kerasbert.evaluation.evaluate import evaluate_run
from kerasbert.job import RunResult, export_and_check
from kerasbert.training.distill import DistillSettings, fit_student, read_teacher, student_config
from kerasbert.training.fit import PhaseTimer
from kerasbert.training.rundir import RunDir


def distill(settings: DistillSettings, strategy=None) -> RunResult:
    """Train, evaluate, report and export the student of `settings.teacher`.

    Example:
    >>> result = distill(DistillSettings(teacher="runs/teacher", layers=3))  # doctest: +SKIP
    >>> result.metrics["macro_f1"]  # doctest: +SKIP
    0.9012
    """
    config = student_config(read_teacher(settings.teacher), settings)
    timer = PhaseTimer()
    run_dir = fit_student(settings, strategy, timer)
    metrics = evaluate_run(run_dir, plots=settings.plots)
    timer.lap("evaluate")
    export_dir, samples = None, []
    if settings.export:
        export_dir, samples = export_and_check(run_dir, config)
        timer.lap("export")
    RunDir(run_dir).write_timings({"total": timer.total, **timer.seconds})
    return RunResult(run_dir, metrics, timer.total, export_dir, samples, None, timer.seconds)
