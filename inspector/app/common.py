"""The sidebar (model source, facts, search), model loading and the caches every page shares."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path
from typing import Any

import streamlit as st

import inspector
from inspector.analysis import layers
from inspector.app import settings, state
from inspector.errors import InspectorError
from inspector.limits import format_bytes, get_limits
from inspector.model import opening
from inspector.rendering import facts
from inspector.rendering.view import nested_model_ids
from inspector.rendering.viewer import start_layout

# absolute paths: the app is also started from a clone's app/main.py, whose folder holds no pages
_VIEWS = Path(__file__).resolve().parent / "views"
PAGES = {name: str(_VIEWS / f"{name}.py") for name in (
    "overview", "graph", "layer", "activations", "embeddings", "attribution", "compare")}


def show_error(error: InspectorError | str) -> None:
    """An ``st.error`` with the library's message (what, received, fix), its lines kept."""
    st.error(settings.message_markdown(str(error)))


# --------------------------------------------------------------------------- work behind the pages
_WARM = threading.Lock()  # held for good by the first warm-up: one per server
FIRST_PAINT_GRACE = 1.5  # seconds the server's first background work waits after the run that drew the page


def begin_background() -> None:
    """Start the work behind the pages once the page is sent (called when a run ends).

    The work: the shown model's Keras load and, once per server, TensorFlow's import and the UMAP kernels
    (:func:`_warm_up`).  It never begins during a run, so that it does not take the server's CPU and Python's
    lock from the static graph being drawn and sent (bench/app_open.py).  TensorFlow's import also holds
    Python's lock for long stretches (a library's load and set-up in one call: 0.3 s, 0.5 s): begun as soon as
    the landing page was sent, it kept Streamlit from serving the viewer's own files, and the cold landing
    graph was painted 0.5-1 s later (bench/app_cold_start.py).  So the server's first import waits
    :data:`FIRST_PAINT_GRACE` seconds more, the time the browser takes to fetch the viewer and paint (0.3-0.5 s
    measured).  (A paint report from the viewer, a component value, made a rerun that could swallow a page
    switch clicked at that moment.)  AppTest runs without a server or a browser: there the work starts at once.
    """
    from streamlit.runtime import Runtime

    shown = st.session_state.get(state.LOADED)
    if not _WARM.locked() and Runtime.exists():
        timer = threading.Timer(FIRST_PAINT_GRACE, _begin_work, (shown,))
        timer.daemon = True
        timer.start()
        return
    _begin_work(shown)


def _begin_work(shown: opening.ModelOpening | None) -> None:
    if shown is not None:
        _exit_when_stopped()
        shown.begin()
    _warm_up()


def _warm_up() -> None:
    """Once per server: import Keras and load the UMAP kernels in the background, so that the first load and the
    first projection do not wait; then hide what is loaded from the garbage collector (``gc.freeze``).

    TensorFlow and Keras leave about a million objects that every full collection walks; a large
    model's static parse allocates enough to trigger several (the 1,600-column model: 0.6 s of 3 s).
    Frozen objects are never collected, which is right for modules, kept for the server's life.
    """
    if not _WARM.acquire(blocking=False):
        return
    from inspector.analysis.projection import warm_up

    def freeze() -> None:
        import keras  # noqa: F401 - imported to be frozen

        gc.freeze()

    threading.Thread(target=freeze, name="freeze-imports", daemon=True).start()
    threading.Thread(target=warm_up, name="umap-warm-up", daemon=True).start()


# --------------------------------------------------------------------------- caches


@st.cache_resource(max_entries=4, show_spinner=False)
def _open_model(sha256: str, trust: bool, name: str, _data: bytes) -> opening.ModelOpening:
    # keyed by the file's hash; the bytes themselves are not hashed again.  Returns at once with the static
    # view; the Keras load runs in a thread of its own, begun by begin_background once the page is sent (sessions
    # opening the same file share it).  At most four openings are kept, so a busy server holds at most four
    # models beyond those its sessions show.  While the HDF5 child walks the stored weights, `dot` begins on
    # the Graph page's drawing of the graph with predicted weights: the page finds it laid out if it draws the same.
    return opening.start_opening(_data, name=name, trust=trust, defer=True, sha256=sha256, predicted=_lay_out_early)


def _lay_out_early(graph: inspector.ModelGraph) -> None:
    # the groups and models clicked open or shut were another model's: the sidebar forgets them for this one
    options = dict(graph_options(graph), unfold=(), expand_models=(), collapse_models=())
    try:
        start_layout(graph, **options)
    except InspectorError:  # the page draws it and says what is wrong
        pass


def graph_options(graph: inspector.ModelGraph) -> tuple[tuple[str, Any], ...]:
    """The Graph page's drawing options for ``graph`` (``viewer_payload``'s keywords, as a cache key): this
    session's choices, a fresh page's defaults where there are none."""
    chosen = st.session_state
    nested = facts.max_nesting_depth(graph)
    models = set(nested_model_ids(graph)) if nested else set()
    depth = int(chosen.get(state.GRAPH_DEPTH, facts.default_expand_depth(graph))) if nested else 0
    return (("rankdir", chosen.get(state.GRAPH_RANKDIR, "TB")), ("expand_depth", depth),
            ("fold", bool(chosen.get(state.GRAPH_FOLD, True))), ("unfold", tuple(chosen.get(state.GRAPH_UNFOLD, ()))),
            ("color_by", chosen.get(state.GRAPH_COLOUR) or None),
            ("expand_models", tuple(i for i in chosen.get(state.GRAPH_EXPANDED, ()) if i in models)),
            ("collapse_models", tuple(i for i in chosen.get(state.GRAPH_COLLAPSED, ()) if i in models)))


@st.cache_data(max_entries=8, show_spinner=False)
def summary(sha256: str, trusted: bool, _graph: inspector.ModelGraph) -> Any:
    """The summary table of the loaded model (cached by file hash)."""
    return inspector.summary_frame(_graph)


@st.cache_data(max_entries=8, show_spinner=False)
def warnings(sha256: str, trusted: bool, _opened: opening.OpenedModel) -> list[str]:
    """Warnings about the loaded model (static view, opaque layers, NaN weights)."""
    return layers.model_warnings(_opened)


def cache_key(opened: opening.OpenedModel) -> tuple[str, bool]:
    """What identifies a loaded model in every cache: its file hash and whether it was trusted.

    The static view drawn while the model loads is another graph than the loaded one: its hash is marked.
    """
    return (f"{opened.sha256}:loading" if opened.loading else opened.sha256), opened.trusted


# --------------------------------------------------------------------------- current model
def current() -> opening.OpenedModel | None:
    """The model shown: the last one that opened without error (its static view while it loads)."""
    shown = st.session_state.get(state.LOADED)
    return shown.current() if shown is not None else None


def loading() -> opening.ModelOpening | None:
    """The opening of the model shown while Keras still loads it in the background, else ``None``."""
    shown = st.session_state.get(state.LOADED)
    return shown if shown is not None and not shown.done() else None


def current_source() -> dict[str, str]:
    """Where the shown model came from: ``kind`` ("sample", "upload", "preload"), ``label``, ``slug``."""
    return st.session_state.get(state.LOADED_SOURCE) or {}


def current_sample() -> Any:
    """The :class:`inspector.Sample` shown, or ``None`` for an uploaded or preloaded file."""
    source = current_source()
    if source.get("kind") != "sample":
        return None
    try:
        return inspector.get_sample(source["slug"])
    except InspectorError:
        return None


def require_model() -> opening.OpenedModel:
    """The shown model; stops the page with a message when none could be opened."""
    opened = current()
    if opened is None:
        st.info("No model is open. Upload a .keras or .h5 file in the sidebar, or pick a sample model.")
        st.stop()
    return opened


def require_runnable(opened: opening.OpenedModel, what: str) -> None:
    """Stop the page, saying why, when the model is only a static view (no Keras model to run).

    While the model still loads, the page says so and stops; the sidebar's status reruns it when the load ends.
    """
    if opened.can_run:
        return
    if opened.loading:
        wait_for_model(f"**Loading the model…** {what} fill in here when Keras has loaded it.")
    reason = opened.static_reason or "The model could not be loaded."
    if not opened.needs_trust:
        st.warning(f"**{what} are unavailable for this model**: Keras could not load it, so it is shown as a "
                   f"static view.\n\n{settings.message_markdown(reason)}")
        st.stop()
    hint = ("Tick \"Trust this file\" in the sidebar if you wrote it yourself." if settings.trust_allowed()
            else "Trusting files is off on this server (start it with KERAS_INSPECTOR_ALLOW_TRUST=1 to allow it, "
                 "only for files you wrote yourself).")
    st.warning(f"**{what} are unavailable for this model**: it is shown as a static view. "
               f"{settings.message_markdown(reason.splitlines()[0])} Running it would execute code from the file. "
               f"{hint}")
    st.stop()


def search_text() -> str:
    """The sidebar's layer search text."""
    return st.session_state.get(state.SEARCH, "") or ""


def select_layer(node_id: str, page: str | None = None) -> None:
    """Make ``node_id`` the selected layer, optionally opening a page."""
    st.session_state[state.SELECTED_LAYER] = node_id
    if page:
        st.switch_page(PAGES[page])


# --------------------------------------------------------------------------- sidebar
def _want(kind: str) -> None:
    st.session_state[state.WANTED_SOURCE] = kind
    _keep()


def _keep() -> None:
    """Copy the sidebar widgets' values to keys that survive a page switch."""
    for widget, kept in state.KEPT.items():
        if widget in st.session_state:
            st.session_state[kept] = st.session_state[widget]


def _restore() -> None:
    """Give the sidebar widgets back the values they had before a page switch dropped them."""
    for widget, kept in state.KEPT.items():
        if kept in st.session_state and st.session_state.get(widget) != st.session_state[kept]:
            st.session_state[widget] = st.session_state[kept]


def sidebar() -> None:
    """Draw the sidebar, open the chosen model, and show errors and the static-view banner above the page."""
    limit = get_limits().max_upload_bytes
    trust_allowed = settings.trust_allowed()
    preload = settings.preload_path()
    side = st.sidebar
    _restore()
    side.title("Keras Inspector")
    uploaded = side.file_uploader(
        "Upload a model (.keras, .h5, a SavedModel as .zip)", type=["keras", "h5", "hdf5", "zip"], key=state.UPLOAD,
        on_change=_want, args=("upload",), max_upload_size=settings.upload_limit_mb(limit),
        help="Opened safely: no code from the file runs" + (" unless you trust it." if trust_allowed else ".")
        + " A TensorFlow SavedModel (tf.keras 2's model.save('folder')) is a folder: zip it and upload the .zip; "
          "its TensorFlow graphs are never run.")
    side.caption(f"Limit {format_bytes(limit)} per file.")
    try:
        samples = inspector.list_samples()
    except InspectorError as e:
        samples = []
        side.error(settings.message_markdown(str(e)))
    titles = {s.slug: s.title for s in samples}
    slug = None
    if samples:
        slug = side.selectbox("Or explore a sample model", list(titles), format_func=titles.get, key=state.SAMPLE,
                              on_change=_want, args=("sample",))
    trust = False
    if trust_allowed:
        trust = side.checkbox("Trust this file (runs its code)", key=state.TRUST, on_change=_keep,
                              help="Only for files you wrote yourself: Lambda layers and custom classes run code.")

    wanted = st.session_state.get(state.WANTED_SOURCE) or ("preload" if preload else "sample")
    if wanted == "upload" and uploaded is None and current() is not None:
        # the upload was cleared, or a page switch dropped the uploader's state: keep the model shown
        token, source, read = None, {}, None
    elif wanted == "upload" and uploaded is not None:
        token = ("upload", uploaded.file_id, trust)
        source = {"kind": "upload", "label": uploaded.name, "slug": ""}

        def read() -> tuple[str, bytes]:
            return uploaded.name, uploaded.getvalue()
    elif wanted == "preload" and preload is not None:
        token = ("preload", str(preload), trust)
        source = {"kind": "preload", "label": preload.name, "slug": ""}

        def read() -> tuple[str, bytes]:
            return preload.name, opening.read_model_bytes(preload)
    elif slug is not None:
        sample = next(s for s in samples if s.slug == slug)
        token = ("sample", slug, trust)
        source = {"kind": "sample", "label": sample.title, "slug": slug}

        def read() -> tuple[str, bytes]:
            return f"{sample.slug}/{sample.path.name}", opening.read_model_bytes(sample.path)
    else:
        token, source, read = None, {}, None

    ss = st.session_state
    if read is not None and token != ss.get(state.LOADED_TOKEN) and token != ss.get(state.FAILED_TOKEN):
        try:
            with st.spinner(f"Opening {settings.literal(source['label'])}…"):
                name, data = read()
                started = _open_model(opening.file_digest(data), trust, name, data)
        except InspectorError as e:
            ss[state.FAILED_TOKEN], ss[state.FAILED_MESSAGE] = token, str(e)
        else:
            ss[state.LOADED], ss[state.LOADED_TOKEN], ss[state.LOADED_SOURCE] = started, token, source
            ss.pop(state.FAILED_TOKEN, None)
            ss.pop(state.FAILED_MESSAGE, None)
            ss.pop(state.EMBEDDING_LAYER, None)
            ss.pop(state.GRAPH_UNFOLD, None)
            ss.pop(state.GRAPH_EXPANDED, None)
            ss.pop(state.GRAPH_COLLAPSED, None)
            if ss.get(state.SELECTED_LAYER) not in {n.id for n, _ in started.current().graph.walk()}:
                ss.pop(state.SELECTED_LAYER, None)

    opened = current()
    if token is not None and token == ss.get(state.FAILED_TOKEN):
        show_error(ss.get(state.FAILED_MESSAGE, "The model could not be opened."))
        if opened is not None:
            shown_label = settings.literal(current_source().get("label", opened.name))
            st.caption(f"Still showing the previous model: {shown_label}.")

    if opened is None:
        return
    side.divider()
    shown = facts.model_facts(opened.graph)
    side.markdown(f"**{settings.literal(current_source().get('label', opened.name))}**")
    side.markdown("\n".join(f"- {k}: {settings.literal(v)}" for k, v in shown.items()))
    if opened.loading:
        side.caption(f":material/hourglass_top: Loading the model… (started {ss[state.LOADED].seconds():.0f} s ago). "
                     "The graph and summary come from the file; activations, embeddings and weight values wait for it.")
    if opened.trusted and not opened.loading:
        side.caption("Loaded with trust: code from the file ran.")
    side.text_input("Search layers", key=state.SEARCH, placeholder="name or class, e.g. dense", on_change=_keep)
    if opened.refused:  # the file was drawn, then its load refused it: the whole message, as for any refusal
        show_error(opened.static_reason)
    if not opened.can_run and not opened.loading:
        reason = settings.message_markdown(opened.static_reason.splitlines()[0]) if opened.static_reason else ""
        st.warning(f"**Static view — no code from this file was run.** {reason} The graph and summary come from "
                   "the file's config; some shapes may be unknown, and activations and embeddings are unavailable.")


_STOP_WATCH = threading.Lock()  # held for good by the first load begun: one watch per server


def _exit_when_stopped() -> None:
    """Once per server: a thread that ends the process when the server begins to stop while a model still loads.

    Ctrl-C or SIGTERM makes Streamlit close its sessions and connections first, which took 3-7 s on a busy
    machine while Keras held Python's lock loading a model, before the interpreter's exit (where
    :func:`~inspector.model.opening.exit_if_loading` would end it).  With no load running it does nothing, and the
    server stops as Streamlit stops it.  (Signal handlers can only be set from the main thread, which is Streamlit's.)
    """
    if not _STOP_WATCH.acquire(blocking=False):
        return
    from streamlit.runtime import Runtime, RuntimeState

    if not Runtime.exists():  # AppTest runs pages without a server
        return
    runtime = Runtime.instance()

    def watch() -> None:
        while runtime.state not in (RuntimeState.STOPPING, RuntimeState.STOPPED):
            time.sleep(0.1)
        opening.exit_if_loading()

    threading.Thread(target=watch, name="stop-watch", daemon=True).start()


def wait_for_model(message: str) -> None:
    """On a page that needs the loaded model: say it is loading, poll, and draw the page again when it has loaded.

    Only these pages poll: with a ``run_every`` fragment ticking on every page, an upload made in Chromium
    while it ticked was lost once (bench/app_open.py waited 300 s), so the Overview and Graph pages do not
    poll; they show the static view, which has the same layers, until the next interaction.
    """
    st.info(message, icon=":material/hourglass_top:")
    _poll_load(st.session_state[state.LOADED])
    st.stop()


@st.fragment(run_every=1.0)
def _poll_load(opening_: opening.ModelOpening) -> None:
    if opening_.done():
        st.rerun()
    st.caption(f"{opening_.seconds():.0f} s")


# --------------------------------------------------------------------------- results with a progress bar
def remembered(store: str, key: tuple, compute: Any, *, keep: int = 4) -> Any:
    """``compute()`` once per ``key``, kept in session state (not ``st.cache_data``: its progress bar must draw).

    Only the last ``keep`` results of a store are kept, so large activations do not pile up.
    """
    results: dict = st.session_state.setdefault(store, {})
    if key not in results:
        results[key] = compute()
        while len(results) > keep:
            results.pop(next(iter(results)))
    return results[key]


def latest_frame(opened: opening.OpenedModel, kind: str) -> Any:
    """The last per-layer frame of ``kind`` computed for this model in this session (``None`` if none):
    :data:`state.ACTIVATION_STATS` (the Activations page's statistics of all layers) or
    :data:`state.GRADIENT_HEALTH` (the Attribution page's gradients of all layers)."""
    key = cache_key(opened)
    runs = [frame for k, frame in st.session_state.get(kind, {}).items() if k[:len(key)] == key]
    return runs[-1] if runs else None


def progress_bar(text: str) -> Any:
    """A :data:`~inspector.progress.ProgressCallback` drawing an ``st.progress`` bar."""
    bar = st.progress(0.0, text=text)

    def update(fraction: float | None, message: str) -> None:
        bar.progress(min(1.0, max(0.0, fraction or 0.0)), text=f"{text} {message}")

    update.bar = bar  # type: ignore[attr-defined]
    return update
