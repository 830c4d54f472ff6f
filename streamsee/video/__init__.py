"""Where frames come from and where annotated video goes: sources and sinks (PyAV, OpenCV). Knows nothing about models."""
