"""OpenAI's list prices, owned by the plugin that talks to OpenAI (the core holds no vendor's prices).

USD per 1M tokens (input, output), as published on OpenAI's pricing page. A
recipe's ``teacher.price`` overrides them; a model not listed here (a model a
vLLM, llama.cpp or Ollama server serves) costs nothing unless the recipe says so.
In ``mode: batch`` the teacher prices requests with :func:`batch_price`.
"""

from __future__ import annotations

from factory.costs import TokenPrice

OPENAI_PRICES: dict[str, TokenPrice] = {
    "gpt-3.5-turbo-instruct": TokenPrice(1.50, 2.00),
    "gpt-3.5-turbo": TokenPrice(0.50, 1.50),
    "gpt-4o-mini": TokenPrice(0.15, 0.60),
    "gpt-4o": TokenPrice(2.50, 10.00),
    "gpt-4.1-mini": TokenPrice(0.40, 1.60),
    "gpt-4.1": TokenPrice(2.00, 8.00),
    "text-davinci-003": TokenPrice(20.00, 20.00),
}


def list_price(model: str) -> TokenPrice:
    """The list price of ``model``, matching dated snapshots (gpt-4o-mini-2024-07-18) too; free when unknown."""
    if model in OPENAI_PRICES:
        return OPENAI_PRICES[model]
    for name, price in OPENAI_PRICES.items():
        if model.startswith(name + "-"):
            return price
    return TokenPrice()


#: OpenAI's Batch API bills input and output tokens at half the list price (a 24-hour completion window).
BATCH_DISCOUNT = 0.5


def batch_price(model: str) -> TokenPrice:
    """The Batch API price of ``model``: half its list price (free when unknown, as online)."""
    price = list_price(model)
    return TokenPrice(price.input_per_1m * BATCH_DISCOUNT, price.output_per_1m * BATCH_DISCOUNT)
