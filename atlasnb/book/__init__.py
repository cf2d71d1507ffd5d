"""Tools that build and run the book itself (not part of the science code).

The chapters' MyST sources, their conversion to notebooks, papermill runs and
sweeps live here; nothing in :mod:`atlasnb`'s science modules imports this
subpackage. Described in {ref}`sec-intro-running`.
"""
