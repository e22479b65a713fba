"""Markdown reports of `reducio eval edit` and `reducio eval transfer` (from their JSON reports)."""

from __future__ import annotations

from typing import Any

from reducio.eval.edit_long import bucketed
from reducio.eval.edit_world import METHODS


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A GitHub Markdown table of already formatted cells."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _f(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.0f} %"


def _header(title: str, report: dict[str, Any]) -> list[str]:
    return [f"# {title}", "",
            f"VAE `{report['vae']}`, {report['size']} px, {report['threads']} CPU thread(s), "
            f"{report['seconds']:.0f} s. Command:", "", f"    {report['command']}", ""]


def edit_markdown(report: dict[str, Any]) -> str:
    lines = _header("Editing by the middle frame on the shapes world", report)
    lines += ["Against the world's render of the edited clip. holds = the edited scene (colours, shapes, "
              "background, object count) seen in every frame; frames = share of frames where it is; "
              "direction = every object moves its way; success = holds and direction.", ""]
    for split, result in report["splits"].items():
        lines += [f"## {split}: {result['count']} clips x {len(result['kinds'])} kinds of edit", ""]
        rows = []
        for kind, summary in (*result["kinds"].items(), ("all", result["all"])):
            for method in METHODS:
                s = summary[method]
                rows.append([kind, method, _f(s.get("psnr")), _f(s.get("ssim"), 3), _pct(s["frames_hold"]),
                             _pct(s["frames_fraction"]), _pct(s["direction"]), _pct(s["success"])])
        lines += [markdown_table(["edit", "method", "PSNR dB", "SSIM", "holds", "frames", "direction",
                                  "success"], rows), ""]
        distances = list(result["all"]["edit"]["psnr_by_distance"])
        rows = [[method] + [_f(result["all"][method]["psnr_by_distance"][d], 1) for d in distances]
                for method in METHODS if method != "world"]
        lines += ["PSNR (dB) by distance from the edited frame 7, all kinds:", "",
                  markdown_table(["method"] + [f"d={d}" for d in distances], rows), ""]
    for split, result in report.get("long", {}).items():
        s = result["summary"]
        lines += [f"## Long clips, {split}: {result['count']} clips of {result['frames']} frames", "",
                  "By distance from the edited frame 7 (mean over the distances in each bucket): PSNR of the "
                  "edit and of the pasted frame against the edited world clip, share of frames holding the "
                  "edit; on the unedited clip, PSNR of the chained reconstruction (same windows, no edit) and "
                  "of the usual reconstruction in independent 16-frame windows.", ""]
        buckets = list(bucketed(s["all"]["edit"]))
        rows = []
        for kind in [k for k in s if k not in ("clips", "chained_recon", "window_recon")]:
            rows.append([f"{kind}: edit PSNR"] + [_f(v, 1) for v in bucketed(s[kind]["edit"]).values()])
            rows.append([f"{kind}: holds"] + [_pct(v) for v in bucketed(s[kind]["holds"]).values()])
        rows.append(["all: paste PSNR"] + [_f(v, 1) for v in bucketed(s["all"]["paste"]).values()])
        rows.append(["chained recon PSNR"] + [_f(v, 1) for v in bucketed(s["chained_recon"]).values()])
        rows.append(["window recon PSNR"] + [_f(v, 1) for v in bucketed(s["window_recon"]).values()])
        lines += [markdown_table(["distance"] + buckets, rows), "",
                  f"Direction kept over the whole clip (all kinds): {_pct(s['all']['direction'])}.", ""]
    return "\n".join(lines)


def transfer_markdown(report: dict[str, Any]) -> str:
    lines = _header("Motion transfer on the shapes world", report)
    lines += ["A's motion decoded around B's frame 7 (one-object clips). identity = B's colour, shape, "
              "background and one object in every frame; direction A = B's object moves A's way; "
              "direction B = it moves B's own way instead (pairs whose directions differ); still = no "
              "motion seen; speed = measured / A's true speed (median; share within 25 %); ghost = A's "
              "object seen; target PSNR = against B's object moving like A (pairs that stay in frame); change ~ A / "
              "~ target = correlation of the output's change map |x_t - x_7| with A's / the target's.", ""]
    rows = []
    for split, result in report["splits"].items():
        s = result["summary"]
        rows.append([split, str(s["pairs"]), _pct(s["identity_frames_hold"]), _pct(s["identity_frames_fraction"]),
                     _pct(s["direction_of_a"]), _pct(s["direction_of_b_when_different"]), _pct(s["no_motion_seen"]),
                     _f(s["speed_ratio_median"]), _pct(s["speed_within_tolerance"]), _pct(s["ghost_of_a"]),
                     f"{_f(s['target_psnr'])} ({s['target_pairs']})", _f(s.get("change_vs_a")),
                     _f(s.get("change_vs_target")), _pct(s["success"])])
    lines += [markdown_table(["split", "pairs", "identity", "id. frames", "direction A", "direction B", "still",
                              "speed", "speed ok", "ghost", "target PSNR (n)", "change ~ A", "change ~ target",
                              "success"], rows), ""]
    return "\n".join(lines)


__all__ = ["edit_markdown", "transfer_markdown"]
