"""Apache Beam building blocks imported by the generated pipelines (generated/pipelines/)."""
