"""Provider adapters, one module per wire protocol, imported on first use.

``protocol`` in a portfolio model's config picks the adapter::

    cls = get_adapter("anthropic")
    adapter = cls(provider="anthropic", api_base="https://api.anthropic.com",
                  api_key=key, http=shared_client)
    response = await adapter.chat(request)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.llm.providers.base import ProviderAdapter

__all__ = ["ADAPTERS", "get_adapter"]

# protocol → "module:class"; imported lazily so a run loads only what it uses.
ADAPTERS: dict[str, str] = {
    "openai": "harness.llm.providers.openai:OpenAIAdapter",
    "anthropic": "harness.llm.providers.anthropic:AnthropicAdapter",
    "gemini": "harness.llm.providers.gemini:GeminiAdapter",
}


def get_adapter(protocol: str) -> type[ProviderAdapter]:
    """The adapter class for a wire protocol.

    Raises:
        ConfigError: ``protocol`` is not one of :data:`ADAPTERS` (the message lists them).
    """
    target = ADAPTERS.get(protocol)
    if target is None:
        raise ConfigError(
            f"unknown protocol {protocol!r}; valid protocols: {', '.join(sorted(ADAPTERS))}"
        )
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)  # type: ignore[no-any-return]
