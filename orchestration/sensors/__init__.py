"""Sensors: the release sensor (commits and published models become releases) and the
live-state sensor (what the cluster runs, and drift from the last rollout)."""

from dagster import SensorDefinition

from liveline.settings import Settings
from orchestration.sensors.live import build_live_sensor
from orchestration.sensors.release import build_release_sensor


def build_sensors(s: Settings) -> list[SensorDefinition]:
    """Intervals and default status come from settings when the code location loads."""
    return [build_release_sensor(s), build_live_sensor(s)]


__all__ = ["build_live_sensor", "build_release_sensor", "build_sensors"]
