#!/usr/bin/env python3
"""Drives web/index.html in headless Chromium through ChromeDriver (plain W3C WebDriver over
HTTP, Python's standard library only) and prints the page's report: a header naming the
adapter, one line per case, and the closing `N passed, M failed`. Exit status 0 only when
the run finished and every case passed. Used by web/check.sh."""

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

# WebGPU in headless Chromium: --enable-unsafe-webgpu (without it requestAdapter finds
# nothing), SwiftShader's Vulkan underneath. The rest keeps a browser on a machine without
# a network from stalling on Google's services.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--enable-unsafe-webgpu",
    "--enable-features=Vulkan",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,800",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None, timeout=60):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null").get("value")
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{method} {path}: {e.code} {e.read().decode(errors='replace')}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--screenshot", help="write a PNG of the page after the run")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the run")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument(
        "--chromedriver", default=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
    )
    args = parser.parse_args()

    port = free_port()
    profile = tempfile.mkdtemp(prefix="wgact-chromium-")
    driver = subprocess.Popen(
        [args.chromedriver, f"--port={port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    session = None
    try:
        for _ in range(100):
            try:
                call(base, "GET", "/status", timeout=2)
                break
            except (OSError, RuntimeError):
                time.sleep(0.1)
        caps = {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": args.chromium,
                "args": CHROMIUM_ARGS + [f"--user-data-dir={profile}"],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }
        created = call(base, "POST", "/session", {"capabilities": {"alwaysMatch": caps}})
        session = f"/session/{created['sessionId']}"
        call(base, "POST", session + "/url", {"url": args.url}, timeout=120)

        poll = (
            "return [document.body.dataset.state || 'loading', window.wgactReport || null,"
            " window.wgactAdapter || null, document.getElementById('summary').textContent];"
        )
        deadline = time.monotonic() + args.timeout
        state, report, adapter, progress = "loading", None, None, ""
        header_printed = False
        while time.monotonic() < deadline:
            state, report, adapter, progress = call(
                base, "POST", session + "/execute/sync", {"script": poll, "args": []}
            )
            if adapter and not header_printed:
                features = ", ".join(
                    name if on else f"no {name}" for name, on in adapter["features"].items()
                )
                print(f"# headless Chromium, WebGPU adapter {adapter['name']} "
                      f"({adapter['backend']}; used: {features})", flush=True)
                header_printed = True
            if state in ("done", "error"):
                break
            time.sleep(0.25)

        if args.screenshot:
            png = base64.b64decode(call(base, "GET", session + "/screenshot"))
            with open(args.screenshot, "wb") as f:
                f.write(png)

        if state != "done":
            why = (report or {}).get("error") or f"timed out after {args.timeout:.0f} s ({progress})"
            print(f"error: the page did not finish: {why}", file=sys.stderr)
            try:
                for entry in call(base, "POST", session + "/se/log", {"type": "browser"}) or []:
                    print(f"console: {entry.get('level')} {entry.get('message')}", file=sys.stderr)
            except RuntimeError:
                pass
            return 2
        for line in report["lines"]:
            print(line)
        # What only a browser does (late error scopes), checked by the page after the cases.
        for line in report["edgeLines"]:
            print(line)
        print(f"# {report['timings']}")
        print(report["summary"])
        return 0 if report["failed"] == 0 and report["edgeFailed"] == 0 else 1
    finally:
        if session:
            try:
                call(base, "DELETE", session, timeout=20)
            except (OSError, RuntimeError):
                pass
        driver.terminate()
        try:
            driver.wait(timeout=10)
        except subprocess.TimeoutExpired:
            driver.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
