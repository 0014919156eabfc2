"""Many documents at once: the local engine (journal, lock, resume) and the Ray engine."""
