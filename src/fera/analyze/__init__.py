"""`fera analyze`: photos and videos -> one table row per face per frame (Parquet or CSV).

``inputs`` lists the sources (files, folders, ``-``), ``run`` analyses one source with the assistant's own
detector, tracker and classifier and writes it as a part file, ``table`` holds the columns and the writers,
``cluster`` runs the same per-source work on Dask, and ``command`` is the command line. Nothing runs on import;
pyarrow (and Dask, for a cluster) is imported only when a table is written (the ``analyze`` and ``cluster``
extras).
"""
