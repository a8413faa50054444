"""What every stage shares, on the standard library and numpy alone: the user-error type, names
the training side and the predictor must agree on, atomic files, logging, Markdown tables, how a
long text is truncated or windowed, the decision rule from scores to labels, and reading tables
of text whatever their encoding. Nothing here imports another kerasbert package."""
