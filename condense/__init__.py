"""Condense: local summarization and generation workbench.

``condense`` is the one command line (``condense.cli``); the work is done by the packages
beside this one (``summarizer``, ``generation``, ``export``, ``training``, ``runtime``) and
the app (``app.py``). ``__version__`` is the project's version, read by ``pyproject.toml``.
"""

__version__ = "0.1.0"
