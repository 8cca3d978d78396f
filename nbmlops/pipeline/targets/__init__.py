"""Compile targets: a PipelineSpec written out as something else runs it (papermill notebooks, a Ray module)."""
