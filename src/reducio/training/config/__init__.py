"""The typed config of every training task, one module per task: the shared sections the loop
reads (run.py), the VAE (vae.py), the DiT (dit.py), the stage-1 image generator (stage1.py) and
its reranker (reranker.py).
Recipes (training/recipes/*.yaml) load into the task's `*TrainConfig`."""

from reducio.training.config.dit import (
    DiTModelSection,
    DiTOptimSection,
    DiTTrainConfig,
    LatentDataSection,
    SamplingSection,
    diffusion_config,
    dit_config,
)
from reducio.training.config.reranker import (
    RerankerDataSection,
    RerankerModelSection,
    RerankerOptimSection,
    RerankerTrainConfig,
)
from reducio.training.config.run import (
    LORA_DEFAULT_TARGETS,
    EMASection,
    LoggingSection,
    LoRASection,
    RunSection,
)
from reducio.training.config.stage1 import (
    ImageDataSection,
    Stage1ModelSection,
    Stage1SamplingSection,
    Stage1TrainConfig,
    stage1_config,
)
from reducio.training.config.vae import (
    VAELossSection,
    VAEModelSection,
    VAEOptimSection,
    VAETrainConfig,
    VideoDataSection,
)

__all__ = [
    "LORA_DEFAULT_TARGETS",
    "DiTModelSection",
    "DiTOptimSection",
    "DiTTrainConfig",
    "EMASection",
    "ImageDataSection",
    "LatentDataSection",
    "LoRASection",
    "LoggingSection",
    "RerankerDataSection",
    "RerankerModelSection",
    "RerankerOptimSection",
    "RerankerTrainConfig",
    "RunSection",
    "SamplingSection",
    "Stage1ModelSection",
    "Stage1SamplingSection",
    "Stage1TrainConfig",
    "VAELossSection",
    "VAEModelSection",
    "VAEOptimSection",
    "VAETrainConfig",
    "VideoDataSection",
    "diffusion_config",
    "dit_config",
    "stage1_config",
]
