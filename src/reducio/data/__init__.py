"""Getting video in and out: `video_io` (read / probe / write, PyAV), `sampling` (source frames
for a target fps), `transforms` (crops, antialiased resize), `datasets` (VideoFolderDataset),
`buckets` (PixArt aspect-ratio buckets), `synthetic` (the shapes world), `reconstruction` and
`latent_file` (running a VAE over whole clips; the `reducio encode` file), `latents` (the latent
shards DiT training reads) and `latent_reweight` (a copy with two-object records repeated)."""
