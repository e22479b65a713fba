"""The synthetic shapes world (docs/synthetic-world.md, version 1): `vocab` (words, colours,
captions, held-out rule), `world` (seeded scenes, clips, ShapesDataset), `render` (pixels),
`paraphrase` (caption rewordings), `export` (files + captions.jsonl)."""
