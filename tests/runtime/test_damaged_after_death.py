"""The death silence holds even when the chat's stored conversation is damaged: the chat is
not asked to start again, and stays silent after."""

from __future__ import annotations

from counsel_bot.engine.effects import Send
from counsel_bot.engine.inbound import CaseClosed, Text
from counsel_bot.runtime.conversations import chat_shard
from tests.conftest import NOW
from tests.damage import damage_shard
from tests.runtime.world import CHAT, World, build_world


def _damage(world: World, chat: str) -> None:
    damage_shard(world.store_at, world.key, chat_shard(chat))


def _sends(world: World, text: str) -> list[Send]:
    return [e for e in world.conversations.handle(CHAT, Text(text)) if isinstance(e, Send)]


def test_a_damaged_record_of_a_living_returnees_chat_asks_to_start_again(tmp_path, store_target):
    world = build_world(tmp_path, NOW, store_target)
    world.joined_case("Europe/Paris")
    _damage(world, CHAT)
    (answer,) = _sends(world, "hello")
    assert answer.text == world.conversations.context.system_text("en", "conversation_lost")


def test_a_damaged_record_of_a_deceased_returnees_chat_keeps_the_silence(tmp_path, store_target):
    world = build_world(tmp_path, NOW, store_target)
    case = world.joined_case("Europe/Paris")
    world.conversations.lifecycle.close(case.case_id, "deceased", None, NOW)
    assert world.conversations.handle(CHAT, CaseClosed("deceased")) == []
    _damage(world, CHAT)
    for text in ("hello", "I want to kill myself", "/start"):
        assert _sends(world, text) == []
    assert world.conversations.state_of(CHAT).closed == "deceased"
