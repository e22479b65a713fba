"""`reducio assemble`: a text-to-video pipeline folder from its parts (a stage-1 generator, a video
DiT, a VAE, the packaged text encoder, optionally stage 1's reranker), or an existing pipeline
folder with some of its parts replaced. The parser; the work is `reducio.cli.run.assemble`, the
assembly itself `reducio.pipelines.assemble` (docs/generate.md)."""

from __future__ import annotations

import argparse

from reducio.cli.arguments import DTYPE_NAMES, non_negative_number, positive_int

EXAMPLE = """example (the built-in pipeline, from two `reducio train export` folders):
  reducio assemble --stage1 exports/stage1 --transformer exports/dit -o OUT --shapes-world-prompts --weights-dtype fp16
swap a part of an existing pipeline in place:
  reducio assemble --pipeline OUT --transformer exports/dit-2 -o OUT"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "assemble", help="write a text-to-video pipeline folder from a stage-1 generator, a DiT and a VAE",
        description="Write a ReducioTextToVideoPipeline folder (loadable with from_pretrained and "
        "`reducio generate --pipeline`) from its parts, or from --pipeline with the parts given "
        "replaced. The packaged MiniLM and a VAE given by name are named in the folder, not copied. "
        "OUT is replaced only once the new folder is complete; it may be --pipeline itself.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="the pipeline folder to write")
    parser.add_argument("--pipeline", default=None, metavar="DIR",
                        help="start from this pipeline folder ('tiny': the built-in): the parts and "
                        "settings not given below are kept")
    parser.add_argument("--stage1", default=None, metavar="DIR",
                        help="stage-1 generator folder (`reducio train export` of a stage1 run) or a "
                        "pipeline folder: its stage 1")
    parser.add_argument("--stage1-guidance", type=non_negative_number, default=None, metavar="G",
                        help="stage 1's default guidance scale (default: the generator's)")
    parser.add_argument("--stage1-sampler", default=None, metavar="NAME",
                        help="stage 1's sampler: euler, euler-stochastic or dpm for flow models; "
                        "dpm, ddim or ddpm for epsilon (default: the generator's)")
    parser.add_argument("--transformer", default=None, metavar="DIR",
                        help="the video DiT folder (`reducio train export` of a dit run)")
    parser.add_argument("--reranker", default=None, metavar="DIR",
                        help="stage 1's reranker folder (a `reducio train reranker` run's final/)")
    parser.add_argument("--stage1-candidates", type=positive_int, default=None, metavar="N",
                        help="stage-1 candidates per video by default (> 1 needs a reranker; 1 = off)")
    parser.add_argument("--vae", default=None, metavar="NAME|DIR",
                        help="the VAE: a name (named in the folder, e.g. tiny, ft4) or a folder (copied); "
                        "default: --pipeline's, else tiny")
    parser.add_argument("--text-encoder", default=None, choices=("minilm",),
                        help="the text encoder: minilm, the packaged all-MiniLM-L6-v2 (named); "
                        "default: --pipeline's, else minilm")
    parser.add_argument("--steps", type=positive_int, default=None, metavar="N",
                        help="the video stage's default sampler steps (default: --pipeline's, else 25)")
    parser.add_argument("--shapes-world-prompts", action=argparse.BooleanOptionalAction, default=None,
                        help="normalise prompts to the synthetic shapes world's captions: set it for a "
                        "model trained on that world (default: --pipeline's, else off)")
    parser.add_argument("--weights-dtype", default=None, choices=DTYPE_NAMES,
                        help="the floating-point weights on disk, loaded back as fp32 (default: as "
                        "--pipeline stores them, else fp32)")
    parser.set_defaults(run="reducio.cli.run.assemble")
