"""Tools that build and run the book itself (not part of the science code).

The chapters' MyST sources, their conversion to notebooks, papermill runs and
sweeps live here; nothing in :mod:`atlasnb`'s science modules imports this
subpackage. Described in {ref}`sec-intro-running`. Its modules:
:mod:`~atlasnb.book.chapters` (chapters as notebooks), :mod:`~atlasnb.book.parameters`
(a chapter's papermill parameters), :mod:`~atlasnb.book.configs` (a configuration
of the book), :mod:`~atlasnb.book.tasks` (tasks run in order or on Dask),
:mod:`~atlasnb.book.sweep` (the Atlas WAE-GAN chapter for many configurations),
:mod:`~atlasnb.book.summary` (what a sweep or preparation printed),
:mod:`~atlasnb.book.plan` (what each chapter loads, declared once),
:mod:`~atlasnb.book.prepare` (the plan computed before any chapter) and
:mod:`~atlasnb.book.sphinxext` (the API page's docstrings).
"""
