"""The page `kerasbert serve` answers at `/`, in a real headless Chromium: type texts, classify,
read what the page shows, and save a screenshot.

Drives Debian's Chromium (`apt install chromium`; never a downloaded browser) through the
DevTools protocol over `--remote-debugging-pipe`: JSON messages on two file descriptors, so the
driver needs nothing beyond the standard library. The browser gets a fresh profile, no background
traffic, and every request to a host other than the server's is refused and reported
(`Chromium.blocked`).

    python scripts/serve_page.py exported/clients-default docs/img/serve-page.png \\
        "Shares rose after the bank's profits beat forecasts" "The striker scored twice"

`tests/test_serving_page.py` uses `Chromium` and `read_results` on the tiny exports.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = Path("/usr/bin/chromium")
# Seconds one protocol command or one wait on the page may take: a first classify of a real
# model on a busy 2-core machine takes a few seconds; a minute means something is stuck.
TIMEOUT_S = 60.0
FLAGS = (
    "--headless",
    "--no-sandbox",  # containers and CI run as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-quic",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


def _above_4(descriptor: int) -> int:
    """`descriptor` moved to a number above 4 (closed at its old one)."""
    moved = fcntl.fcntl(descriptor, fcntl.F_DUPFD_CLOEXEC, 5)
    os.close(descriptor)
    return moved


class ChromiumError(RuntimeError):
    """The browser ended, a protocol command failed or the page did not get where it should."""


class Chromium:
    """One headless Chromium page, driven over the DevTools protocol on a pipe.

    Args:
        origin: the only origin the page may reach (e.g. `http://127.0.0.1:8000`); requests to
            any other are refused and listed in `blocked`.
        width, height: the window, in CSS pixels.
        executable: the Chromium binary.

    Example:
    >>> with Chromium("http://127.0.0.1:8000") as browser:  # doctest: +SKIP
    ...     browser.open("http://127.0.0.1:8000/")
    ...     browser.evaluate("document.title")
    'kerasbert'
    """

    def __init__(
        self,
        origin: str,
        width: int = 1100,
        height: int = 900,
        executable: Path = CHROMIUM,
    ) -> None:
        self.origin = origin.rstrip("/")
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self._profile = tempfile.mkdtemp(prefix="kerasbert-chromium-")
        self._next_id = 0
        # Chromium reads commands from fd 3 and writes answers and events to fd 4. The child's
        # ends are moved above both first, so that placing one cannot overwrite the other.
        to_browser_read, self._to_browser = (_above_4(end) for end in os.pipe())
        self._from_browser, from_browser_write = (_above_4(end) for end in os.pipe())
        # bash (dash takes one-digit descriptors only) moves the pipe ends to the descriptors
        # Chromium expects, then becomes it.
        redirect = f'exec "$0" "$@" 3<&{to_browser_read} 4>&{from_browser_write}'
        self._process = subprocess.Popen(
            [
                "/bin/bash",
                "-c",
                redirect,
                str(executable),
                *FLAGS,
                f"--user-data-dir={self._profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_browser_read, from_browser_write),
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        try:
            self._attach()
        except Exception:
            self.close()
            raise

    def _attach(self) -> None:
        targets = self.command("Target.getTargets")["targetInfos"]
        page = next(target for target in targets if target["type"] == "page")
        self._session = self.command(
            "Target.attachToTarget", targetId=page["targetId"], flatten=True
        )["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.command(domain, session=True)
        self.command("Fetch.enable", session=True, patterns=[{"urlPattern": "*"}])

    def command(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        """Send one protocol command (to the page's session if `session`) and return its result."""
        self._next_id += 1
        number = self._next_id  # events handled while waiting send commands of their own
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            answer = self._read(deadline)
            if answer.get("id") == number:
                if "error" in answer:
                    raise ChromiumError(f"{method}: {answer['error'].get('message')}")
                return answer.get("result", {})
            self._handle(answer)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise ChromiumError(f"no answer from Chromium within {TIMEOUT_S:g} s")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise ChromiumError(f"Chromium ended (status {self._process.poll()})")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(line)

    def _handle(self, event: dict[str, Any]) -> None:
        """An event (or the answer to a command nobody waits for): requests paused by `Fetch`
        go on to the server's origin and are refused elsewhere; page errors are kept."""
        method, params = event.get("method"), event.get("params", {})
        if method == "Fetch.requestPaused":
            url = params["request"]["url"]
            parts = urlsplit(url)
            allowed = f"{parts.scheme}://{parts.netloc}" == self.origin or parts.scheme == "data"
            if not allowed:
                self.blocked.append(url)
            reply = "Fetch.continueRequest" if allowed else "Fetch.failRequest"
            extra = {} if allowed else {"errorReason": "BlockedByClient"}
            self._send_quietly(reply, requestId=params["requestId"], **extra)
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description") or details["text"])
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(params["entry"]["text"])

    def _send_quietly(self, method: str, **params: Any) -> None:
        """A command whose answer nobody waits for (it is skipped as it arrives)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")

    def open(self, url: str) -> None:
        """Load `url` and wait until its document has loaded."""
        self.command("Page.navigate", session=True, url=url)
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited if it is a promise)."""
        result = self.command(
            "Runtime.evaluate",
            session=True,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise ChromiumError(f"{expression[:80]}: {text}")
        return result.get("result", {}).get("value")

    def wait_for(self, condition: str, timeout_s: float = TIMEOUT_S) -> Any:
        """Poll a JavaScript condition until it is truthy; return its value."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(condition)
            except ChromiumError as error:  # a page still loading has no context to ask yet
                if "context" not in str(error).lower():
                    raise
                value = None
            if value:
                return value
            time.sleep(0.05)
        raise ChromiumError(
            f"waited {timeout_s:g} s for {condition!r}; page errors: {self.errors or 'none'}"
        )

    def click(self, selector: str) -> None:
        """Click the centre of the first element `selector` matches, as a mouse would."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.command(
                "Input.dispatchMouseEvent",
                session=True,
                type=kind,
                x=box[0],
                y=box[1],
                button="left",
                clickCount=1,
            )

    def type_into(self, selector: str, text: str) -> None:
        """Focus the element `selector` matches (by clicking it) and type `text`, as a keyboard
        would (one input event per character; a newline as the Enter key)."""
        self.click(selector)
        for index, line in enumerate(text.split("\n")):
            if index:
                for kind in ("keyDown", "keyUp"):
                    self.command(
                        "Input.dispatchKeyEvent",
                        session=True,
                        type=kind,
                        key="Enter",
                        code="Enter",
                        windowsVirtualKeyCode=13,
                        text="\r" if kind == "keyDown" else "",
                    )
            for character in line:
                self.command("Input.insertText", session=True, text=character)

    def screenshot(self, path: Path) -> Path:
        """The whole page (not only the window) as a PNG at `path`."""
        metrics = self.command("Page.getLayoutMetrics", session=True)["cssContentSize"]
        image = self.command(
            "Page.captureScreenshot",
            session=True,
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": metrics["width"], "height": metrics["height"],
                  "scale": 1},
        )["data"]  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(image))
        return path

    def close(self) -> None:
        """End the browser and remove its profile."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for descriptor in (self._to_browser, self._from_browser):
            try:
                os.close(descriptor)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# What the page shows for each input: the decided label(s), the abstention, and each label's
# probability as the text beside its bar.
READ_RESULTS = """
[...document.querySelectorAll('#results .result')].map((result) => ({
  decision: result.querySelector('.decision').textContent.trim(),
  label: result.dataset.label ?? null,
  labels: result.dataset.labels === undefined ? null : JSON.parse(result.dataset.labels),
  abstained: result.dataset.abstained === 'true',
  shown: Object.fromEntries([...result.querySelectorAll('.bar-row')].map(
    (row) => [row.dataset.label, row.querySelector('.value').textContent.trim()])),
  words: [...result.querySelectorAll('.words .word')].map((word) => word.textContent),
  highlighted: result.querySelectorAll('.words .word[data-score]').length,
}))
"""


def read_results(browser: Chromium) -> list[dict[str, Any]]:
    """Each result the page shows (`READ_RESULTS`), in input order."""
    return browser.evaluate(READ_RESULTS)


def classify_on_page(
    browser: Chromium,
    url: str,
    items: list[str | tuple[str, str]],
    min_confidence: float | None = None,
    explain: bool = True,
) -> list[dict[str, Any]]:
    """Open the page at `url`, type `items` (texts, or pairs for a pair model) into it, set the
    minimum confidence, press Classify and return what it shows once done (`read_results`)."""
    browser.open(url)
    browser.wait_for("document.body.dataset.ready === 'true'")
    for index, item in enumerate(items):
        if index:
            browser.click("#add-item")
        parts = (item,) if isinstance(item, str) else item
        for part, text in enumerate(parts):
            browser.type_into(f"#item-{index} textarea[data-part='{part}']", text)
    if min_confidence is not None:
        browser.evaluate(
            "(() => { const input = document.querySelector('#min-confidence');"
            f" input.value = {min_confidence!r};"
            " input.dispatchEvent(new Event('input', {bubbles: true})); })()"
        )
    if not explain:
        browser.click("#explain")
    browser.click("#classify")
    browser.wait_for(
        f"document.querySelectorAll('#results .result').length === {len(items)}"
        " && document.body.dataset.busy === 'false'"
    )
    status = browser.evaluate("document.querySelector('#status').dataset.error || ''")
    if status:
        raise ChromiumError(f"the page reports: {status}")
    return read_results(browser)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", help="An export directory (holds kerasbert.json).")
    parser.add_argument("output", help="The screenshot to write (.png).")
    parser.add_argument("texts", nargs="+", help="Texts to type (a pair model: TEXT||PAIR).")
    parser.add_argument("--min-confidence", type=float, help="Set the page's control to this.")
    parser.add_argument("--width", type=int, default=1100, help="Window width, CSS pixels.")
    args = parser.parse_args(argv)
    from kerasbert.benchmark.load import ServerProcess

    items = [tuple(text.split("||", 1)) if "||" in text else text for text in args.texts]
    with ServerProcess(args.export) as server, Chromium(server.url, width=args.width) as browser:
        results = classify_on_page(browser, server.url + "/", items, args.min_confidence)
        browser.evaluate("document.activeElement && document.activeElement.blur()")
        path = browser.screenshot(Path(args.output))
        if browser.blocked:
            print(f"The page asked for other hosts (refused): {browser.blocked}", file=sys.stderr)
            return 1
    for result in results:
        print(result["decision"], json.dumps(result["shown"]))
    print(f"Wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
