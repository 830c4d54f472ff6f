"""Frame -> Result, pure: the LiteRT runtime, the classifier, region proposals, the box path and the FCN path."""
