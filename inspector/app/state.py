"""Every ``st.session_state`` key the app uses, in one place.

Widget keys end in ``_widget``; the others hold values that must outlive a page
switch (Streamlit drops a widget's state when its page is not shown).
"""

from __future__ import annotations

# the model: the last one that opened without error stays shown when a new one fails
LOADED = "loaded_model"  # inspector.model.opening.ModelOpening: the static view at once, the model when loaded
LOADED_TOKEN = "loaded_token"  # (kind, identity, trust) of the loaded source
LOADED_SOURCE = "loaded_source"  # dict: kind ("sample" | "upload" | "preload"), label, slug
FAILED_TOKEN = "failed_token"  # the source that failed last, so it is not retried every rerun
FAILED_MESSAGE = "failed_message"
WANTED_SOURCE = "wanted_source"  # "sample" | "upload" | "preload": which sidebar input the user touched last

# sidebar widgets, and the values they had: st.switch_page drops widget state, so each value is kept
# under a second key and given back to its widget on the next run
UPLOAD = "upload_widget"
SAMPLE = "sample_widget"
TRUST = "trust_widget"
SEARCH = "search_widget"
KEPT = {SAMPLE: "sample", TRUST: "trust", SEARCH: "search"}

# selections shared between pages
SELECTED_LAYER = "selected_layer"  # node id, set by Overview, Graph and Layer
EMBEDDING_LAYER = "embedding_layer"  # node id of an Embedding, set by Layer's "Project" button

# Graph page
GRAPH_RANKDIR = "graph_rankdir_widget"
GRAPH_DEPTH = "graph_depth_widget"
GRAPH_EXPANDED = "graph_expanded"  # nested-model ids the user clicked open (beyond the depth widget's levels)
GRAPH_COLLAPSED = "graph_collapsed"  # nested-model ids the user clicked shut
GRAPH_FOLD = "graph_fold_widget"
GRAPH_COLOUR = "graph_colour_widget"  # the column the nodes are filled by ("" for none)
GRAPH_UNFOLD = "graph_unfold"  # group ids the user clicked open
GRAPH_EVENT = "graph_event"  # nonce of the last viewer click handled (the component keeps its value)
GRAPH_FOCUS = "graph_focus"  # node id the viewer centres on after an unfold / expand / collapse

# Overview / Layer pages
SUMMARY_TABLE = "summary_table_widget"
LAYER_PICK = "layer_pick_widget"
EMBEDDING_LOOKUP = "embedding_lookup_widget"  # the index or token explained on the Layer page

# Compare page
COMPARE_UPLOAD = "compare_upload_widget"
COMPARISONS = "comparisons"  # {(open model hash, trusted, other file hash): ModelDiff}

# Activations page
ACTIVATION_SOURCE = "activation_source_widget"
ACTIVATION_DATA = "activation_data_widget"
ACTIVATION_ROWS = "activation_rows_widget"
ACTIVATION_LAYER = "activation_layer_widget"
ACTIVATION_MODE = "activation_mode_widget"
ACTIVATION_COMPARE = "activation_compare_widget"
ACTIVATION_RAY = "activation_ray_widget"  # the statistics of all layers on the server's Ray cluster
ACTIVATION_STATS = "activation_stats"  # {cache key: DataFrame} of "all layers" runs

# Embeddings page
EMBEDDING_SOURCE = "embedding_source_widget"
EMBEDDING_PICK = "embedding_pick_widget"
EMBEDDING_METHOD = "embedding_method_widget"
EMBEDDING_DIMENSIONS = "embedding_dimensions_widget"
EMBEDDING_METADATA = "embedding_metadata_widget"
EMBEDDING_COLOUR = "embedding_colour_widget"
EMBEDDING_SEARCH = "embedding_search_widget"
EMBEDDING_ROWS = "embedding_rows_widget"
PROJECTIONS = "projections"  # {cache key: Projection}

# Attribution page
ATTRIBUTION_SOURCE = "attribution_source_widget"
ATTRIBUTION_DATA = "attribution_data_widget"
ATTRIBUTION_IMAGE = "attribution_image_widget"
ATTRIBUTION_SCALE = "attribution_scale_widget"  # the pixel range an uploaded image is mapped to
ATTRIBUTION_ROW = "attribution_row_widget"
ATTRIBUTION_TARGET = "attribution_target_widget"
ATTRIBUTION_METHOD = "attribution_method_widget"
ATTRIBUTION_SMOOTHGRAD = "attribution_smoothgrad_widget"
ATTRIBUTION_STEPS = "attribution_steps_widget"
ATTRIBUTIONS = "attributions"  # {cache key: Saliency | GradCam | IntegratedGradients}
GRADIENT_HEALTH = "gradient_health"  # {cache key: gradient_stats DataFrame}
