"""Runs uvicorn with the process's clock shifted by a number of seconds, still ticking.

`python -m tests.clock_travel -3600 --factory …` is how the tests of business dates run the
platform at 06:30 in Hà Nội while the server's calendar still says the day before: the code under
test is the production code, only the clock it reads is elsewhere. Every process of a platform
gets the same shift, so their clocks agree as real ones would (tokens, leases, timeouts).
"""

import sys
import time

import time_machine
import uvicorn.main


def main() -> None:
    shift = float(sys.argv.pop(1))
    with time_machine.travel(time.time() + shift, tick=True):
        time.time()  # the travelled clock starts ticking when it is first read
        uvicorn.main.main()


if __name__ == "__main__":
    main()
