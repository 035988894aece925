"""Renderers without TensorFlow: a zoo of hand-built ModelGraphs, golden DOT/JSON, invariants, real Graphviz.

Golden files live in ``tests/golden/render_<case>.{dot,json}``.  Regenerate them
only on purpose: ``UPDATE_GOLDEN=1 python -m pytest tests/test_render.py``, then
read the diff before committing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import inspector
from inspector.errors import InputDataError, LayerNotFoundError, MissingDependencyError
from inspector.graph import Edge, LayerNode, ModelGraph, NodeKind, WeightInfo
from inspector.rendering import fold_repeats, from_json, graph_figure, render, to_dot, to_html, to_json
from inspector.rendering.layout import layered_layout
from inspector.rendering.notebook import graph_html
from inspector.rendering.style import MAX_TEXT, family, label_lines
from inspector.rendering.view import prepare

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz `dot` binary not installed")
SVG_NS = "{http://www.w3.org/2000/svg}"


# ---------------------------------------------------------------- the zoo
def layer(node_id: str, class_name: str, *, ins=(), outs=(), params: int = 0, non_trainable: int = 0,
          kind: NodeKind = NodeKind.LAYER, parent: str | None = None, depth: int = 0, name: str | None = None,
          **extra) -> LayerNode:
    trainable = params - non_trainable
    weights = (WeightInfo(f"{node_id}/kernel", (params,), "float32", True),) if params else ()
    return LayerNode(id=node_id, name=name if name is not None else node_id.rsplit("/", 1)[-1],
                     class_name=class_name, kind=kind, input_shapes=tuple(ins), output_shapes=tuple(outs),
                     dtype="float32", params=params, trainable_params=trainable, non_trainable_params=non_trainable,
                     layer_params=extra.pop("layer_params", params), path=node_id, parent=parent, depth=depth,
                     module="keras.layers", weights=weights, **extra)


def graph_of(name: str, nodes, edges, inputs, outputs, **extra) -> ModelGraph:
    nodes = tuple(nodes)
    return ModelGraph(name=name, class_name=extra.pop("class_name", "Functional"), nodes=nodes,
                      edges=tuple(Edge(*e) if isinstance(e, tuple) else e for e in edges),
                      inputs=tuple(inputs), outputs=tuple(outputs),
                      total_params=sum(n.params for n in nodes),
                      trainable_params=sum(n.trainable_params for n in nodes),
                      non_trainable_params=sum(n.non_trainable_params for n in nodes), **extra)


def chain() -> ModelGraph:
    """Input → Conv2D(relu) → BatchNorm (frozen) → MaxPool → Flatten → Dropout → Dense(softmax)."""
    nodes = [
        layer("image", "InputLayer", kind=NodeKind.INPUT, outs=[(None, 28, 28, 1)]),
        layer("conv", "Conv2D", ins=[(None, 28, 28, 1)], outs=[(None, 26, 26, 8)], params=80, activation="relu"),
        layer("bn", "BatchNormalization", ins=[(None, 26, 26, 8)], outs=[(None, 26, 26, 8)], params=32,
              non_trainable=32, trainable=False),
        layer("pool", "MaxPooling2D", ins=[(None, 26, 26, 8)], outs=[(None, 13, 13, 8)]),
        layer("flat", "Flatten", ins=[(None, 13, 13, 8)], outs=[(None, 1352)]),
        layer("drop", "Dropout", ins=[(None, 1352)], outs=[(None, 1352)]),
        layer("probs", "Dense", ins=[(None, 1352)], outs=[(None, 10)], params=13530, activation="softmax"),
    ]
    edges = [(a.id, b.id, a.output_shapes[0]) for a, b in zip(nodes, nodes[1:], strict=False)]
    return graph_of("chain", nodes, edges, ["image"], ["probs"])


def branch_merge() -> ModelGraph:
    """One input, two branches added, a skip into a Concatenate."""
    s = (None, 16)
    nodes = [
        layer("x", "InputLayer", kind=NodeKind.INPUT, outs=[s]),
        layer("left", "Dense", ins=[s], outs=[s], params=272, activation="relu"),
        layer("right", "Dense", ins=[s], outs=[s], params=272, activation="tanh"),
        layer("add", "Add", ins=[s, s], outs=[s]),
        layer("cat", "Concatenate", ins=[s, s], outs=[(None, 32)]),
        layer("out", "Dense", ins=[(None, 32)], outs=[(None, 1)], params=33),
    ]
    edges = [Edge("x", "left", s), Edge("x", "right", s), Edge("left", "add", s, dst_index=0),
             Edge("right", "add", s, dst_index=1), Edge("add", "cat", s, dst_index=0),
             Edge("x", "cat", s, dst_index=1), Edge("cat", "out", (None, 32))]
    return graph_of("branch_merge", nodes, edges, ["x"], ["out"])


def shared_layer() -> ModelGraph:
    """One Dense called on two inputs: two nodes, weights counted on the first call."""
    s = (None, 4)
    nodes = [
        layer("left", "InputLayer", kind=NodeKind.INPUT, outs=[s]),
        layer("right", "InputLayer", kind=NodeKind.INPUT, outs=[s]),
        layer("shared", "Dense", ins=[s], outs=[(None, 5)], params=25),
        layer("shared@1", "Dense", name="shared", ins=[s], outs=[(None, 5)], params=0, layer_params=25,
              call_index=1, shared_with="shared"),
        layer("merge", "Concatenate", ins=[(None, 5), (None, 5)], outs=[(None, 10)]),
        layer("head", "Dense", ins=[(None, 10)], outs=[(None, 1)], params=11),
    ]
    edges = [Edge("left", "shared", s), Edge("right", "shared@1", s), Edge("shared", "merge", (None, 5)),
             Edge("shared@1", "merge", (None, 5), dst_index=1), Edge("merge", "head", (None, 10))]
    return graph_of("shared_layer", nodes, edges, ["left", "right"], ["head"])


def nested_two_levels() -> ModelGraph:
    """top_in → encoder[enc_in → block[blk_in → deep → bn] → proj] → act; two levels of nested models."""
    s6, s4, s2 = (None, 6), (None, 4), (None, 2)
    block = graph_of("block", [
        layer("encoder/block/blk_in", "InputLayer", kind=NodeKind.INPUT, outs=[s6], parent="encoder/block", depth=2),
        layer("encoder/block/deep", "Dense", ins=[s6], outs=[s4], params=28, parent="encoder/block", depth=2),
        layer("encoder/block/bn", "BatchNormalization", ins=[s4], outs=[s4], params=16, non_trainable=8,
              parent="encoder/block", depth=2),
    ], [("encoder/block/blk_in", "encoder/block/deep", s6), ("encoder/block/deep", "encoder/block/bn", s4)],
        ["encoder/block/blk_in"], ["encoder/block/bn"], class_name="Sequential")
    encoder = graph_of("encoder", [
        layer("encoder/enc_in", "InputLayer", kind=NodeKind.INPUT, outs=[s6], parent="encoder", depth=1),
        LayerNode(id="encoder/block", name="block", class_name="Sequential", kind=NodeKind.MODEL, input_shapes=(s6,),
                  output_shapes=(s4,), params=44, trainable_params=36, non_trainable_params=8, layer_params=44,
                  path="encoder/block", parent="encoder", depth=1),
        layer("encoder/proj", "Dense", ins=[s4], outs=[s2], params=10, parent="encoder", depth=1),
    ], [("encoder/enc_in", "encoder/block", s6), ("encoder/block", "encoder/proj", s4)], ["encoder/enc_in"],
        ["encoder/proj"], nested={"encoder/block": block})
    nodes = [
        layer("top_in", "InputLayer", kind=NodeKind.INPUT, outs=[s6]),
        LayerNode(id="encoder", name="encoder", class_name="Functional", kind=NodeKind.MODEL, input_shapes=(s6,),
                  output_shapes=(s2,), params=54, trainable_params=46, non_trainable_params=8, layer_params=54,
                  path="encoder"),
        layer("act", "Activation", ins=[s2], outs=[s2], activation="sigmoid"),
    ]
    return graph_of("nested_two_levels", nodes, [("top_in", "encoder", s6), ("encoder", "act", s2)], ["top_in"],
                    ["act"], nested={"encoder": encoder})


def multi_in_out() -> ModelGraph:
    """Two inputs, two outputs, an LSTM and an attention layer."""
    nodes = [
        layer("tokens", "InputLayer", kind=NodeKind.INPUT, outs=[(None, 7)], ),
        layer("meta", "InputLayer", kind=NodeKind.INPUT, outs=[(None, 3)]),
        layer("embed", "Embedding", ins=[(None, 7)], outs=[(None, 7, 4)], params=80),
        layer("attn", "MultiHeadAttention", ins=[(None, 7, 4), (None, 7, 4)], outs=[(None, 7, 4)], params=84),
        layer("lstm", "LSTM", ins=[(None, 7, 4)], outs=[(None, 8)], params=416),
        layer("join", "Concatenate", ins=[(None, 8), (None, 3)], outs=[(None, 11)]),
        layer("label", "Dense", ins=[(None, 11)], outs=[(None, 4)], params=48, activation="softmax"),
        layer("score", "Dense", ins=[(None, 11)], outs=[(None, 1)], params=12),
    ]
    edges = [("tokens", "embed", (None, 7)), Edge("embed", "attn", (None, 7, 4)),
             Edge("embed", "attn", (None, 7, 4), dst_index=1), ("attn", "lstm", (None, 7, 4)),
             ("lstm", "join", (None, 8)), Edge("meta", "join", (None, 3), dst_index=1),
             ("join", "label", (None, 11)), ("join", "score", (None, 11))]
    return graph_of("multi_in_out", nodes, edges, ["tokens", "meta"], ["label", "score"])


def parallel_branches(n: int = 1600) -> ModelGraph:
    """The entity-embedding model: n × Input → Embedding → Flatten, Concatenate, Dense, Dropout, Dense."""
    nodes, edges = [], []
    for i in range(n):
        vocab = 10 + i % 7
        nodes += [layer(f"col_{i}", "InputLayer", kind=NodeKind.INPUT, outs=[(None, 1)]),
                  layer(f"emb_{i}", "Embedding", ins=[(None, 1)], outs=[(None, 1, 4)], params=vocab * 4),
                  layer(f"flat_{i}", "Flatten", ins=[(None, 1, 4)], outs=[(None, 4)])]
        edges += [(f"col_{i}", f"emb_{i}", (None, 1)), (f"emb_{i}", f"flat_{i}", (None, 1, 4)),
                  Edge(f"flat_{i}", "concat", (None, 4), dst_index=i)]
    nodes += [layer("concat", "Concatenate", ins=[(None, 4)] * n, outs=[(None, 4 * n)]),
              layer("dense", "Dense", ins=[(None, 4 * n)], outs=[(None, 64)], params=4 * n * 64 + 64,
                    activation="relu"),
              layer("dropout", "Dropout", ins=[(None, 64)], outs=[(None, 64)]),
              layer("dense_1", "Dense", ins=[(None, 64)], outs=[(None, 1)], params=65, activation="sigmoid")]
    edges += [("concat", "dense", (None, 4 * n)), ("dense", "dropout", (None, 64)), ("dropout", "dense_1", (None, 64))]
    return graph_of(f"entity_{n}", nodes, edges, [f"col_{i}" for i in range(n)], ["dense_1"])


def odd_names() -> ModelGraph:
    """Names with quotes, markup, ampersands, backslashes, newlines, braces and non-ASCII; an opaque Lambda."""
    weird = 'in "put" <x> & \\ {a}'
    nodes = [
        layer("in", "InputLayer", kind=NodeKind.INPUT, outs=[(None, 3)], name=weird),
        layer('lam"bda', "Lambda", ins=[(None, 3)], outs=[(None, 3)], name='lam"bda]</B>\nnext',
              opaque=True, opaque_reason="Lambda <code> & bytecode"),
        layer("dense", "Dense", ins=[(None, 3)], outs=[(None, 2)], params=8, name="dénse→ünïcode 🙂"),
        layer("custom", "My<Custom>Layer&Co", ins=[(None, 2)], outs=[(None, 2)], name="x" * 5000),
    ]
    edges = [("in", 'lam"bda', (None, 3)), ('lam"bda', "dense", (None, 3)), ("dense", "custom", (None, 2))]
    return graph_of('odd "model" <&>', nodes, edges, ["in"], ["custom"])


def residual_stack(blocks: int = 5) -> ModelGraph:
    """A stem and ``blocks`` identical residual blocks (conv → bn → relu → add with the skip → relu)."""
    s = (None, 8, 8, 4)
    nodes = [layer("stem", "InputLayer", kind=NodeKind.INPUT, outs=[s])]
    edges = []
    prev = "stem"
    for b in range(blocks):
        p = f"b{b}_"
        nodes += [layer(p + "conv", "Conv2D", ins=[s], outs=[s], params=148),
                  layer(p + "bn", "BatchNormalization", ins=[s], outs=[s], params=16, non_trainable=8),
                  layer(p + "relu", "ReLU", ins=[s], outs=[s]),
                  layer(p + "add", "Add", ins=[s, s], outs=[s]),
                  layer(p + "out", "Activation", ins=[s], outs=[s], activation="relu")]
        edges += [(prev, p + "conv", s), (p + "conv", p + "bn", s), (p + "bn", p + "relu", s),
                  Edge(p + "relu", p + "add", s), Edge(prev, p + "add", s, dst_index=1), (p + "add", p + "out", s)]
        prev = p + "out"
    nodes.append(layer("head", "GlobalAveragePooling2D", ins=[s], outs=[(None, 4)]))
    edges.append((prev, "head", s))
    return graph_of(f"residual_{blocks}", nodes, edges, ["stem"], ["head"])


ZOO = {
    "chain": chain,
    "branch_merge": branch_merge,
    "shared_layer": shared_layer,
    "nested_two_levels": nested_two_levels,
    "multi_in_out": multi_in_out,
    "parallel_branches": lambda: parallel_branches(1600),
    "odd_names": odd_names,
    "residual_stack": residual_stack,
}
SMALL = [k for k in ZOO if k != "parallel_branches"]


@pytest.fixture(scope="module")
def big() -> ModelGraph:
    return parallel_branches(1600)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"missing golden file {path}; create it with UPDATE_GOLDEN=1 and review it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from the golden file; if intended, rerun with UPDATE_GOLDEN=1"


def dumps(document: dict) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def flat_count(graph: ModelGraph) -> int:
    return sum(len(n.members) or 1 for n in graph.nodes)


# ------------------------------------------------------------------ goldens
@pytest.mark.parametrize("case", list(ZOO))
def test_golden_dot(case: str) -> None:
    check_golden(f"render_{case}.dot", to_dot(ZOO[case]()))


@pytest.mark.parametrize("case", SMALL)
def test_golden_json(case: str) -> None:
    check_golden(f"render_{case}.json", dumps(to_json(ZOO[case]())))


@pytest.mark.parametrize("case, options", [
    ("chain_lr_dtypes_no_params", dict(rankdir="LR", show_dtypes=True, show_params=False)),
    ("nested_collapsed", dict(expand_depth=0, highlight="encoder/block/deep")),
    ("nested_one_level", dict(expand_depth=1)),
    ("residual_blocks_folded", dict(collapse_blocks=True, highlight="b3_bn")),
])
def test_golden_dot_options(case: str, options: dict) -> None:
    source = {"chain": chain, "nested": nested_two_levels, "residual": residual_stack}[case.split("_")[0]]()
    check_golden(f"render_{case}.dot", to_dot(source, **options))


@pytest.mark.parametrize("case", list(ZOO))
def test_output_is_deterministic(case: str) -> None:
    assert to_dot(ZOO[case]()) == to_dot(ZOO[case]())
    assert dumps(to_json(ZOO[case]())) == dumps(to_json(ZOO[case]()))


# --------------------------------------------------------------- invariants
@pytest.mark.parametrize("case", list(ZOO))
@pytest.mark.parametrize("depth", [None, 0, 1])
@pytest.mark.parametrize("blocks", [False, True])
def test_view_invariants(case: str, depth: int | None, blocks: bool) -> None:
    source = ZOO[case]()
    view = prepare(source, expand_depth=depth, collapse_blocks=blocks)
    g = view.graph
    ids = [n.id for n in g.nodes]
    assert len(ids) == len(set(ids)), "a node appears twice"
    known = set(ids)
    for e in g.edges:
        assert e.src in known and e.dst in known, f"edge {e.src} -> {e.dst} has a missing endpoint"
    assert set(g.inputs) <= known and set(g.outputs) <= known
    # folding and expansion keep every layer: each one is shown by exactly one view node
    reference = source.expanded(depth)
    assert flat_count(g) == len(reference.nodes)
    members = [m for n in g.nodes for m in (n.members or (n.id,))]
    assert sorted(members) == sorted(n.id for n in reference.nodes)
    assert sum(n.params for n in g.nodes) == sum(n.params for n in reference.nodes)
    # topological: every edge goes forward in node order
    position = {n: i for i, n in enumerate(ids)}
    assert all(position[e.src] < position[e.dst] for e in g.edges)
    # every original node, at any depth, is located on a visible node
    for n, _ in source.walk():
        assert view.locate(n.id) in known | set(g.clusters)


@pytest.mark.parametrize("case", list(ZOO))
def test_dot_mentions_every_view_node_once(case: str) -> None:
    view = prepare(ZOO[case]())
    dot = to_dot(ZOO[case]())
    declared = re.findall(r"^\s*(n\d+) \[id=", dot, flags=re.M)
    assert sorted(declared, key=lambda n: int(n[1:])) == [f"n{i}" for i in range(len(view.graph.nodes))]
    edges = re.findall(r"^\s*(n\d+) -> (n\d+)", dot, flags=re.M)
    assert len(edges) == len(view.graph.edges) + len(view.ties())
    assert all(a in declared and b in declared for a, b in edges)
    assert "ortho" not in dot


def test_every_label_is_short_even_unfolded(big: ModelGraph) -> None:
    dot = to_dot(big, fold=False, show_dtypes=True)
    labels = re.findall(r"label=<(.*?)>(?:,|\];)", dot)
    assert len(labels) >= len(big.nodes)
    assert max(len(label) for label in labels) < 1000  # Graphviz refuses > 16,384
    concat = next(label for label in labels if "<B>concat</B>" in label)
    assert "1600 × (None, 4) → (None, 6400)" in concat
    for n in odd_names().nodes:
        assert all(len(line.text) <= MAX_TEXT for line in label_lines(n))


# ------------------------------------------------------------------ folding
def test_fold_1600_branches_keeps_totals_and_counts(big: ModelGraph) -> None:
    folded = fold_repeats(big)
    assert [n.id for n in folded.nodes] == ["col_0[x1600]", "emb_0[x1600]", "flat_0[x1600]", "concat", "dense",
                                            "dropout", "dense_1"]
    groups = [n for n in folded.nodes if n.kind == NodeKind.GROUP]
    assert [len(n.members) for n in groups] == [1600, 1600, 1600]
    assert groups[1].members[:2] == ("emb_0", "emb_1") and groups[1].members[-1] == "emb_1599"
    assert flat_count(folded) == len(big.nodes)
    assert sum(n.params for n in folded.nodes) == big.total_params == folded.total_params
    assert groups[1].params == sum(n.params for n in big.nodes if n.class_name == "Embedding")
    assert groups[1].bytes == sum(n.bytes for n in big.nodes if n.class_name == "Embedding")
    assert folded.inputs == ("col_0[x1600]",)
    assert [(e.src, e.dst) for e in folded.edges] == [
        ("col_0[x1600]", "emb_0[x1600]"), ("emb_0[x1600]", "flat_0[x1600]"), ("flat_0[x1600]", "concat"),
        ("concat", "dense"), ("dense", "dropout"), ("dropout", "dense_1")]
    assert family(groups[0]) == "group" and groups[0].config["shapes_vary"] is False


def test_unfold_keeps_a_group_expanded(big: ModelGraph) -> None:
    assert fold_repeats(big, unfold=["emb_0[x1600]"]) == big
    small = parallel_branches(5)
    assert fold_repeats(small, min_repeats=6) == small
    assert len(fold_repeats(small, min_repeats=5).nodes) == 7


def test_branches_with_different_layers_do_not_fold() -> None:
    g = branch_merge()
    assert fold_repeats(g) == g  # two Dense branches: below min_repeats
    assert [n.kind for n in fold_repeats(g, min_repeats=2).nodes].count(NodeKind.GROUP) == 1


def test_fold_repeated_blocks() -> None:
    g = residual_stack(5)
    folded = fold_repeats(g, blocks=True)
    groups = [n for n in folded.nodes if n.kind == NodeKind.GROUP]
    assert len(groups) == 1
    group = groups[0]
    assert group.config["repeats"] == 5 and group.config["block_layers"] == 5
    assert group.members == tuple(n.id for n in g.nodes[1:-1])
    assert group.params == 5 * 164 and group.non_trainable_params == 40
    assert [(e.src, e.dst) for e in folded.edges] == [("stem", group.id), (group.id, "head")]
    assert flat_count(folded) == len(g.nodes)
    assert fold_repeats(residual_stack(1), blocks=True) == residual_stack(1)


def test_fold_inside_nested_models() -> None:
    inner = parallel_branches(4)
    inner = ModelGraph("inner", "Functional", tuple(
        LayerNode(**{**n.__dict__, "id": "sub/" + n.id, "parent": "sub", "depth": 1}) for n in inner.nodes),
        tuple(Edge("sub/" + e.src, "sub/" + e.dst, e.shape, dst_index=e.dst_index) for e in inner.edges),
        tuple("sub/" + i for i in inner.inputs), ("sub/dense_1",), total_params=inner.total_params,
        trainable_params=inner.trainable_params)
    outer = graph_of("outer", [LayerNode(id="sub", name="sub", class_name="Functional", kind=NodeKind.MODEL,
                                         params=inner.total_params, trainable_params=inner.total_params)],
                     [], ["sub"], ["sub"], nested={"sub": inner})
    folded = fold_repeats(outer)
    assert [n.id for n in folded.nested["sub"].nodes][:3] == ["sub/col_0[x4]", "sub/emb_0[x4]", "sub/flat_0[x4]"]
    view = prepare(outer)
    assert flat_count(view.graph) == len(inner.nodes)
    assert all(n.parent == "sub" for n in view.graph.nodes)
    assert "subgraph cluster_0" in to_dot(outer)


def test_auto_block_folding_above_the_layout_limit() -> None:
    g = residual_stack(30)
    old = inspector.set_limits(max_layout_nodes=100)
    try:
        assert prepare(g).blocks_folded and len(prepare(g).graph.nodes) == 3
        assert len(prepare(g, collapse_blocks=False).graph.nodes) == len(g.nodes)
    finally:
        inspector.set_limits(**vars(old))
    assert not prepare(g).blocks_folded  # 152 nodes is under the default limit


# ------------------------------------------------------------------ labels
def test_label_shows_what_plot_model_shows_and_more() -> None:
    g = chain()
    dot = to_dot(g, show_dtypes=True)
    bn = next(line for line in dot.splitlines() if "<B>bn</B>" in line)
    assert "BatchNormalization" in bn and "FROZEN" in bn and "32 params (0 trainable, 32 non-trainable)" in bn
    conv = next(line for line in dot.splitlines() if "<B>conv</B>" in line)
    assert "Conv2D · relu" in conv and "(None, 28, 28, 1) → (None, 26, 26, 8)" in conv and "dtype float32" in conv
    probs = next(line for line in dot.splitlines() if "<B>probs</B>" in line)
    assert "peripheries=2" in probs  # output
    bare = to_dot(g, show_shapes=False, show_params=False)
    assert "(None, 28, 28, 1)" not in bare and "params" not in bare.split("\n", 2)[2]


def test_shared_layer_is_tied_to_its_first_call() -> None:
    dot = to_dot(shared_layer())
    assert re.search(r"n2 -> n3 \[style=dashed.*constraint=false, label=\"shared\"", dot)
    assert "shared with shared" in dot and "25 params (counted at first call)" in dot


def test_family_colours() -> None:
    expected = {"image": "input", "conv": "conv", "bn": "norm", "pool": "pooling", "flat": "reshape",
                "drop": "regularization", "probs": "dense"}
    assert {n.id: family(n) for n in chain().nodes} == expected
    assert {n.id: family(n) for n in multi_in_out().nodes}["attn"] == "attention"
    assert {n.id: family(n) for n in multi_in_out().nodes}["lstm"] == "recurrent"
    assert family(nested_two_levels().nodes[1]) == "model"


def test_nested_clusters_per_depth() -> None:
    g = nested_two_levels()
    full = to_dot(g)
    assert full.count("subgraph cluster_") == 2
    assert re.search(r"subgraph cluster_0 \{.*subgraph cluster_1 \{", full, flags=re.S)
    one = to_dot(g, expand_depth=1)
    assert one.count("subgraph cluster_") == 1 and "▸ 3 layers inside" in one
    none = to_dot(g, expand_depth=0)
    assert "subgraph" not in none and "▸ 6 layers inside" in none


def test_highlight_follows_folds_and_collapses(big: ModelGraph) -> None:
    assert prepare(big, highlight="emb_77").highlighted == {"emb_0[x1600]"}
    assert prepare(nested_two_levels(), expand_depth=0, highlight="encoder/block/bn").highlighted == {"encoder"}
    cluster = to_dot(nested_two_levels(), highlight="encoder")
    assert re.search(r'graph \[id="cluster_0".*color="#dc2626", penwidth=3.5', cluster)
    assert any(s.line.color == "#dc2626" for s in graph_figure(nested_two_levels(), highlight="encoder").layout.shapes)
    assert 'stroke="#dc2626"' in to_html(nested_two_levels(), highlight="encoder/block", engine="builtin")
    dot = to_dot(chain(), highlight=["conv", "probs"])
    assert dot.count('penwidth=3.5, color="#dc2626"') == 2
    with pytest.raises(LayerNotFoundError, match="no_such_layer"):
        to_dot(chain(), highlight="no_such_layer")


def test_bad_options_raise_inspector_errors() -> None:
    with pytest.raises(InputDataError, match="rankdir"):
        to_dot(chain(), rankdir="diagonal")
    with pytest.raises(InputDataError, match="format"):
        render(chain(), "gif")
    with pytest.raises(InputDataError, match="expand_depth"):
        to_dot(chain(), expand_depth=-1)
    with pytest.raises(InputDataError):
        from_json({"schema": "something else"})


# ------------------------------------------------- one nested model at a time (a real Keras model)
@pytest.fixture(scope="module")
def siblings() -> ModelGraph:
    import zoo

    return inspector.build_graph(zoo.nested_siblings())


def dot_clusters(dot: str) -> list[str]:
    """Names in the titles of the DOT's cluster boxes, in order."""
    return re.findall(r'subgraph cluster_\d+ \{\s*graph \[id="cluster_\d+", label=<<B>([^<]*)</B>', dot)


def dot_nodes(dot: str) -> set[str]:
    """Ids of the drawn nodes (each node's tooltip is its id when nothing colours it)."""
    return set(re.findall(r' tooltip="([^"]*)"', dot))


def test_expanding_one_nested_model_opens_only_it(siblings: ModelGraph) -> None:
    assert inspector.nested_model_ids(siblings) == ["left", "left@1", "right", "right/inner"]
    dot = to_dot(siblings, expand_depth=0, expand_models=["right"])
    assert dot_clusters(dot) == ["right"]
    assert dot_nodes(dot) == {"x", "left", "left@1", "right/right_in", "right/inner", "right/right_dense", "join",
                              "head"}
    view = prepare(siblings, expand_depth=0, expand_models="right")
    assert view.collapsed == {"left": 3, "left@1": 3, "right/inner": 2}  # Input + Dense + ReLU, Input + Dense
    edges = {(e.src, e.dst) for e in view.graph.edges}
    assert {("x", "right/right_in"), ("right/right_dense", "join"), ("x", "left"), ("left@1", "join")} <= edges
    # the second call of a shared sub-model opens apart from its first call
    view = prepare(siblings, expand_depth=0, expand_models=["left@1"])
    assert list(view.graph.clusters) == ["left@1"] and set(view.collapsed) == {"left", "right"}
    assert "left/left_dense" not in dot_nodes(to_dot(siblings, expand_depth=0, expand_models=["left@1"]))
    # opening a model inside another opens its owner too, and nothing else
    dot = to_dot(siblings, expand_depth=0, expand_models=["right/inner"])
    assert dot_clusters(dot) == ["right", "inner"]
    assert re.search(r"subgraph cluster_0 \{.*subgraph cluster_1 \{", dot, flags=re.S), "inner is drawn inside right"
    assert {"right/inner/inner_dense", "left", "left@1"} <= dot_nodes(dot) and "left/left_dense" not in dot_nodes(dot)


def test_collapsing_one_nested_model_keeps_the_others_open(siblings: ModelGraph) -> None:
    dot = to_dot(siblings, collapse_models=["right"])
    assert dot_clusters(dot) == ["left", "left", "right"][:2] and "right" in dot_nodes(dot)
    assert not any(i.startswith("right/") for i in dot_nodes(dot)), "a closed model hides what is inside it"
    dot = to_dot(siblings, collapse_models="right/inner")
    assert dot_clusters(dot) == ["left", "left", "right"] and "right/inner" in dot_nodes(dot)
    # collapse wins over the depth and over an expanded model inside it
    assert list(prepare(siblings, expand_depth=1, collapse_models=["left"], expand_models=["right/inner"])
                .graph.clusters) == ["left@1", "right", "right/inner"]
    assert list(prepare(siblings, collapse_models=["right"], expand_models=["right/inner"]).graph.clusters) == [
        "left", "left@1"]
    # no per-model choice: exactly the depth's drawing
    assert to_dot(siblings, expand_depth=1, expand_models=[], collapse_models=None) == to_dot(siblings, expand_depth=1)


@pytest.mark.parametrize("options", [
    dict(expand_depth=0, expand_models=["right/inner"]), dict(expand_depth=0, expand_models=["left", "right"]),
    dict(collapse_models=["left@1", "right/inner"]), dict(expand_depth=1, collapse_models=["right"]),
])
def test_per_model_views_keep_every_layer(siblings: ModelGraph, options: dict) -> None:
    view = prepare(siblings, **options)
    known = {n.id for n in view.graph.nodes}
    assert all(e.src in known and e.dst in known for e in view.graph.edges)
    assert set(view.graph.inputs) | set(view.graph.outputs) <= known
    for n, _ in siblings.walk():
        assert view.locate(n.id) in known | set(view.graph.clusters), n.id
    # every layer is drawn, inside an open model or counted by the closed model hiding it
    hidden = sum(view.collapsed.values())
    assert len(view.graph.nodes) + len(view.graph.clusters) + hidden == siblings.layer_count


def test_every_drawing_takes_per_model_choices(siblings: ModelGraph) -> None:
    options = dict(expand_depth=0, expand_models=["left@1"])
    payload = inspector.viewer_payload(siblings, engine="browser", **options)
    assert [c["id"] for c in payload["clusters"].values()] == ["left@1"]
    models = {n["id"] for n in payload["nodes"].values() if n["kind"] == "model"}
    assert models == {"left", "right"}, "the ids the viewer's expand click sends back"
    figure = graph_figure(siblings, **options)
    drawn = {d[0] for t in figure.data if t.name == "layers" for d in t.customdata}
    assert "left@1/left_dense" in drawn and "left/left_dense" not in drawn
    def titled(node_id: str, svg: str) -> bool:  # the built-in SVG's <title>, Graphviz's tooltip
        return re.search(f'(<title>|title="){re.escape(node_id)}[<"]', svg) is not None

    for page in (to_html(siblings, engine="builtin", **options), graph_html(siblings, **options)):
        assert titled("left@1/left_dense", page) and not titled("left/left_dense", page)


def test_bad_model_ids_are_refused_with_a_fix(siblings: ModelGraph) -> None:
    with pytest.raises(InputDataError, match="not a node of the graph") as error:
        to_dot(siblings, expand_models=["nope"])
    assert error.value.received == "'nope'" and "'left', 'left@1', 'right'" in error.value.fix
    with pytest.raises(InputDataError, match="a layer, not a nested model"):
        prepare(siblings, collapse_models=["join"])
    with pytest.raises(InputDataError, match="both expanded and collapsed") as error:
        inspector.viewer_payload(siblings, engine="browser", expand_models=["right"], collapse_models=["right"])
    assert error.value.received == "['right']"
    with pytest.raises(InputDataError, match="no nested models"):
        to_dot(chain(), expand_models="conv")
    with pytest.raises(InputDataError, match="node ids of nested models"):
        prepare(siblings, expand_models=3)  # type: ignore[arg-type]


# ----------------------------------------------------------------- graphviz
def svg_root(data: bytes) -> ET.Element:
    return ET.fromstring(data)


@needs_dot
@pytest.mark.parametrize("case", SMALL)
def test_render_svg_parses(case: str) -> None:
    source = ZOO[case]()
    svg = svg_root(render(source, "svg"))
    boxes = [g for g in svg.iter(f"{SVG_NS}g") if g.get("class") == "node"]
    nodes = [g for g in boxes if not g.get("id").endswith("_title")]  # a file draws nested models' titles as boxes
    assert len(nodes) == len(prepare(source).graph.nodes)
    assert sorted(g.get("id") for g in nodes) == sorted(f"n{i}" for i in range(len(nodes)))
    assert len(boxes) - len(nodes) == len(prepare(source).graph.clusters)


@needs_dot
def test_render_odd_names_keeps_the_text() -> None:
    svg = svg_root(render(odd_names(), "svg"))
    text = " ".join(t.text or "" for t in svg.iter(f"{SVG_NS}text"))
    assert 'in "put" <x> & \\ {a}' in text
    assert 'lam"bda]</B> next' in text
    assert "dénse→ünïcode" in text and "My<Custom>Layer&Co" in text
    assert "opaque: Lambda <code> & bytecode" in text
    titles = [t.text for t in svg.iter(f"{SVG_NS}title")]
    assert 'odd "model" <&>' in titles


@needs_dot
def test_render_png_and_pdf() -> None:
    assert render(branch_merge(), "png").startswith(b"\x89PNG\r\n\x1a\n")
    assert render(branch_merge(), format="pdf", rankdir="LR").startswith(b"%PDF")


@needs_dot
def test_1600_branches_render_quickly(big: ModelGraph) -> None:
    start = time.perf_counter()
    svg = svg_root(render(big, "svg"))
    elapsed = time.perf_counter() - start
    text = " ".join(t.text or "" for t in svg.iter(f"{SVG_NS}text"))
    assert "×1600 Embedding" in text and "1600 × (None, 4) → (None, 6400)" in text
    assert elapsed < 10, f"{elapsed:.1f} s"


@needs_dot
def test_svg_with_core_plugins_matches_the_installed_graphviz(monkeypatch: pytest.MonkeyPatch) -> None:
    from inspector.rendering.dot import dot_binary, svg_plugin_folder

    folder = svg_plugin_folder(dot_binary())
    assert folder is not None and (Path(folder) / "config6a").exists()
    fast = svg_root(render(multi_in_out(), "svg"))
    monkeypatch.setenv("KERAS_INSPECTOR_GRAPHVIZ_PLUGINS", "installed")
    assert svg_plugin_folder(dot_binary()) is None
    slow = svg_root(render(multi_in_out(), "svg"))

    def texts(root: ET.Element) -> list[str]:
        return [t.text or "" for t in root.iter(f"{SVG_NS}text")]

    assert texts(fast) == texts(slow)
    assert len([g for g in fast.iter(f"{SVG_NS}g") if g.get("class") == "edge"]) == len(multi_in_out().edges)


def test_missing_dot_binary_gives_install_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no `dot` anywhere
    with pytest.raises(MissingDependencyError) as info:
        render(chain(), "svg")
    for command in ("apt-get install graphviz", "dnf install graphviz", "brew install graphviz",
                    "winget install --id Graphviz.Graphviz", "choco install graphviz", "conda install -c conda-forge graphviz"):
        assert command in str(info.value), command
    # everything interactive still works without Graphviz: the page lays its DOT out in the browser
    page = to_html(chain())
    assert 'id="ki-graphviz"' in page and '"dot":"digraph' in page and 'class="node"' not in page
    assert 'class="node"' in to_html(chain(), engine="builtin")
    assert graph_figure(chain()).data


# --------------------------------------------------------------------- json
@pytest.mark.parametrize("case", list(ZOO))
def test_json_round_trip_keeps_every_fact(case: str) -> None:
    source = ZOO[case]()
    document = json.loads(dumps(to_json(source)))
    back = from_json(document)
    assert back == source
    for (a, _), (b, _) in zip(back.walk(), source.walk(), strict=True):
        assert a.config == b.config and a.weights == b.weights
    assert set(back.nested) == set(source.nested)
    edge_ends = {n["id"] for n in document["nodes"]}
    assert all(e["source"] in edge_ends and e["target"] in edge_ends for e in document["edges"])


def test_json_schema_fields() -> None:
    doc = to_json(nested_two_levels())
    assert doc["schema"] == "keras-inspector/model-graph" and doc["schema_version"] == 1
    assert doc["graph"]["total_params"] == 54 and doc["graph"]["layer_count"] == 9
    node = doc["nested"]["encoder"]["nodes"][1]
    assert node["kind"] == "model" and node["family"] == "model"
    assert doc["nested"]["encoder"]["nested"]["encoder/block"]["nodes"][2]["non_trainable_params"] == 8
    expanded = to_json(nested_two_levels().expanded())
    assert set(expanded["clusters"]) == {"encoder", "encoder/block"}


def test_json_config_is_strict_json() -> None:
    node = LayerNode(id="a", name="a", class_name="Dense",
                     config={"units": 2, "rate": float("nan"), "shape": (1, None), "inner": {1: object}})
    doc = to_json(ModelGraph("m", "Functional", (node,), (), ("a",), ("a",)))
    json.dumps(doc, allow_nan=False)
    assert doc["nodes"][0]["config"] == {"units": 2, "rate": "nan", "shape": [1, None],
                                         "inner": {"1": "<class 'object'>"}}


# -------------------------------------------------------------------- layout
@pytest.mark.parametrize("rankdir", ["TB", "LR", "BT", "RL"])
def test_builtin_layout_has_no_overlaps_and_flows_along_rankdir(rankdir: str) -> None:
    view = prepare(multi_in_out())
    g = view.graph
    sizes = {n.id: (60.0 + 3 * len(n.id), 30.0) for n in g.nodes}
    lay = layered_layout([n.id for n in g.nodes], [(e.src, e.dst) for e in g.edges], sizes, rankdir=rankdir)
    boxes = list(lay.nodes.values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart_x = abs(a.x - b.x) >= (a.width + b.width) / 2 - 0.01
            apart_y = abs(a.y - b.y) >= (a.height + b.height) / 2 - 0.01
            assert apart_x or apart_y, f"{a.id} overlaps {b.id}"
    axis, sign = {"TB": (1, 1), "BT": (1, -1), "LR": (0, 1), "RL": (0, -1)}[rankdir]
    for e in g.edges:
        a = (lay.nodes[e.src].x, lay.nodes[e.src].y)[axis]
        b = (lay.nodes[e.dst].x, lay.nodes[e.dst].y)[axis]
        assert (b - a) * sign > 0
    assert 0 <= min(b.x - b.width / 2 for b in boxes) and max(b.x + b.width / 2 for b in boxes) <= lay.width + 0.01


def test_builtin_layout_untangles_a_crossing() -> None:
    # given in a crossing order, the sweeps must find the layout with no crossing
    ids = ["a", "b", "c", "d"]
    lay = layered_layout(ids, [("a", "d"), ("b", "c")], dict.fromkeys(ids, (20.0, 10.0)))
    assert lay.crossings == 0
    assert (lay.nodes["a"].x < lay.nodes["b"].x) == (lay.nodes["d"].x < lay.nodes["c"].x)


def test_builtin_layout_scales_to_1600_unfolded_branches(big: ModelGraph) -> None:
    start = time.perf_counter()
    view = prepare(big, fold=False)
    sizes = {n.id: (80.0, 30.0) for n in view.graph.nodes}
    lay = layered_layout([n.id for n in view.graph.nodes], [(e.src, e.dst) for e in view.graph.edges], sizes)
    assert len(lay.nodes) == len(big.nodes) and time.perf_counter() - start < 20


# -------------------------------------------------------------------- plotly
def node_trace(fig):
    return next(t for t in fig.data if t.name == "layers")


@pytest.mark.parametrize("case", list(ZOO))
def test_graph_figure_node_trace_carries_ids(case: str) -> None:
    source = ZOO[case]()
    fig = graph_figure(source)
    view = prepare(source)
    trace = node_trace(fig)
    assert [row[0] for row in trace.customdata] == [n.id for n in view.graph.nodes]
    assert len(trace.hovertext) == len(view.graph.nodes)
    assert fig.layout.clickmode == "event+select"
    again = node_trace(graph_figure(source))
    assert tuple(again.x) == tuple(trace.x) and tuple(again.y) == tuple(trace.y)


def test_graph_figure_details_and_options() -> None:
    fig = graph_figure(chain(), rankdir="LR", highlight="bn")
    trace = node_trace(fig)
    bn = [row[0] for row in trace.customdata].index("bn")
    assert "non-trainable: 32" in trace.hovertext[bn] and "frozen" in trace.hovertext[bn]
    assert "FROZEN" in trace.text[bn]
    xs = list(trace.x)
    assert xs == sorted(xs)  # a chain laid out left to right
    assert any(s.line.color == "#dc2626" for s in fig.layout.shapes)
    arrows = next(t for t in fig.data if t.name == "arrows")
    assert len(arrows.x) == len(chain().edges)
    assert all(abs(a - 90) < 1 for a in arrows.marker.angle)  # pointing right
    tied = graph_figure(shared_layer())
    assert any(t.name == "shared layer" for t in tied.data)
    nested = graph_figure(nested_two_levels())
    assert sum(1 for s in nested.layout.shapes if s.line.dash == "dash") == 2


# ---------------------------------------------------------------------- html
@pytest.mark.parametrize("engine", ["builtin", pytest.param("graphviz", marks=needs_dot)])
@pytest.mark.parametrize("case", list(ZOO))
def test_html_is_standalone(case: str, engine: str) -> None:
    page = to_html(ZOO[case](), engine=engine)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    outside_namespaces = re.sub(r'xmlns(:\w+)?="[^"]*"|"-//W3C[^"]*"|"http://www\.w3\.org/[^"]*"', "", page)
    assert "http://" not in outside_namespaces and "https://" not in outside_namespaces
    assert "<script src" not in page and "<link rel=\"stylesheet\"" not in page
    count = len(prepare(ZOO[case]()).graph.nodes)
    assert len(re.findall(r'<g id="n\d+" class="node"', page)) == count
    data = json.loads(re.search(r'<script type="application/json" id="ki-data">(.*?)</script>', page,
                                flags=re.S).group(1))
    assert len(data) == count


def test_html_escapes_odd_names_inside_script() -> None:
    page = to_html(odd_names(), engine="builtin")
    data_block = re.search(r'id="ki-data">(.*?)</script>', page, flags=re.S).group(1)
    assert "<" not in data_block and "&" not in data_block
    data = json.loads(data_block)
    assert any(d["name"] == 'lam"bda]</B>\nnext' for d in data.values())


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium for the browser test")
@pytest.mark.parametrize("engine", ["builtin", "browser", pytest.param("graphviz", marks=needs_dot)])
def test_html_in_headless_chromium(tmp_path: Path, engine: str) -> None:
    from playwright.sync_api import sync_playwright

    pages = {"odd": to_html(odd_names(), engine=engine), "nested": to_html(nested_two_levels(), engine=engine),
             "big": to_html(parallel_branches(1600), engine=engine)}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            for name, html in pages.items():
                path = tmp_path / f"{name}.html"
                path.write_text(html, encoding="utf-8")
                page = browser.new_page(viewport={"width": 1200, "height": 800})
                errors: list[str] = []
                requests: list[str] = []
                page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.on("request", lambda r, requests=requests: requests.append(r.url))
                page.goto(path.as_uri())
                page.wait_for_load_state("load")
                page.locator("#ki-canvas[data-complete]").wait_for(state="attached")
                assert page.locator("[data-node-id]").count() == len(json.loads(
                    page.locator("#ki-data").text_content()))
                node = page.locator("g.node").first
                node.hover()
                assert page.locator("#ki-tip").is_visible()
                assert "class" in page.locator("#ki-tip").inner_text()
                node.click()
                assert page.locator("#ki-details h2").inner_text().strip()
                assert page.locator("g.node.ki-selected").count() == 1
                before = page.locator("#ki-canvas svg").get_attribute("viewBox")
                page.mouse.move(400, 400)
                page.mouse.wheel(0, 400)
                page.wait_for_timeout(50)
                zoomed = page.locator("#ki-canvas svg").get_attribute("viewBox")
                assert zoomed != before
                page.mouse.move(500, 500)
                page.mouse.down()
                page.mouse.move(300, 350, steps=4)
                page.mouse.up()
                assert page.locator("#ki-canvas svg").get_attribute("viewBox") != zoomed
                page.fill("#ki-search", "dense")
                assert page.locator("g.node.ki-match").count() >= 1
                page.click("#ki-fit")
                assert page.locator("#ki-canvas svg").get_attribute("viewBox") == before
                assert errors == [], f"{name}: console errors {errors}"
                assert all(u.startswith(("file:", "data:", "about:", "blob:")) for u in requests), requests
                page.close()
        finally:
            browser.close()


@pytest.mark.parametrize("layers", [499, 500])
def test_a_large_drawing_cuts_dots_x_polish_short_and_a_small_one_does_not(layers: int) -> None:
    """From 500 drawn boxes, dot stops polishing x positions early (nslimit): NASNetMobile lays out in 0.17 s
    instead of 0.26 s.  It is an attribute of the DOT, so the browser's Graphviz lays it out the same way."""
    nodes = tuple(LayerNode(id=f"d{i}", name=f"d{i}", class_name="Dense" if i else "InputLayer",
                            kind=NodeKind.LAYER if i else NodeKind.INPUT) for i in range(layers))
    edges = tuple(Edge(f"d{i}", f"d{i + 1}") for i in range(layers - 1))
    dot = to_dot(ModelGraph("chain", "Functional", nodes, edges, ("d0",), (f"d{layers - 1}",)), fold=False,
                 collapse_blocks=False)
    assert dot.count("[id=") == layers
    assert ("nslimit=0.5" in dot) == (layers >= 500)
