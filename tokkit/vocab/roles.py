"""Roles of special tokens: the config keys that name them and what a token's text implies."""

from __future__ import annotations

import re

from .model import Role

#: tokenizer_config.json / special_tokens_map.json keys -> role
ROLE_KEYS = {
    "bos_token": Role.BOS, "eos_token": Role.EOS, "pad_token": Role.PAD, "unk_token": Role.UNK,
    "mask_token": Role.MASK, "sep_token": Role.SEP, "cls_token": Role.CLS,
}

# Only non-unique roles are inferred from text: which token is THE bos/eos comes from a config
# or a format's own fields, never from a guess.
_CHAT = re.compile(
    r"^(<\|im_start\|>|<\|im_end\|>|<\|start_header_id\|>|<\|end_header_id\|>|<\|eot_id\|>|<\|eom_id\|>"
    r"|\[/?INST\]|\[/?SYSTEM_PROMPT\]|<start_of_turn>|<end_of_turn>|<\|user\|>|<\|assistant\|>|<\|system\|>"
    r"|<\|end\|>|<\|im_sep\|>|<\|python_tag\|>)$"
)
_EOT = re.compile(r"^(<\|im_end\|>|<\|eot_id\|>|<end_of_turn>|<\|end\|>|<\|eom_id\|>)$")
_FIM = re.compile(r"(fim[_-]?(prefix|suffix|middle|pad)|\[(PREFIX|SUFFIX|MIDDLE)\])", re.I)
_TOOL = re.compile(r"(tool_call|tool_response|TOOL_CALLS|AVAILABLE_TOOLS|TOOL_RESULTS|<\|python_tag\|>)", re.I)


def infer_roles(content: str, special: bool) -> set[Role]:
    """Roles a special token's text implies (chat, end of turn, fill-in-the-middle, tools)."""
    roles: set[Role] = set()
    if not special:
        return roles
    if _CHAT.match(content):
        roles.add(Role.CHAT)
    if _EOT.match(content):
        roles.add(Role.EOT)
    if _FIM.search(content):
        roles.add(Role.FIM)
    if _TOOL.search(content):
        roles.add(Role.TOOL)
    return roles
