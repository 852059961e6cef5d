"""Assets by stage: model (data, training, blob), image (source, build, registry)."""
