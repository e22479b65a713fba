"""Motion transfer: decode clip A's motion latent around a content frame from elsewhere (B).

    pipe = ReducioMotionTransferPipeline.from_pretrained("tiny")
    out = pipe(motion_video, content_image, output_type="pt")   # A's motion, B's picture

The same operation as editing (`ReducioEditPipeline`: A's motion latent is encoded with A's own
content frame, then decoded around `content_image`; long clips window by window, each next window
around the frame the previous one produced); only the intent differs: the new frame is another
clip's or another image, not an edit of A's frame. With A's own content frame the call reproduces
A's reconstruction bit for bit. How much of A's motion survives on another picture depends on the
VAE: docs/edit.md measures it for the built-in one.
"""

import torch

from reducio.errors import PipelineInputError
from reducio.pipelines.edit import ReducioEditPipeline
from reducio.pipelines.images import ImageInput


class ReducioMotionTransferPipeline(ReducioEditPipeline):
    """`pipe(motion_video, content_image)`: A's motion around B's frame. Components: `vae`."""

    _video_arg, _image_arg = "motion_video", "content_image"

    @torch.no_grad()
    def __call__(self, motion_video: torch.Tensor, content_image: ImageInput = None,
                 output_type: str = "pt", return_dict: bool = True):
        """Decode `motion_video`'s motion around `content_image`.

        Args:
            motion_video: clip A, (B, 3, T, H, W) or (3, T, H, W) float in [-1, 1], T >= 8.
            content_image: the picture B to animate, placed at frame 7 (the middle of the first
                window): (B, 3, H, W) / (3, H, W) float in [-1, 1], uint8 tensor, PIL image or
                uint8 array; another size of A's aspect ratio is resized, another aspect refused.
            output_type, return_dict: as `ReducioEditPipeline.__call__`.
        Returns:
            ReducioPipelineOutput(frames, content_frames, latents = A's motion latents, timings).
        """
        if content_image is None:
            raise PipelineInputError("`content_image` is required: the picture that A's motion is "
                                     "decoded around (A's own content frame gives A's reconstruction)")
        return super().__call__(motion_video, content_image, output_type=output_type,
                                return_dict=return_dict)


__all__ = ["ReducioMotionTransferPipeline"]
