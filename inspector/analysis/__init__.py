"""Computing on a loaded model: intermediate outputs, their statistics, and projections of them.

``activations`` runs one forward pass for any set of layers (training or inference mode, the model never
changes) and streams statistics or a uniform sample (its parts: ``layer_calls``, ``forward``, ``reductions``,
``requests``, ``reservoir``), here or on a Ray cluster (``distributed``);
``gradients`` runs the same walk under the backend's autodiff, and ``attribution`` builds saliency, Grad-CAM
and integrated gradients on it; ``projection`` projects embedding tables and activations with PCA or our
UMAP (``umap`` + ``umap_kernels``).  Results are plain NumPy arrays and pandas frames.

Example:
    >>> from inspector.analysis.activations import Mode
    >>> Mode("training").value
    'training'
"""
