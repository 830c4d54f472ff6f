"""`streamsee batch`: many videos and images through the main job, spread over a Ray cluster.

- `inputs`: the files the arguments name (files, folders walked recursively, globs), where each
  one's outputs go under the output folder (mirroring the input tree), and the done-markers that let
  a rerun skip finished work.
- `worker`: one input through `live.pipeline.process`, the single-machine tool's own code, with an
  Analyser loaded once per worker; in a cluster each worker is a Ray actor.
- `chunks`: a long video cut on keyframes into time ranges that several workers process at once,
  and their outputs joined back in order into the input's.
- `driver`: starts or joins Ray, hands the inputs (and chunks) to the actors, shows progress, cancels
  on Ctrl-C.
- `summary`: the live progress display, the end-of-run table and its JSON.
- `options`: the command line of `streamsee batch` (argparse only).

Ray is an optional extra (`pip install "streamsee[cluster]"`): only `driver` imports it.
"""
