"""What each `greenroom` sub-command does; argument parsing lives in bot/cli.py."""

from __future__ import annotations

import argparse
import json
import sys

from bot.cli_sources import cmd_sources
from bot.settings import Settings
from ingest.errors import UserFacingError


class UserError(UserFacingError):
    """A mistake in how the command was called; printed without a traceback."""


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    handler = {
        "start": cmd_start,
        "ingest": cmd_ingest,
        "ask": cmd_ask,
        "kb": cmd_kb,
        "eval": cmd_eval,
        "run": cmd_run,
        "sync-commands": cmd_sync_commands,
        "console": cmd_console,
        "config": cmd_config,
        "sources": cmd_sources,
        "clips": cmd_clips,
        "twitch": cmd_twitch,
        "backup": cmd_backup,
        "restore": cmd_restore,
    }[args.command]
    return handler(args, settings)


def cmd_twitch(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli_twitch import cmd_twitch

    return cmd_twitch(args, settings)


def open_library(settings: Settings):
    from knowledge import Embedder, Library

    try:
        embedder = Embedder(settings.model, bulk_bf16=settings.embed_bf16)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return Library(settings.data_dir, embedder, chroma_url=settings.chroma_url)


def _open_existing(library, name: str):
    if not library.exists(name):
        known = ", ".join(library.names()) or "none yet"
        raise UserError(
            f"there is no knowledge base {name!r} in {library.data_dir} (known: {known});"
            f" fill it with: greenroom ingest PATH --kb {name}"
        )
    return library.open(name)


def ingest_paths(
    library, name, paths, *, include=(), exclude=(), max_file_mb=2.0, progress: bool = True
):
    """Register each path as a folder source of the knowledge base (so `/kb reload` and the
    bot's folder watch see it; its schedule is kept), then sync those folders."""
    from ingest.connectors.spec import SourceSpec
    from knowledge import SyncReport

    for path in paths:
        if not path.exists():
            raise UserError(f"{path} does not exist")
    options: dict[str, object] = {}
    if include:
        options["include"] = list(include)
    if exclude:
        options["exclude"] = list(exclude)
    if max_file_mb != 2.0:
        options["max_file_mb"] = max_file_mb
    kb = library.open(name)
    records = [
        kb.sources.add(SourceSpec("folder", str(path), options), keep_schedule=True)
        for path in paths
    ]
    bar = None
    callback = None
    if progress and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=0, unit="doc", desc=f"ingest {name}", leave=False)

        def callback(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

    report = SyncReport()
    try:
        for record in records:
            part, _ = kb.sources.store(
                record.key, record.folder().load(), complete=True, progress=callback
            )
            report.merge(part)
    finally:
        if bar is not None:
            bar.close()
    return kb, report


def print_report(name: str, report) -> None:
    print(
        f"{name}: {report.summary()} ({report.chunks_embedded} chunks embedded,"
        f" {report.seconds:.1f} s)"
    )
    for failure in report.failed:
        print(f"  failed: {failure.path or failure.doc_id}: {failure.reason}")


def cmd_ingest(args, settings: Settings) -> int:
    library = open_library(settings)
    _, report = ingest_paths(
        library,
        args.kb,
        args.paths,
        include=args.include,
        exclude=args.exclude,
        max_file_mb=args.max_file_mb,
        progress=not args.no_progress,
    )
    print_report(args.kb, report)
    return 0


def render_answer(answer) -> str:
    """An answer as the fan would see it, as text: the tier decides the shape."""
    from knowledge import ANSWER, NOT_SURE_WRITTEN, SUGGEST

    def cite(c) -> str:
        where = c.url or c.path or ""
        return c.label + (f" ({where})" if where else "")

    lines = [answer.text]
    if answer.mode == ANSWER:
        lines.append("")
        # A written answer lists the passages it cites, under the numbers its [n] use.
        numbers = sorted(answer.cited) if answer.written else range(1, len(answer.citations) + 1)
        for n in numbers:
            lines.append(f"[{n}] {cite(answer.citations[n - 1])}")
    elif answer.mode == SUGGEST:
        if answer.written:  # hedged: the model's text over the passages it cites
            lines[0] = f"{NOT_SURE_WRITTEN}\n{answer.text}"
        for n, c in enumerate(answer.suggestions, start=1):
            lines += ["", f"{n}. {cite(c)}", *(f"   {line}" for line in c.passage.splitlines())]
    learned = " (a confirmed answer)" if answer.learned else ""
    written = f" (written by {answer.written_by})" if answer.written else ""
    lines.append(f"[{answer.mode}] confidence {answer.confidence:.2f}{learned}{written}")
    return "\n".join(lines)


def written_answerer(settings: Settings):
    """The model `--llm` asks for (GREENROOM_LLM_*), or a UserError saying what to set."""
    from knowledge import WrittenAnswerer

    try:
        model = settings.written_model()
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if model is None:
        raise UserError(
            "--llm needs a language model: set GREENROOM_LLM_BASE_URL (an OpenAI-compatible"
            " endpoint, e.g. http://127.0.0.1:11434/v1) and GREENROOM_LLM_MODEL, and"
            " GREENROOM_LLM_API_KEY if the server wants one (environment or .env)"
        )
    return WrittenAnswerer(model)


def _written_json(written) -> dict:
    return {
        "model": written.answer.written_by,
        "outcome": written.outcome,
        "reason": written.reason,
        "prompt_tokens": written.usage.prompt_tokens,
        "completion_tokens": written.usage.completion_tokens,
        "tokens_estimated": written.usage.estimated,
        "seconds": round(written.seconds, 3),
    }


def cmd_ask(args, settings: Settings) -> int:
    import asyncio

    writer = written_answerer(settings) if args.llm else None
    library = open_library(settings)
    kb = _open_existing(library, args.kb)
    answer = kb.ask(args.question)
    written = None
    if writer is not None:

        async def write():
            try:
                return await writer.write(answer)
            finally:
                await writer.aclose()

        written = asyncio.run(write())
        answer = written.answer
        if written.reason and not args.json:
            note = f"greenroom: written answer: {written.outcome} ({written.reason})"
            print(note, file=sys.stderr)
    if args.json:
        payload = answer.to_json()
        payload.pop("question")
        if written is not None:
            payload["written"] = answer.written
            payload["cited"] = list(answer.cited)
            payload["llm"] = _written_json(written)
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        print(render_answer(answer))
    return 0


def cmd_kb(args, settings: Settings) -> int:
    if args.kb_command == "migrate":
        return cmd_kb_migrate(args, settings)
    library = open_library(settings)
    if args.kb_command == "list":
        names = library.names()
        if not names:
            print(f"no knowledge bases in {settings.data_dir}")
        for name in names:
            stats = library.open(name).counts()
            print(f"{name}\t{stats['documents']} documents\t{stats['chunks']} chunks")
        return 0
    if args.kb_command == "stats":
        kb = _open_existing(library, args.kb)
        stats = kb.stats()
        for key, value in stats.items():
            print(f"{key}: {value}")
        for source, count in kb.source_counts():
            print(f"source: {source} ({count} documents)")
        return 0
    if args.kb_command == "remove":
        if not library.remove(args.name):
            raise UserError(f"there is no knowledge base {args.name!r}")
        print(f"removed knowledge base {args.name!r}")
        return 0
    raise UserError(f"unknown kb action {args.kb_command!r}")


def cmd_kb_migrate(args, settings: Settings) -> int:
    """Copy the store on disk (data_dir/chroma) to a Chroma server, whatever
    GREENROOM_CHROMA_URL says; the store on disk is left as it was."""
    from knowledge.migration import migrate_to_server
    from knowledge.vectors import ServerVectorStore, server_database

    if not (settings.data_dir / "chroma" / "chroma.sqlite3").exists():
        raise UserError(f"there is no vector store on disk in {settings.data_dir / 'chroma'}")
    library = open_library(settings.model_copy(update={"chroma_url": None}))
    target = ServerVectorStore(args.to_server, library.embedder, server_database(library.data_dir))

    def copied(c) -> None:
        removed = f", {c.removed:,} left over on the server removed" if c.removed else ""
        print(f"copied {c.name}: {c.vectors:,} vectors, checked{removed} ({c.seconds:.1f} s)")

    migration = migrate_to_server(library.vectors, target, copied)
    print(
        f"migrated {len(migration.collections)} collections, {migration.vectors:,} vectors"
        f" to {migration.target} in {migration.seconds:.1f} s"
    )
    on_server = {c.name: c.vectors for c in migration.collections}
    for name in library.names():
        kb = library.open(name)
        chunks = kb.counts()["chunks"]
        vectors = on_server.get(kb.collection_name, 0)
        state = "" if vectors == chunks else " (an interrupted sync: the next sync completes it)"
        print(f"  {name}: {chunks:,} chunks, {vectors:,} vectors on the server{state}")
    print(
        f"Set GREENROOM_CHROMA_URL={target.url} for every Greenroom process of"
        f" {settings.data_dir}; the store on disk ({settings.data_dir / 'chroma'}) is left as it"
        " was."
    )
    return 0


def cmd_eval(args, settings: Settings) -> int:
    from knowledge.evaluation import evaluate, load_questions

    if not args.questions.exists():
        raise UserError(f"{args.questions} does not exist")
    try:
        questions = load_questions(args.questions)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    writer = written_answerer(settings) if args.llm else None
    library = open_library(settings)
    kb = _open_existing(library, args.kb)
    if writer is None:
        result = evaluate(kb, questions)
    else:
        import asyncio

        loop = asyncio.new_event_loop()  # one loop for every call: the client's connections stay
        try:
            result = evaluate(
                kb, questions, write=lambda answer: loop.run_until_complete(writer.write(answer))
            )
        finally:
            loop.run_until_complete(writer.aclose())
            loop.close()
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    print(
        f"{len(questions)} questions ({result['n_answerable']} answerable,"
        f" {result['n_unanswerable']} unanswerable) against {args.kb!r}"
    )
    order = [args.k] + [k for k in (1, 3, 5, 10) if k != args.k]
    for k in order:
        if f"recall@{k}" in result:
            print(f"  Recall@{k:<3} {result[f'recall@{k}']:.3f}")
    print(f"  MRR@10     {result['mrr@10']:.3f}")
    print("  what the fan sees (shares of answerable questions):")
    print(f"    answered, right passage     {result['answered_right']:.3f}")
    print(f"    answered, wrong passage     {result['answered_wrong']:.3f}")
    print(f"    suggested, right among them {result['suggested_right']:.3f}")
    print(f"    suggested, none right       {result['suggested_wrong']:.3f}")
    print(f"    declined                    {result['declined']:.3f}")
    print(f"  unanswerable given an answer  {result['unanswerable_answered']:.3f}")
    print(f"  unanswerable declined         {result['unanswerable_declined']:.3f}")
    if llm := result.get("llm"):
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(llm["outcomes"].items()))
        print(
            f"  written answers: {llm['written_answers']} of {len(questions)} ({outcomes});"
            f" {llm['calls']} calls, {llm['prompt_tokens'] + llm['completion_tokens']} tokens,"
            f" {llm['seconds_mean']:.2f} s mean, {llm['seconds_p95']:.2f} s p95"
        )
        for reason, count in sorted(llm["reasons"].items(), key=lambda kv: -kv[1]):
            print(f"    {count} x {reason}")
    missed = [r for r in result["questions"] if r["kind"] != "unanswerable" and not r["rank"]]
    for r in missed:
        print(f"  miss {r['id']}: {r['question']}")
    return 0


def cmd_start(args, settings: Settings) -> int:
    """The quick start: run the bot when a token is set, else ingest the samples and ask."""
    if settings.discord_token is not None:
        from bot.app import run_bot

        _check_written_model(settings)
        return run_bot(settings)
    library = open_library(settings)
    kb, report = ingest_paths(library, "default", [args.notes])
    print_report("default", report)
    for question in SAMPLE_QUESTIONS_FOR_START:
        print(f"\n> {question}")
        print(render_answer(kb.ask(question)))
    print("\nSet DISCORD_TOKEN (in the environment or .env) to start the Discord bot instead.")
    return 0


SAMPLE_QUESTIONS_FOR_START = (
    "how did you make the stream intro?",
    "what bitrate do you stream at?",
    "how do mods decide if an AI clip can go on stream?",
    "what's your favourite pizza topping?",
)


def cmd_run(args, settings: Settings) -> int:
    if settings.discord_token is None:
        raise UserError("DISCORD_TOKEN is not set (in the environment or .env)")
    from bot.app import run_bot

    _check_written_model(settings)
    return run_bot(settings)


def _check_written_model(settings: Settings) -> None:
    """A half-set GREENROOM_LLM_* is said before the bot starts, not as a traceback."""
    try:
        settings.written_model()
    except ValueError as exc:
        raise UserError(str(exc)) from None


def cmd_sync_commands(args, settings: Settings) -> int:
    import asyncio

    if settings.discord_token is None:
        raise UserError("DISCORD_TOKEN is not set (in the environment or .env)")
    from bot.app import sync_commands

    names = asyncio.run(sync_commands(settings, args.guild))
    where = f"server {args.guild}" if args.guild else "all servers (may take up to an hour)"
    print(f"synced {len(names)} commands to {where}: {', '.join(sorted(names))}")
    return 0


def cmd_console(args, settings: Settings) -> int:
    """Answers typed questions exactly as the bot would render them, without Discord."""
    from bot.render import answer_embed, embed_as_text
    from knowledge import KnowledgeError

    library = open_library(settings)
    kb = _open_existing(library, args.kb)
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"Ask {args.kb!r} anything (empty line or Ctrl-D to quit).")
    while True:
        try:
            line = input("? " if interactive else "")
        except EOFError:
            break
        if not line.strip():
            if interactive:
                break
            continue
        try:
            print(embed_as_text(answer_embed(kb.ask(line))))
        except KnowledgeError as exc:
            print(exc.describe())
        print()
    return 0


def cmd_config(args, settings: Settings) -> int:
    import asyncio

    from bot.guild_config import GuildConfigStore, describe
    from bot.storage import Database

    async def run() -> list[tuple[str, str]]:
        db = await Database.open(settings.database_path)
        try:
            store = GuildConfigStore(db)
            await store.migrate()
            if args.config_command == "set":
                config = await store.set(args.guild, args.key, args.value)
            else:
                config = await store.get(args.guild)
            return describe(config)
        finally:
            await db.close()

    rows = asyncio.run(run())
    if args.config_command == "set":
        print(f"set {args.key} for server {args.guild}")
    for key, value in rows:
        print(f"{key} = {value}")
    return 0


def cmd_clips(args, settings: Settings) -> int:
    """`greenroom clips export DIR`: the clips' files and a manifest, for the streamer's editing."""
    import asyncio

    from bot.clips import ClipStore, ReviewQueue, export_clips
    from bot.storage import Database

    if not settings.database_path.exists():
        raise UserError(f"there is no Greenroom database in {settings.data_dir}")
    statuses = args.status or ["approved"]

    async def run():
        db = await Database.open(settings.database_path)
        try:
            queue = await ReviewQueue.open(db)
            store = ClipStore(settings.clips_dir)
            return await export_clips(queue, store, args.guild, args.dest, status=statuses)
        finally:
            await db.close()

    try:
        manifest = asyncio.run(run())
    except OSError as exc:
        raise UserError(f"could not write to {args.dest}: {exc}") from None
    where = f"server {args.guild}" if args.guild else "all servers"
    print(
        f"exported {len(manifest.clips)} {'/'.join(statuses)} clips of {where} to"
        f" {manifest.dest_dir}"
    )
    print(f"manifest: {manifest.json_path} and {manifest.csv_path}")
    if manifest.missing_files:
        missing = ", ".join(f"#{clip_id}" for clip_id in manifest.missing_files)
        print(f"files missing from the clip store (listed without a file): {missing}")
    return 0


def _server_url(settings: Settings) -> str | None:
    return (
        settings.chroma_url.strip() if settings.chroma_url and settings.chroma_url.strip() else None
    )


def cmd_backup(args, settings: Settings) -> int:
    """`greenroom backup DIR`: the data directory, consistent while the bot runs."""
    from knowledge.backup import backup
    from knowledge.vectors import server_database

    url = _server_url(settings)
    database = server_database(settings.data_dir) if url and settings.data_dir.is_dir() else None
    try:
        result = backup(settings.data_dir, args.dest, chroma_url=url, server_database=database)
    except OSError as exc:
        raise UserError(f"could not back up into {args.dest}: {exc}") from None
    print(
        f"backed up {settings.data_dir} to {result.dest}: {result.files} files,"
        f" {result.bytes / 1e6:.1f} MB, in {result.seconds:.1f} s"
    )
    if result.vectors == "server":
        print(
            f"The vectors live on the Chroma server {url} (database {database}) and are not in"
            " this backup: back the server up on its own (its --path folder)."
        )
    return 0


def cmd_restore(args, settings: Settings) -> int:
    """`greenroom restore DIR`: the data directory becomes what the backup holds."""
    from knowledge.backup import restore

    try:
        result = restore(args.source, settings.data_dir, force=args.force)
    except OSError as exc:
        raise UserError(f"could not restore into {settings.data_dir}: {exc}") from None
    manifest = result.manifest
    removed = f"; {result.removed} files it did not hold removed" if result.removed else ""
    print(
        f"restored {result.files} files ({result.bytes / 1e6:.1f} MB) of the backup made"
        f" {manifest['created']} into {result.data_dir}{removed}"
    )
    vectors = manifest["vectors"]
    if vectors["where"] == "server":
        print(
            f"The vectors of this backup live on the Chroma server {vectors.get('url')}"
            f" (database {vectors.get('database')}) and were not in it; restore did not touch"
            " the server. Run with GREENROOM_CHROMA_URL set to a server that holds them."
        )
    elif _server_url(settings):
        print(
            f"GREENROOM_CHROMA_URL is set: this process's vectors live on {_server_url(settings)},"
            " which restore did not touch; the backup's store on disk was restored to"
            f" {result.data_dir / 'chroma'} (`greenroom kb migrate --to-server` copies it)."
        )
    return 0
