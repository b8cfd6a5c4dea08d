"""Slash commands for poems: thin handlers over bot.poems.PoemService."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import aclosing

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import Taleweaver
from bot.config import ConfigSnapshot
from bot.craft import ENGLISH, LANGUAGES, FormCheck, forms_for, language_code
from bot.drafts import Drafting
from bot.errors import Conflict, NotFound, describe
from bot.llm.client import EngineError, Queued, TextDelta
from bot.poems import DEFAULT_FORM, PoemDone, PoemRequest, form_title
from bot.safety.gate import WITHHELD
from bot.streaming import DRAFTING, STATUS_ROOM, StreamRenderer, interrupted
from bot.text import echo, escape_markdown, quote, split_message, truncate
from cogs.controls import cancel_view
from cogs.feedback.views import add_rating
from cogs.poems.views import PoemButton, poem_view
from cogs.ui import (
    NO_PINGS,
    InteractionSink,
    OnMessage,
    admit,
    defer_public,
    guarded,
    in_guild,
    is_moderator,
    place_of,
    renderer,
)
from storage.poems import Poem
from storage.unfinished import Unfinished

log = logging.getLogger(__name__)

LANGUAGE_VALUES = {"en": "English", "zh": "中文"}  # what the language choices put in the option
UNCHECKED = "📏 form not checked (English and Chinese only)"  # short: it must fit beside the warnings
INTERRUPTED = "⚠️ *Interrupted: the bot restarted before this poem was finished. Press **Regenerate** to write it.*"
TOKEN_LIFETIME = 14 * 60  # an interaction's token edits its messages for 15 minutes; keep a margin
CUT_SHORT = "✂️ *Time ran out, so the poem stops here.*"


def header(poem: Poem) -> str:
    return f"**{escape_markdown(form_title(poem))}** · *{quote(poem.topic, 120)}*\n\n"


def drafting(event: Drafting) -> str:
    """The status line while N drafts are written: the best is known only when all are done, so the
    message shows progress rather than one draft that might then be swapped for another."""
    done = f" · {event.finished}/{event.drafts} done" if event.finished else ""
    return f"{DRAFTING}{event.drafts} versions to keep the one that fits the form best… {event.share:.0%}{done}*"


def form_note(done: PoemDone, room: int) -> str:
    """The footer's honest line about the form: what the checker found on the text shown, in at most
    `room` characters (the whole check is behind "Show the check"); "" when there is no room."""
    check = done.check
    if check is None:
        return UNCHECKED if len(UNCHECKED) <= room else ""
    chosen = f" · best of {done.poem.drafts} drafts" if done.poem.drafts > 1 else ""
    room -= len(chosen) + 2
    return f"📏 {truncate(echo(check.summary), room)}{chosen}" if room >= 24 else ""


def footer(done: PoemDone) -> str:
    """The status line under a finished poem: warnings, the form's verdict, who asked and the number."""
    lines = [f"🛡️ *{done.safety}*"] if done.safety else []
    if done.cut_short:
        lines.append(f"{CUT_SHORT} Press **Continue** for the rest.")
    if done.truncated:
        lines.append("⚠️ *The poem reached its length limit and may be cut short.*")
    signature = f"— for <@{done.poem.author_id}> · poem #{done.poem.id}"
    form = form_note(done, STATUS_ROOM - 2 - sum(len(line) + 1 for line in [*lines, signature]))
    return "\n".join([*lines, *([form] if form else []), signature])


def check_pages(check: FormCheck) -> list[str]:
    """The per-line table as code blocks of at most 2,000 characters."""
    table = echo(check.table()).replace("```", "`\u200b``")
    return [f"```text\n{chunk}\n```" for chunk in split_message(table, 1980)]


class Poems(commands.Cog):
    def __init__(self, bot: Taleweaver) -> None:
        self.bot = bot
        self._writing: set[int] = set()  # poems being (re)written right now

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(PoemButton)
        # In the background: the engine is still loading its model meanwhile, and a poem waits for it anyway.
        self._warm = asyncio.create_task(self.bot.poems.warm_up(), name="poem-check-warm-up")
        for record in await self.bot.unfinished.left_over("poem"):
            await self._tidy(record)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(PoemButton)
        self._warm.cancel()

    async def shutdown_ends(self) -> None:
        """SIGTERM: a poem cancelled after the grace period says it was interrupted, with its buttons."""
        for record in await self.bot.unfinished.left_over("poem"):
            await self._tidy(record)

    @app_commands.command(name="poem", description="Write a poem about anything, in the form you like.")
    @app_commands.guild_only()
    @app_commands.describe(
        topic="What the poem is about (up to 200 characters)",
        form="The poem's form; the list follows the language (default: free verse)",
        mood="The feeling it should carry, e.g. wistful, triumphant",
        language="English or 中文 (forms checked); another language is written unchecked (default: English)",
        word="Acrostics only: the word the first letters (characters) of the lines spell",
    )
    async def poem(
        self,
        interaction: discord.Interaction,
        topic: str,
        form: str = DEFAULT_FORM,
        mood: str = "",
        language: str = "",
        word: str = "",
    ) -> None:
        request = PoemRequest(
            in_guild(interaction), interaction.channel_id or 0, interaction.user.id, topic, form, mood, language, word
        )
        settings = await admit(interaction, "poems", {"topic": topic, "mood": mood}, generates=True)
        poem = await self.bot.poems.create(request)  # bad input is answered privately, before deferring
        await self.write(interaction, poem, await defer_public(interaction), settings=settings)

    @poem.autocomplete("form")
    async def form_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        code = language_code(getattr(interaction.namespace, "language", "") or "") or ENGLISH
        typed = current.strip().lower()
        return [
            app_commands.Choice(name=form.title[:100], value=form.name)
            for form in forms_for(code)
            if typed in form.name or typed in form.title.lower()
        ][:25]

    @poem.autocomplete("language")
    async def language_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        typed = current.strip()
        choices = [
            app_commands.Choice(name=LANGUAGES[code], value=value)
            for code, value in LANGUAGE_VALUES.items()
            if typed.lower() in LANGUAGES[code].lower() or language_code(typed) == code
        ]
        if typed and language_code(typed) is None:  # any other language is written, but not checked
            choices.append(app_commands.Choice(name=f"{typed[:60]} (form not checked)", value=typed[:40]))
        return choices

    async def write(
        self,
        interaction: discord.Interaction,
        poem: Poem,
        message_id: int | None,
        *,
        continuing: bool = False,
        settings: ConfigSnapshot | None = None,
        replacing: tuple[str, Poem] | None = None,
    ) -> None:
        """Stream a poem (or the rest of one cut short) into the interaction's message `message_id`, then
        put the buttons under it.

        `replacing` ("regenerate" or "another", the poem as it was): the new text is recorded as preferred
        over the old one, before the buttons appear.

        Until it is finished the message is recorded as unfinished, so a restart can say it was cut off.
        """
        track = self.bot.unfinished.track(
            "poem", poem.id, interaction.channel_id or 0, message_id=message_id, token=interaction.token
        )
        settings = settings or await self.bot.config.at(place_of(interaction))
        with self.bot.limits.writing(poem.guild_id):  # counted against the server's limit while it is written
            async with track as tracker:
                await self._write(
                    interaction, poem, tracker.placed, settings, continuing=continuing, replacing=replacing
                )

    async def _write(
        self,
        interaction: discord.Interaction,
        poem: Poem,
        on_message: OnMessage,
        settings: ConfigSnapshot,
        *,
        continuing: bool = False,
        replacing: tuple[str, Poem] | None = None,
    ) -> None:
        """Stream into the interaction's message; `continuing` writes the rest of a poem cut short."""
        sink = InteractionSink(interaction, on_message=on_message)
        sink.working = cancel_view("poem", poem.id)
        stream = renderer(sink, header(poem))
        self._writing.add(poem.id)
        scope = self.bot.cancels.scope("poem", poem.id, owners={poem.author_id, interaction.user.id})
        done: PoemDone | None = None
        try:
            async with scope:
                await stream.start()
                if continuing:
                    await stream.update(poem.text)
                events = self.bot.poems.compose(poem, continuing=continuing, settings=settings)
                async with aclosing(events) as events:
                    async for event in events:
                        if isinstance(event, Queued):
                            await stream.queued(event.position, event.eta)
                        elif isinstance(event, TextDelta):
                            await stream.update(event.text)
                        elif isinstance(event, Drafting):
                            await stream.progress(drafting(event))
                        else:
                            done = event
        except EngineError as exc:
            if continuing:  # what was kept stays, and so does the way on
                sink.view = poem_view(poem, cut_short=True)
                await stream.finish(poem.text, note=f"⚠️ {describe(exc)} Press **Continue** to try again.")
            else:
                sink.view = poem_view(poem, written=False)
                await stream.finish(note=f"⚠️ {describe(exc)} Press **Regenerate** to try again.")
            return None
        except discord.NotFound:
            return None  # the message was deleted while we wrote; leaving the stream aborts the generation
        finally:
            self._writing.discard(poem.id)
        if scope.cancelled_by is not None:  # the engine request was closed; what was stored stays
            sink.view = poem_view(poem, written=False, cut_short=continuing)
            what = "**Continue**" if continuing else "**Regenerate**"
            note = f"🛑 *Cancelled by <@{scope.cancelled_by}>.* Press {what} to write it after all."
            await stream.finish(poem.text if continuing else "", note=note)
            return
        assert done is not None
        await self._show_done(interaction, sink, stream, poem, done, settings, replacing, continuing=continuing)

    async def _show_done(
        self,
        interaction: discord.Interaction,
        sink: InteractionSink,
        stream: StreamRenderer,
        poem: Poem,
        done: PoemDone,
        settings: ConfigSnapshot,
        replacing: tuple[str, Poem] | None,
        *,
        continuing: bool,
    ) -> None:
        """The finished poem with its notes and buttons (or why nothing of it is shown)."""
        if done.withheld:  # the text broke the server's rules: none of it is shown
            sink.view = poem_view(poem, written=False, cut_short=continuing)
            await stream.finish(poem.text if continuing else "", note=f"{WITHHELD} {done.safety}")
            return
        if not done.poem.text:
            sink.view = poem_view(done.poem, written=False)
            await stream.finish("", note="🤔 The storyteller found no words this time. Press **Regenerate**.")
            return
        note = footer(done)
        item = await self._record(interaction.user.id, done.poem, settings, replacing)
        sink.view = add_rating(poem_view(done.poem, cut_short=done.cut_short), item)
        await stream.finish(done.poem.text, note=note)

    @guarded
    async def on_button(self, interaction: discord.Interaction, action: str, poem_id: int) -> None:
        guild_id = in_guild(interaction)
        poem = await self.bot.poems.get(poem_id)
        if action == "check":
            await self._show_check(interaction, poem)
        elif action == "save":
            saved, newly = await self.bot.poems.save(poem_id, guild_id, interaction.user.id)
            await self.bot.feedback.poem_saved(saved.id, interaction.user.id)
            latest = await self.bot.feedback.latest_item(saved.id)
            await interaction.response.edit_message(view=add_rating(poem_view(saved), latest))
            what = "Saved to the anthology" if newly else "Already in the anthology"
            await interaction.followup.send(
                f"📚 {what} as poem #{saved.id}. `/anthology show id:{saved.id}` shows it.", ephemeral=True
            )
        elif action in ("regen", "continue"):
            what = "regenerate" if action == "regen" else "continue"
            await self.bot.poems.check_can_regenerate(poem, interaction.user.id, await is_moderator(interaction), what)
            if poem.id in self._writing:
                raise Conflict("This poem is being written right now; wait for it to finish.")
            await admit(interaction, "poems", generates=True)
            await interaction.response.defer()
            await interaction.edit_original_response(view=None)
            continuing = action == "continue" and bool(poem.text)
            message_id = interaction.message.id if interaction.message else None
            replacing = None if continuing else ("regenerate", poem)  # the text it replaces was passed over
            await self.write(interaction, poem, message_id, continuing=continuing, replacing=replacing)
        else:
            await admit(interaction, "poems", generates=True)
            new = await self.bot.poems.another_take(poem_id, interaction.user.id, interaction.channel_id or 0)
            await self.write(interaction, new, await defer_public(interaction), replacing=("another", poem))

    async def _record(
        self, user_id: int, poem: Poem, settings: ConfigSnapshot, replacing: tuple[str, Poem] | None
    ) -> int:
        """Feedback: the poem as shown, with the exact prompt it was written from (its rating buttons'
        item); with `replacing`, the user asked for it instead of the old poem's text, from the same request."""
        prompt = self.bot.poems.messages(poem, settings)
        item = await self.bot.feedback.written(
            "poem", poem.guild_id, prompt, poem.text, poem_id=poem.id, requester_id=poem.author_id
        )
        if replacing is not None:
            source, old = replacing
            await self.bot.feedback.replaced(
                source, poem.guild_id, user_id, prompt, poem.text, old.text,
                poem_id=poem.id, old_poem_id=old.id if old.id != poem.id else None,
            )  # fmt: skip
        return item.id

    async def _show_check(self, interaction: discord.Interaction, poem: Poem) -> None:
        """The per-line form check, only to whoever asked (it is long and of interest to one person)."""
        if not poem.form_check:
            raise NotFound(f"Poem #{poem.id}'s form was not checked, so there is no check to show.")
        first, *rest = check_pages(FormCheck.from_json(poem.form_check))
        await interaction.response.send_message(first, ephemeral=True, allowed_mentions=NO_PINGS)
        for page in rest:
            await interaction.followup.send(page, ephemeral=True, allowed_mentions=NO_PINGS)

    async def _tidy(self, record: Unfinished) -> None:
        """After a restart: a poem cut off mid-stream (or still "thinking") says so, with its buttons."""
        try:
            poem = await self.bot.poems.get(record.ref_id)
            if record.message_id is not None:
                await self._mark_interrupted(record, poem)
        except (discord.HTTPException, NotFound):
            log.warning("could not mark the interrupted poem %s", record.ref_id, exc_info=True)
        await self.bot.unfinished.forget(record.id)

    async def _mark_interrupted(self, record: Unfinished, poem: Poem) -> None:
        assert record.message_id is not None
        message: discord.Message | discord.WebhookMessage
        application_id = self.bot.application_id
        if record.interaction_token and application_id and time.time() - record.started_at < TOKEN_LIFETIME:
            # Through the interaction's token: the route Discord supports for editing its responses.
            hook = discord.Webhook.partial(application_id, record.interaction_token, client=self.bot)
            message = await hook.fetch_message(record.message_id)
        else:
            message = await self.bot.get_partial_messageable(record.channel_id).fetch_message(record.message_id)
        content = interrupted(message.content, INTERRUPTED)
        if content is None and message.flags.loading:  # still "thinking…": nothing was written yet
            content = header(poem) + INTERRUPTED
        if content is not None:
            await message.edit(content=content, view=poem_view(poem, written=False), allowed_mentions=NO_PINGS)

    anthology = app_commands.Group(name="anthology", description="This server's saved poems.", guild_only=True)

    @anthology.command(name="list", description="List the poems saved to this server's anthology.")
    @app_commands.describe(page="Which page (10 poems each)")
    async def anthology_list(
        self, interaction: discord.Interaction, page: app_commands.Range[int, 1, 10_000] = 1
    ) -> None:
        result = await self.bot.poems.anthology(in_guild(interaction), page)
        if not result.total:
            await interaction.response.send_message(
                "📚 The anthology is empty. Write a `/poem` and press **Save to anthology**.", ephemeral=True
            )
            return
        lines = [
            f"`#{p.id}` **{escape_markdown(form_title(p))}** · {quote(p.topic, 80)} — <@{p.author_id}>"
            for p in result.poems
        ]
        embed = discord.Embed(title="📚 Anthology", description="\n".join(lines), colour=discord.Colour.gold())
        embed.set_footer(text=f"Page {result.page} of {result.pages} · {result.total} poems · /anthology show id")
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)

    @anthology.command(name="show", description="Show a poem from the anthology to the channel.")
    @app_commands.describe(id="The poem's number, from /anthology list")
    async def anthology_show(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        poem = await self.bot.poems.saved_poem(in_guild(interaction), id)
        embed = discord.Embed(
            title=echo(truncate(f"#{poem.id} · {form_title(poem)}: {poem.topic}", 256)),
            description=echo(truncate(poem.text, 4096)),
            colour=discord.Colour.gold(),
        )
        embed.add_field(name="Requested by", value=f"<@{poem.author_id}>")
        if poem.saved_by:
            embed.add_field(name="Saved by", value=f"<@{poem.saved_by}>")
        await interaction.response.send_message(embed=embed, allowed_mentions=NO_PINGS)

    @anthology.command(name="remove", description="Take a poem out of the anthology (moderators, or who saved it).")
    @app_commands.describe(id="The poem's number, from /anthology list")
    async def anthology_remove(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        poem = await self.bot.poems.remove(
            id, in_guild(interaction), interaction.user.id, await is_moderator(interaction)
        )
        await interaction.response.send_message(
            f"🗑️ Poem #{poem.id} ({escape_markdown(poem.form)}) is no longer in the anthology.", ephemeral=True
        )
