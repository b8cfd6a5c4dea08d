"""The fake's own rules, checked without a client: snowflakes, permissions, mentions, route patterns."""

from __future__ import annotations

import discord
import pytest

from fakediscord import FakeDiscord
from fakediscord.ids import SnowflakeGenerator, snowflake_time, utcnow
from fakediscord.mentions import parse_mentions
from fakediscord.permissions import ALL, MANAGE_GUILD, SEND_MESSAGES, VIEW_CHANNEL
from fakediscord.traffic import path_matches


def test_snowflakes_are_valid_and_increasing() -> None:
    gen = SnowflakeGenerator()
    ids = [gen.next() for _ in range(10_000)]
    assert ids == sorted(set(ids))
    assert abs((snowflake_time(ids[-1]) - utcnow()).total_seconds()) < 5
    assert discord.utils.snowflake_time(ids[0]) == snowflake_time(ids[0])


def test_permissions_follow_roles_owner_admin_and_overwrites() -> None:
    fake = FakeDiscord()
    alice, bob, carol = fake.add_user("alice"), fake.add_user("bob"), fake.add_user("carol")
    guild = fake.add_guild("G", owner=alice)
    mod = fake.add_role(guild, "Mod", permissions=discord.Permissions(manage_guild=True))
    admin = fake.add_role(guild, "Admin", permissions=discord.Permissions(administrator=True))
    fake.add_member(guild, bob, roles=[mod])
    fake.add_member(guild, carol, roles=[admin])
    chan = fake.add_channel(guild, "quiet")
    thread = fake.add_thread(chan, "side")
    fake.set_overwrite(chan, mod, deny=SEND_MESSAGES)
    assert fake.permissions(chan, alice) == ALL  # owner
    assert fake.permissions(chan, carol) == ALL  # administrator
    bob_perms = fake.permissions(chan, bob)
    assert bob_perms & MANAGE_GUILD and not bob_perms & SEND_MESSAGES
    assert fake.permissions(thread, bob) == bob_perms  # threads inherit the parent's overwrites
    fake.set_overwrite(chan, guild.default_role, deny=VIEW_CHANNEL)
    assert fake.permissions(chan, bob) == 0
    fake.set_overwrite(chan, fake.member(guild, bob), allow=VIEW_CHANNEL)
    assert fake.permissions(chan, bob) & VIEW_CHANNEL


U, R, A = 111111111111111111, 222222222222222222, 777777777777777777  # a user, a role, a replied-to author
CONTENT = f"@everyone <@!{U}> <@&{R}>"


@pytest.mark.parametrize(
    ("allowed", "replied", "users", "roles", "everyone"),
    [
        (None, None, {U}, {R}, True),  # no allowed_mentions: everything parses
        ({"parse": []}, None, set(), set(), False),
        ({"parse": ["users"]}, None, {U}, set(), False),
        ({"parse": [], "users": [str(U)], "roles": [str(R)]}, None, {U}, {R}, False),
        ({"parse": ["everyone"]}, None, set(), set(), True),
        (None, A, {U, A}, {R}, True),  # a reply pings its target's author by default
        ({"parse": []}, A, set(), set(), False),
        ({"parse": [], "replied_user": True}, A, {A}, set(), False),
    ],
)
def test_mention_rules(
    allowed: dict[str, object] | None, replied: int | None, users: set[int], roles: set[int], everyone: bool
) -> None:
    got = parse_mentions(CONTENT, allowed, replied_user=replied)
    assert (set(got.users), set(got.roles), got.everyone) == (users, roles, everyone)


def test_route_patterns() -> None:
    assert path_matches("/channels/{channel_id}/messages", "/channels/1/messages")
    assert not path_matches("/channels/{channel_id}/messages", "/channels/1/messages/2")
    assert path_matches("/webhooks/", "/webhooks/1/abc/messages/@original")
    assert not path_matches("/channels/1/messages", "/channels/12/messages")


@pytest.mark.parametrize(
    ("item", "ok"),
    [
        ({"type": 3, "name": "Rewrite in a style…"}, True),  # message commands: mixed case, spaces, punctuation
        ({"type": 2, "name": "Show profile"}, True),
        ({"type": 3, "name": "x" * 33}, False),
        ({"type": 3, "name": " padded"}, False),
        ({"type": 1, "name": "Rewrite", "description": "d"}, False),  # slash commands: one lower-case word
        ({"type": 1, "name": "re write", "description": "d"}, False),
    ],
)
def test_command_names_follow_discords_rules_per_kind(item: dict, ok: bool) -> None:
    from fakediscord.commands import validate_command
    from fakediscord.errors import APIError

    if ok:
        validate_command(item, "0")
    else:
        with pytest.raises(APIError):
            validate_command(item, "0")
