"""aigvqa: predict the human quality score (MOS) of AI-generated videos."""

__version__ = "0.1.0"
