"""The protocol-buffer wire format, read field by field without the message's schema or the protobuf package.

A SavedModel's ``keras_metadata.pb`` and its checkpoint's index entries are small protobuf messages; reading
them needs only the wire format (varints, length-delimited bytes, fixed 32/64-bit values), so the static view
stays free of TensorFlow and of the generated classes.  Every read is bounded by the buffer it is given: a
malformed message raises :class:`WireError`, which the readers turn into the format's own error.

Example:
    >>> message = bytes([0x08, 0x96, 0x01, 0x12, 0x03]) + b"abc"   # field 1 = 150, field 2 = "abc"
    >>> fields(message)
    [(1, 150), (2, b'abc')]
"""

from __future__ import annotations

import struct

__all__ = ["WireError", "fields", "read_varint"]


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message (truncated, or a wire type no message uses)."""


def read_varint(data: bytes, position: int) -> tuple[int, int]:
    """The varint starting at ``position`` and the position after it.

    Example:
        >>> read_varint(b"\\x96\\x01", 0)
        (150, 2)
    """
    value = shift = 0
    while True:
        if position >= len(data):
            raise WireError("a varint runs past the end of the message")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
        if shift >= 70:
            raise WireError("a varint is longer than ten bytes")


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """The ``(field number, value)`` pairs of one message, in order: varints and fixed-width values as
    unsigned ints, length-delimited fields (strings, bytes, sub-messages, packed arrays) as bytes."""
    out: list[tuple[int, int | bytes]] = []
    position = 0
    while position < len(data):
        key, position = read_varint(data, position)
        number, wire_type = key >> 3, key & 7
        value: int | bytes
        if wire_type == 0:
            value, position = read_varint(data, position)
        elif wire_type == 1:
            if position + 8 > len(data):
                raise WireError("a 64-bit field runs past the end of the message")
            (value,) = struct.unpack_from("<Q", data, position)
            position += 8
        elif wire_type == 2:
            length, position = read_varint(data, position)
            if position + length > len(data):
                raise WireError("a length-delimited field runs past the end of the message")
            value = data[position:position + length]
            position += length
        elif wire_type == 5:
            if position + 4 > len(data):
                raise WireError("a 32-bit field runs past the end of the message")
            (value,) = struct.unpack_from("<I", data, position)
            position += 4
        else:
            raise WireError(f"wire type {wire_type} (field {number}) is not one a message holds")
        if number == 0:
            raise WireError("field number 0")
        out.append((number, value))
    return out
