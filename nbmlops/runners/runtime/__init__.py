"""What compiled artifacts call at run time: a `ray` target module (`ray`) and `papermill` step notebooks
(`papermill`). The compile targets in nbmlops.pipeline.targets write them and import nothing from here."""
