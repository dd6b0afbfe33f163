"""Release integration: tag only what was promoted, keep the verdict with the tag, compare a
gate run with the last promoted release.

- :mod:`.verdicts` reads a JSON verdict and says why it may not be tagged.
- :mod:`.git` runs git; :mod:`.tags` creates the annotated tag.
- :mod:`.notes` stores and verifies the verdict and HTML report as git notes.
- :mod:`.gh` uploads them to the GitHub release when ``gh`` can.
- :mod:`.baseline` compares a run with the last PROMOTE verdict of its environment.
"""
