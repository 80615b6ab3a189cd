"""RFM Studio: a text-guided audio editor built on RFM-Editing."""

__version__ = "0.1.0"
