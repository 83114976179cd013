"""Moves this process's wall clock ahead when COUNSEL_TEST_DAYS_AHEAD is set.

CI runs the suite a second time with the clock more than a year ahead, to prove that no test
depends on today's date. The test session (tests/conftest.py) puts this folder on the
PYTHONPATH of every process it starts (the command line, the bot, its step processes), so
they all share the moved clock. time-machine moves `time.time`, `datetime.now` and their
kin, not the monotonic clock that timeouts and the event loop use.
"""

import os

_DAYS = os.environ.get("COUNSEL_TEST_DAYS_AHEAD")
if _DAYS:
    from datetime import UTC, datetime, timedelta

    import time_machine

    time_machine.travel(datetime.now(UTC) + timedelta(days=float(_DAYS)), tick=True).start()
