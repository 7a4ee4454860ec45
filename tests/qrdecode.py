"""A small QR code reader for tests: module matrix in, text out.

It does what a phone does once it has found the modules: reads the format
information (error correction level and mask), unmasks, reads the codewords
in the zigzag order, undoes the block interleaving, checks every block's
Reed-Solomon syndromes (a damaged symbol raises instead of guessing), and
parses numeric, alphanumeric and byte segments. It corrects no errors, which
a rendering that is exactly right never needs.

Independent of segno's encoder; only the specification's tables (blocks per
version and level, alignment pattern positions) are taken from ``segno.consts``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from segno import consts

Matrix = Sequence[Sequence[bool]]
_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_MASKS: tuple[Callable[[int, int], bool], ...] = (
    lambda r, c: (r + c) % 2 == 0,
    lambda r, c: r % 2 == 0,
    lambda r, c: c % 3 == 0,
    lambda r, c: (r + c) % 3 == 0,
    lambda r, c: (r // 2 + c // 3) % 2 == 0,
    lambda r, c: (r * c) % 2 + (r * c) % 3 == 0,
    lambda r, c: ((r * c) % 2 + (r * c) % 3) % 2 == 0,
    lambda r, c: ((r + c) % 2 + (r * c) % 3) % 2 == 0,
)


class QRDecodeError(ValueError):
    pass


def decode(matrix: Matrix) -> str:
    """The text the symbol carries; the matrix has no quiet zone, True is dark."""
    size = len(matrix)
    if size < 21 or (size - 17) % 4 or any(len(row) != size for row in matrix):
        raise QRDecodeError(f"not a QR code matrix: {size} rows")
    version = (size - 17) // 4
    level, mask = _format(matrix)
    function = _function_modules(version)
    bits = [matrix[r][c] != _MASKS[mask](r, c) for r, c in _zigzag(size) if not function[r][c]]
    codewords = [
        int("".join("1" if b else "0" for b in bits[i : i + 8]), 2)
        for i in range(0, len(bits) - 7, 8)
    ]
    blocks = cast(dict[int, Sequence[Any]], consts.ECC[version])
    data = _deinterleave(codewords, blocks[level])
    return _segments(data, version)


def _format_code(level: int, mask: int) -> int:
    data = (level << 3) | mask
    remainder = data << 10
    for shift in range(4, -1, -1):  # BCH(15, 5), generator 0x537
        if remainder & (1 << (shift + 10)):
            remainder ^= 0x537 << shift
    return ((data << 10) | remainder) ^ 0x5412


def _format(matrix: Matrix) -> tuple[int, int]:
    size = len(matrix)
    positions = [(i, 8) for i in range(6)] + [(7, 8), (8, 8), (8, 7)]
    positions += [(8, 14 - i) for i in range(9, 15)]  # (row, column) of bits 0..14
    first = sum(1 << i for i, (r, c) in enumerate(positions) if matrix[r][c])
    second_positions = [(8, size - 1 - i) for i in range(8)]
    second_positions += [(size - 15 + i, 8) for i in range(8, 15)]
    second = sum(1 << i for i, (r, c) in enumerate(second_positions) if matrix[r][c])
    for read in (first, second):
        for level in range(4):
            for mask in range(8):
                if _format_code(level, mask) == read:
                    return level, mask
    raise QRDecodeError("unreadable format information")


def _function_modules(version: int) -> list[list[bool]]:
    size = 17 + 4 * version
    grid = [[False] * size for _ in range(size)]

    def mark(rows: range, columns: range) -> None:
        for r in rows:
            for c in columns:
                grid[r][c] = True

    mark(range(9), range(9))  # finder, separator, format information
    mark(range(9), range(size - 8, size))
    mark(range(size - 8, size), range(9))  # includes the dark module
    mark(range(size), range(6, 7))  # timing patterns
    mark(range(6, 7), range(size))
    centres = _alignment_centres(version)
    for r in centres:
        for c in centres:
            if (r, c) not in _finder_overlaps(centres):
                mark(range(r - 2, r + 3), range(c - 2, c + 3))
    if version >= 7:
        mark(range(6), range(size - 11, size - 8))
        mark(range(size - 11, size - 8), range(6))
    return grid


def _alignment_centres(version: int) -> tuple[int, ...]:
    return tuple(consts.ALIGNMENT_POS[version - 2]) if version > 1 else ()


def _finder_overlaps(centres: tuple[int, ...]) -> set[tuple[int, int]]:
    first, last = centres[0], centres[-1]
    return {(first, first), (first, last), (last, first)}


def _zigzag(size: int) -> list[tuple[int, int]]:
    order: list[tuple[int, int]] = []
    right = size - 1
    while right >= 1:
        if right == 6:
            right = 5
        upward = ((right + 1) & 2) == 0
        for vertical in range(size):
            row = size - 1 - vertical if upward else vertical
            order.extend((row, right - j) for j in range(2))
        right -= 2
    return order


def _deinterleave(codewords: list[int], groups: Sequence[Any]) -> list[int]:
    """Data codewords in order; ``groups`` are segno's (blocks, total, data) rows."""
    shapes = [
        (group.num_data, group.num_total - group.num_data)
        for group in groups
        for _ in range(group.num_blocks)
    ]
    blocks: list[list[int]] = [[] for _ in shapes]
    position = 0
    for i in range(max(data for data, _ in shapes)):
        for block, (data, _ec) in zip(blocks, shapes, strict=True):
            if i < data:
                block.append(codewords[position])
                position += 1
    ec_length = shapes[0][1]
    for _ in range(ec_length):
        for block in blocks:
            block.append(codewords[position])
            position += 1
    for index, block in enumerate(blocks):
        if any(_evaluate(block, _EXP[i]) for i in range(ec_length)):
            raise QRDecodeError(f"block {index} fails its Reed-Solomon check")
    return [
        value for block, (data, _) in zip(blocks, shapes, strict=True) for value in block[:data]
    ]


def _gf_tables() -> tuple[list[int], list[int]]:
    exp, log, value = [0] * 512, [0] * 256, 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        value <<= 1
        if value & 0x100:
            value ^= 0x11D
    for power in range(255, 512):
        exp[power] = exp[power - 255]
    return exp, log


_EXP, _LOG = _gf_tables()


def _evaluate(coefficients: list[int], x: int) -> int:
    result = 0
    for coefficient in coefficients:
        result = (_EXP[_LOG[result] + _LOG[x]] if result else 0) ^ coefficient
    return result


def _segments(data: list[int], version: int) -> str:
    bits = "".join(f"{byte:08b}" for byte in data)
    size_class = 0 if version <= 9 else (1 if version <= 26 else 2)
    position, text = 0, []

    def take(count: int) -> int:
        nonlocal position
        if position + count > len(bits):
            raise QRDecodeError("data ends inside a segment")
        value = int(bits[position : position + count], 2)
        position += count
        return value

    while position + 4 <= len(bits):
        mode = take(4)
        if mode == 0:
            break
        if mode == 1:
            count = take((10, 12, 14)[size_class])
            digits = []
            for start in range(0, count, 3):
                n = min(3, count - start)
                digits.append(f"{take((4, 7, 10)[n - 1]):0{n}d}")
            text.append("".join(digits))
        elif mode == 2:
            count = take((9, 11, 13)[size_class])
            chars = []
            for _ in range(count // 2):
                pair = take(11)
                chars += [_ALPHANUMERIC[pair // 45], _ALPHANUMERIC[pair % 45]]
            if count % 2:
                chars.append(_ALPHANUMERIC[take(6)])
            text.append("".join(chars))
        elif mode == 4:
            count = take((8, 16, 16)[size_class])
            text.append(bytes(take(8) for _ in range(count)).decode("utf-8"))
        else:
            raise QRDecodeError(f"segment mode {mode} is not supported here")
    return "".join(text)
