"""The parts put together: the Analyser, the threaded Stream, statistics, the pipeline of the main job and streamsee.open."""
