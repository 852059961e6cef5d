"""What the sensors share: their default status, from settings when the location loads."""

from typing import Any

from dagster import DefaultSensorStatus, sensor

from liveline.settings import Settings


def default_status(s: Settings) -> DefaultSensorStatus:
    """RUNNING unless LIVELINE_SENSORS_RUNNING=0 (tests and benchmarks start them)."""
    return DefaultSensorStatus.RUNNING if s.sensors_running else DefaultSensorStatus.STOPPED


def liveline_sensor(s: Settings, name: str, description: str, **kwargs: Any) -> Any:
    """@sensor with the interval and default status every Liveline sensor takes."""
    return sensor(name=name, minimum_interval_seconds=s.sensor_interval_s,
                  default_status=default_status(s), description=description,
                  **kwargs)  # fmt: skip
