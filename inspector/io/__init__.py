"""Input and output at the edge: everything that reads bytes from outside, checked once, on the way in.

``files`` reads a model file into a validated :class:`~inspector.io.files.ModelFile` (format from content,
size limits, stored weight shapes), through one reader per format: ``keras_zip`` (the ``.keras`` zip and its
zip-bomb limits), ``hdf5`` (legacy ``.h5``), ``savedmodel`` (tf.keras 2 SavedModel folders, with ``tf_checkpoint``
and ``protobuf_wire``, no TensorFlow); ``config_json`` parses the config as Keras parses it, ``hdf5_child`` runs
every HDF5 parse in a child process bounded in time; ``inputs`` turns user data (arrays, frames, ``.npy``/``.npz``/
``.csv``) into model inputs; ``samples`` lists the bundled sample models.  Nothing here imports Keras or
runs code from a file.

Example:
    >>> from inspector.io.files import read_model_file
    >>> read_model_file("sample_models/otto_mlp/model.keras").format
    'keras'
"""
