"""LLM settings, the chat-model factory and the scripted OpenAI-compatible server it is tested against."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from langchain_core.messages import AIMessageChunk

from grounddesk.agent.llm import LLMSettings, build_chat_model
from grounddesk.errors import ConfigurationError
from grounddesk.testing.openai_server import RecordedRequest, ScriptedOpenAIServer, ToolCall


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(model="served-model") as s:
        yield s


def test_no_base_url_means_no_llm_and_building_one_is_a_configuration_error() -> None:
    settings = LLMSettings()
    assert not settings.enabled
    with pytest.raises(ConfigurationError, match="GROUNDDESK_LLM_BASE_URL"):
        build_chat_model(settings)


def test_the_client_sends_the_configured_model_key_and_sampling(server: ScriptedOpenAIServer) -> None:
    server.script("hello")
    settings = LLMSettings(
        base_url=server.base_url, model="qwen2.5-7b", api_key="sk-test", temperature=0.2, max_tokens=123
    )
    assert settings.enabled
    assert build_chat_model(settings).invoke("hi").content == "hello"
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body["model"] == "qwen2.5-7b"
    assert request.body["temperature"] == 0.2 and request.body["max_completion_tokens"] == 123
    assert request.messages == [{"role": "user", "content": "hi"}]


def test_without_a_key_the_client_never_picks_one_up_from_the_environment(
    server: ScriptedOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    server.script("ok")
    build_chat_model(LLMSettings(base_url=server.base_url)).invoke("hi")
    assert server.requests[0].headers["authorization"] == "Bearer not-needed"


def test_the_secret_key_is_not_shown_in_the_settings() -> None:
    assert "sk-secret" not in repr(LLMSettings(base_url="http://127.0.0.1:1/v1", api_key="sk-secret"))


def test_streaming_text_and_tool_calls_arrive_as_sse_chunks(server: ScriptedOpenAIServer) -> None:
    server.script("Returns are free within 30 days [1].", ToolCall("greeting", {"standalone_query": "hi"}))
    model = build_chat_model(LLMSettings(base_url=server.base_url, max_retries=0))
    chunks = list(model.stream("returns?"))
    assert len(chunks) > 3 and "".join(str(c.content) for c in chunks) == "Returns are free within 30 days [1]."
    assert server.requests[0].body["stream"] is True

    tool = {"type": "function", "function": {"name": "greeting", "description": "hello", "parameters": {}}}
    merged: AIMessageChunk | None = None
    for chunk in model.bind_tools([tool]).stream("hi"):
        assert isinstance(chunk, AIMessageChunk)
        merged = chunk if merged is None else merged + chunk
    assert merged is not None
    assert [(c["name"], c["args"]) for c in merged.tool_calls] == [("greeting", {"standalone_query": "hi"})]


def test_a_function_answers_once_the_queue_is_empty(server: ScriptedOpenAIServer) -> None:
    def echo(request: RecordedRequest) -> str:
        return f"you said {request.content('user')}"

    server.script("first", echo)
    model = build_chat_model(LLMSettings(base_url=server.base_url, max_retries=0))
    assert [model.invoke(t).content for t in ["a", "b", "c"]] == ["first", "you said b", "you said c"]
    assert [r.content("user") for r in server.requests] == ["a", "b", "c"]


def test_an_empty_script_is_an_error_the_client_does_not_retry(server: ScriptedOpenAIServer) -> None:
    response = httpx.post(f"{server.base_url}/chat/completions", json={"model": "m", "messages": []})
    assert response.status_code == 500 and response.headers["x-should-retry"] == "false"
    assert "no reply left" in response.json()["error"]["message"]


def test_models_are_listed_and_unknown_routes_are_404(server: ScriptedOpenAIServer) -> None:
    assert httpx.get(f"{server.base_url}/models").json()["data"][0]["id"] == "served-model"
    assert httpx.post(f"{server.base_url}/embeddings", json={}).status_code == 404
    assert server.requests == []


def test_the_base_url_needs_a_running_server() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = ScriptedOpenAIServer().base_url
