//! Holds the trybuild cases under `tests/ui/`; no code of its own.
