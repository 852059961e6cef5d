"""Assembles the code location: assets, checks, resources, sensors and schedules."""

from dagster import Definitions

defs = Definitions()
