"""An offline smart speaker: microphone -> wake -> listen -> transcribe -> intent -> speak."""

__version__ = "0.1.0"
