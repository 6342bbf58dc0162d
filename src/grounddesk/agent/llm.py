"""The optional language model: its settings, the chat-model factory and the error a failed call raises.

grounddesk answers extractively by default. Setting ``llm.base_url`` (``GROUNDDESK_LLM_BASE_URL``) switches the
composer and the router to a chat model behind any OpenAI-compatible endpoint: vLLM, Ollama, a llama.cpp
server, OpenAI or Azure OpenAI. The only network the model client ever uses is that URL.

Example:
    >>> settings = LLMSettings(base_url="http://127.0.0.1:8000/v1", model="qwen2.5-7b-instruct")
    >>> chat_model = build_chat_model(settings)  # doctest: +SKIP
    >>> composer = LLMComposer(chat_model, settings)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, SecretStr

from grounddesk.errors import ConfigurationError, ErrorCode, GrounddeskError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = ["LLMSettings", "LLMUnavailable", "build_chat_model", "model_error"]

logger = logging.getLogger(__name__)

#: Sent when the endpoint needs no key (vLLM, Ollama, llama.cpp): the OpenAI client refuses to start without
#: one, and passing it explicitly keeps the client from reading ``OPENAI_API_KEY`` from the environment.
_NO_KEY = "not-needed"


class LLMSettings(BaseModel):
    """The chat model behind an OpenAI-compatible endpoint, and how its answers are checked.

    Unset ``base_url`` means no language model: the extractive composer and the embedding router are used.
    """

    base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (vLLM), http://127.0.0.1:11434/v1 "
        "(Ollama), https://api.openai.com/v1, https://RESOURCE.openai.azure.com/openai/v1. Unset: no LLM.",
    )
    model: str = Field(default="gpt-4o-mini", description="The model name the endpoint serves")
    api_key: SecretStr | None = Field(default=None, description="Bearer key; unset for local servers that need none")
    timeout_s: float = Field(default=20.0, gt=0, description="Per request, retries not included")
    max_retries: int = Field(default=1, ge=0, le=10, description="Retries on timeouts, 429 and 5xx")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=400, ge=16, le=8192, description="Longest answer the model may write")
    support_threshold: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Answer sentences whose support in their cited source is below this are removed",
    )
    min_supported_sentences: int = Field(
        default=1, ge=1, description="Fewer supported sentences than this: no answer, the turn escalates"
    )
    system_prompt_canary: str | None = Field(
        default=None,
        description="A secret marker put in the system prompt; an answer that repeats it is discarded (leak)",
    )
    tool_choice: Literal["auto", "required"] = Field(
        default="required",
        description="How the router asks for its tool call: 'required' (OpenAI, vLLM, llama.cpp) or 'auto' "
        "for servers that reject 'required'",
    )

    @property
    def enabled(self) -> bool:
        """Whether a language model is configured."""
        return self.base_url is not None


class LLMUnavailable(GrounddeskError):
    """The language model failed, timed out, or answered with something unusable.

    Fields: ``reason`` (``timeout``, ``connection``, ``status``, ``bad_response``), ``model``, and
    ``status_code`` when the endpoint answered with an HTTP error.
    """

    code = ErrorCode.LLM_UNAVAILABLE


def build_chat_model(settings: LLMSettings) -> BaseChatModel:
    """A LangChain chat model for the configured OpenAI-compatible endpoint.

    Args:
        settings: The ``llm`` section; ``base_url`` must be set.

    Returns:
        A ``ChatOpenAI`` speaking the Chat Completions API to ``settings.base_url`` only.

    Raises:
        ConfigurationError: No ``base_url`` is configured, or langchain-openai is not installed
            (code ``missing_extra``: ``pip install "grounddesk[llm]"``).
    """
    if settings.base_url is None:
        raise ConfigurationError("no language model is configured: set GROUNDDESK_LLM_BASE_URL", field="llm.base_url")
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError(
            'the LLM mode needs langchain-openai: pip install "grounddesk[llm]"', code=ErrorCode.MISSING_EXTRA
        ) from exc
    key = settings.api_key or SecretStr(_NO_KEY)
    # Every value is passed explicitly so nothing is taken from OPENAI_* environment variables.
    return ChatOpenAI(
        model=settings.model,
        base_url=settings.base_url,
        api_key=key,
        organization=None,
        timeout=settings.timeout_s,
        max_retries=settings.max_retries,
        temperature=settings.temperature,
        max_completion_tokens=settings.max_tokens,
        use_responses_api=False,
    )


def model_error(exc: BaseException, *, model: str, action: str) -> LLMUnavailable:
    """Translate whatever a chat model raised into :class:`LLMUnavailable` with a reason.

    Args:
        exc: The exception from the model call.
        model: The model name, for the error's fields.
        action: What was being done (``compose``, ``route``), for the log and the message.
    """
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    if isinstance(status, int):
        reason = "status"
        detail = f"the language model endpoint answered HTTP {status} while trying to {action}"
    elif "Timeout" in name or isinstance(exc, TimeoutError):
        reason = "timeout"
        detail = f"the language model did not answer in time while trying to {action}"
    elif "Connection" in name or isinstance(exc, ConnectionError):
        reason = "connection"
        detail = f"the language model endpoint could not be reached while trying to {action}"
    else:
        reason = "bad_response"
        detail = f"the language model call failed while trying to {action} ({name})"
    logger.warning("llm call failed", extra={"action": action, "reason": reason, "error": name, "status": status})
    fields: dict[str, Any] = {"reason": reason, "model": model}
    if isinstance(status, int):
        fields["status_code"] = status
    return LLMUnavailable(detail, **fields)
