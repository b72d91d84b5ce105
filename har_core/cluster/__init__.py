"""Beyond one machine: `extract` and `annotate-many` on an existing Ray cluster (Ray Data actor pools, one model
loaded per worker), and here without Ray. What a model reads of a clip and where the cache keeps it
(`targets`), the videos and output names of a batch (`inputs`), a folder or object store written whole
(`store`), joining a cluster (`connect`), one worker over many items (`runner`), the count as rows come back
(`progress`), the two jobs (`extract`, `annotate`) and annotate-many's table (`summary`). Ray is imported only
when --ray is given."""
