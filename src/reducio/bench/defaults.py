"""What `reducio bench` compares by default, importable without torch (for `reducio bench --help`).

`reducio.bench.peers.PEERS` builds the peer VAEs named here (a test checks the two agree).
"""

from __future__ import annotations

# The video VAEs Reducio-VAE is compared with (keys of `reducio.bench.peers.PEERS`).
PEER_NAMES = ("ltx-video", "wan-2.1", "cogvideox")
# What `reducio bench vae` compares by default: the release's ft4 VAE and every peer.
DEFAULT_MODELS = ("reducio-ft4", *PEER_NAMES)
# What `reducio bench decode` times by default: tiled (the release) or untiled, then +cl
# (channels-last 3D convolutions) and / or +compile.
DEFAULT_VARIANTS = ("tiled", "tiled+cl", "untiled", "untiled+cl", "tiled+compile",
                    "untiled+compile", "untiled+cl+compile")
