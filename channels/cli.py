"""The ``lumen`` console script: the server, the terminal channel, order imports and the team's tickets,
each on the runtime the composition root (``channels/app.py``) builds."""

from __future__ import annotations

# Only what the parser needs is imported here, so that `lumen --help` starts at once (tests/test_cli.py
# checks which libraries it loads): each command imports its own dependencies (the server, the database,
# the understander) when it runs.
import argparse
import io
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from channels.commerce_topics import SHOPIFY_PATH, SHOPIFY_TOPICS
from lumen_bot.domain.clock import Clock, utc_now
from lumen_bot.domain.tickets import Delivery, Ticket, TicketCategory, TicketStatus, ticket_text

if TYPE_CHECKING:
    from channels.app import Runtime
    from channels.email.inbound import ParsedEmail
    from lumen_bot.domain.rules import RuleUnderstander
    from lumen_bot.settings import Settings


def main(argv: Sequence[str] | None = None, *, clock: Clock = utc_now) -> int:
    """``clock``: the time the commands that change data go by (a test's, to move by hand)."""
    args = _parser().parse_args(argv)
    # What every command needs, imported once the arguments are read: `--help` needs none of it.
    from pydantic import ValidationError

    from lumen_bot.logs import configure_logging
    from lumen_bot.settings import ConfigurationError, load_settings

    args.clock = clock
    # A pipe may carry bytes that are not UTF-8; they become U+FFFD instead of ending the session.
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")
    try:
        settings = load_settings()
    except ValidationError as error:
        for problem in error.errors():
            if problem["loc"]:
                name = "LUMEN_" + "_".join(str(part) for part in problem["loc"]).upper()
                print(f"lumen: invalid setting {name}: {problem['msg']}", file=sys.stderr)
            else:
                print(
                    f"lumen: invalid settings: {problem['msg'].removeprefix('Value error, ')}",
                    file=sys.stderr,
                )
        return 2
    # Logs go to stderr and stay quiet by default, so stdout carries only what was asked for.
    configure_logging(
        "WARNING" if args.command != "serve" else settings.log_level, json_lines=settings.log_json
    )
    try:
        return int(args.run(args, settings) or 0)
    except ConfigurationError as error:
        print(f"lumen: invalid settings: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lumen", description="Lumen, the order-tracking assistant.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="server processes on the one port (default 1); more than one want PostgreSQL and a redis://"
        " LUMEN_RATE_LIMIT_STORAGE",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="the proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: addresses or networks,"
        " comma-separated, or * (default: LUMEN_FORWARDED_ALLOW_IPS, else 127.0.0.1)",
    )
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser(
        "migrate", help="create or upgrade the database schema, then exit (lumen serve does it too)"
    )
    migrate.set_defaults(run=_migrate)

    chat = commands.add_parser("chat", help="talk to the bot in the terminal (stdin may be a pipe)")
    chat.add_argument("--channel", default="terminal", type=_bounded(32), help="default: terminal")
    chat.add_argument("--sender", default="terminal", type=_bounded(320), help="who is talking")
    chat.set_defaults(run=_chat)

    understand = commands.add_parser("understand", help="print the Understanding of a message as JSON")
    understand.add_argument("text", nargs="?", help="the message; without it, one message per stdin line")
    understand.add_argument(
        "--explain",
        action="store_true",
        help='add "explain": which understander answered and why, the offline model\'s confidence, the'
        " language, the latency and LLM tokens",
    )
    understand.set_defaults(run=_understand)

    orders = commands.add_parser("orders", help="manage the embedded orders")
    order_commands = orders.add_subparsers(dest="orders_command", required=True)
    importing = order_commands.add_parser("import", help="import a CSV or JSON Lines file (all-or-nothing)")
    importing.add_argument("file", type=Path)
    importing.set_defaults(run=_import)

    demo = commands.add_parser("demo", help="load the demo orders (idempotent)")
    demo.add_argument("--if-empty", action="store_true", help="only when the database has no orders yet")
    demo.set_defaults(run=_demo)

    email = commands.add_parser("email", help="the email channel")
    email_commands = email.add_subparsers(dest="email_command", required=True)
    ingest = email_commands.add_parser("ingest", help="handle one email as POST /webhooks/email/raw does")
    ingest.add_argument("file", help="an RFC 5322 message (.eml), or - for standard input")
    ingest.set_defaults(run=_email_ingest)
    explain = email_commands.add_parser(
        "explain", help="what Lumen reads in one email (parse only: no database, no reply)"
    )
    explain.add_argument("file", help="an RFC 5322 message (.eml), or - for standard input")
    explain.set_defaults(run=_email_explain)

    shopify = commands.add_parser("shopify", help="the Shopify store's order webhooks")
    shopify_commands = shopify.add_subparsers(dest="shopify_command", required=True)
    subscribing = shopify_commands.add_parser(
        "subscribe",
        help=f"register the order webhooks Lumen follows ({', '.join(SHOPIFY_TOPICS)}) at"
        f" LUMEN_PUBLIC_URL{SHOPIFY_PATH} through the Admin API (again: nothing changes)",
    )
    subscribing.set_defaults(run=_shopify_subscribe)

    updates = commands.add_parser("updates", help="the shoppers' subscriptions to shipping updates")
    update_commands = updates.add_subparsers(dest="updates_command", required=True)
    subscriptions = update_commands.add_parser(
        "list", help="subscriptions, newest first, with what each was told (addresses masked)"
    )
    subscriptions.add_argument("--order", help="only the subscriptions to this order number")
    subscriptions.set_defaults(run=_updates)

    tickets = commands.add_parser("tickets", help="escalations for the shop's team")
    ticket_commands = tickets.add_subparsers(dest="tickets_command", required=True)
    listing = ticket_commands.add_parser("list", help="list tickets, newest first")
    listing.add_argument("--status", type=TicketStatus, choices=list(TicketStatus))
    listing.add_argument("--category", type=TicketCategory, choices=list(TicketCategory))
    listing.set_defaults(run=_tickets)
    showing = ticket_commands.add_parser("show", help="one ticket: facts, conversation, deliveries")
    showing.add_argument("reference")
    showing.set_defaults(run=_ticket_show)
    closing = ticket_commands.add_parser("close", help="close a ticket")
    closing.add_argument("reference")
    closing.set_defaults(run=_ticket_close)
    redelivering = ticket_commands.add_parser(
        "redeliver", help="send again the deliveries to sinks that were given up (failed or dropped)"
    )
    which = redelivering.add_mutually_exclusive_group(required=True)
    which.add_argument("reference", nargs="?", help="one ticket's")
    which.add_argument("--failed", action="store_true", help="every ticket's")
    redelivering.set_defaults(run=_ticket_redeliver)
    return parser


def _bounded(limit: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = value.strip()
        if not value or len(value) > limit:
            raise argparse.ArgumentTypeError(f"must be 1 to {limit} characters")
        return value

    return parse


def _on_runtime(settings: Settings, work: Callable[[Runtime], Awaitable[int]], clock: Clock = utc_now) -> int:
    """``work`` on a runtime built for this command, closed after it."""
    import asyncio

    from channels.app import build_runtime

    async def run() -> int:
        runtime = build_runtime(settings, clock=clock)
        try:
            return await work(runtime)
        finally:
            await runtime.aclose()

    return asyncio.run(run())


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from channels.app import create_app, prepare_workers

    if settings.demo:
        _load_demo(settings, if_empty=True)
    # None leaves uvicorn's own default: FORWARDED_ALLOW_IPS, else 127.0.0.1.
    forwarded = args.forwarded_allow_ips or settings.forwarded_allow_ips
    if args.workers == 1:
        uvicorn.run(
            create_app(settings),
            host=args.host,
            port=args.port,
            log_config=None,
            forwarded_allow_ips=forwarded,
        )
        return 0
    # uvicorn starts each worker from an import string, so each builds its own app from the environment
    # (the settings read here); what would fail in every one of them, and the migrations, happen once first.
    prepare_workers(settings, args.workers)
    uvicorn.run(
        "channels.app:create_app",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_config=None,
        forwarded_allow_ips=forwarded,
        # uvicorn kills a worker that has not answered its ping within this, and a new worker answers only
        # once it has imported Lumen: on a busy machine that takes longer than uvicorn's default 5 s.
        timeout_worker_healthcheck=_WORKER_HEALTHCHECK_SECONDS,
    )
    return 0


_WORKER_HEALTHCHECK_SECONDS = 30


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from channels.app import migrate

    migrate(settings)
    print("The database schema is up to date.")
    return 0


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from channels import terminal

    async def chat(runtime: Runtime) -> int:
        await terminal.chat(
            runtime.handler,
            sys.stdin,
            sys.stdout,
            channel=args.channel,
            sender=args.sender,
            max_text_length=settings.max_text_length,
            interactive=sys.stdin.isatty(),
        )
        return 0

    return _on_runtime(settings, chat)


def _understand(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import json
    from contextlib import AsyncExitStack

    from channels.understanders import build_understander

    texts = [args.text] if args.text is not None else (line.rstrip("\n") for line in sys.stdin)

    async def run() -> None:
        async with AsyncExitStack() as resources:
            understander = build_understander(settings, resources=resources)
            for text in texts:
                explanation = await understander.explain(text[: settings.max_text_length])
                line: dict[str, object] = explanation.understanding.model_dump(mode="json")
                if args.explain:
                    line["explain"] = {
                        "understander": explanation.understander,
                        "reason": explanation.reason,
                        "confidence": explanation.confidence,
                        "language": explanation.understanding.language,
                        "latency_ms": round(1000 * explanation.seconds, 1),
                        "tokens_in": explanation.tokens_in,
                        "tokens_out": explanation.tokens_out,
                    }
                print(json.dumps(line, ensure_ascii=False), flush=True)

    asyncio.run(run())
    return 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from lumen_bot.domain.order_file import ImportFailed, parse_orders

    try:
        orders = parse_orders(args.file.read_bytes(), name=args.file.name)
    except ImportFailed as failure:
        for error in failure.errors:
            print(error, file=sys.stderr)
        print(f"Nothing imported: {len(failure.errors)} error(s) in {args.file}.", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 1

    async def write(runtime: Runtime) -> int:
        print(await runtime.order_book.write(orders))
        # Shoppers subscribed to these orders hear of what changed: the updates wait in the outbox for
        # the server's delivery loop (this command sends nothing itself).
        queued = await runtime.updates.orders_changed([order.number for order in orders])
        if queued:
            print(f"Queued {queued} shipping update{'' if queued == 1 else 's'} for subscribed shoppers.")
        return 0

    return _on_runtime(settings, write, args.clock)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    return _load_demo(settings, if_empty=args.if_empty)


def _load_demo(settings: Settings, *, if_empty: bool) -> int:
    from lumen_bot.domain.demo import demo_orders

    async def load(runtime: Runtime) -> int:
        if if_empty and not await runtime.order_book.is_empty():
            print("The database already has orders; demo orders not loaded.")
            return 0
        print(await runtime.order_book.write(demo_orders()))
        return 0

    return _on_runtime(settings, load)


def _email_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from channels.app import build_email_channel
    from channels.email.inbound import MalformedEmail, parse_email

    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as error:
        print(f"cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 1
    if len(raw) > settings.email_max_bytes:
        print(f"the email is larger than {settings.email_max_bytes} bytes", file=sys.stderr)
        return 1

    async def receive(runtime: Runtime) -> int:
        channel = build_email_channel(runtime)
        try:
            parsed = parse_email(raw, own_addresses=channel.own_addresses)
        except MalformedEmail as error:
            print(f"malformed email: {error}", file=sys.stderr)
            return 1
        received = await channel.receive(parsed, provider_id=None, raw=raw)
        if received.skipped:
            print(f"No reply: {received.skipped.value}.")
        for reply in received.replies:
            print(reply.text)
        return 0

    return _on_runtime(settings, receive)


def _email_explain(args: argparse.Namespace, settings: Settings) -> int:
    from channels.email.inbound import MalformedEmail, parse_email
    from lumen_bot.domain.rules import RuleUnderstander

    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as error:
        print(f"cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 1
    own_addresses = (settings.email_from,) if settings.email_from else ()
    try:
        parsed = parse_email(raw, own_addresses=own_addresses)
    except MalformedEmail as error:
        print(f"malformed email: {error}", file=sys.stderr)
        return 1
    automatic = f"yes ({parsed.automatic_reason})" if parsed.automatic else "no"
    verified = "verified" if parsed.authenticated else "not verified"
    number, place = _order_number_and_place(parsed, RuleUnderstander(settings.order_number_pattern))
    print(f"automatic: {automatic}")
    print(f"sender: {parsed.sender} ({verified})")
    # One line whatever the shopper wrote, so each fact stays on its own line for grep and scripts.
    print("new text: " + (parsed.new_text.replace("\n", "\\n") or "(none)"))
    print(f"quoted text: {len(parsed.quoted_text)} characters")
    print(f"order number: #{number} (in the {place})" if number else "order number: none")
    return 0


def _order_number_and_place(email: ParsedEmail, rules: RuleUnderstander) -> tuple[str | None, str]:
    """The order number as the email channel takes it: the shopper's new text (read by the rules, as the
    offline understander reads it), then the subject and the quoted confirmation (``EmailChannel``)."""
    for place, text in (
        ("new text", email.new_text),
        ("subject", email.subject),
        ("quoted text", email.quoted_text),
    ):
        number = rules.order_number_in(text)
        if number:
            return number, place
    return None, ""


def _shopify_subscribe(_args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from channels.app import build_shopify_admin
    from lumen_bot.ports import OrderSourceUnavailable
    from lumen_bot.settings import ConfigurationError

    admin = build_shopify_admin(settings)
    if admin is None:
        raise ConfigurationError("LUMEN_SHOPIFY_STORE_URL and LUMEN_SHOPIFY_ACCESS_TOKEN must be set")
    if not settings.public_url:
        raise ConfigurationError("LUMEN_PUBLIC_URL must be set (where Shopify reaches this server)")
    address = settings.public_url + SHOPIFY_PATH
    if not settings.shopify_webhook_secret:
        print(
            f"lumen: LUMEN_SHOPIFY_WEBHOOK_SECRET is not set: {SHOPIFY_PATH} is off (404) until it is",
            file=sys.stderr,
        )

    async def subscribe() -> int:
        failed = 0
        try:
            for topic, name in SHOPIFY_TOPICS.items():
                done = await admin.subscribe(name, address)
                if done.error:
                    failed += 1
                    print(f"{topic:<26} failed: {done.error}")
                else:
                    state = "already subscribed" if done.existed else f"subscribed ({done.subscription_id})"
                    print(f"{topic:<26} {state}")
        except OrderSourceUnavailable as error:
            print(f"lumen: the Shopify Admin API did not answer: {error}", file=sys.stderr)
            return 1
        finally:
            await admin.aclose()
        print(f"Shopify sends these to {address}.")
        return 1 if failed else 0

    return asyncio.run(subscribe())


def _updates(args: argparse.Namespace, settings: Settings) -> int:
    from channels.admin import subscription_json

    async def listing(runtime: Runtime) -> int:
        order = args.order.strip().lstrip("#") if args.order else None
        reports = await runtime.update_store.reports(order)
        if not reports:
            print("No subscriptions to updates.")
        for report in reports:
            line = subscription_json(report)
            ended = (
                f"  ended {report.subscription.ended_at:%Y-%m-%d %H:%M}"
                if report.subscription.ended_at
                else ""
            )
            print(
                "  ".join(
                    (
                        f"#{line['order_number']:<8}",
                        f"{line['channel']:<8}",
                        f"{line['address']:<24}",
                        f"{line['status']:<8}",
                        f"since {report.subscription.created_at:%Y-%m-%d %H:%M}{ended}",
                    )
                )
            )
            for notice in line["notices"]:
                why = notice["detail"] or notice["delivery"] or ""
                print(
                    f"    {notice['event']:<28} {notice['status']:<8} {why}  ({notice['shipment']})".rstrip()
                )
        return 0

    return _on_runtime(settings, listing)


def _tickets(args: argparse.Namespace, settings: Settings) -> int:
    async def listing(runtime: Runtime) -> int:
        tickets = await runtime.tickets.newest(status=args.status, category=args.category)
        if not tickets:
            print("No tickets.")
        for ticket in tickets:
            order = f"#{ticket.order_number}" if ticket.order_number else "-"
            columns = (
                ticket.reference,
                f"{ticket.status:<6}",
                f"{ticket.category:<14}",
                f"{ticket.channel:<9}",
            )
            print("  ".join((*columns, f"{order:<8}", f"{ticket.created_at:%Y-%m-%d %H:%M}", ticket.summary)))
        return 0

    return _on_runtime(settings, listing)


def _ticket_show(args: argparse.Namespace, settings: Settings) -> int:
    async def show(runtime: Runtime) -> int:
        return _print_ticket(await runtime.tickets.get(args.reference), args.reference, runtime)

    return _on_runtime(settings, show)


def _ticket_close(args: argparse.Namespace, settings: Settings) -> int:
    async def close(runtime: Runtime) -> int:
        closed = await runtime.tickets.close(args.reference, runtime.clock())
        return _print_ticket(closed, args.reference, runtime)

    return _on_runtime(settings, close)


def _ticket_redeliver(args: argparse.Namespace, settings: Settings) -> int:
    async def redeliver(runtime: Runtime) -> int:
        requeued = await runtime.desk.redeliver(args.reference)
        if requeued is None:
            print(f"lumen: no ticket {args.reference}", file=sys.stderr)
            return 1
        if not requeued:
            which = f"{args.reference.upper()} has" if args.reference else "no ticket has"
            print(f"Nothing to redeliver: {which} a failed or dropped delivery.")
            return 0
        count = len(requeued)
        print(f"Requeued {count} deliver{'y' if count == 1 else 'ies'} and tried each once:")
        # As they stand after that attempt: sent, or pending with the reason (the outbox retries it).
        states: dict[tuple[str, str], Delivery] = {}
        for reference in dict.fromkeys(delivery.reference for delivery in requeued):
            ticket = await runtime.tickets.get(reference)
            for delivery in ticket.deliveries if ticket else ():
                states[(reference, delivery.sink)] = delivery
        for delivery in requeued:
            state = states.get((delivery.reference, delivery.sink))
            print(f"  {delivery.reference}  {_delivery_line(state) if state else delivery.sink}")
        return 0

    return _on_runtime(settings, redeliver)


def _delivery_line(delivery: Delivery) -> str:
    error = f"  last error: {delivery.last_error}" if delivery.last_error else ""
    return f"{delivery.sink:<15} {delivery.status:<8} attempts {delivery.attempts}{error}"


def _print_ticket(ticket: Ticket | None, reference: str, runtime: Runtime) -> int:
    if ticket is None:
        print(f"lumen: no ticket {reference}", file=sys.stderr)
        return 1
    print(f"Status: {ticket.status}")
    print(ticket_text(runtime.voices[runtime.settings.default_language], ticket))
    print("\nDeliveries:" if ticket.deliveries else "\nDeliveries: none (no sink configured, or not yet)")
    for delivery in ticket.deliveries:
        print(f"  {_delivery_line(delivery)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
