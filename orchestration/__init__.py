"""The Liveline Dagster code location: the asset graph from model to live deployment."""
