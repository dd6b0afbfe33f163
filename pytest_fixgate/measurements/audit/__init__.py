"""Dependency audits: the real tools (pip-audit, npm, pnpm), one finding model, the
severity of each advisory (from OSV when the tool gives none), and waivers."""
