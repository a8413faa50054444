"""How good a run is: metrics (single- and multi-label), the TF-IDF baseline, plots, `report.md`,
and `evaluate_run`, the job that scores a run's test split or any labelled file. The measures
themselves take numbers in and never load TensorFlow; only the job does, to predict."""
