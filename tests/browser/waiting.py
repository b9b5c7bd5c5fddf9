"""Waiting for a condition in a page under the pages' Content Security Policy.

Playwright's ``wait_for_function`` polls by compiling its predicate inside the page,
which ``script-src 'self'`` (no 'unsafe-eval') forbids: it works only when the
condition already holds. This polls from Python instead, each check an ``evaluate``
(run through the DevTools protocol, which the policy does not cover).
"""
from __future__ import annotations

import time


def wait_until(page, expression: str, arg=None, timeout: float = 30.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression, arg) if arg is not None else page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout:.0f} s: {expression}")
        time.sleep(every)
