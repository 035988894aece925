"""Build the bundled sample models of Keras Inspector.

Each sample reproduces the architecture of a classic Keras tutorial and is trained
for a few seconds on synthetic data shaped like the original task, so that its
weights and embeddings have structure worth looking at.  For every sample the
script writes ``<out>/<slug>/`` with:

- ``model.keras`` (and ``model.h5``, the legacy format, for two plain Dense models),
- ``inputs.npz``: up to 200 rows keyed by model input name, plus ``labels`` when the
  task has labels,
- ``metadata.json``: title, description, source, input specs, vocabularies of the
  embedding layers (``embedding_labels``) and the latent groups that generated the
  data (``embedding_groups``), parameter count and file list.

Run from the repository root::

    python sample_models/build.py                 # rebuild all into sample_models/
    python sample_models/build.py --out /tmp/s    # build elsewhere (used by the tests)
    python sample_models/build.py --only otto_mlp masked_text

Everything is seeded (numpy generators, ``keras.utils.set_random_seed``, TensorFlow
op determinism) and every layer is named, so a rebuild gives the same configs and
parameter counts.  Weights are identical on the same machine and TensorFlow build.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402  (after the log-level variable on purpose)

SEED = 20170601  # the era of the tutorials these models reproduce
N_INPUT_ROWS = 200  # rows kept in inputs.npz
DEFAULT_OUT = Path(__file__).resolve().parent

# Fixed order: also the order inspector.io.samples.list_samples() returns.
SAMPLE_ORDER = ("entity_embeddings", "otto_mlp", "tanh_hinge", "lambda_merge", "nested_gan", "masked_text")


@dataclass
class Built:
    """What a builder hands to the writer."""

    model: keras.Model
    inputs: dict[str, np.ndarray]
    labels: np.ndarray | None
    metadata: dict[str, Any]
    write_h5: bool = False
    training: dict[str, float] = field(default_factory=dict)  # final metrics, printed only


# --------------------------------------------------------------------------- 1. entity embeddings
@dataclass(frozen=True)
class EntityColumn:
    """One categorical column of the synthetic Red Hat table."""

    name: str  # model input name
    column: str  # table.column in the original Kaggle data
    value_prefix: str  # category values read "<prefix> <k>" as in the Kaggle CSVs
    n_categories: int
    embedding_dim: int
    n_latent: int  # hidden groups of categories sharing an effect on the outcome
    effect: float  # largest absolute effect of a latent group on the outcome's logit


ENTITY_COLUMNS = (
    EntityColumn("activity_category", "act_train.activity_category", "type", 7, 3, 2, 0.8),
    EntityColumn("char_1", "people.char_1", "type", 2, 1, 2, 0.3),
    EntityColumn("char_2", "people.char_2", "type", 3, 2, 3, 0.4),
    EntityColumn("char_7", "people.char_7", "type", 25, 4, 3, 0.8),
    EntityColumn("char_10", "act_train.char_10", "type", 150, 6, 4, 0.8),
    EntityColumn("group_1", "people.group_1", "group", 80, 6, 2, 2.0),
)


def _skewed_frequencies(rng: np.random.Generator, n: int) -> np.ndarray:
    """Zipf-like category frequencies (a few common values, a long tail), in random index order."""
    p = 1.0 / (np.arange(n) + 1.0 + n / 10.0)
    rng.shuffle(p)
    return p / p.sum()


def build_entity_embeddings(rng: np.random.Generator) -> Built:
    """Kaggle Red Hat recipe: one Embedding per categorical column, concatenated, then an MLP."""
    n_rows = 30_000
    columns: dict[str, np.ndarray] = {}
    logit = np.full(n_rows, -0.2)
    embedding_labels: dict[str, list[str]] = {}
    embedding_groups: dict[str, list[str]] = {}
    for col in ENTITY_COLUMNS:
        # balanced assignment of categories to latent groups, each group with one effect
        groups = rng.permutation(np.arange(col.n_categories) % col.n_latent)
        group_effect = np.linspace(-col.effect, col.effect, col.n_latent)
        category_effect = group_effect[groups] + rng.normal(0.0, 0.1 * col.effect, col.n_categories)
        values = rng.choice(col.n_categories, size=n_rows, p=_skewed_frequencies(rng, col.n_categories))
        columns[col.name] = values.astype("int32").reshape(-1, 1)
        logit += category_effect[values]
        layer = f"emb_{col.name}"
        embedding_labels[layer] = [f"{col.value_prefix} {k + 1}" for k in range(col.n_categories)]
        embedding_groups[layer] = [f"latent group {g + 1} ({group_effect[g]:+.1f})" for g in groups]
    outcome = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))).astype("float32")

    inputs, flats = [], []
    for col in ENTITY_COLUMNS:
        x = keras.Input(shape=(1,), dtype="int32", name=col.name)
        e = keras.layers.Embedding(col.n_categories, col.embedding_dim, name=f"emb_{col.name}")(x)
        inputs.append(x)
        flats.append(keras.layers.Flatten(name=f"flat_{col.name}")(e))
    h = keras.layers.Concatenate(name="all_embeddings")(flats)
    h = keras.layers.Dense(32, activation="relu", name="dense")(h)
    h = keras.layers.Dropout(0.5, name="dropout")(h)
    out = keras.layers.Dense(1, activation="sigmoid", name="outcome")(h)
    model = keras.Model(inputs, out, name="redhat_entity_embeddings")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    n_fit = n_rows - N_INPUT_ROWS
    history = model.fit({k: v[:n_fit] for k, v in columns.items()}, outcome[:n_fit],
                        epochs=6, batch_size=256, verbose=0)
    return Built(
        model=model,
        inputs={k: v[n_fit:] for k, v in columns.items()},
        labels=outcome[n_fit:],
        metadata={
            "title": "Entity embeddings (Kaggle Red Hat)",
            "description": (
                "Reproduces the entity-embedding recipe popular in the Kaggle Red Hat Business Value "
                "competition: one Embedding per categorical column, flattened, concatenated and fed to a "
                "small MLP predicting the binary outcome. The synthetic categories belong to hidden groups "
                "that drive the outcome, so in the projector the points of emb_group_1 split into two "
                "clouds: colour them by embedding_groups and label them with embedding_labels."
            ),
            "embedding_labels": embedding_labels,
            "embedding_groups": embedding_groups,
            "input_columns": {col.name: col.column for col in ENTITY_COLUMNS},
            "source": (
                "Kaggle 'Predicting Red Hat Business Value' (2016) entity-embedding kernels; "
                "Guo & Berkhahn, 'Entity Embeddings of Categorical Variables', arXiv:1604.06737."
            ),
        },
        training={"accuracy": history.history["accuracy"][-1]},
    )


# --------------------------------------------------------------------------- 2. Otto MLP
def build_otto_mlp(rng: np.random.Generator) -> Built:
    """Otto Group product classification: 93 count features, 9 classes, a one-hidden-layer MLP."""
    n_rows, n_features, n_classes = 12_000, 93, 9
    # a shared base rate per feature; each class boosts a few features of its own
    base = rng.gamma(0.5, 1.0, size=n_features)
    boosted = rng.random((n_classes, n_features)) < 0.06
    rates = base[None, :] * np.where(boosted, 4.0, 1.0) + 0.05
    class_p = np.array([0.03, 0.26, 0.13, 0.04, 0.04, 0.23, 0.05, 0.14, 0.08])  # Otto-like imbalance
    y = rng.choice(n_classes, size=n_rows, p=class_p / class_p.sum())
    activity = rng.lognormal(0.0, 0.5, size=(n_rows, 1))  # some products are simply busier
    counts = rng.poisson(rates[y] * activity).astype("float32")
    # the tutorial standardizes the counts (StandardScaler) before the network sees them
    x = ((counts - counts.mean(0)) / (counts.std(0) + 1e-6)).astype("float32")

    model = keras.Sequential(
        [
            keras.Input(shape=(n_features,), name="features"),
            keras.layers.Dense(100, activation="relu", name="hidden"),
            keras.layers.Dense(n_classes, name="logits"),
            keras.layers.Activation("softmax", name="softmax"),
        ],
        name="otto_mlp",
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    n_fit = n_rows - N_INPUT_ROWS
    history = model.fit(x[:n_fit], y[:n_fit], epochs=5, batch_size=128, verbose=0)
    return Built(
        model=model,
        inputs={"features": x[n_fit:]},
        labels=y[n_fit:].astype("int32"),
        metadata={
            "title": "Otto product classifier (MLP)",
            "description": (
                "A small version of the Keras Otto Group example: 93 standardized product-count features, "
                "Dense(100, relu), Dense(9) and a separate softmax Activation layer. Trained on synthetic "
                "Poisson counts with one rate profile per class; compare the 'logits' and 'softmax' "
                "activations, and note the class imbalance in the labels."
            ),
            "embedding_labels": {},
            "input_columns": {"features": "feat_1 ... feat_93 (standardized counts)"},
            "classes": [f"Class_{k + 1}" for k in range(n_classes)],
            "source": (
                "Kaggle 'Otto Group Product Classification Challenge' (2015); "
                "keras-team/keras examples/kaggle_otto_nn.py (Keras 0.x/1.x)."
            ),
        },
        write_h5=True,
        training={"accuracy": history.history["accuracy"][-1]},
    )


# --------------------------------------------------------------------------- 3. tanh / hinge
def build_tanh_hinge(rng: np.random.Generator) -> Built:
    """Functional Input(5) -> Dense(20, tanh) -> Dense(1, tanh) trained with hinge loss on ±1 labels."""
    n_rows = 6_000
    x = rng.random((n_rows, 5)).astype("float32")
    y = np.where(x.sum(1) > 2.5, 1.0, -1.0).astype("float32")

    inp = keras.Input(shape=(5,), name="x")
    h = keras.layers.Dense(20, activation="tanh", name="hidden")(inp)
    out = keras.layers.Dense(1, activation="tanh", name="score")(h)
    model = keras.Model(inp, out, name="tanh_hinge")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="hinge")
    n_fit = n_rows - N_INPUT_ROWS
    history = model.fit(x[:n_fit], y[:n_fit], epochs=10, batch_size=64, verbose=0)
    accuracy = float(np.mean(np.sign(model.predict(x[n_fit:], verbose=0)[:, 0]) == y[n_fit:]))
    return Built(
        model=model,
        inputs={"x": x[n_fit:]},
        labels=y[n_fit:],
        metadata={
            "title": "tanh / hinge binary classifier",
            "description": (
                "The classic early-Keras functional example of a tanh output trained with hinge loss on "
                "labels of -1 and +1 (label = +1 when the five inputs sum to more than 2.5). Look at how "
                "the 'score' activation saturates near ±1 away from the decision boundary and how the "
                "hidden weights of all five inputs come out nearly equal."
            ),
            "embedding_labels": {},
            "input_columns": {"x": "x1 ... x5"},
            "source": "Keras 1.x functional-API tutorials: tanh output with hinge loss on ±1 labels.",
        },
        write_h5=True,
        training={"hinge": history.history["loss"][-1], "accuracy": accuracy},
    )


# --------------------------------------------------------------------------- 4. Lambda and merge
def build_lambda_merge(rng: np.random.Generator) -> Built:
    """|a| + |b| with one Lambda layer called on both inputs, plus a Dense read-out."""
    n_rows, width = 4_000, 4
    a = keras.Input(shape=(width,), name="a")
    b = keras.Input(shape=(width,), name="b")
    # builtin abs, not keras.ops.abs: Keras rebuilds a saved lambda with its own module
    # globals, where the name `keras` does not exist, so even a trusted load would fail.
    absolute = keras.layers.Lambda(lambda t: abs(t), name="abs")
    abs_sum = keras.layers.Add(name="abs_sum")([absolute(a), absolute(b)])
    l1_norm = keras.layers.Dense(1, name="l1_norm")(abs_sum)
    model = keras.Model([a, b], [abs_sum, l1_norm], name="lambda_merge")

    xa = rng.normal(size=(n_rows, width)).astype("float32")
    xb = rng.normal(size=(n_rows, width)).astype("float32")
    target = (np.abs(xa) + np.abs(xb)).sum(1, keepdims=True).astype("float32")
    # train the read-out through a model that shares the layers: its weights approach 1, bias 0
    trainer = keras.Model([a, b], l1_norm, name="lambda_merge_trainer")
    trainer.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    n_fit = n_rows - N_INPUT_ROWS
    history = trainer.fit({"a": xa[:n_fit], "b": xb[:n_fit]}, target[:n_fit], epochs=8, batch_size=64, verbose=0)
    return Built(
        model=model,
        inputs={"a": xa[n_fit:], "b": xb[n_fit:]},
        labels=target[n_fit:, 0],
        metadata={
            "title": "Lambda and merge (trusted only)",
            "description": (
                "Two inputs go through one shared Lambda layer computing abs, are merged with Add into "
                "|a| + |b|, and a Dense read-out learns their L1 norm (its weights come out close to 1). "
                "The Lambda is saved as Python bytecode, so a safe load refuses it: without trust the "
                "inspector shows the static view of the file, with 'abs' marked opaque."
            ),
            "trusted_only": True,
            "embedding_labels": {},
            "source": (
                "Keras functional-API guide, Lambda and merge layers (the Keras 1 merge(mode=...) recipes)."
            ),
        },
        training={"mse": history.history["loss"][-1]},
    )


# --------------------------------------------------------------------------- 5. nested GAN
def build_nested_gan(rng: np.random.Generator) -> Built:
    """A conditional GAN: generator and discriminator Models nested in one combined Model."""
    import tensorflow as tf

    noise_dim, n_modes = 8, 3
    centers = 2.0 * np.stack([np.cos(2 * np.pi * np.arange(n_modes) / n_modes),
                              np.sin(2 * np.pi * np.arange(n_modes) / n_modes)], axis=1)

    g_noise = keras.Input(shape=(noise_dim,), name="noise")
    g_cond = keras.Input(shape=(n_modes,), name="condition")
    h = keras.layers.Concatenate(name="noise_and_condition")([g_noise, g_cond])
    h = keras.layers.Dense(32, activation="relu", name="g_dense_1")(h)
    h = keras.layers.Dense(32, activation="relu", name="g_dense_2")(h)
    sample = keras.layers.Dense(2, name="sample")(h)
    generator = keras.Model([g_noise, g_cond], sample, name="generator")

    d_sample = keras.Input(shape=(2,), name="sample")
    d_cond = keras.Input(shape=(n_modes,), name="condition")
    joined = keras.layers.Concatenate(name="sample_and_condition")([d_sample, d_cond])
    critic_head = keras.Sequential(
        [
            keras.Input(shape=(2 + n_modes,), name="joined"),
            keras.layers.Dense(32, name="d_dense"),
            keras.layers.LeakyReLU(0.2, name="d_leaky_relu"),
            keras.layers.Dense(1, activation="sigmoid", name="real_probability"),
        ],
        name="critic_head",
    )
    discriminator = keras.Model([d_sample, d_cond], critic_head(joined), name="discriminator")

    noise = keras.Input(shape=(noise_dim,), name="noise")
    condition = keras.Input(shape=(n_modes,), name="condition")
    fake = generator([noise, condition])
    score = discriminator([fake, condition])
    gan = keras.Model([noise, condition], score, name="conditional_gan")

    bce = keras.losses.BinaryCrossentropy()
    d_opt = keras.optimizers.Adam(2e-3, beta_1=0.5)
    g_opt = keras.optimizers.Adam(2e-3, beta_1=0.5)

    @tf.function
    def train_step(real, cond, z_d, z_g):
        # discriminator: real samples of the condition's mode vs generated ones
        with tf.GradientTape() as tape:
            p_real = discriminator([real, cond], training=True)
            p_fake = discriminator([generator([z_d, cond], training=True), cond], training=True)
            d_loss = bce(tf.ones_like(p_real), p_real) + bce(tf.zeros_like(p_fake), p_fake)
        d_vars = discriminator.trainable_variables
        d_opt.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars, strict=True))
        # generator through the combined model, only its own weights updated
        with tf.GradientTape() as tape:
            p_fake = gan([z_g, cond], training=True)
            g_loss = bce(tf.ones_like(p_fake), p_fake)
        g_vars = generator.trainable_variables
        g_opt.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars, strict=True))
        return d_loss, g_loss

    batch, steps = 128, 600
    for _ in range(steps):
        modes = rng.integers(0, n_modes, batch)
        cond = np.eye(n_modes, dtype="float32")[modes]
        real = (centers[modes] + rng.normal(0, 0.25, (batch, 2))).astype("float32")
        z_d = rng.normal(size=(batch, noise_dim)).astype("float32")
        z_g = rng.normal(size=(batch, noise_dim)).astype("float32")
        d_loss, g_loss = (float(v) for v in train_step(tf.constant(real), tf.constant(cond),
                                                       tf.constant(z_d), tf.constant(z_g)))

    modes = np.arange(N_INPUT_ROWS) % n_modes
    inputs = {
        "noise": rng.normal(size=(N_INPUT_ROWS, noise_dim)).astype("float32"),
        "condition": np.eye(n_modes, dtype="float32")[modes],
    }
    generated = generator.predict([inputs["noise"], inputs["condition"]], verbose=0)
    mode_error = float(np.mean(np.linalg.norm(generated - centers[modes], axis=1)))
    return Built(
        model=gan,
        inputs=inputs,
        labels=None,
        metadata={
            "title": "Nested conditional GAN",
            "description": (
                "A conditional GAN in the style of the Keras GAN examples: a generator Model (noise and a "
                "one-hot condition -> Dense layers -> a 2-D sample) feeds a discriminator Model that "
                "concatenates the sample with the same condition and scores it with a nested Sequential "
                "head, so the graph nests two levels deep. Expand and collapse 'generator', "
                "'discriminator' and 'discriminator/critic_head', and look at the generator's 'sample' "
                "activations: each condition lands near its own point of a triangle."
            ),
            "embedding_labels": {},
            "mode_centers": centers.round(4).tolist(),
            "source": (
                "Mirza & Osindero, 'Conditional Generative Adversarial Nets', arXiv:1411.1784; "
                "the combined-model GAN recipe of the Keras examples (mnist_acgan.py, conditional_gan)."
            ),
        },
        training={"d_loss": d_loss, "g_loss": g_loss, "mean_distance_to_mode": mode_error},
    )


# --------------------------------------------------------------------------- 6. masked text
POSITIVE_WORDS = ("great", "excellent", "wonderful", "loved", "superb", "enjoyable", "brilliant", "fun",
                  "moving", "beautiful", "best", "recommend")
NEGATIVE_WORDS = ("awful", "boring", "terrible", "worst", "dull", "waste", "hated", "poor", "mess",
                  "predictable", "bad", "disappointing")
NEUTRAL_WORDS = ("the", "a", "movie", "film", "plot", "actor", "story", "was", "it", "and", "is", "this",
                 "of", "scene", "ending", "director", "with", "but", "characters", "music", "camera",
                 "script", "two", "hours", "one", "time", "really", "very")


def build_masked_text(rng: np.random.Generator) -> Built:
    """Embedding(mask_zero=True) -> masked GlobalAveragePooling1D -> Dense, on synthetic reviews."""
    vocabulary = ["[PAD]", "[UNK]", *POSITIVE_WORDS, *NEGATIVE_WORDS, *NEUTRAL_WORDS]
    index = {w: i for i, w in enumerate(vocabulary)}
    positive = np.array([index[w] for w in POSITIVE_WORDS])
    negative = np.array([index[w] for w in NEGATIVE_WORDS])
    neutral = np.array([index[w] for w in NEUTRAL_WORDS])
    n_rows, max_length = 8_000, 20

    tokens = np.zeros((n_rows, max_length), dtype="int32")
    labels = rng.integers(0, 2, n_rows).astype("float32")
    for i in range(n_rows):
        length = int(rng.integers(4, max_length + 1))
        n_major = int(rng.integers(1, 4))
        n_minor = int(rng.integers(0, n_major))  # fewer words of the other sentiment: no ties
        major, minor = (positive, negative) if labels[i] else (negative, positive)
        words = np.concatenate([rng.choice(major, n_major), rng.choice(minor, n_minor),
                                rng.choice(neutral, max(0, length - n_major - n_minor))])
        words[rng.random(words.size) < 0.05] = index["[UNK]"]  # out-of-vocabulary words
        rng.shuffle(words)
        tokens[i, : words.size] = words[:max_length]  # right padding with [PAD] = 0

    inp = keras.Input(shape=(max_length,), dtype="int32", name="tokens")
    e = keras.layers.Embedding(len(vocabulary), 16, mask_zero=True, name="word_embedding")(inp)
    h = keras.layers.GlobalAveragePooling1D(name="masked_average")(e)  # averages unmasked steps only
    h = keras.layers.Dense(16, activation="relu", name="hidden")(h)
    out = keras.layers.Dense(1, activation="sigmoid", name="sentiment")(h)
    model = keras.Model(inp, out, name="masked_text")
    model.compile(optimizer=keras.optimizers.Adam(0.005), loss="binary_crossentropy", metrics=["accuracy"])
    n_fit = n_rows - N_INPUT_ROWS
    history = model.fit(tokens[:n_fit], labels[:n_fit], epochs=6, batch_size=64, verbose=0)
    groups = (["special"] * 2 + ["positive"] * len(POSITIVE_WORDS) + ["negative"] * len(NEGATIVE_WORDS)
              + ["neutral"] * len(NEUTRAL_WORDS))
    return Built(
        model=model,
        inputs={"tokens": tokens[n_fit:]},
        labels=labels[n_fit:],
        metadata={
            "title": "Masked text classifier",
            "description": (
                "The bag-of-embeddings sentiment model of the TensorFlow/Keras text-classification "
                "tutorials: Embedding(mask_zero=True) -> GlobalAveragePooling1D, which averages only the "
                "non-padding positions, -> Dense. Synthetic reviews where positive and negative words "
                "decide the label; project 'word_embedding' and the two sentiment vocabularies separate "
                "while neutral words and [PAD] sit in between. Saved only as .keras: Keras 3's own .h5 of "
                "a mask_zero Embedding does not load back."
            ),
            "embedding_labels": {"word_embedding": vocabulary},
            "embedding_groups": {"word_embedding": groups},
            "input_columns": {"tokens": "review (token ids, right-padded with 0 = [PAD])"},
            "source": (
                "TensorFlow tutorials 'Basic text classification' and 'Word embeddings' "
                "(Embedding -> GlobalAveragePooling1D -> Dense), with mask_zero=True."
            ),
        },
        training={"accuracy": history.history["accuracy"][-1]},
    )


BUILDERS: dict[str, Callable[[np.random.Generator], Built]] = {
    "entity_embeddings": build_entity_embeddings,
    "otto_mlp": build_otto_mlp,
    "tanh_hinge": build_tanh_hinge,
    "lambda_merge": build_lambda_merge,
    "nested_gan": build_nested_gan,
    "masked_text": build_masked_text,
}


# --------------------------------------------------------------------------- writing
def _tensor_spec(name: str, tensor: Any) -> dict[str, Any]:
    return {"name": name, "shape": list(tensor.shape), "dtype": str(tensor.dtype)}


def _output_names(model: keras.Model) -> list[str]:
    """Names of the layers (or nested models) producing the outputs; Sequential has no output_names."""
    if isinstance(model, keras.Sequential):
        return [model.layers[-1].name]
    return list(model.output_names)


def _to_json(value: Any, indent: int = 0) -> str:
    """JSON with one key per line but each list of plain values on one line (short, diffable files)."""
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {_to_json(v, indent + 2)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        items = [f"{inner}{_to_json(v, indent + 2)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False)


def write_sample(slug: str, built: Built, out: Path) -> dict[str, Any]:
    """Write model file(s), inputs.npz and metadata.json into ``out/slug``; return the metadata."""
    folder = out / slug
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    model = built.model
    model.save(folder / "model.keras")
    files = ["model.keras"]
    if built.write_h5:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "HDF5 is legacy": that is the point of this file
            model.save(folder / "model.h5")
        files.append("model.h5")
    input_specs = [_tensor_spec(t.name, t) for t in model.inputs]
    if [s["name"] for s in input_specs] != list(built.inputs):
        raise RuntimeError(f"{slug}: inputs.npz keys {list(built.inputs)} differ from model inputs {input_specs}")
    arrays = dict(built.inputs)
    if built.labels is not None:
        arrays["labels"] = built.labels
    np.savez_compressed(folder / "inputs.npz", **arrays)
    files += ["inputs.npz", "metadata.json"]

    meta = dict(built.metadata)
    metadata = {
        "slug": slug,
        "title": meta.pop("title"),
        "description": meta.pop("description"),
        "trusted_only": meta.pop("trusted_only", False),
        "inputs": input_specs,
        "outputs": [_tensor_spec(n, t) for n, t in zip(_output_names(model), model.outputs, strict=True)],
        "embedding_labels": meta.pop("embedding_labels"),
        "input_columns": meta.pop("input_columns", {}),
        "source": meta.pop("source"),
        "model_name": model.name,
        "params": int(model.count_params()),
        "files": files,
        "keras_version": keras.__version__,
        **meta,
    }
    (folder / "metadata.json").write_text(_to_json(metadata) + "\n", encoding="utf-8")
    return metadata


def build(slugs: list[str], out: Path) -> list[tuple[str, int, dict[str, int], dict[str, float], float]]:
    """Build the given samples into ``out``; return (slug, params, file sizes, metrics, seconds) rows."""
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    rows = []
    for slug in slugs:
        start = time.perf_counter()
        keras.backend.clear_session()
        seed = SEED + SAMPLE_ORDER.index(slug)
        keras.utils.set_random_seed(seed)
        built = BUILDERS[slug](np.random.default_rng(seed))
        metadata = write_sample(slug, built, out)
        sizes = {f: (out / slug / f).stat().st_size for f in metadata["files"]}
        rows.append((slug, metadata["params"], sizes, built.training, time.perf_counter() - start))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write into (default: here)")
    parser.add_argument("--only", nargs="+", choices=SAMPLE_ORDER, metavar="SLUG",
                        help=f"build only these samples: {', '.join(SAMPLE_ORDER)}")
    args = parser.parse_args(argv)
    slugs = [s for s in SAMPLE_ORDER if not args.only or s in args.only]
    args.out.mkdir(parents=True, exist_ok=True)
    rows = build(slugs, args.out)
    total = 0
    print(f"{'sample':<18} {'params':>7} {'files (bytes)':<58} {'seconds':>7}  final metrics")
    for slug, params, sizes, metrics, seconds in rows:
        total += sum(sizes.values())
        files = ", ".join(f"{f}={n}" for f, n in sizes.items())
        scores = ", ".join(f"{k}={v:.3f}" for k, v in metrics.items())
        print(f"{slug:<18} {params:>7} {files:<58} {seconds:>7.1f}  {scores}")
    print(f"total size: {total} bytes in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
