"""`pressfeed run` under attack over real sockets: traversal, oversized requests, bad tokens,
sign-up floods and attempts to learn who is subscribed.

One service process serves the whole module. Tests keep out of each other's way by using their
own addresses and their own client IPs (every 127.x.y.z address reaches the loopback server,
and the service counts sign-ups per client IP). Malformed and oversized requests go out on raw
sockets, byte for byte, since an HTTP client would tidy them up first.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import pytest
from sqlalchemy import Engine

from pressfeed import store, tokens
from pressfeed.config import load_settings
from pressfeed.digest import mail_settings
from pressfeed.models import Settings, Subscriber
from pressfeed.subscriptions import (
    ADDRESS_SIGN_UPS_PER_HOUR,
    CONFIRM_VALID,
    Choice,
    add_subscriber,
    remove_subscriber,
    subscriber_from,
)
from pressfeed.web import MAX_BODY_BYTES
from tests.conftest import NOW, write_settings
from tests.smtp_servers import SmtpServer, free_port, sink
from tests.test_publish import HEALTH
from tests.test_scan import LISTING
from tests.test_service import Running

TIMEOUT = 10.0
MB = 1024 * 1024
LINK_INVALID = b"This link does not work"
_ips = (f"127.0.{n // 250 + 1}.{n % 250 + 1}" for n in itertools.count())


@dataclass
class Service:
    """The running service, its store, its mail sink and the secret kept beside its output."""

    running: Running
    settings: Settings
    engine: Engine
    smtp: SmtpServer
    secret_text: bytes
    secret_path: Path

    @property
    def url(self) -> str:
        return self.running.url

    def client(self, ip: str | None = None) -> httpx.Client:
        """An HTTP client speaking from a client IP no other test uses."""
        # verify=False: plain HTTP, and loading the CA bundle would cost 90 ms a client.
        transport = httpx.HTTPTransport(local_address=ip or next(_ips), verify=False)
        return httpx.Client(base_url=self.url, transport=transport, timeout=TIMEOUT)

    def subscriber(self, address: str) -> Subscriber | None:
        with self.engine.connect() as connection:
            return store.subscriber_by_address(connection, address)

    def confirmations(self, address: str) -> list[store.OutboxRow]:
        with self.engine.connect() as connection:
            rows = store.outbox_rows(connection)
        return [r for r in rows if r.kind == "confirm" and r.message.recipient == address]

    def mails_to(self, address: str) -> list[str]:
        """The bodies of the confirmation mails the sink received for `address`."""
        found = [
            m.message.get_body(("plain",)) for m in self.smtp.messages if address in m.rcpt_tos
        ]
        return [str(body.get_content()) for body in found if body is not None]

    def wait_for_mail(self, address: str, count: int = 1) -> list[str]:
        """The mails to `address`, once `count` have arrived (deadline TIMEOUT)."""
        self.running.wait_until(lambda: len(self.mails_to(address)) >= count, TIMEOUT)
        return self.mails_to(address)

    def secret(self) -> bytes:
        return mail_settings(self.settings, self.engine).secret


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("hostile")
    secret_text = f"never-served-{secrets.token_hex(8)}".encode()
    beside = root / "feeds-secret"  # shares the output directory's name as a prefix
    beside.mkdir()
    for path in (root / "secret.txt", beside / "secret.txt"):
        path.write_bytes(secret_text)
    port = free_port()
    with sink() as smtp:
        config = write_settings(
            root,
            f'site_url = "http://127.0.0.1:{port}/"\n'
            f'[email]\ntransport = "smtp"\n[smtp]\nhost = "{smtp.host}"\nport = {smtp.port}\n'
            "[service]\nscan_interval = 3600\n",
        )
        (root / "content" / "listing.txt").write_text(LISTING, encoding="utf-8")
        (root / "content" / "health.txt").write_text(HEALTH, encoding="utf-8")
        settings = load_settings(config, environ={})
        running = Running(config, port)
        try:
            running.wait_for_log(r"service: serving http://")
            engine = store.open_store(settings.database)  # once the service has made the store
            (settings.output_dir / "leak.txt").symlink_to(root / "secret.txt")
            yield Service(running, settings, engine, smtp, secret_text, root / "secret.txt")
            engine.dispose()
        finally:
            running.stop()


# --- raw HTTP -----------------------------------------------------------------------------------


@dataclass
class Raw:
    status: int
    head: bytes
    body: bytes


def parse(data: bytes) -> Raw:
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", head)
    assert match, data[:200]
    return Raw(int(match.group(1)), head, body)


def exchange(service: Service, request: bytes, *, pieces: int = 1) -> Raw:
    """Send `request` as it is (in `pieces` writes) and read the answer until the server closes.

    The server may answer and close before the last piece: sending stops there, and the answer
    already sent is still read.
    """
    with socket.create_connection(("127.0.0.1", service.running.port), timeout=TIMEOUT) as sock:
        size = -(-len(request) // pieces)
        try:
            for start in range(0, len(request), size):
                sock.sendall(request[start : start + size])
        except (BrokenPipeError, ConnectionResetError):
            pass
        return parse(read_all(sock))


def read_all(sock: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass  # after the answer: the server closed with part of the request unread
    return received


def get(target: bytes, *headers: bytes) -> bytes:
    lines = [b"GET " + target + b" HTTP/1.1", b"Host: 127.0.0.1", *headers, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def still_serving(service: Service) -> None:
    """The next request, on a new connection, is answered as usual."""
    response = httpx.get(service.url + "healthz", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


# --- path traversal -----------------------------------------------------------------------------

TRAVERSALS = [
    "/../secret.txt",
    "/../../secret.txt",
    "/./../secret.txt",
    "/releases/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..%2fsecret.txt",
    "/..%2Fsecret.txt",
    "/releases/%2e%2e/%2e%2e/secret.txt",
    "/releases/..%2f..%2fsecret.txt",
    "/%252e%252e/secret.txt",
    "/%252e%252e%252fsecret.txt",
    "/..%252fsecret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/%c0%2e%c0%2e/secret.txt",
    "/%e0%80%ae%e0%80%ae/secret.txt",
    "/..%c0%afsecret.txt",
    "/..%c1%9csecret.txt",
    "/%ef%bc%8e%ef%bc%8e/secret.txt",
    "/%uff0e%uff0e/secret.txt",
    "/..\\secret.txt",
    "/..%5csecret.txt",
    "/..%5c..%5csecret.txt",
    "/releases\\..\\..\\secret.txt",
    "/..;/secret.txt",
    "/../feeds-secret/secret.txt",
    "/%2e%2e/feeds-secret/secret.txt",
    "/secret.txt%00",
    "/%00/../secret.txt",
    "/..%00/secret.txt",
    "/index.html%00/../../secret.txt",
    "../secret.txt",
    "..%2fsecret.txt",
    "http://127.0.0.1/../secret.txt",
    "/leak.txt",
    "/{absolute}",
    "/%2f{absolute}",
    "//{absolute}",
    "/libya+health.atom/../../secret.txt",
    "/libya+..%2f..%2fsecret.atom",
    "/libya+%2e%2e.atom",
    "/..%2flibya+health.atom",
    "/libya+health%2e%2e%2fsecret.atom",
    "/libya+health.atom%00",
    "/libya+health.atom%00/../../secret.txt",
    "/libya+..%5c..%5csecret.atom",
    "/libya+%c0%ae%c0%ae.atom",
    "/%2e%2e/libya+health.atom",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_no_path_leaves_the_output_directory(service: Service, target: str) -> None:
    path = target.replace("{absolute}", str(service.secret_path).lstrip("/"))
    answer = exchange(service, get(path.encode()))
    assert answer.status in (400, 404), (path, answer.head)
    assert service.secret_text not in answer.head + answer.body
    assert b"content_dir" not in answer.body  # nor the config beside it


def test_the_secret_is_there_and_the_feeds_are_served(service: Service) -> None:
    """The traversal test means something: the file exists and normal paths work."""
    assert service.secret_path.read_bytes() == service.secret_text
    for target in (b"/health.atom", b"/libya+health.atom", b"/index.html"):
        assert exchange(service, get(target)).status == 200, target


# --- oversized requests -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "request_bytes", "pieces"),
    [
        ("one 100 KB header", get(b"/", b"X-Big: " + b"a" * 100_000), 1),
        ("one 100 KB header in pieces", get(b"/", b"X-Big: " + b"a" * 100_000), 50),
        ("10 MB of headers", get(b"/", *[b"X-H: " + b"b" * 1000] * 10_000), 1),
        ("1000 small headers", get(b"/", *[b"X-%d: 1" % n for n in range(1000)]), 1),
        ("a 100 KB path", get(b"/" + b"a" * 100_000), 1),
        ("a 6 KB query", get(b"/confirm?token=" + b"a" * 6_000), 1),
    ],
)
def test_oversized_heads_are_refused_and_the_next_request_served(
    service: Service, name: str, request_bytes: bytes, pieces: int
) -> None:
    answer = exchange(service, request_bytes, pieces=pieces)
    assert answer.status in (400, 414, 431), name
    assert b"connection: close" in answer.head.lower()
    still_serving(service)


def post_head(path: bytes, length: int, content_type: bytes) -> bytes:
    return (
        b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: "
        + content_type
        + b"\r\nContent-Length: %d\r\n" % length
        + b"Connection: close\r\n\r\n"
    )


FORM = b"application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    "path", [b"/subscribe", b"/confirm", b"/subscription", b"/unsubscribe", b"/index.html"]
)
def test_a_declared_large_body_is_refused_before_it_is_sent(service: Service, path: bytes) -> None:
    """The answer comes from the head alone: the server never waits for 5 MB."""
    answer = exchange(service, post_head(path, 5 * MB, FORM))
    assert answer.status == 413
    assert b"connection: close" in answer.head.lower()
    still_serving(service)


def chunked(body: bytes, size: int = 8192) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def test_an_undeclared_large_body_is_cut_off_as_it_is_read(service: Service) -> None:
    head = (
        b"POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + FORM + b"\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    body = b"address=" + b"a" * (MAX_BODY_BYTES + 1000)
    answer = exchange(service, head + chunked(body))
    assert answer.status == 413
    assert service.subscriber("a" * 10) is None
    still_serving(service)


def test_a_small_body_just_under_the_limit_is_read(service: Service) -> None:
    body = b"address=" + b"a" * (MAX_BODY_BYTES - 100)
    answer = exchange(service, post_head(b"/subscribe", len(body), FORM) + body)
    assert answer.status == 400  # read and judged: not an address
    assert b"not an e-mail address" in answer.body


def blast(service: Service, request: bytes, body_size: int) -> int | None:
    """Send a whole oversized request like a careless client: the status, or None when cut off."""
    with socket.create_connection(("127.0.0.1", service.running.port), timeout=TIMEOUT) as sock:
        answer: list[bytes] = []
        reader = threading.Thread(target=lambda: answer.append(read_all(sock)))
        reader.start()
        try:
            sock.sendall(request)
            block = b"x" * MB
            for _ in range(body_size // MB):
                sock.sendall(block)
        except OSError:
            pass  # the server closed the connection mid-send: that is its right
        reader.join(TIMEOUT)
    data = answer[0] if answer else b""
    return parse(data).status if data else None


def peak_memory(pid: int) -> int:
    """The process's peak resident memory in bytes (VmHWM)."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match, status
    return int(match.group(1)) * 1024


def test_memory_stays_flat_under_oversized_requests(service: Service) -> None:
    pid = service.running.process.pid
    before = peak_memory(pid)
    for _ in range(3):
        status = blast(service, post_head(b"/subscribe", 8 * MB, FORM), 8 * MB)
        assert status in (413, None)
        status = blast(service, get(b"/", b"X-Big: " + b"a" * (4 * MB)), 0)
        assert status in (400, 431, None)
    still_serving(service)
    grown = peak_memory(pid) - before
    assert grown < 4 * MB, f"peak memory grew by {grown / MB:.1f} MB for 36 MB of requests"


def test_form_abuse_gets_a_400(service: Service) -> None:
    many = b"&".join(b"topics=health" for _ in range(1000))
    answers = [
        exchange(service, post_head(b"/subscribe", len(many), FORM) + many),
        exchange(service, multipart_with_a_file()),
    ]
    for answer in answers:
        assert answer.status == 400, answer.head
    still_serving(service)


def multipart_with_a_file() -> bytes:
    body = (
        b"--b\r\nContent-Disposition: form-data; name=address\r\n\r\nfile@example.org\r\n"
        b'--b\r\nContent-Disposition: form-data; name=f; filename="x.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
    )
    head = post_head(b"/subscribe", len(body), b"multipart/form-data; boundary=b")
    return head + body


# --- tokens -------------------------------------------------------------------------------------


def sign_up(service: Service, address: str, ip: str | None = None) -> httpx.Response:
    with service.client(ip) as client:
        return client.post("subscribe", data={"address": address, "topics": "health"})


def confirm_token(mail: str) -> str:
    found = re.search(r"/confirm\?token=(\S+)", mail)
    assert found, mail
    return unquote(found.group(1))


def answers(service: Service, token: str) -> list[httpx.Response]:
    """What GET and POST /confirm say to `token`."""
    with service.client() as client:
        return [
            client.get("confirm", params={"token": token}),
            client.post("confirm", data={"token": token}),
        ]


def same_answer(one: httpx.Response, other: httpx.Response) -> None:
    assert one.status_code == other.status_code
    assert one.content == other.content
    assert headers_of(one) == headers_of(other)


def headers_of(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k != "date"}


def neutral(service: Service) -> httpx.Response:
    with service.client() as client:
        response = client.get("confirm", params={"token": "nothing"})
    assert response.status_code == 404
    assert LINK_INVALID in response.content
    return response


def test_bad_confirmation_tokens_change_nothing_and_all_look_alike(service: Service) -> None:
    sign_up(service, "victim@example.org")
    sign_up(service, "other@example.org")
    [mail] = service.wait_for_mail("victim@example.org")
    good = confirm_token(mail)
    victim, other = (
        service.subscriber("victim@example.org"),
        service.subscriber("other@example.org"),
    )
    assert victim is not None
    assert other is not None
    secret = service.secret()
    now = dt.datetime.now(dt.UTC)
    value, stamp, mac = good.split(".")
    repointed = tokens.sign(b"x", "confirm", other.id, issued=now).split(".")[0]
    forged = {
        "flipped MAC": f"{value}.{stamp}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
        "another secret": tokens.sign(b"another secret", "confirm", victim.id, issued=now),
        "another purpose": tokens.sign(secret, "unsubscribe", victim.id, issued=now),
        "another time": f"{value}.{int(stamp) + 1}.{mac}",
        "another address": f"{repointed}.{stamp}.{mac}",
        "the address itself": tokens.sign(secret, "confirm", victim.address, issued=now),
        "no MAC": f"{value}.{stamp}",
        "one character short": good[:-1],
        "half": good[: len(good) // 2],
        "expired": tokens.sign(
            secret, "confirm", victim.id, issued=now - CONFIRM_VALID - dt.timedelta(minutes=1)
        ),
        "from the future": tokens.sign(
            secret, "confirm", victim.id, issued=now + dt.timedelta(days=1)
        ),
        "old format": f"{value}.{mac}",
        "padded": f"{value}=.{stamp}.{mac}",
        "non-ASCII MAC": f"{value}.{stamp}.{'é' * 24}",
        "NUL": f"{value}\0.{stamp}.{mac}",
        "3 KB": "a" * 3000,
        "empty": "",
    }
    reference = neutral(service)
    for name, token in forged.items():
        for response in answers(service, token):
            assert response.status_code == 404, name
            same_answer(response, reference)
    for address in ("victim@example.org", "other@example.org"):
        still = service.subscriber(address)
        assert still is not None
        assert not still.confirmed, address


def test_a_confirmation_link_works_once_and_only_by_its_button(service: Service) -> None:
    address = "once@example.org"
    sign_up(service, address)
    token = confirm_token(service.wait_for_mail(address)[0])
    with service.client() as client:
        for _ in range(3):  # a link scanner, then the person, then the scanner again
            page = client.get("confirm", params={"token": token})
            assert page.status_code == 200
            assert b"Confirm your subscription" in page.content
        waiting = service.subscriber(address)
        assert waiting is not None
        assert not waiting.confirmed
        confirmed = client.post("confirm", data={"token": token})
        assert confirmed.status_code == 200
        assert b"Your subscription is confirmed" in confirmed.content
    after = service.subscriber(address)
    assert after is not None
    assert after.confirmed
    reference = neutral(service)
    for replayed in answers(service, token):
        same_answer(replayed, reference)
    assert service.subscriber(address) == after  # the replay changed nothing


def test_links_replayed_after_unsubscribing_restore_nothing(service: Service) -> None:
    address = "leaver@example.org"
    sign_up(service, address)
    token = confirm_token(service.wait_for_mail(address)[0])
    with service.client() as client:
        assert client.post("confirm", data={"token": token}).status_code == 200
        leaver = service.subscriber(address)
        assert leaver is not None
        assert client.post("unsubscribe", params={"token": leaver.token}).status_code == 200
    assert service.subscriber(address) is None
    for replayed in answers(service, token):
        same_answer(replayed, neutral(service))
    assert service.subscriber(address) is None

    sign_up(service, address)  # back again: a new subscriber, with a new link
    service.wait_for_mail(address, 2)
    returning = service.subscriber(address)
    assert returning is not None
    assert returning.id != leaver.id
    for replayed in answers(service, token):
        same_answer(replayed, neutral(service))
    again = service.subscriber(address)
    assert again is not None
    assert not again.confirmed  # the old link does not confirm the new sign-up
    with service.client() as client:
        for path in ("subscription", "unsubscribe"):
            old = client.get(path, params={"token": leaver.token})
            unknown = client.get(path, params={"token": secrets.token_urlsafe(24)})
            same_answer(old, unknown)
            assert old.status_code == 404


# --- sign-up floods -----------------------------------------------------------------------------

FLOOD = 200


def flood(service: Service, address: str, ips: list[str]) -> list[httpx.Response]:
    """FLOOD sign-ups for `address`, from the client IPs in turn, eight at a time."""

    def one(ip: str) -> httpx.Response:
        return sign_up(service, address, ip)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, itertools.islice(itertools.cycle(ips), FLOOD)))


def one_mail_only(service: Service, address: str) -> None:
    """Exactly one confirmation recorded for `address`, and exactly one received."""
    [row] = service.confirmations(address)
    service.running.wait_until(lambda: service.confirmations(address)[0].status == "sent", TIMEOUT)
    assert len(service.mails_to(address)) == 1, row.key


def test_a_flood_from_one_client_sends_one_mail_and_is_refused(service: Service) -> None:
    address = "flood-one@example.org"
    with service.client() as client:
        responses = [client.post("subscribe", data={"address": address}) for _ in range(FLOOD)]
    statuses = [r.status_code for r in responses]
    assert statuses == [200] * ADDRESS_SIGN_UPS_PER_HOUR + [429] * (
        FLOOD - ADDRESS_SIGN_UPS_PER_HOUR
    )
    refused = [r for r in responses if r.status_code == 429]
    for response in refused:
        same_answer(response, refused[0])
    assert refused[0].headers["retry-after"] == "3600"
    assert refused[0].headers["cache-control"] == "no-store"
    one_mail_only(service, address)


def test_a_flood_from_many_clients_sends_one_mail_and_is_refused(service: Service) -> None:
    address = "flood-many@example.org"
    responses = flood(service, address, [next(_ips) for _ in range(FLOOD)])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * ADDRESS_SIGN_UPS_PER_HOUR + [429] * (
        FLOOD - ADDRESS_SIGN_UPS_PER_HOUR
    )
    one_mail_only(service, address)
    waiting = service.subscriber(address)
    assert waiting is not None
    assert not waiting.confirmed


# --- who is subscribed? -------------------------------------------------------------------------


def prepare(service: Service, state: str) -> str:
    """An address in `state`: unknown, waiting (signed up), confirmed or unsubscribed."""
    address = f"{state}-{secrets.token_hex(4)}@example.org"
    if state == "waiting":
        sign_up(service, address)
    if state in ("confirmed", "unsubscribed"):
        made = subscriber_from(Choice(address, "health"), service.settings, now=NOW, confirmed=True)
        add_subscriber(service.engine, made)
    if state == "unsubscribed":
        remove_subscriber(service.engine, address)
    return address


STATES = ("unknown", "waiting", "confirmed", "unsubscribed")


def test_sign_up_answers_do_not_tell_who_is_subscribed(service: Service) -> None:
    addresses = {state: prepare(service, state) for state in STATES}
    accepted = {s: sign_up(service, a) for s, a in addresses.items()}
    with service.client() as client:
        refused = {
            s: client.post("subscribe", data={"address": a, "topics": "cooking"})
            for s, a in addresses.items()
        }
    for state in STATES:
        same_answer(accepted[state], accepted["unknown"])
        same_answer(refused[state], refused["unknown"])
    assert accepted["unknown"].status_code == 200
    assert refused["unknown"].status_code == 400
    limited: dict[str, list[int]] = {}
    last: dict[str, httpx.Response] = {}
    for state, address in addresses.items():
        responses = [sign_up(service, address) for _ in range(ADDRESS_SIGN_UPS_PER_HOUR)]
        limited[state] = [r.status_code for r in responses]
        last[state] = responses[-1]
    for state in ("confirmed", "unsubscribed"):  # the same history as an unknown address
        assert limited[state] == limited["unknown"]
    for state in STATES:
        same_answer(last[state], last["unknown"])
        assert last[state].status_code == 429
    assert len(service.confirmations(addresses["unknown"])) == 1  # the difference stays unseen
    assert service.confirmations(addresses["confirmed"]) == []


def test_token_pages_do_not_tell_who_is_subscribed(service: Service) -> None:
    confirmed = prepare(service, "confirmed")
    member = service.subscriber(confirmed)
    assert member is not None
    candidates = [
        secrets.token_urlsafe(24),
        member.token[:-1],
        member.token.upper(),
        confirmed,
        f"{member.token}%00",
        "",
    ]
    with service.client() as client:
        pages = [
            [
                client.get("subscription", params={"token": token}),
                client.get("unsubscribe", params={"token": token}),
                client.post("subscription", data={"token": token, "frequency": "weekly"}),
                client.post("unsubscribe", params={"token": token}),
                client.post("unsubscribe", data={"address": confirmed, "token": token}),
            ]
            for token in candidates
        ]
    for responses in pages:
        for response, first in zip(responses, pages[0], strict=True):
            same_answer(response, first)
    assert [r.status_code for r in pages[0]] == [404, 404, 404, 200, 200]
    assert service.subscriber(confirmed) == member  # nothing changed, nobody left


# --- the tokens themselves ----------------------------------------------------------------------


def test_a_token_checks_out_until_it_expires() -> None:
    issued = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    token = tokens.sign(b"s", "confirm", "abc123", issued=issued)
    week = dt.timedelta(days=7)

    def check(at: dt.datetime) -> str | None:
        return tokens.verify(b"s", "confirm", token, now=at, max_age=week)

    assert check(issued) == "abc123"
    assert check(issued + week) == "abc123"
    assert check(issued + week + dt.timedelta(seconds=1)) is None
    assert check(issued - tokens.CLOCK_SKEW - dt.timedelta(seconds=1)) is None
    assert tokens.verify(b"t", "confirm", token, now=issued, max_age=week) is None
    assert tokens.verify(b"s", "other", token, now=issued, max_age=week) is None


def test_a_token_has_one_spelling() -> None:
    issued = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    token = tokens.sign(b"s", "confirm", "a", issued=issued)  # "a" is "YQ" in base64
    value, stamp, mac = token.split(".")
    assert value == "YQ"
    for variant in (f"YR.{stamp}.{mac}", f"YQ==.{stamp}.{mac}", f"YQ.0{stamp}.{mac}", f"{token}."):
        assert tokens.verify(b"s", "confirm", variant, now=issued, max_age=CONFIRM_VALID) is None
    assert quote(token, safe="") == token  # it goes into a URL as it is
