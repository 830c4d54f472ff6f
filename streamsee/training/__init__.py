"""Making the models: the convnet, its training, export to LiteRT, the FCNs and the box model.
The only part that imports TensorFlow."""
