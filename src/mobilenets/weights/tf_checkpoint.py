"""A TensorFlow checkpoint reader in pure Python, so TF-slim's released weights load without
TensorFlow.

A V2 checkpoint ``PREFIX`` is ``PREFIX.index``, a LevelDB-style SSTable mapping each tensor
name to a ``BundleEntryProto`` (dtype, shape, shard, offset, size), and
``PREFIX.data-SSSSS-of-NNNNN`` files holding the raw little-endian tensor bytes. The index's
blocks are checked against their CRC32C; tensors are checked against the data file's size.
"""

from __future__ import annotations

import os
import struct
from functools import lru_cache
from pathlib import Path

import numpy as np

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_LENGTH = 48
_BLOCK_TRAILER = 5  # compression type byte + masked CRC32C
# tensorflow/core/framework/types.proto, the numeric types a checkpoint of weights holds.
_DTYPES = {
    1: np.float32,
    2: np.float64,
    3: np.int32,
    4: np.uint8,
    5: np.int16,
    6: np.int8,
    9: np.int64,
    10: np.bool_,
    17: np.uint16,
    19: np.float16,
    22: np.uint32,
    23: np.uint64,
}


@lru_cache(maxsize=1)
def _crc32c_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum LevelDB tables and TF bundles use."""
    table, crc = _crc32c_table(), 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(buffer: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(buffer):
            raise ValueError("varint runs past the end of its buffer")
        byte = buffer[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _proto_fields(buffer: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of a protobuf message: ints for varint/fixed fields,
    bytes for length-delimited ones."""
    fields, position = [], 0
    while position < len(buffer):
        key, position = _varint(buffer, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = _varint(buffer, position)
        elif wire_type == 1:
            value, position = struct.unpack_from("<Q", buffer, position)[0], position + 8
        elif wire_type == 5:
            value, position = struct.unpack_from("<I", buffer, position)[0], position + 4
        elif wire_type == 2:
            length, position = _varint(buffer, position)
            value, position = buffer[position : position + length], position + length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")
        fields.append((number, value))
    return fields


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of one SSTable block (keys are prefix-compressed)."""
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * num_restarts
    entries, position, key = [], 0, b""
    while position < end:
        shared, position = _varint(block, position)
        unshared, position = _varint(block, position)
        value_length, position = _varint(block, position)
        key = key[:shared] + block[position : position + unshared]
        position += unshared
        entries.append((key, block[position : position + value_length]))
        position += value_length
    return entries


class TFCheckpoint:
    """The tensors of a TensorFlow V2 checkpoint, by name: ``names()``, ``shape(name)``,
    ``read(name)`` (a numpy array)."""

    def __init__(self, prefix: str | os.PathLike[str]) -> None:
        prefix = str(prefix)
        if prefix.endswith(".index"):
            prefix = prefix[: -len(".index")]
        self.prefix = prefix
        index = Path(f"{prefix}.index")
        if not index.is_file():
            raise FileNotFoundError(
                f"no TensorFlow checkpoint at {prefix} ({index} does not exist)"
            )
        self._index_bytes = index.read_bytes()
        self._entries: dict[str, tuple[np.dtype | None, tuple[int, ...], int, int, int]] = {}
        num_shards = 1
        for key, value in self._table_entries():
            if key == b"":
                num_shards = self._header(value)
            else:
                self._entries[key.decode("utf-8")] = self._entry(key, value)
        self._data_files = [
            Path(f"{prefix}.data-{shard:05d}-of-{num_shards:05d}") for shard in range(num_shards)
        ]

    def _fail(self, why: str) -> ValueError:
        return ValueError(
            f"{self.prefix}.index is not a readable TensorFlow checkpoint index: {why}"
        )

    def _block(self, handle: bytes, position: int = 0) -> bytes:
        """The block a BlockHandle (two varints: offset, size) at ``position`` points to."""
        offset, position = _varint(handle, position)
        size, _ = _varint(handle, position)
        raw = self._index_bytes[offset : offset + size + _BLOCK_TRAILER]
        if len(raw) != size + _BLOCK_TRAILER:
            raise self._fail("a block runs past the end of the file (truncated?)")
        block, compression = raw[:size], raw[size]
        (stored,) = struct.unpack_from("<I", raw, size + 1)
        if _masked(crc32c(raw[: size + 1])) != stored:
            raise self._fail("a block fails its CRC32C check (corrupt or truncated)")
        if compression != 0:
            raise self._fail(
                f"block compression type {compression} is not supported (only uncompressed)"
            )
        return block

    def _table_entries(self) -> list[tuple[bytes, bytes]]:
        data = self._index_bytes
        if len(data) < _FOOTER_LENGTH:
            raise self._fail(f"{len(data)} bytes is shorter than a table footer (truncated?)")
        footer = data[-_FOOTER_LENGTH:]
        if struct.unpack_from("<Q", footer, 40)[0] != _TABLE_MAGIC:
            raise self._fail(
                "the table magic number is missing (truncated, or another kind of file)"
            )
        # The footer holds the metaindex handle (unused by bundles), then the index handle.
        position = _varint(footer, _varint(footer, 0)[1])[1]
        entries = []
        for _, handle in _block_entries(self._block(footer, position)):
            entries.extend(_block_entries(self._block(handle)))
        return entries

    def _header(self, value: bytes) -> int:
        fields = {number: field for number, field in _proto_fields(value) if number in (1, 2)}
        if fields.get(2, 0) != 0:
            raise self._fail("big-endian checkpoints are not supported")
        return int(fields.get(1, 1))

    def _entry(
        self, key: bytes, value: bytes
    ) -> tuple[np.dtype | None, tuple[int, ...], int, int, int]:
        dtype_code, shape, shard, offset, size = 0, [], 0, 0, 0
        for number, field in _proto_fields(value):
            if number == 1:
                dtype_code = field
            elif number == 2:
                for dim_number, dim in _proto_fields(field):
                    if dim_number == 2:
                        shape.append(next((int(v) for n, v in _proto_fields(dim) if n == 1), 0))
            elif number == 3:
                shard = field
            elif number == 4:
                offset = field
            elif number == 5:
                size = field
            elif number == 7:
                raise self._fail(
                    f"tensor {key.decode()!r} is saved in slices (partitioned), which is not supported"
                )
        dtype = np.dtype(_DTYPES[dtype_code]).newbyteorder("<") if dtype_code in _DTYPES else None
        return dtype, tuple(shape), int(shard), int(offset), int(size)

    def names(self) -> list[str]:
        """The tensor names, sorted (as the index stores them)."""
        return list(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def shape(self, name: str) -> tuple[int, ...]:
        return self._lookup(name)[1]

    def _lookup(self, name: str) -> tuple[np.dtype | None, tuple[int, ...], int, int, int]:
        if name not in self._entries:
            raise KeyError(f"{name!r} is not in the checkpoint {self.prefix}")
        return self._entries[name]

    def read(self, name: str) -> np.ndarray:
        """The tensor's values, as a fresh numpy array of its dtype and shape."""
        dtype, shape, shard, offset, size = self._lookup(name)
        if dtype is None:
            raise ValueError(
                f"tensor {name!r} of {self.prefix} has a dtype this reader does not support"
            )
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if size != expected:
            raise ValueError(
                f"tensor {name!r} of {self.prefix}: {size} bytes stored, {expected} expected for {shape}"
            )
        path = self._data_files[shard]
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint data file {path} does not exist")
        with open(path, "rb") as file:
            file.seek(offset)
            raw = file.read(size)
        if len(raw) != size:
            raise ValueError(
                f"checkpoint data file {path} is truncated: tensor {name!r} needs bytes up to {offset + size}"
            )
        return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
