"""The synthetic company: generator, schema, holdout split and the read-only query layer."""
