"""Sentences to intents (hassil templates) and the built-in skills that answer them."""
