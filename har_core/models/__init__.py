"""Models: one record per architecture (`architectures`), the Keras builders (`builders`), the ImageNet backbones
(`pretrained`), saved bundles and their listing (`bundle`, `registry`), models trained elsewhere (`importer`),
a loaded model's prediction paths (`predictor`) and what a model measured, worded (`report`)."""
