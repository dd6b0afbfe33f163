"""A small application for ``fixgate demo``'s build gates: a Node lockfile, pinned Python
requirements, the application's bundle-budget history and a lint script.

Shaped like the real application (``package.json`` + ``package-lock.json``,
``reports/bundle-budget-history.json`` as ``scripts/checkBundleBudget.mjs`` writes it);
the demo copies it to its temporary folder (see :mod:`pytest_fixgate.demo_build`).
"""
