"""matsuri: run your company's own machine-learning festival."""

__version__ = "0.1.0"
