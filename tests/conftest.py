"""Test settings shared by the suite: hypothesis runs derandomized so CI cannot flake."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "wxb",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("wxb")
