"""Drawing results onto frames, the OpenCV window and the terminal views. Only reads results and statistics."""
