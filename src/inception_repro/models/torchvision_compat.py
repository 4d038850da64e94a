"""Load torchvision ``Inception3`` weights into ``InceptionV3`` (the equivalence check of the port)."""

from __future__ import annotations

import re

from torch import Tensor

PREFIXES = {
    "Conv2d_1a_3x3": "stem.conv1",
    "Conv2d_2a_3x3": "stem.conv2",
    "Conv2d_2b_3x3": "stem.conv3",
    "Conv2d_3b_1x1": "stem.conv4",
    "Conv2d_4a_3x3": "stem.conv5",
    "Mixed_5b": "grid35.0",
    "Mixed_5c": "grid35.1",
    "Mixed_5d": "grid35.2",
    "Mixed_6a": "reduce35",
    "Mixed_6b": "grid17.0",
    "Mixed_6c": "grid17.1",
    "Mixed_6d": "grid17.2",
    "Mixed_6e": "grid17.3",
    "AuxLogits": "aux_head",
    "Mixed_7a": "reduce17",
    "Mixed_7b": "grid8.0",
    "Mixed_7c": "grid8.1",
    "fc": "classifier",
}
# torchvision numbers the layers of a branch from 1 and suffixes the 8x8 split convolutions a / b.
_BRANCH_LAYER = re.compile(r"^(branch\w+?)_(\d)([ab]?)$")
_SPLIT = {"": "", "a": ".row", "b": ".col"}


def torchvision_key(name: str) -> str:
    """Our parameter name for one torchvision Inception3 state-dict key."""
    module, _, rest = name.partition(".")
    if module not in PREFIXES:
        raise KeyError(f"unexpected torchvision Inception3 key {name!r}")
    parts = rest.split(".")
    if parts and (match := _BRANCH_LAYER.match(parts[0])):
        branch, index, split = match.groups()
        parts[0] = f"{branch}.{int(index) - 1}{_SPLIT[split]}"
    elif module == "Mixed_6a" and parts[0] == "branch3x3":
        parts[0] = "branch3x3.0"  # a one-layer branch in torchvision, a Branch of one here
    return ".".join([PREFIXES[module], *parts]) if rest else PREFIXES[module]


def from_torchvision_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename a torchvision Inception3 state dict to this project's names (aux head included)."""
    return {torchvision_key(name): value for name, value in state_dict.items()}
