"""The Streamlit app of Keras Inspector: a thin skin over the ``inspector`` library."""
