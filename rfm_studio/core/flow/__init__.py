from .rectified import (  # noqa: F401
    FlowConfig,
    euler_step,
    interpolate,
    sample_from_velocity,
    source_sample,
    start_state,
    target_velocity,
    time_grid,
    velocity_from_sample,
)
