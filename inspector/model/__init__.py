"""From a file to a model and its graph: the only layer that touches Keras.

``scan`` decides what in a config would run code (before Keras sees it); ``legacy`` rewrites Keras 1/2
configs for Keras 3; ``loading`` loads safely (``load_model``) and builds a graph either way
(``build_graph``); ``static`` parses a config into a graph without running anything and ``shape_inference``
fills in its shapes; ``keras_internals`` is the one module that reads Keras's private attributes (the
graph walk, layer lookup by path, name resolution for the scan).

Example:
    >>> from inspector.model.static import static_graph
    >>> static_graph("sample_models/lambda_merge/model.keras").source.value
    'static'
"""
