"""How networks run: LiteRT interpreters for prediction (`litert`), and which runtime and device a process uses
(`device`: LiteRT on the CPU, or Keras where a GPU is present or a model has no LiteRT files)."""
