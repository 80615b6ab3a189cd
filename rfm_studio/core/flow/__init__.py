from .config import FlowConfig, FlowTrainingConfig, PathConfig, SamplerConfig  # noqa: F401
from .rectified import (  # noqa: F401
    NoisePath,
    OriginalPath,
    SamplePrediction,
    VelocityPrediction,
    euler_step,
    interpolate,
    sample_from_velocity,
    sample_times,
    start_state,
    target_velocity,
    time_grid,
    velocity_from_sample,
)
