"""A TensorFlow checkpoint (``variables.index`` + ``variables.data-*``) read without TensorFlow.

The index is a LevelDB-format table (an SSTable: data blocks of prefix-compressed keys, an index block, a
48-byte footer) mapping each variable's key to a ``BundleEntryProto`` (dtype, shape, shard, offset, size);
the data files hold the raw little-endian bytes.  The ``_CHECKPOINTABLE_OBJECT_GRAPH`` entry is a string
tensor holding a ``TrackableObjectGraph``: which object owns which variable, by the names Keras tracked them
under (``layer_with_weights-0`` → ``kernel``).  Nothing here runs code from the files; every offset and size
is checked against the bytes it points into, and every checksum TensorFlow wrote (each table block's, each
tensor's: masked CRC-32C) against the bytes, as TensorFlow checks them when it restores: a damaged file is
refused, never read as other numbers.

Example:
    >>> table = _table_bytes({b"": b"", b"w": bytes([0x08, 0x01])})   # one float32 scalar entry
    >>> sorted(read_index(table))
    ['w']
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import google_crc32c

from inspector.io.protobuf_wire import WireError, fields, read_varint

__all__ = ["CheckpointEntry", "CheckpointError", "TrackedObject", "read_index", "read_object_graph", "read_tensor",
           "OBJECT_GRAPH_KEY"]

if TYPE_CHECKING:
    import numpy as np

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_BYTES = 48
# TensorFlow's DataType enum: the numeric ones a Keras variable holds (bfloat16 is widened to float32 on read)
_DTYPES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 9: "int64", 10: "bool",
           14: "bfloat16", 17: "uint16", 19: "float16", 22: "uint32", 23: "uint64"}
_STRING = 7


class CheckpointError(ValueError):
    """A checkpoint that is malformed (the message says where); the SavedModel reader adds what to do."""


@dataclass(frozen=True)
class CheckpointEntry:
    """One stored tensor: its dtype name (``"string"`` for the object graph), shape, and where its bytes are."""

    key: str
    dtype: str
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int | None = None  # the masked CRC-32C of the bytes, as TensorFlow wrote it (None: not written)


@dataclass(frozen=True)
class TrackedObject:
    """A node of the checkpoint's object graph: its children by local name, and the variables it holds."""

    children: tuple[tuple[str, int], ...]  # (local name, node id)
    variables: tuple[tuple[str, str], ...]  # (attribute name such as VARIABLE_VALUE, checkpoint key)
    slot_variable_ids: frozenset[int]  # nodes that are an optimizer's slots (momentum, velocity) of a variable


def read_index(data: bytes) -> dict[str, CheckpointEntry]:
    """Every entry of a checkpoint index (an SSTable of ``BundleEntryProto``) by key; the header entry omitted.

    Raises :class:`CheckpointError` for a table that is malformed or compressed (TensorFlow writes it plain).
    """
    entries = {}
    for key, value in _table_items(data):
        if not key:
            continue  # the BundleHeaderProto: shards and endianness (TensorFlow writes little-endian only)
        name = key.decode("utf-8", "replace")
        entries[name] = _entry(name, value)
    return entries


def read_tensor(entry: CheckpointEntry, shard: bytes) -> np.ndarray:
    """The array an entry names, from its shard's bytes (a copy; bfloat16 widened to float32).

    Example:
        >>> import numpy as np
        >>> read_tensor(CheckpointEntry("w", "float32", (2,), 0, 4, 8), bytes(4) + np.float32([1, 2]).tobytes())
        array([1., 2.], dtype=float32)
    """
    import numpy as np

    if entry.offset < 0 or entry.size < 0 or entry.offset + entry.size > len(shard):
        raise CheckpointError(f"{entry.key}: its bytes {entry.offset}..{entry.offset + entry.size} lie outside "
                              f"its data file of {len(shard)} bytes")
    raw = shard[entry.offset:entry.offset + entry.size]
    _check_sum(entry, google_crc32c.value(raw))
    if entry.dtype == "bfloat16":
        wide = np.frombuffer(raw, dtype="<u2").astype("<u4") << 16
        values = wide.view("<f4")
    else:
        values = np.frombuffer(raw, dtype=np.dtype(entry.dtype).newbyteorder("<")).astype(entry.dtype)
    count = int(np.prod(entry.shape, dtype=np.int64))
    if values.size != count:
        raise CheckpointError(f"{entry.key}: {values.size} values stored for the shape {entry.shape}")
    return values.reshape(entry.shape).copy()


def read_object_graph(entry: CheckpointEntry, shard: bytes) -> list[TrackedObject]:
    """The ``TrackableObjectGraph`` stored in the ``_CHECKPOINTABLE_OBJECT_GRAPH`` string tensor, node 0 the root."""
    if entry.dtype != "string" or entry.shape != ():
        raise CheckpointError(f"{entry.key} is not a string scalar")
    end = entry.offset + entry.size
    if entry.offset < 0 or end > len(shard):
        raise CheckpointError(f"{entry.key}: its bytes lie outside its data file")
    try:
        # a string tensor: a varint length per element, a 4-byte checksum of the lengths, then the bytes
        length, position = read_varint(shard[:end], entry.offset)
        position += 4
        if position + length > end:
            raise CheckpointError(f"{entry.key}: its string runs past its entry")
        # its checksum runs over the length (4 bytes, 8 past 4 GiB), the lengths' checksum, then the bytes
        size = struct.pack("<I" if length <= 0xFFFFFFFF else "<Q", length)
        _check_sum(entry, google_crc32c.extend(google_crc32c.value(size), shard[position - 4:position + length]))
        graph = shard[position:position + length]
        nodes = []
        for number, node in fields(graph):
            if number == 1 and isinstance(node, bytes):
                nodes.append(_tracked_object(node))
    except WireError as e:
        raise CheckpointError(f"{entry.key}: {e}") from e
    if not nodes:
        raise CheckpointError(f"{entry.key} holds no objects")
    return nodes


def _tracked_object(message: bytes) -> TrackedObject:
    children, variables, slots = [], [], set()
    for number, value in fields(message):
        if not isinstance(value, bytes):
            continue
        parts = dict(fields(value))
        if number == 1:  # ObjectReference {node_id = 1, local_name = 2}
            children.append((_text(parts.get(2, b"")), int(parts.get(1, 0))))
        elif number == 2:  # SerializedTensor {name = 1, full_name = 2, checkpoint_key = 3}
            variables.append((_text(parts.get(1, b"")), _text(parts.get(3, b""))))
        elif number == 3:  # SlotVariableReference {original_variable_node_id = 1, slot_name = 2, slot_variable_node_id = 3}
            slots.add(int(parts.get(3, 0)))
    return TrackedObject(tuple(children), tuple(variables), frozenset(slots))


def _text(value: int | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _entry(key: str, value: bytes) -> CheckpointEntry:
    """A ``BundleEntryProto``: dtype = 1, shape = 2 (``TensorShapeProto``: dim = 2 {size = 1}), shard_id = 3,
    offset = 4, size = 5; slices (7) mark a partitioned variable, which Keras models do not write."""
    dtype_code, shape, shard, offset, size, sliced, crc = 0, [], 0, 0, 0, False, None
    try:
        for number, field in fields(value):
            if number == 1 and isinstance(field, int):
                dtype_code = field
            elif number == 2 and isinstance(field, bytes):
                for dim_number, dim in fields(field):
                    if dim_number == 2 and isinstance(dim, bytes):
                        size_field = dict(fields(dim)).get(1, 0)
                        shape.append(_signed(int(size_field) if isinstance(size_field, int) else 0))
            elif number == 3 and isinstance(field, int):
                shard = field
            elif number == 4 and isinstance(field, int):
                offset = _signed(field)
            elif number == 5 and isinstance(field, int):
                size = _signed(field)
            elif number == 6 and isinstance(field, int):
                crc = field
            elif number == 7:
                sliced = True
    except WireError as e:
        raise CheckpointError(f"{key}: {e}") from e
    if sliced:
        raise CheckpointError(f"{key} is stored in slices (a partitioned variable)")
    if any(d < 0 for d in shape):
        raise CheckpointError(f"{key} has the shape {tuple(shape)}")
    dtype = "string" if dtype_code == _STRING else _DTYPES.get(dtype_code, f"DataType {dtype_code}")
    return CheckpointEntry(key, dtype, tuple(shape), shard, offset, size, crc)


def _masked(crc: int) -> int:
    """TensorFlow's (and LevelDB's) stored form of a CRC-32C: rotated right by 15 bits, plus a constant.

    Example:
        >>> hex(_masked(google_crc32c.value(b"123456789")))  # CRC-32C's check value is 0xe3069283
        '0xc78ab0e5'
    """
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _check_sum(entry: CheckpointEntry, crc: int) -> None:
    if entry.crc32c is not None and _masked(crc) != entry.crc32c:
        raise CheckpointError(f"{entry.key}: its {entry.size:,} bytes do not match the checksum stored with them "
                              "(the data file is damaged)")


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


# ------------------------------------------------------------------ the SSTable
def _table_items(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The (key, value) pairs of a LevelDB-format table, in key order, read through its index block."""
    if len(data) < _FOOTER_BYTES:
        raise CheckpointError(f"the index is {len(data)} bytes, shorter than a table's footer")
    footer = data[-_FOOTER_BYTES:]
    (magic,) = struct.unpack("<Q", footer[-8:])
    if magic != _TABLE_MAGIC:
        raise CheckpointError("the index does not end with a table's magic number")
    try:
        _, position = read_varint(footer, 0)  # the metaindex block's handle: empty in a checkpoint
        _, position = read_varint(footer, position)
        index_offset, position = read_varint(footer, position)
        index_size, _ = read_varint(footer, position)
        for _, handle in _block_items(_block(data, index_offset, index_size)):
            offset, position = read_varint(handle, 0)
            size, _ = read_varint(handle, position)
            yield from _block_items(_block(data, offset, size))
    except WireError as e:
        raise CheckpointError(f"the index is malformed: {e}") from e


def _block(data: bytes, offset: int, size: int) -> bytes:
    """A block's contents; its 5-byte trailer says whether it is compressed (TensorFlow's bundles are not)."""
    if offset + size + 5 > len(data) - _FOOTER_BYTES:
        raise CheckpointError(f"a block at {offset} of {size} bytes lies outside the index")
    if data[offset + size] != 0:
        raise CheckpointError(f"a block is compressed (type {data[offset + size]}); TensorFlow writes them plain")
    (stored,) = struct.unpack_from("<I", data, offset + size + 1)
    if _masked(google_crc32c.value(data[offset:offset + size + 1])) != stored:  # the contents and the type byte
        raise CheckpointError(f"the index's block at {offset} does not match its checksum (the index is damaged)")
    return data[offset:offset + size]


def _block_items(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """A block's entries: each key shares a prefix with the one before; restart points at the end are skipped."""
    if len(block) < 4:
        raise CheckpointError("a block is shorter than its restart count")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * restarts
    if end < 0:
        raise CheckpointError("a block's restart array is larger than the block")
    position, key = 0, b""
    while position < end:
        shared, position = read_varint(block, position)
        unshared, position = read_varint(block, position)
        value_size, position = read_varint(block, position)
        if shared > len(key) or position + unshared + value_size > end:
            raise CheckpointError("a block's entry runs past the block")
        key = key[:shared] + block[position:position + unshared]
        position += unshared
        yield key, block[position:position + value_size]
        position += value_size


def _table_bytes(items: dict[bytes, bytes]) -> bytes:
    """A one-block table of ``items`` (for the examples and tests: the smallest table TensorFlow could write)."""
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
            n >>= 7
            if not n:
                return bytes(out)

    def block(pairs: list[tuple[bytes, bytes]]) -> bytes:
        body = b"".join(varint(0) + varint(len(k)) + varint(len(v)) + k + v for k, v in pairs)
        return body + struct.pack("<II", 0, 1)

    def trailer(contents: bytes) -> bytes:  # not compressed, and the checksum
        return b"\x00" + struct.pack("<I", _masked(google_crc32c.value(contents + b"\x00")))

    data = block(sorted(items.items()))
    index = block([(b"\xff", varint(0) + varint(len(data)))])
    table = data + trailer(data) + index + trailer(index)
    handles = varint(0) + varint(0) + varint(len(data) + 5) + varint(len(index))
    return table + handles + bytes(40 - len(handles)) + struct.pack("<Q", _TABLE_MAGIC)
