"""workbench: security ML research workbench for web (L7) traffic."""

__version__ = "0.1.0"
