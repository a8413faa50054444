"""Labelled data in: the built-in BBC sets, user files and folders (locally or on gs://), label
cells into labels, and the deduplicated, stratified train / validation / test splits a run trains
on (`kerasbert.data.splits.DataSplits`). No TensorFlow: a bad file fails before it loads."""
